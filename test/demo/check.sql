-- The narrator's check (on the gov cluster, as its superuser): the banks'
-- answers, copied back here by test/demo/run, against plain SQL joins over
-- the lists the narrator drew.  Fails the demo if anything differs.
-- Variable has_psi_sum: whether bank B's psi_sum step ran.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\echo
\echo '== 13. narrator: every answer against the plain join (which no party could run)'
CREATE TEMP TABLE verdict AS
WITH plain_fetch AS (
  SELECT e.credit_code, e.tax_grade, e.tax_paid::numeric AS tax_paid, e.ss_headcount
    FROM narrator.bank_a_applicants AS a JOIN gov.enterprise AS e USING (credit_code)
), plain_flag AS (
  SELECT b.credit_code FROM narrator.bank_a_borrowers AS b JOIN gov.high_risk AS h USING (credit_code)
), plain_count AS (
  SELECT count(*) AS n FROM narrator.bank_b_applicants AS b JOIN gov.enterprise AS e USING (credit_code)
)
SELECT 1 AS o, 'bank A psi_fetch (tax)' AS answer,
       (SELECT count(*) FROM narrator.bank_a_fetched) AS bank_got,
       (SELECT count(*) FROM plain_fetch) AS plain_join,
       NOT EXISTS (SELECT * FROM narrator.bank_a_fetched EXCEPT ALL SELECT * FROM plain_fetch)
         AND NOT EXISTS (SELECT * FROM plain_fetch EXCEPT ALL SELECT * FROM narrator.bank_a_fetched) AS same
UNION ALL
SELECT 2, 'bank A psi (high_risk)',
       (SELECT count(*) FROM narrator.bank_a_flagged),
       (SELECT count(*) FROM plain_flag),
       NOT EXISTS (SELECT * FROM narrator.bank_a_flagged EXCEPT ALL SELECT * FROM plain_flag)
         AND NOT EXISTS (SELECT * FROM plain_flag EXCEPT ALL SELECT * FROM narrator.bank_a_flagged)
UNION ALL
SELECT 6, 'bank A pir (tax, one applicant)',
       (SELECT count(*) FROM narrator.bank_a_pir),
       (SELECT count(*) FROM gov.enterprise AS e JOIN narrator.bank_a_pir_asked USING (credit_code)),
       (SELECT count(*) = 1 FROM narrator.bank_a_pir_asked)
         AND NOT EXISTS (SELECT * FROM narrator.bank_a_pir
                         EXCEPT ALL SELECT e.credit_code, e.tax_grade, e.tax_paid::numeric
                                      FROM gov.enterprise AS e JOIN narrator.bank_a_pir_asked USING (credit_code))
         AND NOT EXISTS (SELECT e.credit_code, e.tax_grade, e.tax_paid::numeric
                           FROM gov.enterprise AS e JOIN narrator.bank_a_pir_asked USING (credit_code)
                         EXCEPT ALL SELECT * FROM narrator.bank_a_pir)
UNION ALL
SELECT 3, 'bank B psi_count (tax)',
       (SELECT sum(applicants_known_to_gov) FROM narrator.bank_b_counted),
       (SELECT n FROM plain_count),
       (SELECT count(*) = 1 FROM narrator.bank_b_counted)
         AND (SELECT sum(applicants_known_to_gov) FROM narrator.bank_b_counted) = (SELECT n FROM plain_count);
\if :has_psi_sum
CREATE TEMP TABLE plain_psi_sum AS
  SELECT count(*) AS matched, coalesce(sum(e.tax_paid), 0) AS total
    FROM narrator.bank_b_applicants AS b JOIN gov.enterprise AS e USING (credit_code)
   WHERE b.amount_requested < 200000 AND substr(e.credit_code, 3, 6) = '310101';
INSERT INTO verdict
SELECT 4, 'bank B psi_sum (Huangpu tax_paid): count',
       (SELECT sum(matched) FROM narrator.bank_b_psi_summed), (SELECT matched FROM plain_psi_sum),
       (SELECT count(*) = 1 FROM narrator.bank_b_psi_summed)
         AND (SELECT sum(matched) FROM narrator.bank_b_psi_summed) = (SELECT matched FROM plain_psi_sum);
INSERT INTO verdict
SELECT 5, 'bank B psi_sum (Huangpu tax_paid): total', NULL, NULL,
       (SELECT count(*) = 1 AND bool_and(total = (SELECT total FROM plain_psi_sum)) FROM narrator.bank_b_psi_summed);
\endif
SELECT answer, bank_got, plain_join,
       CASE WHEN same THEN 'yes' ELSE 'NO' END AS "matches the plain join"
  FROM verdict WHERE bank_got IS NOT NULL ORDER BY o;
\if :has_psi_sum
SELECT (SELECT total FROM narrator.bank_b_psi_summed) AS "bank B psi_sum: total tax_paid",
       (SELECT total FROM plain_psi_sum) AS plain_join_total,
       CASE WHEN (SELECT same FROM verdict WHERE o = 5) THEN 'yes' ELSE 'NO' END AS "matches the plain sum";
\endif
SELECT bool_and(same) AS all_match FROM verdict \gset
\if :all_match
\echo '   every answer matches the plain join, and no party saw another''s rows'
\else
DO $$ BEGIN RAISE EXCEPTION 'narrator: a bank''s answer differs from the plain join'; END $$;
\endif
