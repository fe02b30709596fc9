-- Bank A's multi-lending check across the three banks (secure_sum), as its
-- analyst.  Run by test/demo/run as bank A's superuser (SET ROLE analyst
-- below); the answer is kept in the analyst's table applicant_exposure.
-- Variable: step, the section number to print.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET ROLE analyst;

SELECT format('== %s bank_a, pre-loan: what its applicants already owe across the three banks, and to how many of them (secure_sum)',
              :'step') AS header \gset
\echo
\echo :header
\echo '   banks B and C, and bank A itself (its analyst belongs to loan_steward, who published bank A''s'
\echo '   loans), each add their figure per applicant under pairwise masks; bank A sees only the totals and'
\echo '   the number of lenders.  The owners see which credit codes are asked (they must look them up) and'
\echo '   who takes part, not the answers.'
SELECT count(*) AS applicants_asked FROM applicants;
\timing on
\set ECHO queries
CREATE TABLE applicant_exposure AS
  SELECT * FROM pgpriv.secure_sum(ARRAY['bank_b', 'bank_c']::name[], 'loans', 'outstanding',
                                  $$SELECT credit_code FROM applicants$$);
\set ECHO none
\timing off
\echo '   applicants by number of lenders (0: no bank lends to them; 1: the total is that one bank''s figure,'
\echo '   so the desk does not look at it):'
SELECT contributors AS lenders, count(*) AS applicants,
       CASE WHEN contributors >= 2 THEN sum(total) END AS total_outstanding
  FROM applicant_exposure GROUP BY contributors ORDER BY contributors;
\echo '   multi-lending (two or three lenders), largest exposure first:'
SELECT e.key AS credit_code, e.contributors AS lenders, e.total AS outstanding_all_banks,
       a.amount_requested, e.total + a.amount_requested AS exposure_if_granted
  FROM applicant_exposure AS e JOIN applicants AS a ON a.credit_code = e.key
 WHERE e.contributors >= 2
 ORDER BY e.total DESC, e.key LIMIT 8;
\echo '   the credit desk''s triage of multi-lending applicants (threshold: 10,000,000 owed plus requested):'
SELECT CASE WHEN e.total + a.amount_requested >= 10000000 THEN 'refer to credit committee'
            WHEN e.contributors = 3 THEN 'three lenders: enhanced due diligence'
            ELSE 'two lenders: note in the credit file' END AS route,
       count(*) AS applicants, sum(e.total) AS outstanding_all_banks, sum(a.amount_requested) AS amount_requested
  FROM applicant_exposure AS e JOIN applicants AS a ON a.credit_code = e.key
 WHERE e.contributors >= 2
 GROUP BY 1 ORDER BY 1;
\echo '   (bank A knows its own part: where it is one of two lenders, total minus its own balance is the'
\echo '   other lender''s figure, without learning which bank that is.)'

\echo
\echo '   bank A asks bank B alone: B''s permit says min_parties 2 (peers besides the asker), so B refuses'
\echo '   rather than let its figures be read off by subtraction:'
\ir attempt.sql
SELECT * FROM pg_temp.attempt($q$
  SELECT * FROM pgpriv.secure_sum(ARRAY['bank_b']::name[], 'loans', 'outstanding',
                                  $$SELECT credit_code FROM applicants$$)
$q$) \gset refused_
\set expected_sqlstate 42501
\set expected_note '42501 insufficient_privilege: as expected'
\set refused_what 'the secure_sum with one peer'
\ir refused.sql
RESET ROLE;
