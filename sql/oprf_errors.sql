-- Every OPRF primitive rejects malformed arguments with SQLSTATE 22023
-- (invalid_parameter_value) and a message naming the SQL argument:
-- wrong lengths, byte strings that are not canonical ristretto255
-- encodings, scalars >= L (non-canonical), zero scalars, and the identity
-- element (RFC 9497 §4.1 DeserializeScalar / DeserializeElement).
--
-- error_of() runs one statement and returns 'SQLSTATE: message', or 'ok'.

CREATE FUNCTION pg_temp.error_of(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Values substituted into the statements below with format():
--   %1$L a valid scalar (skSm of RFC 9497 A.1.1)
--   %2$L a valid element (BlindedElement of RFC 9497 A.1.1, test vector 1)
--   %3$L 31 bytes               %4$L 33 bytes
--   %5$L L, the group order     %6$L 32 bytes of 0xff (2^256 - 1)
--   %7$L 32 zero bytes (the zero scalar, and the identity's encoding)
--   %8$L 0x01 then 31 zeros: s = 1 is odd, i.e. negative, so not a
--        canonical ristretto255 encoding (RFC 9496 §4.3.1)
--   %9$L 0xed ff..ff 7f: s = p = 2^255 - 19, not a reduced field element
--   %10$L L - 1, the largest canonical scalar
CREATE TEMP TABLE v AS
SELECT '\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e'::bytea AS scalar,
       '\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c'::bytea AS element,
       decode(repeat('11', 31), 'hex') AS short,
       decode(repeat('11', 33), 'hex') AS long,
       '\xedd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010'::bytea AS order_l,
       decode(repeat('ff', 32), 'hex') AS all_ff,
       decode(repeat('00', 32), 'hex') AS zero,
       '\x0100000000000000000000000000000000000000000000000000000000000000'::bytea AS negative_s,
       '\xedffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'::bytea AS s_is_p,
       '\xecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010'::bytea AS order_l_minus_1;

CREATE TEMP TABLE cases (n serial, primitive text, case_name text, stmt text);
INSERT INTO cases (primitive, case_name, stmt) VALUES
  -- oprf_derive_key(seed, info): seed is Ns = 32 bytes, info < 2^16 bytes
  ('oprf_derive_key', 'seed 31 bytes',      $$SELECT pgpriv.oprf_derive_key(%3$L, '')$$),
  ('oprf_derive_key', 'seed 33 bytes',      $$SELECT pgpriv.oprf_derive_key(%4$L, '')$$),
  ('oprf_derive_key', 'seed empty',         $$SELECT pgpriv.oprf_derive_key('', '')$$),
  ('oprf_derive_key', 'info 65536 bytes',   $$SELECT pgpriv.oprf_derive_key(%1$L, decode(repeat('00', 65536), 'hex'))$$),
  ('oprf_derive_key', 'info 65535 bytes',   $$SELECT pgpriv.oprf_derive_key(%1$L, decode(repeat('00', 65535), 'hex'))$$),
  -- oprf_public_key(sk)
  ('oprf_public_key', 'sk 31 bytes',        $$SELECT pgpriv.oprf_public_key(%3$L)$$),
  ('oprf_public_key', 'sk 33 bytes',        $$SELECT pgpriv.oprf_public_key(%4$L)$$),
  ('oprf_public_key', 'sk = L',             $$SELECT pgpriv.oprf_public_key(%5$L)$$),
  ('oprf_public_key', 'sk = 2^256 - 1',     $$SELECT pgpriv.oprf_public_key(%6$L)$$),
  ('oprf_public_key', 'sk = 0',             $$SELECT pgpriv.oprf_public_key(%7$L)$$),
  ('oprf_public_key', 'sk = L - 1',         $$SELECT pgpriv.oprf_public_key(%10$L)$$),
  -- oprf_blind(input, blind)
  ('oprf_blind', 'blind 31 bytes',          $$SELECT pgpriv.oprf_blind('\x00', %3$L)$$),
  ('oprf_blind', 'blind 33 bytes',          $$SELECT pgpriv.oprf_blind('\x00', %4$L)$$),
  ('oprf_blind', 'blind = L',               $$SELECT pgpriv.oprf_blind('\x00', %5$L)$$),
  ('oprf_blind', 'blind = 2^256 - 1',       $$SELECT pgpriv.oprf_blind('\x00', %6$L)$$),
  ('oprf_blind', 'blind = 0',               $$SELECT pgpriv.oprf_blind('\x00', %7$L)$$),
  ('oprf_blind', 'blind = L - 1',           $$SELECT pgpriv.oprf_blind('\x00', %10$L)$$),
  ('oprf_blind', 'input 65536 bytes',       $$SELECT pgpriv.oprf_blind(decode(repeat('00', 65536), 'hex'), %1$L)$$),
  ('oprf_blind', 'input 65535 bytes',       $$SELECT pgpriv.oprf_blind(decode(repeat('00', 65535), 'hex'), %1$L)$$),
  ('oprf_blind', 'input empty',             $$SELECT pgpriv.oprf_blind('', %1$L)$$),
  -- oprf_evaluate(sk, element)
  ('oprf_evaluate', 'sk 31 bytes',          $$SELECT pgpriv.oprf_evaluate(%3$L, %2$L)$$),
  ('oprf_evaluate', 'sk 33 bytes',          $$SELECT pgpriv.oprf_evaluate(%4$L, %2$L)$$),
  ('oprf_evaluate', 'sk = L',               $$SELECT pgpriv.oprf_evaluate(%5$L, %2$L)$$),
  ('oprf_evaluate', 'sk = 2^256 - 1',       $$SELECT pgpriv.oprf_evaluate(%6$L, %2$L)$$),
  ('oprf_evaluate', 'sk = 0',               $$SELECT pgpriv.oprf_evaluate(%7$L, %2$L)$$),
  ('oprf_evaluate', 'element 31 bytes',     $$SELECT pgpriv.oprf_evaluate(%1$L, %3$L)$$),
  ('oprf_evaluate', 'element 33 bytes',     $$SELECT pgpriv.oprf_evaluate(%1$L, %4$L)$$),
  ('oprf_evaluate', 'element ff..ff',       $$SELECT pgpriv.oprf_evaluate(%1$L, %6$L)$$),
  ('oprf_evaluate', 'element s negative',   $$SELECT pgpriv.oprf_evaluate(%1$L, %8$L)$$),
  ('oprf_evaluate', 'element s = p',        $$SELECT pgpriv.oprf_evaluate(%1$L, %9$L)$$),
  ('oprf_evaluate', 'element identity',     $$SELECT pgpriv.oprf_evaluate(%1$L, %7$L)$$),
  -- oprf_finalize(input, blind, evaluated)
  ('oprf_finalize', 'blind 31 bytes',       $$SELECT pgpriv.oprf_finalize('\x00', %3$L, %2$L)$$),
  ('oprf_finalize', 'blind 33 bytes',       $$SELECT pgpriv.oprf_finalize('\x00', %4$L, %2$L)$$),
  ('oprf_finalize', 'blind = L',            $$SELECT pgpriv.oprf_finalize('\x00', %5$L, %2$L)$$),
  ('oprf_finalize', 'blind = 2^256 - 1',    $$SELECT pgpriv.oprf_finalize('\x00', %6$L, %2$L)$$),
  ('oprf_finalize', 'blind = 0',            $$SELECT pgpriv.oprf_finalize('\x00', %7$L, %2$L)$$),
  ('oprf_finalize', 'evaluated 31 bytes',   $$SELECT pgpriv.oprf_finalize('\x00', %1$L, %3$L)$$),
  ('oprf_finalize', 'evaluated 33 bytes',   $$SELECT pgpriv.oprf_finalize('\x00', %1$L, %4$L)$$),
  ('oprf_finalize', 'evaluated ff..ff',     $$SELECT pgpriv.oprf_finalize('\x00', %1$L, %6$L)$$),
  ('oprf_finalize', 'evaluated s negative', $$SELECT pgpriv.oprf_finalize('\x00', %1$L, %8$L)$$),
  ('oprf_finalize', 'evaluated s = p',      $$SELECT pgpriv.oprf_finalize('\x00', %1$L, %9$L)$$),
  ('oprf_finalize', 'evaluated identity',   $$SELECT pgpriv.oprf_finalize('\x00', %1$L, %7$L)$$),
  ('oprf_finalize', 'input 65536 bytes',    $$SELECT pgpriv.oprf_finalize(decode(repeat('00', 65536), 'hex'), %1$L, %2$L)$$),
  ('oprf_finalize', 'input 65535 bytes',    $$SELECT pgpriv.oprf_finalize(decode(repeat('00', 65535), 'hex'), %1$L, %2$L)$$),
  -- oprf(sk, input)
  ('oprf', 'sk 31 bytes',                   $$SELECT pgpriv.oprf(%3$L, '\x00')$$),
  ('oprf', 'sk 33 bytes',                   $$SELECT pgpriv.oprf(%4$L, '\x00')$$),
  ('oprf', 'sk = L',                        $$SELECT pgpriv.oprf(%5$L, '\x00')$$),
  ('oprf', 'sk = 2^256 - 1',                $$SELECT pgpriv.oprf(%6$L, '\x00')$$),
  ('oprf', 'sk = 0',                        $$SELECT pgpriv.oprf(%7$L, '\x00')$$),
  ('oprf', 'input 65536 bytes',             $$SELECT pgpriv.oprf(%1$L, decode(repeat('00', 65536), 'hex'))$$),
  ('oprf', 'input 65535 bytes',             $$SELECT pgpriv.oprf(%1$L, decode(repeat('00', 65535), 'hex'))$$),
  -- hash_to_group(input): every byte string hashes (RFC 9380 has no length limit)
  ('hash_to_group', 'input empty',          $$SELECT pgpriv.hash_to_group('')$$),
  ('hash_to_group', 'input 100000 bytes',   $$SELECT pgpriv.hash_to_group(decode(repeat('00', 100000), 'hex'))$$),
  -- expand_message_xmd(msg, dst, len_in_bytes): RFC 9380 §5.3.1 limits
  ('expand_message_xmd', 'len_in_bytes 0',      $$SELECT pgpriv.expand_message_xmd('', 'DST', 0)$$),
  ('expand_message_xmd', 'len_in_bytes -1',     $$SELECT pgpriv.expand_message_xmd('', 'DST', -1)$$),
  ('expand_message_xmd', 'len_in_bytes 16321',  $$SELECT pgpriv.expand_message_xmd('', 'DST', 16321)$$),
  ('expand_message_xmd', 'len_in_bytes 16320',  $$SELECT pgpriv.expand_message_xmd('', 'DST', 16320)$$),
  ('expand_message_xmd', 'dst empty',           $$SELECT pgpriv.expand_message_xmd('', '', 32)$$),
  ('expand_message_xmd', 'dst 256 bytes',       $$SELECT pgpriv.expand_message_xmd('', decode(repeat('44', 256), 'hex'), 32)$$),
  ('expand_message_xmd', 'dst 255 bytes',       $$SELECT pgpriv.expand_message_xmd('', decode(repeat('44', 255), 'hex'), 32)$$);

SELECT primitive, case_name,
       pg_temp.error_of(format(c.stmt, v.scalar, v.element, v.short, v.long,
                               v.order_l, v.all_ff, v.zero, v.negative_s,
                               v.s_is_p, v.order_l_minus_1)) AS result
  FROM cases AS c, v
 ORDER BY c.n;

-- Every rejection above is 22023, except the cases that must succeed.
SELECT count(*) FILTER (WHERE r LIKE '22023: %') AS rejected_22023,
       count(*) FILTER (WHERE r = 'ok') AS accepted,
       count(*) FILTER (WHERE r <> 'ok' AND r NOT LIKE '22023: %') AS other
  FROM (SELECT pg_temp.error_of(format(c.stmt, v.scalar, v.element, v.short, v.long,
                                       v.order_l, v.all_ff, v.zero, v.negative_s,
                                       v.s_is_p, v.order_l_minus_1)) AS r
          FROM cases AS c, v) AS s;

-- oprf_random_scalar: 32 bytes, canonical and non-zero (usable as a key),
-- and never repeating.
SELECT bool_and(length(s) = 32) AS all_32_bytes,
       bool_and(length(pgpriv.oprf_public_key(s)) = 32) AS all_valid_scalars,
       count(DISTINCT s) = 100 AS all_distinct
  FROM (SELECT pgpriv.oprf_random_scalar() AS s FROM generate_series(1, 100)) AS r;

-- What the full error looks like, detail included (no argument bytes in it).
SELECT pgpriv.oprf_evaluate('\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e',
                            decode(repeat('ff', 32), 'hex'));
SELECT pgpriv.oprf_finalize('\x00', decode(repeat('00', 32), 'hex'),
                            '\x609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c');
SELECT pgpriv.oprf(decode(repeat('ff', 32), 'hex'), '\x00');
SELECT pgpriv.oprf_public_key('\x01');
SELECT pgpriv.oprf_evaluate('\x5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e',
                            decode(repeat('00', 32), 'hex'));
SELECT pgpriv.oprf_blind(decode(repeat('00', 65536), 'hex'),
                         '\x64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706');
