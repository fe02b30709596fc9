-- After SELECT * FROM pg_temp.attempt(...) \gset refused_ : shows the
-- SQLSTATE and message the analyst got, then checks the SQLSTATE is
-- :expected_sqlstate (showing :expected_note) and stops the demo if not,
-- naming :refused_what.  Included with \ir after attempt.sql.
\echo '   SQLSTATE' :refused_sqlstate ':' :refused_message
SELECT :'refused_sqlstate' = :'expected_sqlstate' AS refused_as_expected \gset
\if :refused_as_expected
SELECT format('   (%s)', :'expected_note') AS refused_line \gset
\echo :refused_line
\else
SELECT pg_temp.fail(format('expected SQLSTATE %s from %s', :'expected_sqlstate', :'refused_what'));
\endif
