-- Properties of the OPRF primitives (RFC 9497, OPRF(ristretto255, SHA-512),
-- mode 0x00) over random keys, inputs and blinds, for pg_prove.
--
-- The published vectors are checked by the pg_regress test oprf_vectors;
-- here the point is the algebra on many random values: the blinded protocol
-- gives the key holder's unblinded output, batch forms equal single forms,
-- and every malformed argument class is refused with SQLSTATE 22023.

CREATE EXTENSION IF NOT EXISTS pgtap;

BEGIN;
SELECT plan(61);

-- 1000 random (sk, input, blind) triples.  Seeds are 32 random bytes (two
-- md5 outputs of random()), inputs 0..80 bytes, blinds from RandomScalar().
CREATE TEMP TABLE t ON COMMIT DROP AS
SELECT i,
       pgpriv.oprf_derive_key(decode(md5(random()::text) || md5(random()::text), 'hex'),
                              convert_to('pgtap ' || i, 'UTF8')) AS sk,
       substring(sha512(convert_to(random()::text, 'UTF8'))
                 || sha512(convert_to(random()::text, 'UTF8'))
                 FROM 1 FOR (random() * 80)::int) AS input,
       pgpriv.oprf_random_scalar() AS blind
  FROM generate_series(1, 1000) AS i;

CREATE TEMP TABLE r ON COMMIT DROP AS
SELECT i, sk, input, blind, b AS blinded, e AS evaluated,
       pgpriv.oprf_finalize(input, blind, e) AS output,
       pgpriv.oprf(sk, input) AS direct
  FROM t,
       LATERAL pgpriv.oprf_blind(input, blind) AS b,
       LATERAL pgpriv.oprf_evaluate(sk, b) AS e;

-- ---------------------------------------------------------------------------
-- The protocol (RFC 9497 §3.3.1)
-- ---------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM r WHERE output = direct), 1000::bigint,
          'Finalize(input, blind, BlindEvaluate(sk, Blind(input, blind))) = Evaluate(sk, input) for 1000 random triples');
SELECT ok((SELECT bool_and(length(output) = 64 AND length(direct) = 64) FROM r),
          'outputs are 64 bytes (Nh of SHA-512)');
SELECT ok((SELECT bool_and(length(blinded) = 32 AND length(evaluated) = 32) FROM r),
          'blinded and evaluated elements are 32 bytes (Ne)');
SELECT ok((SELECT bool_and(length(sk) = 32 AND length(blind) = 32) FROM r),
          'keys and blinds are 32 bytes (Ns)');
SELECT is((SELECT count(DISTINCT blind) FROM r), 1000::bigint,
          'oprf_random_scalar() never repeats over 1000 draws');
SELECT is((SELECT count(DISTINCT sk) FROM r), 1000::bigint,
          'oprf_derive_key gives distinct keys for distinct seeds');

-- Different keys give different outputs on the same input.
SELECT is((SELECT count(*) FROM r AS a JOIN r AS b ON b.i = a.i % 1000 + 1
            WHERE pgpriv.oprf(a.sk, a.input) = pgpriv.oprf(b.sk, a.input)),
          0::bigint,
          'a different sk gives a different output for the same input');

-- Different inputs give different outputs under the same key.
SELECT is((SELECT count(DISTINCT pgpriv.oprf((SELECT sk FROM r WHERE i = 1), input))
             FROM (SELECT DISTINCT input FROM r) AS d),
          (SELECT count(DISTINCT input) FROM r),
          'distinct inputs give distinct outputs under one key');

-- The output does not depend on the blind; the blinded element does.
SELECT is((SELECT count(*) FROM r
            WHERE pgpriv.oprf_finalize(input, b2,
                    pgpriv.oprf_evaluate(sk, pgpriv.oprf_blind(input, b2))) <> output),
          0::bigint,
          'Finalize output is independent of the blind')
  FROM (SELECT pgpriv.oprf_random_scalar() AS b2) AS x;
SELECT is((SELECT count(*) FROM r WHERE pgpriv.oprf_blind(input, pgpriv.oprf_random_scalar()) = blinded),
          0::bigint,
          'a fresh blind gives a different blinded element');

-- Key derivation is deterministic and the public key is sk·G.
SELECT is(pgpriv.oprf_derive_key(decode(repeat('a3', 32), 'hex'), 'test key'),
          pgpriv.oprf_derive_key(decode(repeat('a3', 32), 'hex'), 'test key'),
          'oprf_derive_key is deterministic');
SELECT ok((SELECT bool_and(length(pgpriv.oprf_public_key(sk)) = 32) FROM r),
          'every derived key has a 32-byte public key');
SELECT is((SELECT count(DISTINCT pgpriv.oprf_public_key(sk)) FROM r), 1000::bigint,
          'distinct keys have distinct public keys');

-- hash_to_group(x) = Blind(x, 1)
SELECT is((SELECT count(*) FROM r
            WHERE pgpriv.hash_to_group(input) <> pgpriv.oprf_blind(input,
                    '\x0100000000000000000000000000000000000000000000000000000000000000')),
          0::bigint,
          'hash_to_group(x) equals Blind(x, 1)');

-- ---------------------------------------------------------------------------
-- Batch forms equal single forms over 1000 elements
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE k ON COMMIT DROP AS
SELECT (SELECT sk FROM r WHERE i = 1) AS sk;

CREATE TEMP TABLE batch ON COMMIT DROP AS
SELECT array_agg(input ORDER BY i) AS inputs,
       array_agg(blind ORDER BY i) AS blinds,
       array_agg(blinded ORDER BY i) AS blinded
  FROM r;

SELECT is(pgpriv.oprf_blind_batch(inputs, blinds), blinded,
          'oprf_blind_batch = oprf_blind over 1000 elements')
  FROM batch;
SELECT is(pgpriv.oprf_evaluate_batch(k.sk, blinded),
          (SELECT array_agg(pgpriv.oprf_evaluate(k.sk, blinded) ORDER BY i) FROM r),
          'oprf_evaluate_batch = oprf_evaluate over 1000 elements')
  FROM batch, k;
SELECT is(pgpriv.oprf_finalize_batch(inputs, blinds, pgpriv.oprf_evaluate_batch(k.sk, blinded)),
          (SELECT array_agg(pgpriv.oprf_finalize(input, blind, pgpriv.oprf_evaluate(k.sk, blinded)) ORDER BY i) FROM r),
          'oprf_finalize_batch = oprf_finalize over 1000 elements')
  FROM batch, k;
SELECT is(pgpriv.oprf_batch(k.sk, inputs),
          (SELECT array_agg(pgpriv.oprf(k.sk, input) ORDER BY i) FROM r),
          'oprf_batch = oprf over 1000 elements')
  FROM batch, k;
SELECT is(pgpriv.oprf_finalize_batch(inputs, blinds, pgpriv.oprf_evaluate_batch(k.sk, blinded)),
          pgpriv.oprf_batch(k.sk, inputs),
          'batch protocol = batch unblinded evaluation')
  FROM batch, k;

-- The thread count does not change results.
SET LOCAL pgpriv.crypto_threads = 1;
CREATE TEMP TABLE one_thread ON COMMIT DROP AS
SELECT pgpriv.oprf_batch(k.sk, inputs) AS o,
       pgpriv.oprf_finalize_batch(inputs, blinds, pgpriv.oprf_evaluate_batch(k.sk, blinded)) AS f
  FROM batch, k;
SET LOCAL pgpriv.crypto_threads = 3;
SELECT is(pgpriv.oprf_batch(k.sk, inputs), o, 'oprf_batch on 3 threads = on 1 thread')
  FROM batch, k, one_thread;
SELECT is(pgpriv.oprf_finalize_batch(inputs, blinds, pgpriv.oprf_evaluate_batch(k.sk, blinded)), f,
          'finalize_batch(evaluate_batch) on 3 threads = on 1 thread')
  FROM batch, k, one_thread;
SET LOCAL pgpriv.crypto_threads = 0;

-- ---------------------------------------------------------------------------
-- Error classes: SQLSTATE 22023 (22004 for NULL array elements)
-- ---------------------------------------------------------------------------
\set sk     '''\\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e'''
\set el     '''\\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c'''
\set short  '''\\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b'''
\set orderl '''\\xedd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010'''
\set allff  '''\\xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'''
\set zero   '''\\x0000000000000000000000000000000000000000000000000000000000000000'''
\set bigin  'decode(repeat(''00'', 65536), ''hex'')'

-- oprf_derive_key
SELECT throws_ok('SELECT pgpriv.oprf_derive_key(' || :'short' || ', '''')', '22023', NULL,
                 'oprf_derive_key: seed of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_derive_key(' || :'sk' || ', ' || :'bigin' || ')', '22023', NULL,
                 'oprf_derive_key: info of 65536 bytes');
-- oprf_public_key
SELECT throws_ok('SELECT pgpriv.oprf_public_key(' || :'short' || ')', '22023', NULL,
                 'oprf_public_key: sk of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_public_key(' || :'orderl' || ')', '22023', NULL,
                 'oprf_public_key: sk = L (non-canonical)');
SELECT throws_ok('SELECT pgpriv.oprf_public_key(' || :'allff' || ')', '22023', NULL,
                 'oprf_public_key: sk = 2^256-1 (non-canonical)');
SELECT throws_ok('SELECT pgpriv.oprf_public_key(' || :'zero' || ')', '22023', NULL,
                 'oprf_public_key: zero sk');
-- oprf_blind
SELECT throws_ok('SELECT pgpriv.oprf_blind(''\x00'', ' || :'short' || ')', '22023', NULL,
                 'oprf_blind: blind of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_blind(''\x00'', ' || :'orderl' || ')', '22023', NULL,
                 'oprf_blind: blind = L (non-canonical)');
SELECT throws_ok('SELECT pgpriv.oprf_blind(''\x00'', ' || :'zero' || ')', '22023', NULL,
                 'oprf_blind: zero blind');
SELECT throws_ok('SELECT pgpriv.oprf_blind(' || :'bigin' || ', ' || :'sk' || ')', '22023', NULL,
                 'oprf_blind: input of 65536 bytes');
-- oprf_evaluate
SELECT throws_ok('SELECT pgpriv.oprf_evaluate(' || :'short' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_evaluate: sk of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate(' || :'orderl' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_evaluate: sk = L (non-canonical)');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate(' || :'zero' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_evaluate: zero sk');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate(' || :'sk' || ', ' || :'short' || ')', '22023', NULL,
                 'oprf_evaluate: element of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate(' || :'sk' || ', ' || :'allff' || ')', '22023', NULL,
                 'oprf_evaluate: invalid element encoding');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate(' || :'sk' || ', ' || :'zero' || ')', '22023', NULL,
                 'oprf_evaluate: identity element');
-- oprf_finalize
SELECT throws_ok('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'short' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_finalize: blind of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'allff' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_finalize: non-canonical blind');
SELECT throws_ok('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'zero' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_finalize: zero blind');
SELECT throws_ok('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'sk' || ', ' || :'short' || ')', '22023', NULL,
                 'oprf_finalize: evaluated of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'sk' || ', ' || :'allff' || ')', '22023', NULL,
                 'oprf_finalize: invalid evaluated encoding');
SELECT throws_ok('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'sk' || ', ' || :'zero' || ')', '22023', NULL,
                 'oprf_finalize: identity evaluated');
SELECT throws_ok('SELECT pgpriv.oprf_finalize(' || :'bigin' || ', ' || :'sk' || ', ' || :'el' || ')', '22023', NULL,
                 'oprf_finalize: input of 65536 bytes');
-- oprf
SELECT throws_ok('SELECT pgpriv.oprf(' || :'short' || ', ''\x00'')', '22023', NULL,
                 'oprf: sk of wrong length');
SELECT throws_ok('SELECT pgpriv.oprf(' || :'orderl' || ', ''\x00'')', '22023', NULL,
                 'oprf: sk = L (non-canonical)');
SELECT throws_ok('SELECT pgpriv.oprf(' || :'zero' || ', ''\x00'')', '22023', NULL,
                 'oprf: zero sk');
SELECT throws_ok('SELECT pgpriv.oprf(' || :'sk' || ', ' || :'bigin' || ')', '22023', NULL,
                 'oprf: input of 65536 bytes');
-- expand_message_xmd
SELECT throws_ok('SELECT pgpriv.expand_message_xmd(''\x00'', ''DST'', 0)', '22023', NULL,
                 'expand_message_xmd: len_in_bytes 0');
SELECT throws_ok('SELECT pgpriv.expand_message_xmd(''\x00'', ''DST'', 16321)', '22023', NULL,
                 'expand_message_xmd: len_in_bytes above 255 * 64');
SELECT throws_ok('SELECT pgpriv.expand_message_xmd(''\x00'', '''', 32)', '22023', NULL,
                 'expand_message_xmd: empty dst');
-- batch forms
SELECT throws_ok('SELECT pgpriv.oprf_blind_batch(ARRAY[''\x00'', ''\x01'']::bytea[], ARRAY[' || :'sk' || ']::bytea[])',
                 '22023', NULL, 'oprf_blind_batch: arrays of different lengths');
SELECT throws_ok('SELECT pgpriv.oprf_blind_batch(ARRAY[''\x00'']::bytea[], ARRAY[' || :'zero' || ']::bytea[])',
                 '22023', NULL, 'oprf_blind_batch: zero blind');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate_batch(' || :'sk' || ', ARRAY[' || :'el' || ', ' || :'allff' || ']::bytea[])',
                 '22023', NULL, 'oprf_evaluate_batch: invalid element');
SELECT throws_ok('SELECT pgpriv.oprf_evaluate_batch(' || :'sk' || ', ARRAY[[' || :'el' || ']]::bytea[])',
                 '22023', NULL, 'oprf_evaluate_batch: two-dimensional array');
SELECT throws_ok('SELECT pgpriv.oprf_finalize_batch(ARRAY[''\x00'']::bytea[], ARRAY[' || :'sk' || ']::bytea[], ARRAY[' || :'zero' || ']::bytea[])',
                 '22023', NULL, 'oprf_finalize_batch: identity evaluated');
SELECT throws_ok('SELECT pgpriv.oprf_batch(' || :'sk' || ', ARRAY[''\x00'', NULL]::bytea[])',
                 '22004', NULL, 'oprf_batch: NULL element');

-- Messages name the argument (and the array subscript) at fault.
SELECT throws_like('SELECT pgpriv.oprf_evaluate(' || :'sk' || ', ' || :'allff' || ')',
                   '%"element"%', 'oprf_evaluate names "element"');
SELECT throws_like('SELECT pgpriv.oprf_finalize(''\x00'', ' || :'zero' || ', ' || :'el' || ')',
                   '%"blind"%', 'oprf_finalize names "blind"');
SELECT throws_like('SELECT pgpriv.oprf(' || :'short' || ', ''\x00'')',
                   '%"sk"%', 'oprf names "sk"');
SELECT throws_like('SELECT pgpriv.oprf_evaluate_batch(' || :'sk' || ', ARRAY[' || :'el' || ', ' || :'zero' || ']::bytea[])',
                   '%"elements"[2]%', 'oprf_evaluate_batch names "elements"[2]');

SELECT * FROM finish();
ROLLBACK;
