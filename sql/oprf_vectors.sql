-- Published test vectors for the OPRF primitives, step by step.
--
-- RFC 9497 Appendix A.1.1, OPRF(ristretto255, SHA-512), mode 0x00 (OPRF):
-- the key pair, then Blind -> BlindEvaluate -> Finalize for test vectors 1
-- and 2, and the key holder's unblinded Evaluate giving the same Output.
-- Each row shows the comparison with the published value (ok) and the
-- computed value itself, so a failure shows what was produced.
--
-- The extension is created by the install test that runs before this one.

\set seed    a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3
\set keyinfo 74657374206b6579
\set sksm    5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e
\set blind   64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706

-- DeriveKeyPair(Seed, KeyInfo) -> skSm (RFC 9497 §3.2.1)
SELECT sk = '\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e'::bytea AS ok,
       sk AS sksm
  FROM pgpriv.oprf_derive_key(decode(:'seed', 'hex'), decode(:'keyinfo', 'hex')) AS sk;

-- Test vector 1: Input = 00
-- Blind(Input, Blind) -> BlindedElement
SELECT e = '\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c'::bytea AS ok,
       e AS blinded_element
  FROM pgpriv.oprf_blind('\x00', decode(:'blind', 'hex')) AS e;

-- BlindEvaluate(skSm, BlindedElement) -> EvaluationElement
SELECT e = '\x7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e'::bytea AS ok,
       e AS evaluation_element
  FROM pgpriv.oprf_evaluate(decode(:'sksm', 'hex'),
                            '\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c') AS e;

-- Finalize(Input, Blind, EvaluationElement) -> Output
SELECT o = '\x527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6'::bytea AS ok,
       o AS output
  FROM pgpriv.oprf_finalize('\x00', decode(:'blind', 'hex'),
                            '\x7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e') AS o;

-- Evaluate(skSm, Input), the unblinded evaluation -> the same Output
SELECT o = '\x527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6'::bytea AS ok,
       o AS output
  FROM pgpriv.oprf(decode(:'sksm', 'hex'), '\x00') AS o;

-- The whole chain in one expression, starting from the seed.
SELECT pgpriv.oprf_finalize('\x00', decode(:'blind', 'hex'),
         pgpriv.oprf_evaluate(pgpriv.oprf_derive_key(decode(:'seed', 'hex'), decode(:'keyinfo', 'hex')),
                              pgpriv.oprf_blind('\x00', decode(:'blind', 'hex'))))
       = '\x527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6'::bytea
       AS chain_ok;

-- Test vector 2: Input = 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a, same key and blind
SELECT e = '\xda27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418'::bytea AS ok,
       e AS blinded_element
  FROM pgpriv.oprf_blind('\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a', decode(:'blind', 'hex')) AS e;

SELECT e = '\xb4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25'::bytea AS ok,
       e AS evaluation_element
  FROM pgpriv.oprf_evaluate(decode(:'sksm', 'hex'),
                            '\xda27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418') AS e;

SELECT o = '\xf4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73'::bytea AS ok,
       o AS output
  FROM pgpriv.oprf_finalize('\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a', decode(:'blind', 'hex'),
                            '\xb4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25') AS o;

SELECT o = '\xf4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73'::bytea AS ok,
       o AS output
  FROM pgpriv.oprf(decode(:'sksm', 'hex'), '\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a') AS o;

-- pkS = ScalarMultGen(skS) does not depend on the mode, so the published
-- VOPRF-mode key pair of RFC 9497 Appendix A.1.2 checks oprf_public_key.
SELECT pk = '\xc803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e'::bytea AS ok,
       pk AS pksm
  FROM pgpriv.oprf_public_key('\xe6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909') AS pk;

-- HashToGroup is Blind with the scalar 1 (no published vector of its own).
SELECT pgpriv.hash_to_group(i)
       = pgpriv.oprf_blind(i, '\x0100000000000000000000000000000000000000000000000000000000000000')
       AS hash_to_group_ok
  FROM (VALUES ('\x00'::bytea), ('\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a')) AS t(i);

-- RFC 9380 Appendix K.3: expand_message_xmd(SHA-512),
-- DST = "QUUX-V01-CS02-with-expander-SHA512-256", len_in_bytes 0x20 and 0x80.
WITH k3(msg, len_in_bytes, uniform_bytes) AS (VALUES
  ('', 32, '\x6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba'::bytea),
  ('abc', 32, '\x0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc'),
  ('abcdef0123456789', 32, '\x087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58'),
  ('q128_' || repeat('q', 128), 32, '\x7336234ee9983902440f6bc35b348352013becd88938d2afec44311caf8356b3'),
  ('a512_' || repeat('a', 512), 32, '\x57b5f7e766d5be68a6bfe1768e3c2b7f1228b3e4b3134956dd73a59b954c66f4'),
  ('', 128, '\x41b037d1734a5f8df225dd8c7de38f851efdb45c372887be655212d07251b921b052b62eaed99b46f72f2ef4cc96bfaf254ebbbec091e1a3b9e4fb5e5b619d2e0c5414800a1d882b62bb5cd1778f098b8eb6cb399d5d9d18f5d5842cf5d13d7eb00a7cff859b605da678b318bd0e65ebff70bec88c753b159a805d2c89c55961'),
  ('abc', 128, '\x7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb1347ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b488431851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1'),
  ('abcdef0123456789', 128, '\x3f721f208e6199fe903545abc26c837ce59ac6fa45733f1baaf0222f8b7acb0424814fcb5eecf6c1d38f06e9d0a6ccfbf85ae612ab8735dfdf9ce84c372a77c8f9e1c1e952c3a61b7567dd0693016af51d2745822663d0c2367e3f4f0bed827feecc2aaf98c949b5ed0d35c3f1023d64ad1407924288d366ea159f46287e61ac'),
  ('q128_' || repeat('q', 128), 128, '\xb799b045a58c8d2b4334cf54b78260b45eec544f9f2fb5bd12fb603eaee70db7317bf807c406e26373922b7b8920fa29142703dd52bdf280084fb7ef69da78afdf80b3586395b433dc66cde048a258e476a561e9deba7060af40adf30c64249ca7ddea79806ee5beb9a1422949471d267b21bc88e688e4014087a0b592b695ed'),
  ('a512_' || repeat('a', 512), 128, '\x05b0bfef265dcee87654372777b7c44177e2ae4c13a27f103340d9cd11c86cb2426ffcad5bd964080c2aee97f03be1ca18e30a1f14e27bc11ebbd650f305269cc9fb1db08bf90bfc79b42a952b46daf810359e7bc36452684784a64952c343c52e5124cd1f71d474d5197fefc571a92929c9084ffe1112cf5eea5192ebff330b')
)
SELECT left(msg, 16) AS msg, length(msg) AS msg_len, len_in_bytes,
       u = uniform_bytes AS ok,
       u AS uniform_bytes
  FROM k3,
       pgpriv.expand_message_xmd(convert_to(msg, 'UTF8'),
                                 convert_to('QUUX-V01-CS02-with-expander-SHA512-256', 'UTF8'),
                                 len_in_bytes) AS u;

-- ---------------------------------------------------------------------------
-- Batch forms: byte-identical to the single forms.
-- ---------------------------------------------------------------------------

-- The two RFC vectors through the batch forms.
SELECT pgpriv.oprf_blind_batch(ARRAY['\x00', '\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a']::bytea[],
                               ARRAY[decode(:'blind', 'hex'), decode(:'blind', 'hex')])
       = ARRAY['\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c',
               '\xda27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418']::bytea[]
       AS blind_batch_ok;

SELECT pgpriv.oprf_evaluate_batch(decode(:'sksm', 'hex'),
         ARRAY['\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c',
               '\xda27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418']::bytea[])
       = ARRAY['\x7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e',
               '\xb4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25']::bytea[]
       AS evaluate_batch_ok;

SELECT pgpriv.oprf_finalize_batch(
         ARRAY['\x00', '\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a']::bytea[],
         ARRAY[decode(:'blind', 'hex'), decode(:'blind', 'hex')],
         ARRAY['\x7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e',
               '\xb4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25']::bytea[])
       = ARRAY['\x527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6',
               '\xf4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73']::bytea[]
       AS finalize_batch_ok;

SELECT pgpriv.oprf_batch(decode(:'sksm', 'hex'),
                         ARRAY['\x00', '\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a']::bytea[])
       = ARRAY['\x527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6',
               '\xf4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73']::bytea[]
       AS oprf_batch_ok;

-- Empty arrays give empty arrays.
SELECT pgpriv.oprf_blind_batch('{}', '{}') AS blind,
       pgpriv.oprf_evaluate_batch(decode(:'sksm', 'hex'), '{}') AS evaluate,
       pgpriv.oprf_finalize_batch('{}', '{}', '{}') AS finalize,
       pgpriv.oprf_batch(decode(:'sksm', 'hex'), '{}') AS oprf;

-- 40 deterministic items of varied lengths (inputs up to 65535 bytes),
-- through every batch form, on 1, 2 and 3 threads.
CREATE TEMP TABLE items AS
SELECT i,
       CASE i WHEN 1 THEN ''::bytea
              WHEN 2 THEN decode(repeat('ab', 65535), 'hex')
              ELSE sha512(int4send(i)) || decode(repeat('5a', i), 'hex') END AS input,
       pgpriv.oprf_derive_key(sha256(int4send(i)), 'blind') AS blind
  FROM generate_series(1, 40) AS i;

CREATE TEMP TABLE runs (threads int, blind_ok bool, evaluate_ok bool,
                        finalize_ok bool, oprf_ok bool, chain_ok bool);
DO $$
DECLARE
  t int;
  sk bytea := pgpriv.oprf_derive_key(decode(repeat('a3', 32), 'hex'), 'batch test');
  inputs bytea[];
  blinds bytea[];
  b bytea[];
  e bytea[];
  f bytea[];
  o bytea[];
BEGIN
  SELECT array_agg(input ORDER BY i), array_agg(blind ORDER BY i)
    INTO inputs, blinds FROM items;
  FOREACH t IN ARRAY ARRAY[1, 2, 3] LOOP
    PERFORM set_config('pgpriv.crypto_threads', t::text, true);
    b := pgpriv.oprf_blind_batch(inputs, blinds);
    e := pgpriv.oprf_evaluate_batch(sk, b);
    f := pgpriv.oprf_finalize_batch(inputs, blinds, e);
    o := pgpriv.oprf_batch(sk, inputs);
    INSERT INTO runs
    SELECT t,
           bool_and(b[i] = pgpriv.oprf_blind(input, blind)),
           bool_and(e[i] = pgpriv.oprf_evaluate(sk, b[i])),
           bool_and(f[i] = pgpriv.oprf_finalize(input, blind, e[i])),
           bool_and(o[i] = pgpriv.oprf(sk, input)),
           bool_and(f[i] = o[i])
      FROM items;
  END LOOP;
END $$;
SELECT * FROM runs ORDER BY threads;

-- More than one slab (8192 items per crypto_parallel_for call), and an
-- array whose subscripts do not start at 1.
SELECT bool_and(r[i] = pgpriv.oprf_evaluate(sk, e[i])) AS multi_slab_ok,
       cardinality(r) AS n
  FROM (SELECT pgpriv.oprf_derive_key(decode(repeat('a3', 32), 'hex'), 'slab') AS sk,
               array_agg(pgpriv.hash_to_group(int4send(g)) ORDER BY g) AS e
          FROM generate_series(1, 8200) AS g) AS s,
       LATERAL pgpriv.oprf_evaluate_batch(sk, e) AS r,
       generate_series(1, 8200) AS i
 GROUP BY r;

SELECT pgpriv.oprf_batch(decode(:'sksm', 'hex'),
                         '[0:1]={"\\x00","\\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"}'::bytea[])
       = ARRAY['\x527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6',
               '\xf4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73']::bytea[]
       AS lower_bound_zero_ok;

-- ---------------------------------------------------------------------------
-- Batch error cases: SQLSTATE and message, via a helper that runs a
-- statement and returns the error it raised.
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.error_of(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Arguments used below: %1$L sk, %2$L blind, %3$L element, %4$L 32 zero
-- bytes, %5$L 32 0xff bytes (neither a canonical scalar nor an element).
CREATE TEMP TABLE args AS
SELECT '\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e'::bytea AS sk,
       '\x64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706'::bytea AS blind,
       '\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c'::bytea AS element,
       decode(repeat('00', 32), 'hex') AS zero,
       decode(repeat('ff', 32), 'hex') AS ff;

SELECT case_name,
       pg_temp.error_of(format(stmt, a.sk, a.blind, a.element, a.zero, a.ff)) AS error
  FROM args AS a, (VALUES
    ('NULL input',
     $$SELECT pgpriv.oprf_blind_batch(ARRAY['\x00', NULL]::bytea[], ARRAY[%2$L, %2$L]::bytea[])$$),
    ('NULL blind',
     $$SELECT pgpriv.oprf_blind_batch(ARRAY['\x00']::bytea[], ARRAY[NULL]::bytea[])$$),
    ('NULL element',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, NULL]::bytea[])$$),
    ('NULL evaluated',
     $$SELECT pgpriv.oprf_finalize_batch(ARRAY['\x00']::bytea[], ARRAY[%2$L]::bytea[], ARRAY[NULL]::bytea[])$$),
    ('NULL input (oprf_batch)',
     $$SELECT pgpriv.oprf_batch(%1$L, ARRAY[NULL]::bytea[])$$),
    ('2-D inputs',
     $$SELECT pgpriv.oprf_batch(%1$L, ARRAY[['\x00'], ['\x01']]::bytea[])$$),
    ('2-D elements',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, ARRAY[[%3$L]]::bytea[])$$),
    ('length mismatch (blind)',
     $$SELECT pgpriv.oprf_blind_batch(ARRAY['\x00', '\x01']::bytea[], ARRAY[%2$L]::bytea[])$$),
    ('length mismatch (finalize blinds)',
     $$SELECT pgpriv.oprf_finalize_batch(ARRAY['\x00']::bytea[], ARRAY[%2$L, %2$L]::bytea[], ARRAY[%3$L]::bytea[])$$),
    ('length mismatch (finalize evaluated)',
     $$SELECT pgpriv.oprf_finalize_batch(ARRAY['\x00']::bytea[], ARRAY[%2$L]::bytea[], '{}'::bytea[])$$),
    ('short blind at [2]',
     $$SELECT pgpriv.oprf_blind_batch(ARRAY['\x00', '\x01']::bytea[], ARRAY[%2$L, '\x0102']::bytea[])$$),
    ('zero blind at [2]',
     $$SELECT pgpriv.oprf_blind_batch(ARRAY['\x00', '\x01']::bytea[], ARRAY[%2$L, %4$L]::bytea[])$$),
    ('non-canonical blind at [1]',
     $$SELECT pgpriv.oprf_finalize_batch(ARRAY['\x00']::bytea[], ARRAY[%5$L]::bytea[], ARRAY[%3$L]::bytea[])$$),
    ('input too long at [2]',
     $$SELECT pgpriv.oprf_batch(%1$L, ARRAY['\x00', decode(repeat('00', 65536), 'hex')])$$),
    ('input too long at [1] (blind)',
     $$SELECT pgpriv.oprf_blind_batch(ARRAY[decode(repeat('00', 65536), 'hex')], ARRAY[%2$L]::bytea[])$$),
    ('short element at [2]',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, '\x00']::bytea[])$$),
    ('invalid element at [3]',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, %3$L, %5$L]::bytea[])$$),
    ('identity element at [2]',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, %4$L]::bytea[])$$),
    ('lowest failing index wins',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, %4$L, %5$L]::bytea[])$$),
    ('lowest failing index wins across threads',
     $$SELECT set_config('pgpriv.crypto_threads', '2', false),
              pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, %5$L, %3$L, %4$L]::bytea[])$$),
    ('lowest failing index wins across threads, later slice',
     $$SELECT set_config('pgpriv.crypto_threads', '2', false),
              pgpriv.oprf_evaluate_batch(%1$L, ARRAY[%3$L, %3$L, %3$L, %4$L]::bytea[])$$),
    ('invalid evaluated at [1] before zero blind at [2]',
     $$SELECT pgpriv.oprf_finalize_batch(ARRAY['\x00', '\x01']::bytea[], ARRAY[%2$L, %4$L]::bytea[], ARRAY[%5$L, %3$L]::bytea[])$$),
    ('identity evaluated at [2]',
     $$SELECT pgpriv.oprf_finalize_batch(ARRAY['\x00', '\x01']::bytea[], ARRAY[%2$L, %2$L]::bytea[], ARRAY[%3$L, %4$L]::bytea[])$$),
    ('subscript follows the array bounds',
     $$SELECT pgpriv.oprf_evaluate_batch(%1$L, '[0:1]={"\\x00","\\x01"}'::bytea[])$$),
    ('bad sk (evaluate_batch)',
     $$SELECT pgpriv.oprf_evaluate_batch(%5$L, ARRAY[%3$L]::bytea[])$$),
    ('bad sk (oprf_batch)',
     $$SELECT pgpriv.oprf_batch('\x00', ARRAY['\x00']::bytea[])$$),
    ('zero sk (oprf_batch)',
     $$SELECT pgpriv.oprf_batch(%4$L, ARRAY['\x00']::bytea[])$$)
  ) AS t(case_name, stmt);

RESET pgpriv.crypto_threads;
