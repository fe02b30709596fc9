-- The narrator's check of bank A's jointly trained model (on the gov cluster,
-- as its superuser), section 13g.  test/demo/run has copied back bank A's
-- model (narrator.bank_a_trained) and its holdout scores
-- (narrator.bank_a_holdout).  The narrator, who sees both sides, fits the
-- same logistic regression in the clear on the same training rows (Newton's
-- method, no regularisation) and fails the demo unless
--   - every holdout score is Σ weight·value of the returned model over the
--     plain values, within joint_score's fixed-point bound, and
--   - the model's AUC on the holdout is within 0.01 of the plain model's.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\echo
\echo '== 13g. narrator: bank A''s trained model against a logistic regression fitted in the clear (which no party could run)'
CREATE TEMP TABLE train_rows AS
  SELECT h.credit_code, abs(hashtext(h.credit_code)) % 5 = 0 AS holdout, h.defaulted::int AS y,
         jsonb_build_object('tax_grade_num', i.tax_grade_num, 'penalties', i.penalties,
                            'years_registered', i.years_registered, 'log_tax_paid', i.log_tax_paid,
                            'log_headcount', i.log_headcount, 'amount_m', h.amount_m,
                            'existing_customer', h.existing_customer::int, 'intercept', 1) AS x
    FROM narrator.bank_a_loan_history AS h JOIN gov.indicators AS i USING (credit_code);
CREATE TEMP TABLE feature_order AS
  SELECT f, row_number() OVER (ORDER BY f) AS j
    FROM unnest('{tax_grade_num,penalties,years_registered,log_tax_paid,log_headcount,amount_m,existing_customer,intercept}'::text[]) AS f;
CREATE TEMP TABLE xy AS
  SELECT t.credit_code, t.holdout, t.y,
         (SELECT array_agg((t.x ->> o.f)::float8 ORDER BY o.j) FROM feature_order AS o) AS x
    FROM train_rows AS t;

-- Newton's method for logistic regression: w ← w + H⁻¹·Xᵀ(y − p).
CREATE FUNCTION pg_temp.fit_logistic(iterations int) RETURNS float8[]
  LANGUAGE plpgsql AS $$
DECLARE
  k int := (SELECT count(*) FROM pg_temp.feature_order);
  w float8[] := array_fill(0::float8, ARRAY[k]);
  g float8[];
  h float8[];
  f float8;
  piv int;
  tmp float8;
BEGIN
  FOR it IN 1 .. iterations LOOP
    CREATE TEMP TABLE IF NOT EXISTS fit_p (x float8[], y int, p float8);
    TRUNCATE fit_p;
    INSERT INTO fit_p
      SELECT d.x, d.y, 1 / (1 + exp(-(SELECT sum(a * b) FROM unnest(d.x, w) AS u(a, b))))
        FROM pg_temp.xy AS d WHERE NOT d.holdout;
    SELECT array_agg(s ORDER BY j) INTO g
      FROM (SELECT j, sum((q.y - q.p) * q.x[j]) AS s FROM fit_p AS q, generate_series(1, k) AS j GROUP BY j) AS a;
    SELECT array_agg(s ORDER BY j, l) INTO h
      FROM (SELECT j, l, sum(q.p * (1 - q.p) * q.x[j] * q.x[l]) AS s
              FROM fit_p AS q, generate_series(1, k) AS j, generate_series(1, k) AS l GROUP BY j, l) AS a;
    -- Solve h·d = g (Gaussian elimination with partial pivoting; h is k×k, row-major).
    FOR c IN 1 .. k LOOP
      piv := c;
      FOR r IN c + 1 .. k LOOP
        IF abs(h[(r - 1) * k + c]) > abs(h[(piv - 1) * k + c]) THEN piv := r; END IF;
      END LOOP;
      IF piv <> c THEN
        FOR l IN 1 .. k LOOP
          tmp := h[(c - 1) * k + l]; h[(c - 1) * k + l] := h[(piv - 1) * k + l]; h[(piv - 1) * k + l] := tmp;
        END LOOP;
        tmp := g[c]; g[c] := g[piv]; g[piv] := tmp;
      END IF;
      FOR r IN c + 1 .. k LOOP
        f := h[(r - 1) * k + c] / h[(c - 1) * k + c];
        FOR l IN c .. k LOOP
          h[(r - 1) * k + l] := h[(r - 1) * k + l] - f * h[(c - 1) * k + l];
        END LOOP;
        g[r] := g[r] - f * g[c];
      END LOOP;
    END LOOP;
    FOR r IN REVERSE k .. 1 LOOP
      tmp := g[r];
      FOR l IN r + 1 .. k LOOP tmp := tmp - h[(r - 1) * k + l] * g[l]; END LOOP;
      g[r] := tmp / h[(r - 1) * k + r];
    END LOOP;
    FOR j IN 1 .. k LOOP w[j] := w[j] + g[j]; END LOOP;
  END LOOP;
  RETURN w;
END
$$;

CREATE TEMP TABLE plain_model AS
  SELECT o.f AS feature, w.weight
    FROM unnest(pg_temp.fit_logistic(10)) WITH ORDINALITY AS w(weight, j)
    JOIN feature_order AS o USING (j);
\echo '   the weights side by side (bank A''s from joint_train, the narrator''s fitted in the clear; joint_train''s'
\echo '   linear sigmoid shrinks its weights towards zero, so compare signs and ranking, not sizes):'
SELECT p.feature, round((t.model ->> p.feature)::numeric, 4) AS joint_train,
       round(p.weight::numeric, 4) AS plain
  FROM plain_model AS p, narrator.bank_a_trained AS t ORDER BY p.feature;

-- Holdout: the plain model's score, and the returned model's score in the
-- clear with joint_score's fixed-point bound (docs/joint_score.md).
CREATE TEMP TABLE holdout_check AS
  SELECT d.credit_code, d.y = 1 AS defaulted,
         (SELECT sum(m.weight * d.x[o.j]) FROM plain_model AS m JOIN feature_order AS o ON o.f = m.feature)
           AS plain_score,
         (SELECT sum((t.model ->> o.f)::numeric * d.x[o.j]::numeric) FROM feature_order AS o) AS model_score,
         (SELECT sum(abs(d.x[o.j]::numeric) + abs((t.model ->> o.f)::numeric)) * 0.00000762939453125
                 + count(*) * 0.0000000000582076609134674072265625 + 0.0000005 FROM feature_order AS o) AS bound,
         b.score AS bank_score
    FROM xy AS d
    CROSS JOIN narrator.bank_a_trained AS t
    LEFT JOIN narrator.bank_a_holdout AS b USING (credit_code)
   WHERE d.holdout;

CREATE FUNCTION pg_temp.auc(scores float8[], labels boolean[]) RETURNS numeric
  LANGUAGE sql AS $$
  WITH o AS (SELECT s, l, row_number() OVER (ORDER BY s) AS rn FROM unnest(scores, labels) AS u(s, l)),
       r AS (SELECT l, avg(rn) OVER (PARTITION BY s) AS rank FROM o)
  SELECT ((sum(rank) FILTER (WHERE l) - count(*) FILTER (WHERE l) * (count(*) FILTER (WHERE l) + 1) / 2.0)
          / (count(*) FILTER (WHERE l) * count(*) FILTER (WHERE NOT l)))::numeric
    FROM r
  $$;

CREATE TEMP TABLE train_verdict AS
  SELECT count(*) AS holdout_loans,
         count(bank_score) AS bank_scored,
         count(*) FILTER (WHERE bank_score IS NULL OR abs(bank_score - model_score) > bound) AS beyond_bound,
         round(pg_temp.auc(array_agg(bank_score::float8), array_agg(defaulted)), 4) AS auc_joint,
         round(pg_temp.auc(array_agg(plain_score), array_agg(defaulted)), 4) AS auc_plain
    FROM holdout_check;
SELECT holdout_loans, bank_scored, beyond_bound AS "scores beyond the bound", auc_joint, auc_plain,
       round(abs(auc_joint - auc_plain), 4) AS difference
  FROM train_verdict;
SELECT beyond_bound = 0 AND bank_scored = holdout_loans AND abs(auc_joint - auc_plain) <= 0.01 AS train_match
  FROM train_verdict \gset
\if :train_match
\echo '   every holdout score is the returned model''s, and its AUC is within 0.01 of the plain model''s'
\else
DO $$ BEGIN RAISE EXCEPTION 'narrator: bank A''s jointly trained model differs from the plain fit'; END $$;
\endif
