-- The bureau's side of joint training (run on the gov cluster by
-- test/demo/run, as its superuser), section 13e, after gov_mpc.sql.
--
-- The data steward permits bank A capability train on the scoring
-- indicators it already publishes (section 13b): bank A may fit a model on
-- them against its own loan outcomes (pgpriv.joint_train) and learns the
-- model's weights, never an indicator; the bureau learns which credit codes
-- were used for training, and nothing of the outcomes.
--
-- The narrator also draws bank A's loan history here: 8,000 closed loans to
-- enterprises the bureau knows, each defaulted or not with the probability of
-- a logistic model of the bureau's indicators and two columns of bank A's
-- own (the "truth" no party knows), and moves it to bank A (test/demo/run).
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\echo
\echo '== 13e. gov: a train permit for bank A on the same indicators (joint_train), at least 1,000 training rows'
SET ROLE data_steward;
\o /dev/null
\set ECHO queries
SELECT pgpriv.permit('indicators', 'bank_a', 'train',
                     '{tax_grade_num,penalties,years_registered,log_tax_paid,log_headcount}',
                     max_keys => 20000, min_group => 1000);
\set ECHO none
\o
RESET ROLE;
SELECT dataset, peer_role, capability, columns, max_keys, min_group
  FROM pgpriv.permits WHERE capability = 'train';

-- Bank A's loan history, drawn by the narrator (fixed seed).  The truth:
-- logit P(default) = -2.2 - 0.75·(tax_grade_num − 3) + 0.55·penalties
--                   - 0.05·years_registered - 0.30·(log_tax_paid − 10.5)
--                   - 0.20·log_headcount + 0.30·amount_m − 0.60·existing_customer
\o /dev/null
SELECT setseed(0.1102);
\o
CREATE TABLE narrator.bank_a_loan_history AS
WITH drawn AS MATERIALIZED (
  SELECT i.*,
         round((exp(ln(900000) + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) / 1000000)::numeric, 3)
           AS amount_m,
         (random() < 0.4)::int AS existing_customer,
         random() AS u
    FROM (SELECT * FROM gov.indicators ORDER BY random() LIMIT 8000) AS i
)
SELECT credit_code, amount_m, existing_customer = 1 AS existing_customer,
       u < 1 / (1 + exp(-(-2.2 - 0.75 * (tax_grade_num - 3) + 0.55 * penalties - 0.05 * years_registered
                           - 0.30 * (log_tax_paid - 10.5) - 0.20 * log_headcount
                           + 0.30 * amount_m - 0.60 * existing_customer))) AS defaulted
  FROM drawn;
SELECT count(*) AS closed_loans, count(*) FILTER (WHERE defaulted) AS defaulted,
       round(100.0 * count(*) FILTER (WHERE defaulted) / count(*), 1) AS "default rate %"
  FROM narrator.bank_a_loan_history;

-- Where bank A's model and holdout scores land for the narrator's check (13g).
CREATE TABLE narrator.bank_a_trained (model jsonb);
CREATE TABLE narrator.bank_a_holdout (credit_code text, score numeric, defaulted boolean);
