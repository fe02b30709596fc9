-- Bank A scores its applicants jointly with the bureau (joint_score), as its
-- analyst.  Run by test/demo/run as bank A's superuser (SET ROLE analyst
-- below), section 13c, with psql variables:
--   threshold  the pre-approval cut-off on the score
--   since      the first day of "this week's" applications (ISO date)
-- The answers are kept in the analyst's tables joint_scores and
-- pre_approval, its model in credit_model.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET ROLE analyst;

\echo
\echo '== 13c. bank_a, pre-loan: a credit score over the bureau''s indicators and its own data, computed jointly (joint_score)'
\echo '   bank A''s model is its own secret: weights on five bureau indicators and on three columns of its own.'
\echo '   The two servers compute the score on secret shares (two-party computation, no third party); bank A'
\echo '   learns the score of each applicant and nothing else, the bureau learns which credit codes were scored'
\echo '   and which of its columns were used, and nothing else (not the weights, not the scores).'
CREATE TABLE credit_model (feature text PRIMARY KEY, weight numeric NOT NULL, source text NOT NULL);
INSERT INTO credit_model VALUES
  ('tax_grade_num',     0.90,  'bureau'),
  ('penalties',        -0.60,  'bureau'),
  ('years_registered',  0.08,  'bureau'),
  ('log_tax_paid',      0.25,  'bureau'),
  ('log_headcount',     0.15,  'bureau'),
  ('amount_m',         -0.12,  'bank A: amount requested, millions'),
  ('existing_customer', 0.50,  'bank A: already a borrower'),
  ('intercept',        -2.00,  'bank A: constant 1');
SELECT feature, weight, source FROM credit_model ORDER BY source, feature;

SELECT count(*) AS applicants_scored FROM applicants;
\timing on
\set ECHO queries
CREATE TABLE joint_scores AS
  SELECT *
    FROM pgpriv.joint_score('gov', 'indicators',
           $$SELECT a.credit_code, a.amount_requested / 1000000 AS amount_m,
                    EXISTS (SELECT FROM borrowers AS b WHERE b.credit_code = a.credit_code) AS existing_customer,
                    1 AS intercept
               FROM applicants AS a ORDER BY a.credit_code$$,
           (SELECT jsonb_object_agg(feature, weight) FROM credit_model));
\set ECHO none
\timing off
SELECT count(*) AS rows_received, count(score) AS scored,
       count(*) - count(score) AS no_bureau_record, min(score), round(avg(score), 3) AS avg, max(score)
  FROM joint_scores;
\echo '   the best scores:'
SELECT s.key AS credit_code, s.score, a.amount_requested, a.applied_on
  FROM joint_scores AS s JOIN applicants AS a ON a.credit_code = s.key
 WHERE s.score IS NOT NULL
 ORDER BY s.score DESC, s.key LIMIT 5;
\echo '   the distribution:'
SELECT CASE WHEN b IS NULL THEN 'no bureau record' WHEN b < 0 THEN 'below 0'
            ELSE b || ' to ' || (b + 1) END AS score, count(*) AS applicants, repeat('#', (count(*) / 25)::int) AS "  "
  FROM (SELECT CASE WHEN score IS NOT NULL THEN greatest(floor(score), -1)::int END AS b FROM joint_scores) AS s
 GROUP BY b ORDER BY b NULLS LAST;

\echo
SELECT format('   this week''s applications (since %s): the credit desk pre-approves at a score of %s or more, and',
              :'since', :'threshold') AS line \gset
\echo :line
\echo '   bank A now asks only for the yes/no: the comparison with the cut-off runs on shares too, so bank A'
\echo '   learns the flag, not the score (and the bureau learns that a cut-off was used, not which)'
SELECT count(*) AS applications_this_week FROM applicants WHERE applied_on >= :'since';
\timing on
\set ECHO queries
CREATE TABLE pre_approval AS
  SELECT *
    FROM pgpriv.joint_score('gov', 'indicators',
           format($$SELECT a.credit_code, a.amount_requested / 1000000 AS amount_m,
                           EXISTS (SELECT FROM borrowers AS b WHERE b.credit_code = a.credit_code) AS existing_customer,
                           1 AS intercept
                      FROM applicants AS a WHERE a.applied_on >= %L ORDER BY a.credit_code$$, :'since'),
           (SELECT jsonb_object_agg(feature, weight) FROM credit_model),
           threshold => :'threshold');
\set ECHO none
\timing off
SELECT p.key AS credit_code, a.applied_on, a.amount_requested,
       CASE WHEN p.flag THEN 'yes' WHEN NOT p.flag THEN 'no' ELSE 'no bureau record' END AS pre_approved
  FROM pre_approval AS p JOIN applicants AS a ON a.credit_code = p.key
 ORDER BY a.applied_on DESC, p.key LIMIT 10;
SELECT CASE WHEN flag THEN 'yes' WHEN NOT flag THEN 'no' ELSE 'no bureau record' END AS pre_approved,
       count(*) AS applications, sum(a.amount_requested) AS amount_requested, count(p.score) AS scores_revealed
  FROM pre_approval AS p JOIN applicants AS a ON a.credit_code = p.key
 GROUP BY 1 ORDER BY 1 DESC;

\echo
\echo '   the fixed-point range protects the computation: the amount in yuan (not millions) is refused'
\ir attempt.sql
SELECT * FROM pg_temp.attempt($q$
  SELECT * FROM pgpriv.joint_score('gov', 'indicators',
                                   $$SELECT credit_code, amount_requested FROM applicants$$,
                                   '{"log_tax_paid": 0.25, "amount_requested": -0.0000001}')
$q$) \gset refused_
\set expected_sqlstate 22003
\set expected_note '22003 numeric_value_out_of_range: as expected; the message names the column, not the value'
\set refused_what 'the joint_score over amounts in yuan'
\ir refused.sql
RESET ROLE;
\echo '   bank A''s audit rows for the joint score (the bureau''s are in section 18d):'
SELECT capability, dataset, keys_in, keys_out, bytes_in, bytes_out, outcome, detail
  FROM pgpriv.audit WHERE capability = 'mpc' ORDER BY id;
