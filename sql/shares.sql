-- Additive shares over Z_2^64 at a fixed scale: share_split and share_open.
-- Shares are random, so the output shows only what does not depend on them.
-- error_of() runs one statement and returns 'SQLSTATE: message', or 'ok'.
CREATE FUNCTION pg_temp.error_of(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Splitting then opening gives the value back, at the scale (default 4).
SELECT v, pgpriv.share_open(pgpriv.share_split(v, 3)) AS opened,
       cardinality(pgpriv.share_split(v, 3)) AS shares
  FROM (VALUES (0::numeric), (1), (-1), (12.5), (-0.0001), (123456789.1234),
               (922337203685477.5807), (-922337203685477.5808)) AS t(v);

-- Other scales and party counts.
SELECT pgpriv.share_open(pgpriv.share_split(42, 1, 0), 0) AS one_party,
       pgpriv.share_open(pgpriv.share_split(-7.25, 10, 2), 2) AS ten_parties,
       pgpriv.share_open(pgpriv.share_split(9223372036854775807, 5, 0), 0) AS max_at_scale_0,
       pgpriv.share_open(pgpriv.share_split(0.000000000000000001, 2, 18), 18) AS one_unit_at_scale_18;

-- A single party's share is its value at the scale; with two or more, one
-- share alone is random: two splits of the same value differ.
SELECT pgpriv.share_split(12.5, 1) AS single_share;
SELECT pgpriv.share_split(12.5, 2) <> pgpriv.share_split(12.5, 2) AS splits_differ;

-- Shares add: all shares of two values together open to the sum of the values.
SELECT pgpriv.share_open(a || b) AS opened_sum
  FROM (SELECT pgpriv.share_split(10.5, 2) AS a, pgpriv.share_split(-3.25, 3) AS b) AS s;

-- share_open adds mod 2^64 and reads the residue as a signed bigint.
SELECT pgpriv.share_open('{1,2,3}', 0) AS plain,
       pgpriv.share_open('{9223372036854775807,1}', 0) AS wraps,
       pgpriv.share_open('{}', 2) AS no_shares,
       pgpriv.share_open('{-5}') AS one_share;

-- Errors: out of range, inexact, not finite, bad parties or scale, NULL shares.
SELECT stmt, pg_temp.error_of(stmt) AS error
  FROM (VALUES ('SELECT pgpriv.share_split(922337203685477.5808, 2)'),
               ('SELECT pgpriv.share_split(1e15, 2)'),
               ('SELECT pgpriv.share_split(0.00001, 2)'),
               ('SELECT pgpriv.share_split(0.5, 2, 0)'),
               ('SELECT pgpriv.share_split(''NaN'', 2)'),
               ('SELECT pgpriv.share_split(''-Infinity'', 2)'),
               ('SELECT pgpriv.share_split(1, 0)'),
               ('SELECT pgpriv.share_split(1, 1025)'),
               ('SELECT pgpriv.share_split(1, 2, 19)'),
               ('SELECT pgpriv.share_split(1, 2, -1)'),
               ('SELECT pgpriv.share_open(''{1,NULL}'')'),
               ('SELECT pgpriv.share_open(''{{1,2},{3,4}}'')'),
               ('SELECT pgpriv.share_open(''{1}'', 19)')) AS t(stmt);

-- secure_sum: errors the asker meets before any peer is called.
CREATE SERVER regress_sum_nokey FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '1', dbname 'nowhere');
CREATE SERVER regress_sum_a FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '1', dbname 'nowhere',
           public_key '0101010101010101010101010101010101010101010101010101010101010101');
CREATE SERVER regress_sum_b FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '1', dbname 'nowhere',
           public_key '0101010101010101010101010101010101010101010101010101010101010101');
SELECT stmt, pg_temp.error_of(stmt) AS error
  FROM (VALUES ('SELECT * FROM pgpriv.secure_sum(''{}'', ''loans'', ''amount'', ''SELECT 1'')'),
               ('SELECT * FROM pgpriv.secure_sum(''{regress_sum_a,NULL}'', ''loans'', ''amount'', ''SELECT 1'')'),
               ('SELECT * FROM pgpriv.secure_sum(''{regress_no_such}'', ''loans'', ''amount'', ''SELECT 1'')'),
               ('SELECT * FROM pgpriv.secure_sum(''{regress_sum_nokey}'', ''loans'', ''amount'', ''SELECT 1'')'),
               ('SELECT * FROM pgpriv.secure_sum(''{regress_sum_a,regress_sum_a}'', ''loans'', ''amount'', ''SELECT 1'')'),
               ('SELECT * FROM pgpriv.secure_sum(''{regress_sum_a,regress_sum_b}'', ''loans'', ''amount'', ''SELECT 1'')'),
               ('SELECT * FROM pgpriv.secure_sum(''{regress_sum_a}'', ''loans'', ''amount'', ''DELETE FROM x'')')) AS t(stmt);
DROP SERVER regress_sum_nokey, regress_sum_a, regress_sum_b;

-- Volatility is honest: split draws randomness, open is pure.
SELECT proname, provolatile, proisstrict, proparallel
  FROM pg_proc WHERE pronamespace = 'pgpriv'::regnamespace AND proname LIKE 'share\_%'
 ORDER BY 1;

-- Memory for secrets (src/run/secret_mem.c) is zero after an early wipe,
-- a reset and a delete of its memory context, before the memory goes back.
SELECT pgpriv._secret_mem_selftest() AS secrets_wiped;
