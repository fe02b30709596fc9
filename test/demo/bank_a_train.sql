-- Bank A trains its default model jointly with the bureau (joint_train), then
-- scores with it (joint_score), as its analyst.  Run by test/demo/run as bank
-- A's superuser (SET ROLE analyst below), section 13f, with psql variable
--   since   the first day of "this week's" applications (ISO date)
-- The model is kept in trained_model, the holdout's scores in holdout_scores.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET ROLE analyst;

\echo
\echo '== 13f. bank_a: a default model trained on the bureau''s indicators and its own loan history (joint_train)'
\echo '   bank A''s 8,000 closed loans: whether each defaulted is bank A''s secret, and so are its own columns;'
\echo '   the bureau''s five indicators stay with the bureau.  The two servers fit a logistic regression on'
\echo '   secret shares; bank A learns the weights (and the means and spreads of the indicators over its'
\echo '   training rows, to put the weights back on raw values), the bureau learns which credit codes were used.'
\echo '   One loan in five (by a hash of the credit code) is held out to measure the model.'
SELECT count(*) FILTER (WHERE abs(hashtext(credit_code)) % 5 <> 0) AS training_loans,
       count(*) FILTER (WHERE abs(hashtext(credit_code)) % 5 = 0) AS holdout_loans,
       count(*) FILTER (WHERE defaulted) AS defaulted
  FROM loan_history;
\timing on
\set ECHO queries
CREATE TABLE trained_model AS
  SELECT pgpriv.joint_train('gov', 'indicators',
           $$SELECT credit_code, defaulted, amount_m, existing_customer, 1 AS intercept
               FROM loan_history WHERE abs(hashtext(credit_code)) % 5 <> 0$$,
           'defaulted', '{"epochs": 30, "seed": 11}') AS model;
\set ECHO none
\timing off
\echo '   the trained weights (on raw values, per unit of each column):'
SELECT w.key AS feature, round(w.value::numeric, 4) AS weight
  FROM trained_model AS m, jsonb_each_text(m.model) AS w
 WHERE jsonb_typeof(m.model -> w.key) = 'number'
 ORDER BY w.key;

\echo
\echo '   the model on the holdout, scored through joint_score with the trained model as it came back:'
\timing on
\set ECHO queries
CREATE TABLE holdout_scores AS
  SELECT s.key AS credit_code, s.score, l.defaulted
    FROM pgpriv.joint_score('gov', 'indicators',
           $$SELECT credit_code, amount_m, existing_customer, 1 AS intercept
               FROM loan_history WHERE abs(hashtext(credit_code)) % 5 = 0 ORDER BY credit_code$$,
           (SELECT model FROM trained_model)) AS s
    JOIN loan_history AS l ON l.credit_code = s.key;
\set ECHO none
\timing off
-- AUC (ties count one half) and KS, from bank A's own labels and the scores.
CREATE TEMP VIEW holdout_quality AS
WITH r AS (
  SELECT defaulted, avg(rn) OVER (PARTITION BY score) AS rank
    FROM (SELECT defaulted, score, row_number() OVER (ORDER BY score) AS rn
            FROM holdout_scores WHERE score IS NOT NULL) AS o
), auc AS (
  SELECT (sum(rank) FILTER (WHERE defaulted) - count(*) FILTER (WHERE defaulted) * (count(*) FILTER (WHERE defaulted) + 1) / 2.0)
         / (count(*) FILTER (WHERE defaulted) * count(*) FILTER (WHERE NOT defaulted)) AS auc
    FROM r
), ks AS (
  SELECT max(abs(cum_bad - cum_good)) AS ks
    FROM (SELECT sum(defaulted::int) OVER w::numeric / sum(defaulted::int) OVER () AS cum_bad,
                 sum((NOT defaulted)::int) OVER w::numeric / sum((NOT defaulted)::int) OVER () AS cum_good
            FROM holdout_scores WHERE score IS NOT NULL
          WINDOW w AS (ORDER BY score RANGE UNBOUNDED PRECEDING)) AS c
)
SELECT (SELECT count(*) FROM holdout_scores) AS holdout_loans,
       round((SELECT auc FROM auc), 4) AS auc, round((SELECT ks FROM ks), 4) AS ks;
SELECT * FROM holdout_quality;

\echo
\echo '   joint_train''s sigmoid is linear on shares (docs/joint_train.md): its scores rank applicants as a'
\echo '   logistic regression''s do (the AUC above), but are not calibrated probabilities, so the credit desk'
\echo '   sets its cut-off on the holdout: the riskiest fifth of scores is referred to a credit officer.'
SELECT round(percentile_cont(0.8) WITHIN GROUP (ORDER BY score)::numeric, 4) AS cutoff
  FROM holdout_scores WHERE score IS NOT NULL \gset
SELECT :'cutoff' AS "refer at a score of at least",
       round(100.0 * count(*) FILTER (WHERE defaulted AND score >= :'cutoff') / count(*) FILTER (WHERE defaulted), 1)
         AS "% of the holdout's defaults caught",
       round(100.0 * count(*) FILTER (WHERE NOT defaulted AND score >= :'cutoff') / count(*) FILTER (WHERE NOT defaulted), 1)
         AS "% of its good loans referred"
  FROM holdout_scores WHERE score IS NOT NULL;
SELECT format('   this week''s applications (since %s), scored with the trained model:', :'since') AS line \gset
\echo :line
\set ECHO queries
CREATE TABLE trained_scores AS
  SELECT *
    FROM pgpriv.joint_score('gov', 'indicators',
           format($$SELECT a.credit_code, a.amount_requested / 1000000 AS amount_m,
                           EXISTS (SELECT FROM borrowers AS b WHERE b.credit_code = a.credit_code) AS existing_customer,
                           1 AS intercept
                      FROM applicants AS a WHERE a.applied_on >= %L ORDER BY a.credit_code$$, :'since'),
           (SELECT model FROM trained_model));
\set ECHO none
SELECT CASE WHEN score IS NULL THEN 'no bureau record'
            WHEN score >= :'cutoff' THEN 'refer to a credit officer'
            ELSE 'proceed' END AS decision,
       count(*) AS applications, round(avg(score), 3) AS mean_score
  FROM trained_scores GROUP BY 1 ORDER BY 1;
RESET ROLE;
\echo '   bank A''s audit rows for the training run (the bureau''s are in section 18d):'
SELECT capability, dataset, keys_in, keys_out, bytes_in, bytes_out, outcome
  FROM pgpriv.audit WHERE capability = 'train' ORDER BY id;
