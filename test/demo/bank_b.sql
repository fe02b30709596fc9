-- Bank B's joint queries with the bureau, as its analyst.  Run by
-- test/demo/run as bank B's superuser (SET ROLE analyst below), with psql
-- variable has_psi_sum: whether this build has pgpriv.psi_sum (section 12b).
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET ROLE analyst;

\echo
\echo '== 11. bank_b, pre-screen: how many of its applicants the bureau has (psi_count: one number, no rows)'
SELECT count(*) AS applicants_asked FROM applicants;
\timing on
\set ECHO queries
CREATE TABLE pre_screen AS
  SELECT pgpriv.psi_count('gov', 'tax', $$SELECT credit_code FROM applicants$$) AS applicants_known_to_gov;
\set ECHO none
\timing off
SELECT applicants_known_to_gov,
       round(100.0 * applicants_known_to_gov / (SELECT count(*) FROM applicants), 1) AS pct
  FROM pre_screen;

\echo
\echo '== 12. bank_b tries psi_fetch on tax, which it holds no permit for: the bureau refuses'
\ir attempt.sql
SELECT * FROM pg_temp.attempt($q$
  SELECT * FROM pgpriv.psi_fetch('gov', 'tax', $$SELECT credit_code FROM applicants$$)
    AS t(credit_code text, tax_grade text, tax_paid numeric)
$q$) \gset refused_
\set expected_sqlstate 42501
\set expected_note '42501 insufficient_privilege: as expected'
\set refused_what 'the refused psi_fetch'
\ir refused.sql

-- psi_sum over the Huangpu district's tax ledger: an honest run reveals only the
-- count and the sum, never rows.  Bank B asks about its small-ticket
-- applicants (under 200,000).
\if :has_psi_sum
\echo
\echo '== 12b. bank_b, pre-screen: how many of its small-ticket applicants are in Huangpu''s tax ledger, and their total tax paid (psi_sum)'
\echo '   two numbers: bank B learns neither which applicants matched nor any one enterprise''s tax paid'
SELECT count(*) AS applicants_asked FROM applicants WHERE amount_requested < 200000;
\timing on
\set ECHO queries
CREATE TABLE pre_screen_tax AS
  SELECT * FROM pgpriv.psi_sum('gov', 'tax_huangpu', 'tax_paid',
                               $$SELECT credit_code FROM applicants WHERE amount_requested < 200000$$);
\set ECHO none
\timing off
SELECT matched AS applicants_known_to_gov, total AS total_tax_paid,
       round(total / nullif(matched, 0), 2) AS average_tax_paid
  FROM pre_screen_tax;
\endif
RESET ROLE;
