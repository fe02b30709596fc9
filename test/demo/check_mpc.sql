-- The narrator's check of bank A's joint scores (on the gov cluster, as its
-- superuser), section 13d: bank A's model, scores and pre-approval flags,
-- copied back here by test/demo/run, against the plain computation over the
-- bureau's indicators and bank A's applicants and borrowers as the narrator
-- drew them.  Variables: threshold and since, as in bank_a_mpc.sql.
--
-- A score is computed in fixed point (16 fractional bits per value and
-- weight, exact products and sums, rounded to 6 decimals), so it may differ
-- from the exact real computation by at most (docs/joint_score.md)
--     sum_j (|x_j| + |w_j|)·2^-17 + k·2^-34 + 5·10^-7
-- for k features; a flag must equal (score >= threshold) wherever the exact
-- score is further than that from the threshold.  Fails the demo otherwise.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\echo
\echo '== 13d. narrator: bank A''s scores and flags against the plain computation (which no party could run)'
CREATE TEMP TABLE mpc_features AS
  SELECT a.credit_code, a.applied_on,
         jsonb_build_object('amount_m', a.amount_requested / 1000000,
                            'existing_customer', CASE WHEN b.credit_code IS NULL THEN 0 ELSE 1 END,
                            'intercept', 1,
                            'tax_grade_num', i.tax_grade_num, 'penalties', i.penalties,
                            'years_registered', i.years_registered, 'log_tax_paid', i.log_tax_paid,
                            'log_headcount', i.log_headcount) AS x
    FROM narrator.bank_a_applicants AS a
    LEFT JOIN narrator.bank_a_borrowers AS b USING (credit_code)
    LEFT JOIN gov.indicators AS i USING (credit_code);
-- 2^-17 = 0.00000762939453125 and 2^-34 = 0.0000000000582076609134674072265625, exactly.
CREATE TEMP TABLE plain_score AS
  SELECT f.credit_code, f.applied_on,
         CASE WHEN count(f.x ->> m.feature) = count(*)
              THEN sum(m.weight * (f.x ->> m.feature)::numeric) END AS score,
         coalesce(sum(abs((f.x ->> m.feature)::numeric)), 0) * 0.00000762939453125
           + sum(abs(m.weight)) * 0.00000762939453125
           + count(*) * 0.0000000000582076609134674072265625 + 0.0000005 AS bound
    FROM mpc_features AS f CROSS JOIN narrator.bank_a_model AS m
   GROUP BY f.credit_code, f.applied_on;

CREATE TEMP TABLE mpc_verdict AS
WITH s AS (
  SELECT p.score AS plain, p.bound, b.score, b.flag,
         b.credit_code IS NOT NULL AND p.credit_code IS NOT NULL AS both_have
    FROM plain_score AS p FULL JOIN narrator.bank_a_scored AS b ON b.credit_code = p.credit_code
), f AS (
  SELECT p.score AS plain, p.bound, b.score, b.flag,
         b.credit_code IS NOT NULL AND p.credit_code IS NOT NULL AS both_have
    FROM (SELECT * FROM plain_score WHERE applied_on >= :'since') AS p
    FULL JOIN narrator.bank_a_pre_approved AS b ON b.credit_code = p.credit_code
)
SELECT 1 AS o, 'bank A joint_score (scores)' AS answer,
       (SELECT count(*) FROM narrator.bank_a_scored) AS bank_got,
       (SELECT count(*) FROM plain_score) AS plain_rows,
       (SELECT count(*) FROM s WHERE plain IS NULL) AS plain_null,
       (SELECT count(*) FILTER (WHERE abs(score - plain) > bound) FROM s) AS beyond_bound,
       NULL::bigint AS near_threshold,
       (SELECT max(abs(score - plain)) FROM s) AS max_error,
       (SELECT bool_and(both_have)
               AND count(*) FILTER (WHERE (score IS NULL) <> (plain IS NULL)) = 0
               AND count(*) FILTER (WHERE abs(score - plain) > bound) = 0
               AND count(flag) = 0 FROM s) AS same
UNION ALL
SELECT 2, 'bank A joint_score (pre-approval flags)',
       (SELECT count(*) FROM narrator.bank_a_pre_approved),
       (SELECT count(*) FROM plain_score WHERE applied_on >= :'since'),
       (SELECT count(*) FROM f WHERE plain IS NULL),
       (SELECT count(*) FILTER (WHERE abs(plain - :'threshold') > bound AND flag <> (plain >= :'threshold')) FROM f),
       (SELECT count(*) FILTER (WHERE abs(plain - :'threshold') <= bound) FROM f),
       NULL,
       (SELECT bool_and(both_have)
               AND count(*) FILTER (WHERE (flag IS NULL) <> (plain IS NULL)) = 0
               AND count(*) FILTER (WHERE abs(plain - :'threshold') > bound AND flag <> (plain >= :'threshold')) = 0
               AND count(score) = 0 FROM f);

SELECT answer, bank_got, plain_rows, plain_null AS no_bureau_row,
       beyond_bound AS "wrong (beyond the bound)", max_error,
       CASE WHEN same THEN 'yes' ELSE 'NO' END AS "matches the plain computation"
  FROM mpc_verdict ORDER BY o;
\echo '   the best scores next to the plain ones (bound: the fixed-point error allowed for that row):'
SELECT b.credit_code, b.score AS bank_a_got, round(p.score, 8) AS plain_score,
       round(abs(b.score - p.score), 8) AS difference, round(p.bound, 8) AS bound
  FROM narrator.bank_a_scored AS b JOIN plain_score AS p USING (credit_code)
 WHERE b.score IS NOT NULL
 ORDER BY b.score DESC, b.credit_code LIMIT 3;
SELECT format('   pre-approval: %s of this week''s applicants lie within the bound of the cut-off %s (a flag there may go either way)',
              (SELECT near_threshold FROM mpc_verdict WHERE o = 2), :'threshold') AS line \gset
\echo :line
SELECT bool_and(same) AS mpc_match FROM mpc_verdict \gset
\if :mpc_match
\echo '   every score within its bound and every flag right: bank A''s answers match the plain computation'
\else
DO $$ BEGIN RAISE EXCEPTION 'narrator: bank A''s joint scores differ from the plain computation'; END $$;
\endif
