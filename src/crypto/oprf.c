/*
 * oprf.c — RFC 9497 OPRF(ristretto255, SHA-512), mode 0x00 (base OPRF).
 *
 * Everything here is plain C over libsodium.  There is deliberately no
 * PostgreSQL include: these functions run on the worker threads started by
 * parallel.c and in the standalone benchmark, where palloc/ereport would be
 * unsafe or unavailable.  Callers map the returned oprf_status to an error.
 *
 * Secrets that pass through the stack (scalars, their inverses, hash states
 * that absorbed a secret key's output) are wiped with sodium_memzero before
 * returning, whatever the outcome.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/oprf.h"

/*
 * contextString = "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier, with
 * mode 0x00 and identifier "ristretto255-SHA512" (RFC 9497 §3.1, §4.1).
 * Spelled out byte by byte because it contains a NUL.
 */
#define CONTEXT_STRING "OPRFV1-\0-ristretto255-SHA512"
#define CONTEXT_STRING_LEN (sizeof(CONTEXT_STRING) - 1)

/* Domain separation tags of RFC 9497 §4.1 and §3.2.1. */
static const uint8_t hash_to_group_dst[] = "HashToGroup-" CONTEXT_STRING;
static const uint8_t derive_key_pair_dst[] = "DeriveKeyPair" CONTEXT_STRING;

#define HASH_TO_GROUP_DST_LEN (sizeof(hash_to_group_dst) - 1)
#define DERIVE_KEY_PAIR_DST_LEN (sizeof(derive_key_pair_dst) - 1)

/* RFC 9380 §5.3.1 parameters for SHA-512. */
#define XMD_B_IN_BYTES	64		/* output size of H */
#define XMD_S_IN_BYTES	128		/* input block size of H */

/*
 * The group order L = 2^252 + 27742317777372353535851937790883648493,
 * little-endian (RFC 9497 §4.1 Order()).
 */
static const uint8_t group_order[OPRF_SCALAR_BYTES] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10
};

static const uint8_t finalize_label[] = "Finalize";

#define FINALIZE_LABEL_LEN (sizeof(finalize_label) - 1)

/*
 * A message handed to expand_message_xmd as a list of pieces, so that
 * deriveInput || I2OSP(counter, 1) and similar concatenations never need a
 * heap buffer (info may be up to 65535 bytes, too large for the stack of a
 * worker thread to be comfortable with).
 */
typedef struct xmd_piece
{
	const uint8_t *data;
	size_t		len;
} xmd_piece;

const char *
oprf_status_reason(oprf_status st)
{
	switch (st)
	{
		case OPRF_OK:
			return "no error";
		case OPRF_INPUT_TOO_LONG:
			return "OPRF inputs must be shorter than 65536 bytes (RFC 9497 section 5.1)";
		case OPRF_SCALAR_NONCANONICAL:
			return "scalar encoding is not reduced modulo the ristretto255 group order";
		case OPRF_SCALAR_ZERO:
			return "scalar is zero";
		case OPRF_ELEMENT_INVALID:
			return "not a valid ristretto255 element encoding";
		case OPRF_ELEMENT_IDENTITY:
			return "element is the ristretto255 identity";
		case OPRF_DERIVE_FAILED:
			return "DeriveKeyPair found no non-zero scalar in 256 attempts";
		case OPRF_BAD_LENGTH:
			return "length not allowed by the specification";
	}
	return "unknown OPRF status";
}

/* I2OSP(x, 2), RFC 8017 §4.1; callers ensure x < 2^16. */
static inline void
i2osp2(uint8_t out[2], size_t x)
{
	out[0] = (uint8_t) (x >> 8);
	out[1] = (uint8_t) x;
}

/*
 * RFC 9380 §5.3.1 expand_message_xmd with H = SHA-512, over a message given
 * in pieces.
 */
static oprf_status
expand_message_xmd_pieces(const xmd_piece *msg, int npieces,
						  const uint8_t *dst, size_t dst_len,
						  uint8_t *out, size_t out_len)
{
	crypto_hash_sha512_state st;
	uint8_t		b0[XMD_B_IN_BYTES];
	uint8_t		bi[XMD_B_IN_BYTES];
	uint8_t		z_pad[XMD_S_IN_BYTES];
	uint8_t		lib_str[2];
	uint8_t		dst_len_byte;
	uint8_t		zero_byte = 0;
	size_t		ell;
	size_t		done;
	int			i;

	/*
	 * §5.3.1 step 2 aborts for ell > 255, len_in_bytes > 65535 or len(DST) >
	 * 255; §3.1 requires a non-empty DST.  A zero-length output has no use
	 * and would make the loop below degenerate, so it is refused too.
	 */
	ell = (out_len + XMD_B_IN_BYTES - 1) / XMD_B_IN_BYTES;
	if (out_len == 0 || ell > 255 || out_len > 65535)
		return OPRF_BAD_LENGTH;
	if (dst_len == 0 || dst_len > 255)
		return OPRF_BAD_LENGTH;

	dst_len_byte = (uint8_t) dst_len;	/* DST_prime = DST || I2OSP(len(DST), 1) */
	i2osp2(lib_str, out_len);
	memset(z_pad, 0, sizeof(z_pad));

	/* b_0 = H(Z_pad || msg || l_i_b_str || I2OSP(0, 1) || DST_prime) */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, z_pad, sizeof(z_pad));
	for (i = 0; i < npieces; i++)
		if (msg[i].len > 0)
			crypto_hash_sha512_update(&st, msg[i].data, msg[i].len);
	crypto_hash_sha512_update(&st, lib_str, sizeof(lib_str));
	crypto_hash_sha512_update(&st, &zero_byte, 1);
	crypto_hash_sha512_update(&st, dst, dst_len);
	crypto_hash_sha512_update(&st, &dst_len_byte, 1);
	crypto_hash_sha512_final(&st, b0);

	/*
	 * b_1 = H(b_0 || I2OSP(1, 1) || DST_prime), then b_i = H(strxor(b_0,
	 * b_(i-1)) || I2OSP(i, 1) || DST_prime); uniform_bytes is the first
	 * len_in_bytes bytes of b_1 || ... || b_ell.
	 */
	memcpy(bi, b0, sizeof(bi));
	done = 0;
	for (i = 1; (size_t) i <= ell; i++)
	{
		uint8_t		counter = (uint8_t) i;
		size_t		take;
		int			j;

		if (i > 1)
			for (j = 0; j < XMD_B_IN_BYTES; j++)
				bi[j] ^= b0[j];
		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, bi, sizeof(bi));
		crypto_hash_sha512_update(&st, &counter, 1);
		crypto_hash_sha512_update(&st, dst, dst_len);
		crypto_hash_sha512_update(&st, &dst_len_byte, 1);
		crypto_hash_sha512_final(&st, bi);

		take = out_len - done < XMD_B_IN_BYTES ? out_len - done : XMD_B_IN_BYTES;
		memcpy(out + done, bi, take);
		done += take;
	}

	/* The message may be secret (a seed in DeriveKeyPair). */
	sodium_memzero(b0, sizeof(b0));
	sodium_memzero(bi, sizeof(bi));
	sodium_memzero(&st, sizeof(st));
	return OPRF_OK;
}

oprf_status
oprf_expand_message_xmd(const uint8_t *msg, size_t msg_len,
						const uint8_t *dst, size_t dst_len,
						uint8_t *out, size_t out_len)
{
	xmd_piece	piece = {msg, msg_len};

	return expand_message_xmd_pieces(&piece, 1, dst, dst_len, out, out_len);
}

/*
 * hash_to_ristretto255 (RFC 9380 Appendix B, RFC 9496 §4.3.4): 64 uniform bytes
 * from expand_message_xmd, then the one-way map, which libsodium's
 * crypto_core_ristretto255_from_hash implements on exactly 64 bytes.
 */
static oprf_status
hash_to_group_internal(const uint8_t *input, size_t input_len,
					   uint8_t element[OPRF_ELEMENT_BYTES])
{
	uint8_t		uniform[64];
	oprf_status st;

	st = oprf_expand_message_xmd(input, input_len,
								 hash_to_group_dst, HASH_TO_GROUP_DST_LEN,
								 uniform, sizeof(uniform));
	if (st != OPRF_OK)
		return st;
	crypto_core_ristretto255_from_hash(element, uniform);
	sodium_memzero(uniform, sizeof(uniform));

	/*
	 * RFC 9497 §3.3.1 Blind/Evaluate raise InvalidInputError when the input
	 * maps to the identity (probability ~2^-252, but the check is required).
	 * The identity is the only element whose canonical encoding is all zero.
	 */
	if (sodium_is_zero(element, OPRF_ELEMENT_BYTES))
		return OPRF_ELEMENT_IDENTITY;
	return OPRF_OK;
}

oprf_status
oprf_hash_to_group(const uint8_t *input, size_t input_len,
				   uint8_t element[OPRF_ELEMENT_BYTES])
{
	return hash_to_group_internal(input, input_len, element);
}

/*
 * RFC 9497 §4.1 HashToScalar: 64 bytes of expand_message_xmd read as a
 * little-endian integer and reduced mod L.
 */
static oprf_status
hash_to_scalar_pieces(const xmd_piece *msg, int npieces,
					  const uint8_t *dst, size_t dst_len,
					  uint8_t scalar[OPRF_SCALAR_BYTES])
{
	uint8_t		uniform[64];
	oprf_status st;

	st = expand_message_xmd_pieces(msg, npieces, dst, dst_len,
								   uniform, sizeof(uniform));
	if (st != OPRF_OK)
		return st;
	crypto_core_ristretto255_scalar_reduce(scalar, uniform);
	sodium_memzero(uniform, sizeof(uniform));
	return OPRF_OK;
}

oprf_status
oprf_hash_to_scalar(const uint8_t *input, size_t input_len,
					const uint8_t *dst, size_t dst_len,
					uint8_t scalar[OPRF_SCALAR_BYTES])
{
	xmd_piece	piece = {input, input_len};

	return hash_to_scalar_pieces(&piece, 1, dst, dst_len, scalar);
}

/*
 * DeserializeScalar, RFC 9497 §4.1: the little-endian value must be < L.
 * The comparison runs over all 32 bytes without data-dependent branches
 * because the scalar is usually a secret key or blind.  Also reject zero,
 * which RFC 9497 never allows as a key (§3.2) or as a blind (RandomScalar,
 * §2.1, and ScalarInverse in Finalize).
 */
oprf_status
oprf_check_scalar(const uint8_t scalar[OPRF_SCALAR_BYTES])
{
	unsigned int lt = 0;		/* scalar < L so far, from the top byte down */
	unsigned int eq = 1;		/* all higher bytes equal so far */
	int			i;

	for (i = OPRF_SCALAR_BYTES - 1; i >= 0; i--)
	{
		unsigned int a = scalar[i];
		unsigned int b = group_order[i];

		/* (a - b) >> 8 is 1 exactly when a < b, for bytes a, b */
		lt |= eq & ((a - b) >> 8) & 1;
		eq &= (((a ^ b) - 1) >> 8) & 1;
	}
	if (!lt)
		return OPRF_SCALAR_NONCANONICAL;
	if (sodium_is_zero(scalar, OPRF_SCALAR_BYTES))
		return OPRF_SCALAR_ZERO;
	return OPRF_OK;
}

/*
 * DeserializeElement, RFC 9497 §4.1: the RFC 9496 §4.3.1 Decode must
 * succeed, and the element must not be the identity.  Decode refuses an
 * encoding with the top bit set, which libsodium 1.0.18 (Debian 12) does
 * not: it ignores that bit, so 0x00…0x80 would pass as a non-identity
 * element that decodes to the identity, and every element would have a
 * second encoding.
 */
oprf_status
oprf_check_element(const uint8_t element[OPRF_ELEMENT_BYTES])
{
	if ((element[OPRF_ELEMENT_BYTES - 1] & 0x80) != 0 ||
		!crypto_core_ristretto255_is_valid_point(element))
		return OPRF_ELEMENT_INVALID;
	if (sodium_is_zero(element, OPRF_ELEMENT_BYTES))
		return OPRF_ELEMENT_IDENTITY;
	return OPRF_OK;
}

/*
 * k * P for an element P that arrived from outside, applying the full
 * DeserializeElement check without decoding P twice: crypto_scalarmult_
 * ristretto255 already runs Decode (rejecting every non-canonical encoding)
 * and fails if the product is the identity.  With k a checked non-zero
 * scalar and the group of prime order, k * P is the identity only if P is,
 * so checking for the all-zero encoding up front is enough to tell the two
 * failures apart.
 */
static oprf_status
scalarmult_checked(uint8_t out[OPRF_ELEMENT_BYTES],
				   const uint8_t k[OPRF_SCALAR_BYTES],
				   const uint8_t element[OPRF_ELEMENT_BYTES])
{
	if (sodium_is_zero(element, OPRF_ELEMENT_BYTES))
		return OPRF_ELEMENT_IDENTITY;
	/* Non-canonical: see oprf_check_element (crypto_scalarmult ignores the bit). */
	if ((element[OPRF_ELEMENT_BYTES - 1] & 0x80) != 0)
		return OPRF_ELEMENT_INVALID;
	if (crypto_scalarmult_ristretto255(out, k, element) != 0)
		return OPRF_ELEMENT_INVALID;
	return OPRF_OK;
}

oprf_status
oprf_derive_key_pair(const uint8_t *seed, size_t seed_len,
					 const uint8_t *info, size_t info_len,
					 uint8_t sk[OPRF_SCALAR_BYTES],
					 uint8_t pk[OPRF_ELEMENT_BYTES])
{
	uint8_t		info_len_be[2];
	uint8_t		counter_byte;
	xmd_piece	derive_input[4];
	int			counter;

	/* RFC 9497 §3.2.1: seed[Ns] with Ns = 32; info is a PublicInput (§5.1). */
	if (seed_len != OPRF_SCALAR_BYTES)
		return OPRF_BAD_LENGTH;
	if (info_len > OPRF_MAX_INPUT_BYTES)
		return OPRF_INPUT_TOO_LONG;

	/* deriveInput = seed || I2OSP(len(info), 2) || info, then the counter */
	i2osp2(info_len_be, info_len);
	derive_input[0].data = seed;
	derive_input[0].len = seed_len;
	derive_input[1].data = info_len_be;
	derive_input[1].len = 2;
	derive_input[2].data = info;
	derive_input[2].len = info_len;
	derive_input[3].data = &counter_byte;
	derive_input[3].len = 1;

	for (counter = 0; counter <= 255; counter++)
	{
		oprf_status st;

		counter_byte = (uint8_t) counter;
		st = hash_to_scalar_pieces(derive_input, 4,
								   derive_key_pair_dst, DERIVE_KEY_PAIR_DST_LEN,
								   sk);
		if (st != OPRF_OK)
		{
			sodium_memzero(sk, OPRF_SCALAR_BYTES);
			return st;
		}
		if (!sodium_is_zero(sk, OPRF_SCALAR_BYTES))
		{
			/* pkS = ScalarMultGen(skS); cannot fail for a non-zero scalar */
			if (pk != NULL &&
				crypto_scalarmult_ristretto255_base(pk, sk) != 0)
			{
				sodium_memzero(sk, OPRF_SCALAR_BYTES);
				return OPRF_DERIVE_FAILED;
			}
			return OPRF_OK;
		}
	}
	return OPRF_DERIVE_FAILED;
}

void
oprf_random_scalar(uint8_t scalar[OPRF_SCALAR_BYTES])
{
	/*
	 * RFC 9497 §4.7 rejection sampling: libsodium draws 32 random bytes,
	 * clears the top bits and retries until the value is canonical and
	 * non-zero, which is what RandomScalar() (§2.1) asks for.
	 */
	crypto_core_ristretto255_scalar_random(scalar);
}

/*
 * k · HashToGroup(input), for Blind (k = blind) and Evaluate (k = skS).  The
 * 2-byte length prefix in Finalize (RFC 9497 §3.3.1) bounds every
 * PrivateInput; refusing it at Blind too keeps a client from sending a
 * blinded element it could never finalize.  A hash to the identity is
 * InvalidInputError.
 */
static oprf_status
scalar_times_hashed(const uint8_t k[OPRF_SCALAR_BYTES], const uint8_t *input, size_t input_len,
					uint8_t out[OPRF_ELEMENT_BYTES])
{
	uint8_t		input_element[OPRF_ELEMENT_BYTES];
	oprf_status st;

	if (input_len > OPRF_MAX_INPUT_BYTES)
		return OPRF_INPUT_TOO_LONG;
	st = oprf_check_scalar(k);
	if (st != OPRF_OK)
		return st;
	st = hash_to_group_internal(input, input_len, input_element);
	if (st != OPRF_OK)
		return st;
	if (crypto_scalarmult_ristretto255(out, k, input_element) != 0)
		return OPRF_ELEMENT_IDENTITY;
	return OPRF_OK;
}

oprf_status
oprf_blind(const uint8_t *input, size_t input_len,
		   const uint8_t blind[OPRF_SCALAR_BYTES],
		   uint8_t blinded[OPRF_ELEMENT_BYTES])
{
	/* blindedElement = blind * HashToGroup(input) */
	return scalar_times_hashed(blind, input, input_len, blinded);
}

oprf_status
oprf_blind_evaluate(const uint8_t sk[OPRF_SCALAR_BYTES],
					const uint8_t blinded[OPRF_ELEMENT_BYTES],
					uint8_t evaluated[OPRF_ELEMENT_BYTES])
{
	oprf_status st;

	st = oprf_check_scalar(sk);
	if (st != OPRF_OK)
		return st;

	/*
	 * evaluatedElement = skS * blindedElement (RFC 9497 §3.3.1), with the
	 * DeserializeElement checks of §4.1 folded into the multiplication.
	 */
	return scalarmult_checked(evaluated, sk, blinded);
}

/*
 * Hash(I2OSP(len(input), 2) || input || I2OSP(Ne, 2) || element ||
 * "Finalize"), shared by Finalize and Evaluate (RFC 9497 §3.3.1).
 */
static void
finalize_hash(const uint8_t *input, size_t input_len,
			  const uint8_t element[OPRF_ELEMENT_BYTES],
			  uint8_t output[OPRF_OUTPUT_BYTES])
{
	crypto_hash_sha512_state hst;
	uint8_t		len_be[2];

	crypto_hash_sha512_init(&hst);
	i2osp2(len_be, input_len);
	crypto_hash_sha512_update(&hst, len_be, 2);
	if (input_len > 0)
		crypto_hash_sha512_update(&hst, input, input_len);
	i2osp2(len_be, OPRF_ELEMENT_BYTES);
	crypto_hash_sha512_update(&hst, len_be, 2);
	crypto_hash_sha512_update(&hst, element, OPRF_ELEMENT_BYTES);
	crypto_hash_sha512_update(&hst, finalize_label, FINALIZE_LABEL_LEN);
	crypto_hash_sha512_final(&hst, output);
	sodium_memzero(&hst, sizeof(hst));
}

oprf_status
oprf_finalize(const uint8_t *input, size_t input_len,
			  const uint8_t blind[OPRF_SCALAR_BYTES],
			  const uint8_t evaluated[OPRF_ELEMENT_BYTES],
			  uint8_t output[OPRF_OUTPUT_BYTES])
{
	uint8_t		blind_inverse[OPRF_SCALAR_BYTES];
	uint8_t		unblinded[OPRF_ELEMENT_BYTES];
	oprf_status st;

	if (input_len > OPRF_MAX_INPUT_BYTES)
		return OPRF_INPUT_TOO_LONG;
	st = oprf_check_scalar(blind);
	if (st != OPRF_OK)
		return st;

	/* N = ScalarInverse(blind) * evaluatedElement; blind != 0 was checked */
	if (crypto_core_ristretto255_scalar_invert(blind_inverse, blind) != 0)
	{
		sodium_memzero(blind_inverse, sizeof(blind_inverse));
		return OPRF_SCALAR_ZERO;
	}
	st = scalarmult_checked(unblinded, blind_inverse, evaluated);
	sodium_memzero(blind_inverse, sizeof(blind_inverse));
	if (st != OPRF_OK)
		return st;

	finalize_hash(input, input_len, unblinded, output);
	sodium_memzero(unblinded, sizeof(unblinded));
	return OPRF_OK;
}

oprf_status
oprf_evaluate(const uint8_t sk[OPRF_SCALAR_BYTES],
			  const uint8_t *input, size_t input_len,
			  uint8_t output[OPRF_OUTPUT_BYTES])
{
	uint8_t		issued[OPRF_ELEMENT_BYTES];
	oprf_status st;

	/* issuedElement = skS * HashToGroup(input), then the Finalize hash */
	st = scalar_times_hashed(sk, input, input_len, issued);
	if (st != OPRF_OK)
		return st;
	finalize_hash(input, input_len, issued, output);
	sodium_memzero(issued, sizeof(issued));
	return OPRF_OK;
}

/*
 * Blinds inverted together per chunk.  One ScalarInverse (a ~250-step
 * exponentiation) is shared by a chunk at a cost of three scalar
 * multiplications mod L per blind; 128 keeps the per-blind share of the
 * inversion small while the prefix products (4 kB) stay on the stack.
 */
#define FINALIZE_CHUNK 128

/*
 * Montgomery's trick: with prefix products p_i = b_0 * ... * b_i, a single
 * inversion of p_(k-1) yields every b_i^-1 (b_i^-1 = p_(i-1) * p_i^-1 and
 * p_(i-1)^-1 = b_i * p_i^-1).  All blinds are non-zero, so no product is
 * zero.  libsodium's scalar arithmetic is constant-time, which matters here
 * because blinds are secrets.
 */
static void
invert_blinds(size_t k, const uint8_t *blinds,
			  uint8_t inverses[][OPRF_SCALAR_BYTES],
			  uint8_t prefix[][OPRF_SCALAR_BYTES])
{
	uint8_t		acc[OPRF_SCALAR_BYTES];
	size_t		i;

	memcpy(prefix[0], blinds, OPRF_SCALAR_BYTES);
	for (i = 1; i < k; i++)
		crypto_core_ristretto255_scalar_mul(prefix[i], prefix[i - 1],
											blinds + i * OPRF_SCALAR_BYTES);

	/* cannot fail: a product of non-zero scalars mod a prime is non-zero */
	(void) crypto_core_ristretto255_scalar_invert(acc, prefix[k - 1]);

	for (i = k - 1; i > 0; i--)
	{
		crypto_core_ristretto255_scalar_mul(inverses[i], acc, prefix[i - 1]);
		crypto_core_ristretto255_scalar_mul(acc, acc,
											blinds + i * OPRF_SCALAR_BYTES);
	}
	memcpy(inverses[0], acc, OPRF_SCALAR_BYTES);
	sodium_memzero(acc, sizeof(acc));
}

oprf_status
oprf_finalize_batch(size_t count,
					const uint8_t *const *inputs,
					const size_t *input_lens,
					const uint8_t *blinds,
					const uint8_t *evaluated,
					uint8_t *outputs,
					size_t *failed_index)
{
	uint8_t		inverses[FINALIZE_CHUNK][OPRF_SCALAR_BYTES];
	uint8_t		prefix[FINALIZE_CHUNK][OPRF_SCALAR_BYTES];
	uint8_t		unblinded[OPRF_ELEMENT_BYTES];
	oprf_status result = OPRF_OK;
	size_t		base;

	for (base = 0; base < count && result == OPRF_OK; base += FINALIZE_CHUNK)
	{
		size_t		k = count - base < FINALIZE_CHUNK ? count - base : FINALIZE_CHUNK;
		size_t		valid;
		size_t		i;
		oprf_status early = OPRF_OK;

		/*
		 * oprf_finalize checks the input length and the blind before it
		 * touches the element.  Find the first item failing those checks:
		 * everything before it is inverted and finalized as usual, so that
		 * an invalid element at a lower index still wins, exactly as a
		 * loop over oprf_finalize would report.
		 */
		for (valid = 0; valid < k; valid++)
		{
			size_t		j = base + valid;

			if (input_lens[j] > OPRF_MAX_INPUT_BYTES)
				early = OPRF_INPUT_TOO_LONG;
			else
				early = oprf_check_scalar(blinds + j * OPRF_SCALAR_BYTES);
			if (early != OPRF_OK)
				break;
		}

		if (valid > 0)
			invert_blinds(valid, blinds + base * OPRF_SCALAR_BYTES,
						  inverses, prefix);

		for (i = 0; i < valid; i++)
		{
			size_t		j = base + i;
			oprf_status st;

			/* N = ScalarInverse(blind) * evaluatedElement (RFC 9497 §3.3.1) */
			st = scalarmult_checked(unblinded, inverses[i],
									evaluated + j * OPRF_ELEMENT_BYTES);
			if (st != OPRF_OK)
			{
				*failed_index = j;
				result = st;
				break;
			}
			finalize_hash(inputs[j], input_lens[j], unblinded,
						  outputs + j * OPRF_OUTPUT_BYTES);
		}

		if (result == OPRF_OK && early != OPRF_OK)
		{
			*failed_index = base + valid;
			result = early;
		}
	}

	sodium_memzero(inverses, sizeof(inverses));
	sodium_memzero(prefix, sizeof(prefix));
	sodium_memzero(unblinded, sizeof(unblinded));
	return result;
}
