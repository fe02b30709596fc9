-- The narrator's check of bank A's secure_sum answer (on the gov cluster, as
-- its superuser): every total and lender count, copied back here by
-- test/demo/run, against plain sums over the three loan books it drew.
-- Fails the demo if anything differs.  Variable: step.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

SELECT format('== %s narrator: bank A''s totals against the plain sums over the three loan books (which no party could run)',
              :'step') AS header \gset
\echo
\echo :header
CREATE TEMP TABLE plain_sum AS
  SELECT a.credit_code, coalesce(sum(l.balance), 0) AS total, count(DISTINCT l.bank)::integer AS contributors
    FROM narrator.bank_a_applicants AS a
    LEFT JOIN narrator.loans AS l USING (credit_code)
   GROUP BY a.credit_code;
CREATE TEMP TABLE sum_verdict AS
SELECT (SELECT count(*) FROM narrator.bank_a_summed) AS bank_got,
       (SELECT count(*) FROM plain_sum) AS plain_rows,
       (SELECT count(*) FROM narrator.bank_a_summed WHERE contributors >= 2) AS multi_lending,
       (SELECT count(*) FROM plain_sum WHERE contributors >= 2) AS plain_multi_lending,
       (SELECT count(*) FROM narrator.bank_a_summed AS s JOIN plain_sum AS p USING (credit_code)
         WHERE s.total = p.total AND s.contributors = p.contributors) AS rows_equal,
       NOT EXISTS (SELECT * FROM narrator.bank_a_summed EXCEPT ALL SELECT * FROM plain_sum)
         AND NOT EXISTS (SELECT * FROM plain_sum EXCEPT ALL SELECT * FROM narrator.bank_a_summed) AS same;
SELECT bank_got AS rows_bank_a_got, plain_rows, multi_lending, plain_multi_lending,
       rows_equal AS totals_and_lenders_equal,
       CASE WHEN same THEN 'yes' ELSE 'no' END AS "matches the plain sums"
  FROM sum_verdict;
SELECT same AS sums_match FROM sum_verdict \gset
\if :sums_match
\echo '   matches the plain sums: yes (every applicant''s total and number of lenders)'
\else
\echo '   matches the plain sums: no'
SELECT s.credit_code, s.total AS bank_total, p.total AS plain_total,
       s.contributors AS bank_lenders, p.contributors AS plain_lenders
  FROM narrator.bank_a_summed AS s FULL JOIN plain_sum AS p USING (credit_code)
 WHERE s.total IS DISTINCT FROM p.total OR s.contributors IS DISTINCT FROM p.contributors
 LIMIT 10;
DO $$ BEGIN RAISE EXCEPTION 'narrator: bank A''s secure_sum answer differs from the plain sums'; END $$;
\endif
