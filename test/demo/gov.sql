-- The city data bureau's side of the demo (database govdata on the gov cluster).
--
-- Run by test/demo/run as the superuser with psql variables
--   bank_a_password, bank_b_password, bank_c_password  the banks' login
--                                       passwords on this cluster.
-- Everything random comes from one setseed(), so the data is the same on every run.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- random() must run in one process, in order, for setseed() to make it reproducible.
SET max_parallel_workers_per_gather = 0;

\echo
\echo '== 1. gov: CREATE EXTENSION pgpriv: schema, wrapper, and the bureau''s identity'
CREATE EXTENSION pgpriv;
SELECT public_key, fingerprint FROM pgpriv.identity();

\echo
\echo '== 2. gov: roles: a data steward who owns and publishes the data, and the banks'' logins'
CREATE ROLE data_steward;
CREATE ROLE bank_a LOGIN PASSWORD :'bank_a_password';
CREATE ROLE bank_b LOGIN PASSWORD :'bank_b_password';
CREATE ROLE bank_c LOGIN PASSWORD :'bank_c_password';
CREATE SCHEMA gov AUTHORIZATION data_steward;
GRANT EXECUTE ON FUNCTION pgpriv.publish(text, text, text),
  pgpriv.permit(text, name, text, text[], bigint, integer, integer, text) TO data_steward;

-- ---------------------------------------------------------------------------
-- Unified social credit codes (统一社会信用代码, GB 32100-2015)
--
--   pos 1     registration authority ('9': industry and commerce)
--   pos 2     entity type ('1' enterprise, '2' individual business, '3' farmers' cooperative)
--   pos 3-8   administrative division code (310115: Pudong New Area, ...)
--   pos 9-17  organisation code (GB 11714): 8 characters and its own check character
--   pos 18    check character over positions 1-17
-- Characters: 0-9 and A-Y without I, O, S, V, Z (31 of them, valued 0..30 in this order).
-- ---------------------------------------------------------------------------

-- GB 11714 check character of an organisation code's first 8 characters:
-- weights 3 7 9 10 5 8 4 2; digits are worth themselves, letters A=10 .. Z=35;
-- c = 11 - (sum mod 11), written 'X' for 10 and '0' for 11.
CREATE FUNCTION public.demo_org_check_char(body8 text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$
    SELECT CASE c WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE c::text END
      FROM (SELECT 11 - sum(CASE WHEN ch ~ '^[0-9]$' THEN ascii(ch) - 48 ELSE ascii(ch) - 55 END * w) % 11 AS c
              FROM unnest(string_to_array(body8, NULL), '{3,7,9,10,5,8,4,2}'::int[]) AS u(ch, w)) AS s
  $$;

-- GB 32100 check character of a code's first 17 characters:
-- weights 3^(i-1) mod 31; c = 31 - (sum mod 31), 31 written as 0.
CREATE FUNCTION public.demo_uscc_check_char(body17 text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$
    SELECT substr('0123456789ABCDEFGHJKLMNPQRTUWXY',
                  1 + ((31 - sum((strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', ch) - 1) * w) % 31) % 31)::int, 1)
      FROM unnest(string_to_array(body17, NULL),
                  '{1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28}'::int[]) AS u(ch, w)
  $$;

-- The validator checks the other way round, independently of the two
-- functions above: a code is valid when its shape is right and, with each
-- check character's value added in, both weighted sums are multiples of
-- their modulus (11 for the organisation code, 31 for the whole code).
CREATE FUNCTION public.demo_uscc_valid(code text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT coalesce(
      code ~ '^[1-9ANY][1-9][0-9]{6}[0-9ABCDEFGHJKLMNPQRTUWXY]{8}[0-9X][0-9ABCDEFGHJKLMNPQRTUWXY]$'
      AND (SELECT sum(CASE WHEN ch = 'X' AND i = 9 THEN 10
                           WHEN ch ~ '^[0-9]$' THEN ascii(ch) - 48
                           ELSE ascii(ch) - 55 END * w) % 11 = 0
             FROM unnest(string_to_array(substr(code, 9, 9), NULL), '{3,7,9,10,5,8,4,2,1}'::int[])
                  WITH ORDINALITY AS u(ch, w, i))
      AND (SELECT sum((strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', ch) - 1) * w) % 31 = 0
             FROM unnest(string_to_array(code, NULL),
                         '{1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28,1}'::int[]) AS u(ch, w)),
      false)
  $$;

-- A random valid code in one of the given divisions (repeat a division to
-- weight it).  About 45% carry a pre-2015 all-digit organisation code; the
-- rest a newer 'MA' one with letters, as Shanghai's newer registrations do.
CREATE FUNCTION public.demo_uscc_random(divisions text[]) RETURNS text
  LANGUAGE plpgsql VOLATILE
  AS $$
  DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKLMNPQRTUWXY';
    r double precision := random();
    head text;
    org text;
  BEGIN
    head := '9' || CASE WHEN r < 0.84 THEN '1' WHEN r < 0.97 THEN '2' ELSE '3' END
                || divisions[1 + floor(random() * cardinality(divisions))::int];
    IF random() < 0.45 THEN
      org := lpad(floor(random() * 100000000)::bigint::text, 8, '0');
    ELSE
      org := 'MA';
      FOR i IN 1..6 LOOP
        org := org || substr(alphabet, 1 + floor(random() * 31)::int, 1);
      END LOOP;
    END IF;
    org := org || demo_org_check_char(org);
    RETURN head || org || demo_uscc_check_char(head || org);
  END
  $$;

\echo
\echo '== 3. gov: credit codes (GB 32100-2015, with the GB 11714 organisation-code check inside)'
\echo '   the standard''s worked example, a one-character typo, and two swapped characters:'
SELECT code, demo_uscc_valid(code) AS valid
  FROM (VALUES ('91350100M000100Y43'), ('91350100M000100Y44'), ('91350100M001000Y43')) AS v(code);

\echo
\echo '== 4. gov: 100,000 Shanghai enterprises (fixed seed: the same data on every run)'
\o /dev/null
SELECT setseed(0.2015);
\o
SET ROLE data_steward;
CREATE TABLE gov.enterprise (
  credit_code   text PRIMARY KEY,
  division      text NOT NULL,
  entity_type   text NOT NULL,
  registered_on date NOT NULL,
  tax_grade     text NOT NULL CHECK (tax_grade IN ('A', 'B', 'C', 'D', 'M')),
  tax_paid      numeric(14,2) NOT NULL,
  ss_headcount  integer NOT NULL,
  penalties     integer NOT NULL,
  internal_note text
);
COMMENT ON COLUMN gov.enterprise.tax_paid IS 'tax paid in the last full year, CNY';
COMMENT ON COLUMN gov.enterprise.ss_headcount IS 'employees with social-security contributions';
COMMENT ON COLUMN gov.enterprise.penalties IS 'administrative penalties in the last 3 years';
CREATE TABLE gov.high_risk (
  credit_code text PRIMARY KEY REFERENCES gov.enterprise,
  reason      text NOT NULL,
  listed_on   date NOT NULL
);
RESET ROLE;

-- Candidates: 102,000 draws; the first 100,000 distinct codes are the
-- bureau's enterprises, the rest stay with the narrator (codes the bureau
-- does not have).  Pudong (310115) and Minhang (310112) are weighted up.
CREATE TEMP TABLE candidate AS
  SELECT min(n) AS n, code
    FROM (SELECT n, demo_uscc_random('{310101,310104,310105,310106,310107,310109,310110,310112,310112,310113,310114,310115,310115,310115,310117}')
                   AS code
            FROM generate_series(1, 102000) AS n) AS d
   GROUP BY code;

INSERT INTO gov.enterprise
WITH draw AS MATERIALIZED (
  SELECT n, code, random() AS u_age, random() AS u_grade, random() AS u1, random() AS u2,
         random() AS u3, random() AS u4, random() AS u_pen
    FROM (SELECT * FROM candidate ORDER BY n LIMIT 100000) AS c
   ORDER BY n
), base AS MATERIALIZED (
  SELECT n, code, substr(code, 2, 1) AS entity_type,
         date '2024-12-31' - least(floor(-ln(1 - u_age) * 2900), 30 * 365)::int AS registered_on,
         sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2) AS z_tax,
         sqrt(-2 * ln(1 - u3)) * cos(2 * pi() * u4) AS z_staff,
         u_grade, u_pen
    FROM draw
), graded AS (
  SELECT *,
         CASE WHEN registered_on > date '2023-12-31' THEN 'M'   -- newly established
              WHEN u_grade < 0.12 THEN 'A'
              WHEN u_grade < 0.74 THEN 'B'
              WHEN u_grade < 0.955 THEN 'C'
              ELSE 'D' END AS tax_grade
    FROM base
), taxed AS (
  SELECT *,
         round((exp(CASE entity_type WHEN '1' THEN ln(200000) + 1.5 * z_tax
                                     WHEN '2' THEN ln(12000) + 1.0 * z_tax
                                     ELSE ln(25000) + 1.0 * z_tax END)
                * CASE tax_grade WHEN 'A' THEN 2.5 WHEN 'B' THEN 1 WHEN 'C' THEN 0.6
                                 WHEN 'D' THEN 0.3 ELSE 0.25 END)::numeric, 2) AS tax_paid
    FROM graded
)
SELECT code, substr(code, 3, 6), entity_type, registered_on, tax_grade, tax_paid,
       CASE WHEN entity_type = '2'
            THEN least(8, round(exp(0.6 * ln(tax_paid / 3000) + 0.6 * z_staff)))::int
            ELSE least(20000, round(exp(0.6 * ln(tax_paid / 3000) + 0.6 * z_staff)))::int END,
       least(12, floor(ln(1 - u_pen) / ln(CASE tax_grade WHEN 'A' THEN 0.04 WHEN 'B' THEN 0.08
                                                          WHEN 'M' THEN 0.08 WHEN 'C' THEN 0.30
                                                          ELSE 0.45 END)))::int,
       'inspector''s note ' || n
  FROM taxed
 ORDER BY n;

-- The bureau's high-risk list: tax grade D with penalties, or 4+ penalties in 3 years.
INSERT INTO gov.high_risk
  SELECT credit_code,
         CASE WHEN tax_grade = 'D' AND penalties > 0 THEN 'tax grade D with administrative penalties'
              ELSE 'repeated administrative penalties' END,
         date '2024-01-01' + floor(random() * 450)::int
    FROM gov.enterprise
   WHERE (tax_grade = 'D' AND penalties > 0) OR penalties >= 4
   ORDER BY credit_code;
ANALYZE gov.enterprise, gov.high_risk;

SELECT count(*) AS enterprises,
       count(*) FILTER (WHERE NOT demo_uscc_valid(credit_code)) AS invalid_codes,
       count(DISTINCT credit_code) AS distinct_codes,
       count(*) FILTER (WHERE substr(credit_code, 9, 2) = 'MA') AS newer_ma_codes
  FROM gov.enterprise;
\echo '   a few codes, taken apart:'
SELECT credit_code, substr(credit_code, 1, 1) AS authority, entity_type AS type, division,
       substr(credit_code, 9, 9) AS org_code, substr(credit_code, 17, 1) AS org_check,
       substr(credit_code, 18, 1) AS check, demo_uscc_valid(credit_code) AS valid
  FROM (SELECT DISTINCT ON (entity_type, substr(credit_code, 9, 2) = 'MA') *
          FROM gov.enterprise ORDER BY entity_type, substr(credit_code, 9, 2) = 'MA', credit_code) AS e
 ORDER BY credit_code;
\echo '   by tax grade (M: newly established):'
SELECT tax_grade, count(*) AS enterprises,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY tax_paid) AS median_tax_paid,
       round(avg(ss_headcount), 1) AS avg_headcount,
       round(100.0 * count(*) FILTER (WHERE penalties > 0) / count(*), 1) AS pct_penalised
  FROM gov.enterprise GROUP BY tax_grade ORDER BY tax_grade;
\echo '   by entity type:'
SELECT entity_type, CASE entity_type WHEN '1' THEN 'enterprise' WHEN '2' THEN 'individual business'
                                     ELSE 'farmers'' cooperative' END AS kind,
       count(*) AS n, min(tax_paid) AS min_tax, percentile_disc(0.5) WITHIN GROUP (ORDER BY tax_paid) AS median_tax,
       max(tax_paid) AS max_tax, percentile_disc(0.5) WITHIN GROUP (ORDER BY ss_headcount) AS median_headcount
  FROM gov.enterprise GROUP BY entity_type ORDER BY entity_type;
\echo '   administrative penalties in the last 3 years:'
SELECT CASE WHEN penalties >= 3 THEN '3+' ELSE penalties::text END AS penalties, count(*) AS enterprises
  FROM gov.enterprise GROUP BY 1 ORDER BY 1;

\echo
\echo '== 5. gov: the high-risk list'
SELECT reason, count(*) AS enterprises FROM gov.high_risk GROUP BY reason ORDER BY reason;
SELECT count(*) AS high_risk_total FROM gov.high_risk;

\echo
\echo '== 6. gov: the steward publishes two datasets (peers never see their SQL) and permits the banks'
SET ROLE data_steward;
\o /dev/null
\set ECHO queries
SELECT pgpriv.publish('tax', 'SELECT credit_code, tax_grade, tax_paid, ss_headcount, penalties FROM gov.enterprise', 'credit_code');
SELECT pgpriv.publish('high_risk', 'SELECT credit_code FROM gov.high_risk', 'credit_code');
SELECT pgpriv.permit('tax', 'bank_a', 'psi_fetch', '{tax_grade,tax_paid,ss_headcount}', max_keys => 100000);
SELECT pgpriv.permit('tax', 'bank_a', 'psi_count');
SELECT pgpriv.permit('high_risk', 'bank_a', 'psi');
-- One applicant at a time, without the bureau learning who (private lookup).
SELECT pgpriv.permit('tax', 'bank_a', 'pir', '{tax_grade,tax_paid}', max_keys => 100);
SELECT pgpriv.permit('tax', 'bank_b', 'psi_count');
-- The Huangpu district office's tax ledger (about one enterprise in twelve), for aggregates.
-- No min_group: psi_sum cannot enforce one against a modified asker (docs/psi_sum.md),
-- so the bureau grants it only because bank B may see tax_paid of the firms it asks about.
SELECT pgpriv.publish('tax_huangpu', 'SELECT credit_code, tax_paid FROM gov.enterprise WHERE substr(credit_code, 3, 6) = ''310101''', 'credit_code');
SELECT pgpriv.permit('tax_huangpu', 'bank_b', 'psi_sum', '{tax_paid}');
SELECT pgpriv.permit('high_risk', 'bank_b', 'psi');
\set ECHO none
\o
\echo
SELECT dataset, key_column, columns, column_types, owner_role, version FROM pgpriv.datasets ORDER BY dataset;
SELECT dataset, peer_role, capability, columns, max_keys FROM pgpriv.permits ORDER BY peer_role, dataset, capability;
RESET ROLE;
\echo '   the banks'' logins hold no privilege on any of the bureau''s tables:'
SELECT r.rolname AS login,
       has_table_privilege(r.rolname, 'gov.enterprise', 'SELECT') AS may_read_enterprise,
       has_table_privilege(r.rolname, 'gov.high_risk', 'SELECT') AS may_read_high_risk,
       has_schema_privilege(r.rolname, 'gov', 'USAGE') AS may_use_schema_gov
  FROM pg_roles AS r WHERE r.rolname IN ('bank_a', 'bank_b', 'bank_c') ORDER BY 1;

-- ---------------------------------------------------------------------------
-- The narrator.  Nobody in this story sees all four databases; the demo
-- does.  To know the true overlaps it draws the banks' customers here, from
-- the bureau's codes and codes the bureau does not have, and then moves each
-- bank's own rows to that bank (COPY through a pipe).  Schema narrator is
-- readable by the superuser only; the bureau's roles never see it.
-- ---------------------------------------------------------------------------
\echo
\echo '== 7. narrator: the banks'' customers (drawn here so the true overlaps are known, then moved to each bank)'
CREATE SCHEMA narrator;
REVOKE ALL ON SCHEMA narrator FROM PUBLIC;

-- Valid codes the bureau does not have: Shanghai codes left over from the
-- draw (firms outside the bureau's extract) and firms registered in Jiangsu,
-- Zhejiang and Anhui.
CREATE TABLE narrator.unknown_code AS
  SELECT code AS credit_code FROM candidate
   WHERE code NOT IN (SELECT credit_code FROM gov.enterprise)
  UNION
  SELECT demo_uscc_random('{320102,320505,320506,330106,330212,340104}')
    FROM generate_series(1, 1500);
DELETE FROM narrator.unknown_code WHERE credit_code IN (SELECT credit_code FROM gov.enterprise);

-- Bank A: 5,000 loan applicants, 3,500 of them known to the bureau.
CREATE TABLE narrator.bank_a_applicants AS
  SELECT credit_code,
         date '2025-01-02' + floor(random() * 88)::int AS applied_on,
         round((exp(ln(800000) + 1.1 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, -3)
           AS amount_requested
    FROM ((SELECT credit_code FROM gov.enterprise ORDER BY random() LIMIT 3500)
          UNION ALL
          (SELECT credit_code FROM narrator.unknown_code ORDER BY random() LIMIT 1500)) AS s;

-- Bank A: 4,000 current borrowers: 3,765 the bureau does not list as high
-- risk, 35 it now does, and 200 it does not have.  Some borrowers also
-- applied for a new loan, as happens.
CREATE TABLE narrator.bank_a_borrowers AS
  SELECT credit_code,
         'LN-2023-' || lpad(row_number() OVER (ORDER BY credit_code)::text, 6, '0') AS loan_no,
         round((exp(ln(1500000) + 1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, 2)
           AS balance,
         date '2025-06-30' + floor(random() * 1100)::int AS matures_on
    FROM ((SELECT e.credit_code FROM gov.enterprise AS e
            WHERE NOT EXISTS (SELECT FROM gov.high_risk AS h WHERE h.credit_code = e.credit_code)
            ORDER BY random() LIMIT 3765)
          UNION ALL
          (SELECT credit_code FROM gov.high_risk ORDER BY random() LIMIT 35)
          UNION ALL
          (SELECT credit_code FROM narrator.unknown_code ORDER BY random() LIMIT 200)) AS s;

-- Bank B: 3,000 applicants: 1,000 also applied at bank A; 2,000 did not
-- (1,400 known to the bureau, 600 not).
CREATE TABLE narrator.bank_b_applicants AS
  SELECT credit_code,
         date '2025-01-02' + floor(random() * 88)::int AS applied_on,
         round((exp(ln(600000) + 1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, -3)
           AS amount_requested
    FROM ((SELECT credit_code FROM narrator.bank_a_applicants ORDER BY random() LIMIT 1000)
          UNION ALL
          (SELECT e.credit_code FROM gov.enterprise AS e
            WHERE e.credit_code NOT IN (SELECT credit_code FROM narrator.bank_a_applicants)
            ORDER BY random() LIMIT 1400)
          UNION ALL
          (SELECT u.credit_code FROM narrator.unknown_code AS u
            WHERE u.credit_code NOT IN (SELECT credit_code FROM narrator.bank_a_applicants)
            ORDER BY random() LIMIT 600)) AS s;

-- Where the banks' answers land for the narrator's final check.
CREATE TABLE narrator.bank_a_fetched (credit_code text, tax_grade text, tax_paid numeric, ss_headcount integer);
CREATE TABLE narrator.bank_a_flagged (credit_code text);
CREATE TABLE narrator.bank_a_pir_asked (credit_code text);
CREATE TABLE narrator.bank_a_pir (credit_code text, tax_grade text, tax_paid numeric);
CREATE TABLE narrator.bank_b_counted (applicants_known_to_gov bigint);
CREATE TABLE narrator.bank_b_psi_summed (matched bigint, total numeric);

SELECT x.list, count(*) AS customers,
       count(*) FILTER (WHERE demo_uscc_valid(x.credit_code)) AS valid_codes,
       count(e.credit_code) AS known_to_gov,
       count(h.credit_code) AS on_high_risk_list
  FROM (SELECT 1 AS o, 'bank A applicants' AS list, credit_code FROM narrator.bank_a_applicants
        UNION ALL SELECT 2, 'bank A borrowers', credit_code FROM narrator.bank_a_borrowers
        UNION ALL SELECT 3, 'bank B applicants', credit_code FROM narrator.bank_b_applicants) AS x
  LEFT JOIN gov.enterprise AS e ON e.credit_code = x.credit_code
  LEFT JOIN gov.high_risk AS h ON h.credit_code = x.credit_code
 GROUP BY x.o, x.list ORDER BY x.o;
SELECT count(*) AS applied_at_both_banks, count(e.credit_code) AS of_which_known_to_gov
  FROM narrator.bank_a_applicants AS a
  JOIN narrator.bank_b_applicants AS b ON b.credit_code = a.credit_code
  LEFT JOIN gov.enterprise AS e ON e.credit_code = a.credit_code;

-- The three banks' loan books (each bank's table `loans`), for the
-- multi-lending check (secure_sum).  Bank A's book is its borrowers' loans
-- (the one in its borrowers table) plus a second facility for some of them.
-- Banks B and C lend to many of bank A's applicants (an applicant asking
-- bank A for credit often owes other banks already), to some of bank A's
-- borrowers, and to 3,000 enterprises bank A never asks about.  Where each
-- enterprise borrows:
--   bank A's applicants  30% at neither B nor C, 25% B only, 15% C only, 30% both
--   bank A's borrowers   60% neither, 15% B only, 10% C only, 15% both
--   3,000 others         45% B only, 40% C only, 15% both
-- A lender holds one loan to an enterprise, or two (25% at B and C).
CREATE TABLE narrator.lends_elsewhere AS
WITH pop AS MATERIALIZED (
  SELECT credit_code, bool_or(applicant) AS applicant
    FROM (SELECT credit_code, true AS applicant FROM narrator.bank_a_applicants
          UNION ALL
          SELECT credit_code, false FROM narrator.bank_a_borrowers) AS s
   GROUP BY credit_code
  UNION ALL
  (SELECT e.credit_code, NULL::boolean FROM gov.enterprise AS e
    WHERE e.credit_code NOT IN (SELECT credit_code FROM narrator.bank_a_applicants)
      AND e.credit_code NOT IN (SELECT credit_code FROM narrator.bank_a_borrowers)
    ORDER BY random() LIMIT 3000)
), drawn AS MATERIALIZED (
  SELECT credit_code, applicant, random() AS u FROM (SELECT * FROM pop ORDER BY credit_code) AS p
)
SELECT credit_code,
       CASE WHEN applicant THEN u >= 0.30 AND u < 0.55 OR u >= 0.70
            WHEN NOT applicant THEN u >= 0.60 AND u < 0.75 OR u >= 0.85
            ELSE u < 0.45 OR u >= 0.85 END AS at_b,
       CASE WHEN applicant THEN u >= 0.55
            WHEN NOT applicant THEN u >= 0.75
            ELSE u >= 0.45 END AS at_c
  FROM drawn ORDER BY credit_code;

CREATE TABLE narrator.loans (bank text, loan_no text, credit_code text, balance numeric(14,2));
INSERT INTO narrator.loans
  SELECT 'bank_a', loan_no, credit_code, balance FROM narrator.bank_a_borrowers;
INSERT INTO narrator.loans
  SELECT 'bank_a', 'LN-2024-' || lpad(row_number() OVER (ORDER BY credit_code)::text, 6, '0'), credit_code,
         round((exp(ln(600000) + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, 2)
    FROM (SELECT credit_code FROM narrator.bank_a_borrowers ORDER BY credit_code) AS b
   WHERE random() < 0.15;
INSERT INTO narrator.loans
  SELECT l.bank, upper(substr(l.bank, 6, 1)) || '-' || lpad(row_number() OVER (PARTITION BY l.bank ORDER BY l.credit_code, l.i)::text, 7, '0'),
         l.credit_code, l.balance
    FROM (SELECT x.bank, x.credit_code, i,
                 round((exp(ln(CASE x.bank WHEN 'bank_b' THEN 1200000 ELSE 900000 END)
                            + 1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, 2) AS balance
            FROM (SELECT 'bank_b' AS bank, credit_code, CASE WHEN random() < 0.25 THEN 2 ELSE 1 END AS n
                    FROM narrator.lends_elsewhere WHERE at_b
                  UNION ALL
                  SELECT 'bank_c', credit_code, CASE WHEN random() < 0.25 THEN 2 ELSE 1 END
                    FROM narrator.lends_elsewhere WHERE at_c) AS x,
                 generate_series(1, x.n) AS i) AS l;
-- Where bank A's secure_sum answer lands for the narrator's check.
CREATE TABLE narrator.bank_a_summed (credit_code text, total numeric, contributors integer);

\echo '   the three banks'' loan books (each bank''s table loans):'
SELECT bank, count(*) AS loans, count(DISTINCT credit_code) AS borrowers, sum(balance) AS outstanding
  FROM narrator.loans GROUP BY bank ORDER BY bank;
\echo '   bank A''s applicants by how many of the three banks already lend to them:'
SELECT coalesce(lenders, 0) AS lenders, count(*) AS applicants
  FROM narrator.bank_a_applicants AS a
  LEFT JOIN (SELECT credit_code, count(DISTINCT bank) AS lenders FROM narrator.loans GROUP BY credit_code) AS l
         USING (credit_code)
 GROUP BY 1 ORDER BY 1;
