-- Bank A's joint queries with the bureau, as its analyst.  Run by
-- test/demo/run as bank A's superuser (SET ROLE analyst below); the answers
-- are kept in the analyst's own tables.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET ROLE analyst;

\echo
\echo '== 9. bank_a, pre-loan: the bureau''s tax grade, tax paid and headcount for its applicants (psi_fetch)'
\echo '   the bureau learns how many keys were asked, not which; bank A gets rows only for applicants the bureau has'
SELECT count(*) AS applicants_asked FROM applicants;
\timing on
\set ECHO queries
CREATE TABLE pre_loan_indicators AS
  SELECT *
    FROM pgpriv.psi_fetch('gov', 'tax', $$SELECT credit_code FROM applicants$$)
      AS t(credit_code text, tax_grade text, tax_paid numeric, ss_headcount int);
\set ECHO none
\timing off
SELECT count(*) AS rows_received,
       (SELECT count(*) FROM applicants) - count(*) AS applicants_unknown_to_gov
  FROM pre_loan_indicators;
SELECT i.credit_code, i.tax_grade, i.tax_paid, i.ss_headcount, a.amount_requested
  FROM pre_loan_indicators AS i JOIN applicants AS a USING (credit_code)
 ORDER BY i.credit_code LIMIT 5;
SELECT tax_grade, count(*) AS applicants,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY tax_paid) AS median_tax_paid,
       round(avg(ss_headcount), 1) AS avg_headcount
  FROM pre_loan_indicators GROUP BY tax_grade ORDER BY tax_grade;
\echo '   the credit desk''s triage:'
SELECT CASE WHEN i.credit_code IS NULL THEN 'no bureau record: manual review'
            WHEN i.tax_grade IN ('A', 'B') THEN 'fast track'
            WHEN i.tax_grade = 'M' THEN 'new enterprise: standard review'
            ELSE 'grade C/D: enhanced due diligence' END AS route,
       count(*) AS applicants, sum(a.amount_requested) AS amount_requested
  FROM applicants AS a LEFT JOIN pre_loan_indicators AS i USING (credit_code)
 GROUP BY 1 ORDER BY 1;

\echo
\echo '== 10. bank_a, post-loan: which of its borrowers are on the bureau''s high-risk list (psi)'
\echo '   the bureau learns how many keys were asked; bank A learns only which of its own borrowers are listed'
SELECT count(*) AS borrowers_asked FROM borrowers;
\timing on
\set ECHO queries
CREATE TABLE high_risk_borrowers AS
  SELECT key FROM pgpriv.psi('gov', 'high_risk', $$SELECT credit_code FROM borrowers$$);
\set ECHO none
\timing off
SELECT count(*) AS borrowers_on_the_list, sum(b.balance) AS exposure
  FROM high_risk_borrowers AS h JOIN borrowers AS b ON b.credit_code = h.key;
SELECT b.credit_code, b.loan_no, b.balance, b.matures_on
  FROM high_risk_borrowers AS h JOIN borrowers AS b ON b.credit_code = h.key
 ORDER BY b.balance DESC;

\echo
\echo '== 10b. bank_a, one applicant looked up without the bureau learning who (pir)'
\echo '   a new application comes in; bank A reads that one enterprise''s tax grade and tax paid by private'
\echo '   information retrieval: the bureau answers from one pass over an encoded copy of the dataset and'
\echo '   learns that one key was looked up, not which (its hint is checked against the bureau''s signing key)'
CREATE TABLE pir_asked AS
  SELECT credit_code FROM applicants ORDER BY applied_on DESC, credit_code LIMIT 1;
SELECT a.credit_code AS applicant, a.applied_on, a.amount_requested
  FROM applicants AS a JOIN pir_asked USING (credit_code);
SELECT credit_code AS code FROM pir_asked \gset
\timing on
\set ECHO queries
CREATE TABLE pir_applicant AS
  SELECT * FROM pgpriv.pir('gov', 'tax', :'code') AS t(credit_code text, tax_grade text, tax_paid numeric);
\set ECHO none
\timing off
SELECT * FROM pir_applicant;
SELECT count(*) AS rows_received FROM pir_applicant;
RESET ROLE;
\echo '   bank A''s own audit row names the lookup; the bureau''s (section 18d) only counts it:'
SELECT capability, dataset, keys_in, keys_out, bytes_in, bytes_out, detail
  FROM pgpriv.audit WHERE capability = 'pir' AND side = 'asker' ORDER BY id;
