-- Errors an analyst meets before any peer answers: wrong peer, wrong query,
-- missing projection, unreachable peer.  None of them leaves anything behind.
\set VERBOSITY terse
CREATE FOREIGN DATA WRAPPER regress_other_fdw;
CREATE SERVER regress_not_pgpriv FOREIGN DATA WRAPPER regress_other_fdw;
CREATE SERVER regress_down FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '1', dbname 'nowhere', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_down OPTIONS (user 'nobody', password 'x');

SELECT * FROM pgpriv.psi('regress_no_such_server', 'tax', 'SELECT 1');
SELECT * FROM pgpriv.psi('regress_not_pgpriv', 'tax', 'SELECT 1');
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'DELETE FROM pgpriv.audit_log RETURNING 1');
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT 1; SELECT 2');
SELECT pgpriv.psi_count('regress_down', 'tax', 'SELECT * INTO regress_t FROM generate_series(1, 3)');
SELECT * FROM pgpriv.psi_fetch('regress_down', 'tax', 'SELECT 1');
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT ''k''');
SELECT pgpriv.psi_count('regress_down', 'tax', 'SELECT ''k''');
-- the same, showing the SQLSTATEs (08001: could not connect; 42809; 42704)
\set VERBOSITY sqlstate
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT ''k''');
SELECT * FROM pgpriv.psi('regress_not_pgpriv', 'tax', 'SELECT 1');
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT 1; SELECT 2');
SELECT * FROM pgpriv.psi('regress_no_such_server', 'tax', 'SELECT 1');
\set VERBOSITY terse

-- joint_score and risk_flag check their arguments before connecting to the
-- peer (22023, 42809, 54000, 22003), then fail to connect like the others.
\set VERBOSITY sqlstate
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', NULL);
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '[1, 2]');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '{"f": "x"}');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k'', 1 AS own', '{"own": 1}');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '{"f": 9000}');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'DELETE FROM pgpriv.audit_log RETURNING 1', '{"f": 1}');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '{"f": 1}', 'NaN');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '{"f": 1}', 1e12);
SELECT * FROM pgpriv.joint_score('regress_down', 'ind',
  'SELECT ''k''' || (SELECT string_agg(', 1 AS c' || i, '') FROM generate_series(1, 33) i),
  (SELECT jsonb_object_agg('c' || i, 1) FROM generate_series(1, 33) i));
SELECT * FROM pgpriv.risk_flag('regress_down', 'ind', 'SELECT ''k''', '{"f": 1}', NULL);
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '{"f": 1}');
SELECT * FROM pgpriv.mpc_selftest('regress_down', 'ind', 0, 0);
\set VERBOSITY terse
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT ''k''', '{"f": 1.5, "g": 1e-9}');

-- keys_query: a trailing semicolon is accepted (the call goes on to reach the
-- peer: 08001), and its errors point into the caller's own text, never at
-- the query pgpriv wraps around it (psi, psi_count, joint_score).
\set VERBOSITY sqlstate
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT ''k'' ;  ');
SELECT pgpriv.psi_count('regress_down', 'tax', E'SELECT ''k''\n-- the applicants;\n;');
\set VERBOSITY default
SELECT * FROM pgpriv.psi('regress_down', 'tax', E'-- applicants\nSELECT codee FROM (VALUES (''k'')) AS a(code);');
SELECT pgpriv.psi_count('regress_down', 'tax', 'SELECT code FROM regress_no_such_table');
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT (1/0)::text;');
SELECT * FROM pgpriv.joint_score('regress_down', 'ind', 'SELECT k, own FROM regress_no_such_table;', '{"own": 1, "f": 1}');
\set VERBOSITY terse

-- A role without USAGE on the server is refused before anything runs.
CREATE ROLE regress_intern;
SET ROLE regress_intern;
SELECT * FROM pgpriv.psi('regress_down', 'tax', 'SELECT ''k''');
RESET ROLE;

-- Nothing was audited or cached for runs that never happened.
SELECT count(*) AS asker_rows FROM pgpriv.audit_log WHERE side = 'asker';
SELECT count(*) AS cached_chunks FROM pgpriv.peer_table;
SELECT count(*) AS runs_in_progress FROM pgpriv.progress;

DROP ROLE regress_intern;
DROP SERVER regress_down CASCADE;
DROP SERVER regress_not_pgpriv;
DROP FOREIGN DATA WRAPPER regress_other_fdw;
