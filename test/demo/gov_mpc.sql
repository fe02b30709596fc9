-- The bureau's scoring indicators for the joint credit score (run on the gov
-- cluster by test/demo/run, as its superuser), section 13b.
--
-- The data steward derives per-enterprise indicators from the enterprise
-- register, small numbers suited to a linear score (fixed point: every value
-- must stay below 8192 in absolute value), publishes them and permits bank A
-- capability mpc on them: bank A may score its applicants with its own secret
-- weights over these indicators (pgpriv.joint_score) and learns only the score
-- or only a yes/no flag per applicant, never an indicator.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\echo
\echo '== 13b. gov: scoring indicators per enterprise, published with an mpc permit for bank A (joint_score)'
\echo '   tax grade as a number (A 4, B 3, M 2, C 1, D 0), penalties in 3 years, years registered,'
\echo '   and the logarithms of tax paid and of the social-security headcount'
SET ROLE data_steward;
CREATE VIEW gov.indicators AS
  SELECT credit_code,
         CASE tax_grade WHEN 'A' THEN 4 WHEN 'B' THEN 3 WHEN 'M' THEN 2 WHEN 'C' THEN 1 ELSE 0 END
           AS tax_grade_num,
         penalties,
         round((date '2024-12-31' - registered_on) / 365.25, 2) AS years_registered,
         round(ln(1 + tax_paid), 4) AS log_tax_paid,
         round(ln(1 + ss_headcount)::numeric, 4) AS log_headcount
    FROM gov.enterprise;
\o /dev/null
\set ECHO queries
SELECT pgpriv.publish('indicators', 'SELECT credit_code, tax_grade_num, penalties, years_registered, log_tax_paid, log_headcount FROM gov.indicators', 'credit_code');
SELECT pgpriv.permit('indicators', 'bank_a', 'mpc',
                     '{tax_grade_num,penalties,years_registered,log_tax_paid,log_headcount}', max_keys => 20000);
\set ECHO none
\o
RESET ROLE;
SELECT dataset, peer_role, capability, columns, max_keys FROM pgpriv.permits WHERE capability = 'mpc';
\echo '   the indicators'' ranges (all far inside |x| < 8192):'
SELECT count(*) AS enterprises,
       min(tax_grade_num) || '..' || max(tax_grade_num) AS tax_grade_num,
       min(penalties) || '..' || max(penalties) AS penalties,
       min(years_registered) || '..' || max(years_registered) AS years_registered,
       min(log_tax_paid) || '..' || max(log_tax_paid) AS log_tax_paid,
       min(log_headcount) || '..' || max(log_headcount) AS log_headcount
  FROM gov.indicators;

-- Where bank A's answers land for the narrator's check (section 13d).
CREATE TABLE narrator.bank_a_model (feature text, weight numeric);
CREATE TABLE narrator.bank_a_scored (credit_code text, score numeric, flag boolean);
CREATE TABLE narrator.bank_a_pre_approved (credit_code text, score numeric, flag boolean);
