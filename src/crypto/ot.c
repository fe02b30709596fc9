/*
 * ot.c — Chou–Orlandi base OT and IKNP OT extension (see ot.h).
 *
 * The IKNP matrix is handled in chunks of OT_EXT_CHUNK OTs so that the
 * columns, the transposed rows and the hash scratch of one chunk stay in the
 * L2 cache; a batch of any size costs one message per flight.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/bytes.h"
#include "crypto/ot.h"

#define CHUNK_WORDS (OT_EXT_CHUNK / 64)		/* 64-bit words per column per chunk */
#define CHUNK_BYTES (OT_EXT_CHUNK / 8)

const char *
mpc_status_reason(mpc_status st)
{
	switch (st)
	{
		case MPC_OK:
			return "success";
		case MPC_BAD_LENGTH:
			return "message length does not match its header";
		case MPC_BAD_HEADER:
			return "message header is malformed (version or reserved bits)";
		case MPC_WRONG_TYPE:
			return "message is of another kind than expected";
		case MPC_OUT_OF_ORDER:
			return "message is out of order (unexpected sequence number)";
		case MPC_BAD_COUNT:
			return "message count is zero, over the limit or not the agreed one";
		case MPC_POINT_INVALID:
			return "point is not a canonical ristretto255 encoding";
		case MPC_POINT_IDENTITY:
			return "point is the identity element";
		case MPC_BAD_STATE:
			return "protocol step called out of order";
		case MPC_BUFFER_TOO_SMALL:
			return "output buffer too small";
		case MPC_NO_MEMORY:
			return "out of memory";
		case MPC_CRYPTO_FAILED:
			return "cryptographic library call failed";
		case MPC_OUT_OF_RANGE:
			return "value outside the fixed-point bound";
	}
	return "unknown status";
}

/* ---------------------------------------------------------------- frame */

void
mpc_msg_put_header(uint8_t *msg, uint8_t type, uint32_t seq, uint32_t count)
{
	msg[0] = MPC_MSG_VERSION;
	msg[1] = type;
	msg[2] = 0;
	msg[3] = 0;
	crypto_put_u32le(msg + 4, seq);
	crypto_put_u32le(msg + 8, count);
}

mpc_status
mpc_msg_get_header_of(const uint8_t *msg, size_t len, uint8_t first, uint8_t last,
					  uint8_t type, uint32_t *seq, uint32_t *count)
{
	if (msg == NULL || len < MPC_MSG_HEADER_BYTES)
		return MPC_BAD_LENGTH;
	if (msg[0] != MPC_MSG_VERSION || msg[2] != 0 || msg[3] != 0)
		return MPC_BAD_HEADER;
	if (msg[1] < first || msg[1] > last)
		return MPC_BAD_HEADER;
	if (msg[1] != type)
		return MPC_WRONG_TYPE;
	*seq = crypto_get_u32le(msg + 4);
	*count = crypto_get_u32le(msg + 8);
	return MPC_OK;
}

mpc_status
mpc_msg_expect_of(const uint8_t *msg, size_t len, uint8_t first, uint8_t last,
				  uint8_t type, size_t min_count, size_t max_count, size_t bytes,
				  uint32_t *count)
{
	uint32_t	seq;
	mpc_status	st = mpc_msg_get_header_of(msg, len, first, last, type, &seq, count);

	if (st != MPC_OK)
		return st;
	if (seq != 0)
		return MPC_OUT_OF_ORDER;
	if (*count < min_count || *count > max_count)
		return MPC_BAD_COUNT;
	if (len != bytes)
		return MPC_BAD_LENGTH;
	return MPC_OK;
}

mpc_status
mpc_msg_get_header(const uint8_t *msg, size_t len, uint8_t type,
				   uint32_t *seq, uint32_t *count)
{
	return mpc_msg_get_header_of(msg, len, MPC_MSG_BASE_A, MPC_MSG_FIXED_TAU, type, seq, count);
}

/* A flight's single message of the base and extension OTs. */
static mpc_status
expect(const uint8_t *msg, size_t len, uint8_t type, size_t min_count, size_t max_count,
	   size_t bytes, uint32_t *count)
{
	return mpc_msg_expect_of(msg, len, MPC_MSG_BASE_A, MPC_MSG_FIXED_TAU, type, min_count,
							 max_count, bytes, count);
}

/* --------------------------------------------------------- transposition */

/*
 * Recursive block transposition (the classic mask-and-shift method): at
 * stage j the off-diagonal j×j blocks of every 2j×2j block are swapped,
 * element (k, c+j) with (k+j, c).
 */
void
ot_transpose64(uint64_t a[64])
{
	uint64_t	m = 0x00000000FFFFFFFFull;

	for (unsigned j = 32; j != 0; j >>= 1, m ^= (m << j))
	{
		for (unsigned k = 0; k < 64; k = ((k | j) + 1) & ~j)
		{
			uint64_t	t = ((a[k] >> j) ^ a[k | j]) & m;

			a[k | j] ^= t;
			a[k] ^= t << j;
		}
	}
}

/*
 * The same network on two 64×64 blocks at once: lane 0 carries columns
 * 0..63, lane 1 columns 64..127, so the 128-bit lane pair of word k is
 * exactly the 128-bit row k.  GCC/Clang vector extensions map this onto
 * SSE2 on x86-64 and NEON on arm64.
 */
typedef uint64_t v2u64 __attribute__((vector_size(16)));

void
ot_transpose128(const uint64_t *cols, size_t stride, size_t words, ot_block *rows)
{
	for (size_t w = 0; w < words; w++)
	{
		v2u64		a[64];
		uint64_t	m = 0x00000000FFFFFFFFull;

		for (unsigned k = 0; k < 64; k++)
		{
			a[k][0] = cols[(size_t) k * stride + w];
			a[k][1] = cols[(size_t) (k + 64) * stride + w];
		}
		for (unsigned j = 32; j != 0; j >>= 1, m ^= (m << j))
		{
			v2u64		mv = {m, m};

			for (unsigned k = 0; k < 64; k = ((k | j) + 1) & ~j)
			{
				v2u64		t = ((a[k] >> j) ^ a[k | j]) & mv;

				a[k | j] ^= t;
				a[k] ^= t << j;
			}
		}
		memcpy(rows + 64 * w, a, sizeof(a));
	}
}

/* ------------------------------------------------------ fixed-key hash */

/*
 * The fixed AES key is public: the first 16 bytes of
 * SHA-256("pgpriv 2PC fixed-key AES v1").  Anything will do as long as both
 * parties use the same key and nobody chose it to be weak.
 */
EVP_CIPHER_CTX *
ot_label_aes_new(const char *label)
{
	uint8_t		digest[crypto_hash_sha256_BYTES];
	EVP_CIPHER_CTX *ctx;

	crypto_hash_sha256(digest, (const unsigned char *) label, strlen(label));
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, digest, NULL) != 1 ||
		EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static EVP_CIPHER_CTX *
fixed_key_aes_new(void)
{
	return ot_label_aes_new("pgpriv 2PC fixed-key AES v1");
}

static inline ot_block
sigma(ot_block x)
{
	ot_block	y;

	y.w[1] = x.w[1] ^ x.w[0];
	y.w[0] = x.w[1];
	return y;
}

/* out[j] = π(x[j]) ⊕ x[j] where x[j] is already σ(input). */
static mpc_status
mmo_finish(EVP_CIPHER_CTX *aes, const ot_block *x, size_t n, ot_block *out)
{
	int			outl = 0;

	if (n == 0)
		return MPC_OK;
	if (n > INT_MAX / 16 ||
		EVP_EncryptUpdate(aes, (unsigned char *) out, &outl,
						  (const unsigned char *) x, (int) (n * 16)) != 1 ||
		outl != (int) (n * 16))
		return MPC_CRYPTO_FAILED;
	for (size_t j = 0; j < n; j++)
	{
		out[j].w[0] ^= x[j].w[0];
		out[j].w[1] ^= x[j].w[1];
	}
	return MPC_OK;
}

/* --------------------------------------------------------- base OT (CO15) */

#define BASE_KDF_LABEL "pgpriv co-ot v1"

static void
base_kdf(uint32_t j, const uint8_t A[32], const uint8_t B[32], const uint8_t P[32],
		 ot_block *key)
{
	crypto_generichash_blake2b_state st;
	uint8_t		jb[4];
	uint8_t		out[16];

	crypto_put_u32le(jb, j);
	crypto_generichash_blake2b_init(&st, NULL, 0, sizeof(out));
	crypto_generichash_blake2b_update(&st, (const unsigned char *) BASE_KDF_LABEL,
									  sizeof(BASE_KDF_LABEL) - 1);
	crypto_generichash_blake2b_update(&st, jb, sizeof(jb));
	crypto_generichash_blake2b_update(&st, A, 32);
	crypto_generichash_blake2b_update(&st, B, 32);
	crypto_generichash_blake2b_update(&st, P, 32);
	crypto_generichash_blake2b_final(&st, out, sizeof(out));
	memcpy(key, out, sizeof(out));
	sodium_memzero(out, sizeof(out));
	sodium_memzero(&st, sizeof(st));
}

/* Canonical, and not the identity (whose encoding is 32 zero bytes). */
static mpc_status
check_point(const uint8_t p[32])
{
	if (sodium_is_zero(p, 32))
		return MPC_POINT_IDENTITY;
	/* libsodium 1.0.18 ignores the top bit; RFC 9496 Decode refuses it. */
	if ((p[31] & 0x80) != 0 || crypto_core_ristretto255_is_valid_point(p) != 1)
		return MPC_POINT_INVALID;
	return MPC_OK;
}

static void
random_nonzero_scalar(uint8_t s[32])
{
	do
	{
		crypto_core_ristretto255_scalar_random(s);
	} while (sodium_is_zero(s, 32));
}

size_t
ot_base_msg_a_bytes(void)
{
	return MPC_MSG_HEADER_BYTES + 32;
}

size_t
ot_base_msg_b_bytes(size_t count)
{
	return MPC_MSG_HEADER_BYTES + 32 * count;
}

void
ot_base_sender_wipe(ot_base_sender *s)
{
	sodium_memzero(s, sizeof(*s));
}

mpc_status
ot_base_sender_start(ot_base_sender *s, size_t count,
					 uint8_t *msg, size_t cap, size_t *len)
{
	if (count == 0 || count > OT_BASE_MAX_COUNT)
		return MPC_BAD_COUNT;
	if (cap < ot_base_msg_a_bytes())
		return MPC_BUFFER_TOO_SMALL;
	random_nonzero_scalar(s->a);
	if (crypto_scalarmult_ristretto255_base(s->A, s->a) != 0 ||
		crypto_scalarmult_ristretto255(s->aA, s->a, s->A) != 0)
	{
		ot_base_sender_wipe(s);
		return MPC_CRYPTO_FAILED;
	}
	s->count = count;
	s->stage = 1;
	mpc_msg_put_header(msg, MPC_MSG_BASE_A, 0, (uint32_t) count);
	memcpy(msg + MPC_MSG_HEADER_BYTES, s->A, 32);
	*len = ot_base_msg_a_bytes();
	return MPC_OK;
}

mpc_status
ot_base_receiver_respond(size_t count, const uint8_t *choices,
						 const uint8_t *msg_a, size_t msg_a_len,
						 uint8_t *msg, size_t cap, size_t *len, ot_block *keys)
{
	uint32_t	n;
	const uint8_t *A;
	mpc_status	st;

	if (count == 0 || count > OT_BASE_MAX_COUNT)
		return MPC_BAD_COUNT;
	st = expect(msg_a, msg_a_len, MPC_MSG_BASE_A, count, count, ot_base_msg_a_bytes(), &n);
	if (st != MPC_OK)
		return st;
	if (cap < ot_base_msg_b_bytes(count))
		return MPC_BUFFER_TOO_SMALL;
	A = msg_a + MPC_MSG_HEADER_BYTES;
	st = check_point(A);
	if (st != MPC_OK)
		return st;

	mpc_msg_put_header(msg, MPC_MSG_BASE_B, 0, (uint32_t) count);
	for (size_t j = 0; j < count; j++)
	{
		uint8_t		b[32],
					B0[32],
					B1[32],
					bA[32];
		uint8_t    *B = msg + MPC_MSG_HEADER_BYTES + 32 * j;
		uint8_t		mask = (uint8_t) -((choices[j / 8] >> (j % 8)) & 1);

		random_nonzero_scalar(b);
		if (crypto_scalarmult_ristretto255_base(B0, b) != 0 ||
			crypto_core_ristretto255_add(B1, B0, A) != 0 ||
			crypto_scalarmult_ristretto255(bA, b, A) != 0)
		{
			sodium_memzero(b, sizeof(b));
			sodium_memzero(bA, sizeof(bA));
			return MPC_CRYPTO_FAILED;
		}
		/* B = c ? bG + A : bG, without a branch on the secret choice */
		for (int i = 0; i < 32; i++)
			B[i] = (uint8_t) (B0[i] ^ (mask & (B0[i] ^ B1[i])));
		base_kdf((uint32_t) j, A, B, bA, &keys[j]);
		sodium_memzero(b, sizeof(b));
		sodium_memzero(bA, sizeof(bA));
		sodium_memzero(B0, sizeof(B0));
		sodium_memzero(B1, sizeof(B1));
	}
	*len = ot_base_msg_b_bytes(count);
	return MPC_OK;
}

mpc_status
ot_base_sender_finish(ot_base_sender *s, const uint8_t *msg_b, size_t msg_b_len,
					  ot_block *keys0, ot_block *keys1)
{
	uint32_t	n;
	mpc_status	st;

	if (s->stage != 1)
		return MPC_BAD_STATE;
	st = expect(msg_b, msg_b_len, MPC_MSG_BASE_B, s->count,
				s->count, ot_base_msg_b_bytes(s->count), &n);
	if (st != MPC_OK)
		return st;
	/* check every point before deriving anything */
	for (size_t j = 0; j < s->count; j++)
	{
		const uint8_t *B = msg_b + MPC_MSG_HEADER_BYTES + 32 * j;

		st = check_point(B);
		if (st != MPC_OK)
			return st;
		if (sodium_memcmp(B, s->A, 32) == 0)
			return MPC_POINT_IDENTITY;	/* B − A would be the identity */
	}
	for (size_t j = 0; j < s->count; j++)
	{
		const uint8_t *B = msg_b + MPC_MSG_HEADER_BYTES + 32 * j;
		uint8_t		aB[32],
					aBA[32];

		if (crypto_scalarmult_ristretto255(aB, s->a, B) != 0 ||
			crypto_core_ristretto255_sub(aBA, aB, s->aA) != 0)
		{
			sodium_memzero(aB, sizeof(aB));
			sodium_memzero(keys0, j * sizeof(ot_block));
			sodium_memzero(keys1, j * sizeof(ot_block));
			return MPC_POINT_IDENTITY;
		}
		base_kdf((uint32_t) j, s->A, B, aB, &keys0[j]);
		base_kdf((uint32_t) j, s->A, B, aBA, &keys1[j]);
		sodium_memzero(aB, sizeof(aB));
		sodium_memzero(aBA, sizeof(aBA));
	}
	sodium_memzero(s->a, sizeof(s->a));
	sodium_memzero(s->aA, sizeof(s->aA));
	s->stage = 2;
	return MPC_OK;
}

/* ------------------------------------------------------- IKNP extension */

struct ot_ext_sender
{
	uint8_t		s[16];
	ot_block	sigma_s;		/* σ(s); σ is linear so σ(q ⊕ s) = σ(q) ⊕ σ(s) */
	EVP_CIPHER_CTX *prg[OT_KAPPA];
	EVP_CIPHER_CTX *aes;		/* fixed-key hash */
	uint32_t	seq;
	bool		broken;			/* PRG streams advanced by a failed batch */
	uint64_t   *cols;			/* OT_KAPPA × CHUNK_WORDS */
	ot_block   *rows;			/* OT_EXT_CHUNK */
	ot_block   *x;				/* 2 × OT_EXT_CHUNK hash scratch */
	uint8_t    *zeros;			/* CHUNK_BYTES */
};

struct ot_ext_receiver
{
	EVP_CIPHER_CTX *prg0[OT_KAPPA];
	EVP_CIPHER_CTX *prg1[OT_KAPPA];
	EVP_CIPHER_CTX *aes;
	uint32_t	seq;
	bool		broken;
	uint64_t   *cols;			/* t columns, OT_KAPPA × CHUNK_WORDS */
	uint8_t    *g;				/* CHUNK_BYTES of the second stream */
	uint8_t    *r;				/* CHUNK_BYTES of choice bits */
	ot_block   *rows;
	ot_block   *x;
	uint8_t    *zeros;
};

static EVP_CIPHER_CTX *
prg_new(const ot_block *key)
{
	static const uint8_t iv[16] = {0};
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (ctx == NULL)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL,
						   (const unsigned char *) key->w, iv) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Next nbytes of the stream into out (in place over zeros). */
static bool
prg_next(EVP_CIPHER_CTX *ctx, const uint8_t *zeros, uint8_t *out, size_t nbytes)
{
	int			outl = 0;

	return EVP_EncryptUpdate(ctx, out, &outl, zeros, (int) nbytes) == 1 &&
		outl == (int) nbytes;
}

static void *
aligned_zalloc(size_t n)
{
	void	   *p = NULL;

	if (posix_memalign(&p, 64, n) != 0)
		return NULL;
	memset(p, 0, n);
	return p;
}

void
ot_ext_sender_free(ot_ext_sender *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < OT_KAPPA; i++)
		EVP_CIPHER_CTX_free(s->prg[i]);		/* clears the key schedule */
	EVP_CIPHER_CTX_free(s->aes);
	crypto_wipe_free(s->cols, (size_t) OT_KAPPA * CHUNK_BYTES);
	crypto_wipe_free(s->rows, OT_EXT_CHUNK * sizeof(ot_block));
	crypto_wipe_free(s->x, 2 * OT_EXT_CHUNK * sizeof(ot_block));
	free(s->zeros);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

ot_ext_sender *
ot_ext_sender_new(const uint8_t s_bits[16], const ot_block keys[OT_KAPPA])
{
	ot_ext_sender *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	memcpy(s->s, s_bits, 16);
	memcpy(&s->sigma_s, s_bits, 16);
	s->sigma_s = sigma(s->sigma_s);
	for (int i = 0; i < OT_KAPPA; i++)
		if ((s->prg[i] = prg_new(&keys[i])) == NULL)
			goto fail;
	s->aes = fixed_key_aes_new();
	s->cols = aligned_zalloc((size_t) OT_KAPPA * CHUNK_BYTES);
	s->rows = aligned_zalloc(OT_EXT_CHUNK * sizeof(ot_block));
	s->x = aligned_zalloc(2 * OT_EXT_CHUNK * sizeof(ot_block));
	s->zeros = aligned_zalloc(CHUNK_BYTES);
	if (s->aes == NULL || s->cols == NULL || s->rows == NULL || s->x == NULL ||
		s->zeros == NULL)
		goto fail;
	return s;
fail:
	ot_ext_sender_free(s);
	return NULL;
}

void
ot_ext_receiver_free(ot_ext_receiver *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < OT_KAPPA; i++)
	{
		EVP_CIPHER_CTX_free(r->prg0[i]);
		EVP_CIPHER_CTX_free(r->prg1[i]);
	}
	EVP_CIPHER_CTX_free(r->aes);
	crypto_wipe_free(r->cols, (size_t) OT_KAPPA * CHUNK_BYTES);
	crypto_wipe_free(r->g, CHUNK_BYTES);
	crypto_wipe_free(r->r, CHUNK_BYTES);
	crypto_wipe_free(r->rows, OT_EXT_CHUNK * sizeof(ot_block));
	crypto_wipe_free(r->x, 2 * OT_EXT_CHUNK * sizeof(ot_block));
	free(r->zeros);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

ot_ext_receiver *
ot_ext_receiver_new(const ot_block keys0[OT_KAPPA], const ot_block keys1[OT_KAPPA])
{
	ot_ext_receiver *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	for (int i = 0; i < OT_KAPPA; i++)
		if ((r->prg0[i] = prg_new(&keys0[i])) == NULL ||
			(r->prg1[i] = prg_new(&keys1[i])) == NULL)
			goto fail;
	r->aes = fixed_key_aes_new();
	r->cols = aligned_zalloc((size_t) OT_KAPPA * CHUNK_BYTES);
	r->g = aligned_zalloc(CHUNK_BYTES);
	r->r = aligned_zalloc(CHUNK_BYTES);
	r->rows = aligned_zalloc(OT_EXT_CHUNK * sizeof(ot_block));
	r->x = aligned_zalloc(2 * OT_EXT_CHUNK * sizeof(ot_block));
	r->zeros = aligned_zalloc(CHUNK_BYTES);
	if (r->aes == NULL || r->cols == NULL || r->g == NULL || r->r == NULL ||
		r->rows == NULL || r->x == NULL || r->zeros == NULL)
		goto fail;
	return r;
fail:
	ot_ext_receiver_free(r);
	return NULL;
}

uint32_t
ot_ext_sender_next_seq(const ot_ext_sender *s)
{
	return s->seq;
}

uint32_t
ot_ext_receiver_next_seq(const ot_ext_receiver *r)
{
	return r->seq;
}

static size_t
padded_count(size_t count)
{
	return (count + 127) & ~(size_t) 127;
}

size_t
ot_ext_u_msg_bytes(size_t count)
{
	/* OT_KAPPA columns of padded_count/8 bytes */
	return MPC_MSG_HEADER_BYTES + (size_t) (OT_KAPPA / 8) * padded_count(count);
}

/*
 * Column arithmetic, 16 bytes at a time (n is a multiple of 16: columns are
 * padded to 128 OTs), with the vector type above: the compiler does not
 * vectorise these byte loops at -O2 (it cannot rule out overlap).
 */

/* out = a ⊕ b ⊕ c */
static inline void
xor3_columns(uint8_t *out, const uint8_t *a, const uint8_t *b, const uint8_t *c, size_t n)
{
	for (size_t i = 0; i < n; i += 16)
	{
		v2u64		x,
					y,
					z;

		memcpy(&x, a + i, 16);
		memcpy(&y, b + i, 16);
		memcpy(&z, c + i, 16);
		x ^= y ^ z;
		memcpy(out + i, &x, 16);
	}
}

/* q ⊕= u ∧ mask, mask all ones or all zeros (no branch on the secret bit) */
static inline void
xor_column_masked(uint8_t *q, const uint8_t *u, uint64_t mask, size_t n)
{
	v2u64		m = {mask, mask};

	for (size_t i = 0; i < n; i += 16)
	{
		v2u64		x,
					y;

		memcpy(&x, q + i, 16);
		memcpy(&y, u + i, 16);
		x ^= y & m;
		memcpy(q + i, &x, 16);
	}
}

/*
 * IKNP receiver: t^i = G(k0_i), u^i = t^i ⊕ G(k1_i) ⊕ r, column by column;
 * the message holds u^0..u^127, each padded_count/8 bytes.
 */
mpc_status
ot_ext_receiver_extend(ot_ext_receiver *r, uint8_t msg_type,
					   size_t count, const uint8_t *choices,
					   uint8_t *msg, size_t cap, size_t *len,
					   ot_rows_fn fn, void *arg)
{
	size_t		m = padded_count(count);
	size_t		colbytes = m / 8;
	size_t		choice_bytes = (count + 7) / 8;
	uint8_t    *cols8 = (uint8_t *) r->cols;

	if (r->broken)
		return MPC_BAD_STATE;
	if (count == 0 || count > OT_EXT_MAX_COUNT)
		return MPC_BAD_COUNT;
	if (cap < ot_ext_u_msg_bytes(count))
		return MPC_BUFFER_TOO_SMALL;
	mpc_msg_put_header(msg, msg_type, r->seq, (uint32_t) count);

	for (size_t first = 0; first < m; first += OT_EXT_CHUNK)
	{
		size_t		cn = m - first < OT_EXT_CHUNK ? m - first : OT_EXT_CHUNK;
		size_t		cb = cn / 8;
		size_t		b0 = first / 8;
		mpc_status	st;

		/* this chunk's choice bits, zero past count */
		memset(r->r, 0, cb);
		if (b0 < choice_bytes)
			memcpy(r->r, choices + b0, choice_bytes - b0 < cb ? choice_bytes - b0 : cb);
		if (count % 8 != 0 && (count - 1) / 8 >= b0 && (count - 1) / 8 < b0 + cb)
			r->r[(count - 1) / 8 - b0] &= (uint8_t) ((1u << (count % 8)) - 1);

		for (int i = 0; i < OT_KAPPA; i++)
		{
			uint8_t    *t = cols8 + (size_t) i * CHUNK_BYTES;
			uint8_t    *u = msg + MPC_MSG_HEADER_BYTES + (size_t) i * colbytes + b0;

			if (!prg_next(r->prg0[i], r->zeros, t, cb) ||
				!prg_next(r->prg1[i], r->zeros, r->g, cb))
			{
				r->broken = true;
				return MPC_CRYPTO_FAILED;
			}
			xor3_columns(u, t, r->g, r->r, cb);
		}
		ot_transpose128(r->cols, CHUNK_WORDS, cn / 64, r->rows);
		if (first < count)
		{
			st = fn(arg, first, count - first < cn ? count - first : cn, r->rows);
			if (st != MPC_OK)
			{
				r->broken = true;
				return st;
			}
		}
	}
	sodium_memzero(r->r, CHUNK_BYTES);
	r->seq++;
	*len = ot_ext_u_msg_bytes(count);
	return MPC_OK;
}

/* IKNP sender: q^i = G(k_{s_i}) ⊕ s_i·u^i, so row q_j = t_j ⊕ r_j·s. */
mpc_status
ot_ext_sender_extend(ot_ext_sender *s, uint8_t msg_type,
					 const uint8_t *msg, size_t len, size_t expect_count,
					 size_t max_count, size_t *count_out, ot_rows_fn fn, void *arg)
{
	uint32_t	seq,
				n;
	size_t		count,
				m,
				colbytes;
	uint8_t    *cols8 = (uint8_t *) s->cols;
	mpc_status	st;

	if (s->broken)
		return MPC_BAD_STATE;
	st = mpc_msg_get_header(msg, len, msg_type, &seq, &n);
	if (st != MPC_OK)
		return st;
	if (seq != s->seq)
		return MPC_OUT_OF_ORDER;
	count = n;
	if (count == 0 || count > OT_EXT_MAX_COUNT || count > max_count ||
		(expect_count != 0 && count != expect_count))
		return MPC_BAD_COUNT;
	if (len != ot_ext_u_msg_bytes(count))
		return MPC_BAD_LENGTH;
	m = padded_count(count);
	colbytes = m / 8;

	for (size_t first = 0; first < m; first += OT_EXT_CHUNK)
	{
		size_t		cn = m - first < OT_EXT_CHUNK ? m - first : OT_EXT_CHUNK;
		size_t		cb = cn / 8;
		size_t		b0 = first / 8;

		for (int i = 0; i < OT_KAPPA; i++)
		{
			uint8_t    *q = cols8 + (size_t) i * CHUNK_BYTES;
			const uint8_t *u = msg + MPC_MSG_HEADER_BYTES + (size_t) i * colbytes + b0;
			uint64_t	mask = (uint64_t) 0 - ((s->s[i / 8] >> (i % 8)) & 1);

			if (!prg_next(s->prg[i], s->zeros, q, cb))
			{
				s->broken = true;
				return MPC_CRYPTO_FAILED;
			}
			xor_column_masked(q, u, mask, cb);
		}
		ot_transpose128(s->cols, CHUNK_WORDS, cn / 64, s->rows);
		if (first < count)
		{
			st = fn(arg, first, count - first < cn ? count - first : cn, s->rows);
			if (st != MPC_OK)
			{
				s->broken = true;
				return st;
			}
		}
	}
	s->seq++;
	*count_out = count;
	return MPC_OK;
}

mpc_status
ot_ext_sender_hash(ot_ext_sender *s, const ot_block *rows, size_t n,
				   ot_block *h0, ot_block *h1)
{
	ot_block   *x0 = s->x,
			   *x1 = s->x + OT_EXT_CHUNK;
	mpc_status	st;

	if (n > OT_EXT_CHUNK)
		return MPC_BAD_COUNT;
	for (size_t j = 0; j < n; j++)
	{
		x0[j] = sigma(rows[j]);
		x1[j].w[0] = x0[j].w[0] ^ s->sigma_s.w[0];
		x1[j].w[1] = x0[j].w[1] ^ s->sigma_s.w[1];
	}
	st = mmo_finish(s->aes, x0, n, h0);
	if (st == MPC_OK)
		st = mmo_finish(s->aes, x1, n, h1);
	return st;
}

mpc_status
ot_ext_receiver_hash(ot_ext_receiver *r, const ot_block *rows, size_t n, ot_block *h)
{
	if (n > OT_EXT_CHUNK)
		return MPC_BAD_COUNT;
	for (size_t j = 0; j < n; j++)
		r->x[j] = sigma(rows[j]);
	return mmo_finish(r->aes, r->x, n, h);
}

/*
 * The tweakable hash H(x, i) = π(π(x) ⊕ i) ⊕ π(x) (GKWY S&P 2020, TMMO:
 * tweakable circular-correlation robust in the random-permutation model),
 * with tweak i_j = (first + j, use).  Distinct tweaks give independent
 * pads from the same OT rows, so a matrix extended once serves every use.
 */
static mpc_status
aes_blocks(EVP_CIPHER_CTX *aes, ot_block *x, size_t n)
{
	int			outl = 0;

	if (n == 0)
		return MPC_OK;
	if (n > INT_MAX / 16 ||
		EVP_EncryptUpdate(aes, (unsigned char *) x, &outl, (const unsigned char *) x, (int) (n * 16)) != 1 ||
		outl != (int) (n * 16))
		return MPC_CRYPTO_FAILED;
	return MPC_OK;
}

static mpc_status
tmmo(EVP_CIPHER_CTX *aes, ot_block *h, ot_block *x, size_t n, uint64_t first, uint64_t use)
{
	mpc_status	st = aes_blocks(aes, h, n);		/* h = π(x) */

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < n; j++)
	{
		x[j].w[0] = h[j].w[0] ^ (first + j);
		x[j].w[1] = h[j].w[1] ^ use;
	}
	st = aes_blocks(aes, x, n);
	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < n; j++)
	{
		h[j].w[0] ^= x[j].w[0];
		h[j].w[1] ^= x[j].w[1];
	}
	return MPC_OK;
}

mpc_status
ot_ext_sender_hash_tweaked(ot_ext_sender *s, const ot_block *rows, size_t n, uint64_t first,
						   uint64_t use, ot_block *h0, ot_block *h1)
{
	ot_block	sb;
	mpc_status	st;

	if (n > OT_EXT_CHUNK)
		return MPC_BAD_COUNT;
	memcpy(&sb, s->s, sizeof(sb));
	for (size_t j = 0; j < n; j++)
	{
		h0[j] = rows[j];
		h1[j].w[0] = rows[j].w[0] ^ sb.w[0];
		h1[j].w[1] = rows[j].w[1] ^ sb.w[1];
	}
	st = tmmo(s->aes, h0, s->x, n, first, use);
	if (st == MPC_OK)
		st = tmmo(s->aes, h1, s->x, n, first, use);
	return st;
}

mpc_status
ot_ext_receiver_hash_tweaked(ot_ext_receiver *r, const ot_block *rows, size_t n, uint64_t first,
							 uint64_t use, ot_block *h)
{
	if (n > OT_EXT_CHUNK)
		return MPC_BAD_COUNT;
	memcpy(h, rows, n * sizeof(ot_block));
	return tmmo(r->aes, h, r->x, n, first, use);
}

/* ------------------------------------------- random / chosen / correlated */

typedef struct rot_recv_ctx
{
	ot_ext_receiver *r;
	ot_block   *keys;
} rot_recv_ctx;

static mpc_status
rot_recv_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	rot_recv_ctx *c = arg;

	return ot_ext_receiver_hash(c->r, rows, n, c->keys + first);
}

mpc_status
ot_rot_receiver(ot_ext_receiver *r, size_t count, const uint8_t *choices,
				uint8_t *msg, size_t cap, size_t *len, ot_block *keys)
{
	rot_recv_ctx c = {r, keys};

	return ot_ext_receiver_extend(r, MPC_MSG_EXT_U, count, choices, msg, cap, len,
								  rot_recv_rows, &c);
}

/* Sender-side work on each chunk: hash both keys, then an optional use. */
typedef struct rot_send_ctx
{
	ot_ext_sender *s;
	ot_block   *m0;				/* NULL: use the scratch below */
	ot_block   *m1;
	ot_block   *h;				/* 2 × OT_EXT_CHUNK scratch */
	/* chosen-message OT */
	const ot_block *x0;
	const ot_block *x1;
	uint8_t    *out;
	/* correlated OT */
	const uint64_t *delta;
	uint64_t   *cx;
} rot_send_ctx;

static mpc_status
rot_send_rows(void *arg, size_t first, size_t n, const ot_block *rows)
{
	rot_send_ctx *c = arg;
	ot_block   *h0 = c->m0 ? c->m0 + first : c->h;
	ot_block   *h1 = c->m1 ? c->m1 + first : c->h + OT_EXT_CHUNK;
	mpc_status	st = ot_ext_sender_hash(c->s, rows, n, h0, h1);

	if (st != MPC_OK)
		return st;
	if (c->x0 != NULL)
	{
		for (size_t j = 0; j < n; j++)
		{
			ot_block	y0,
						y1;

			y0.w[0] = c->x0[first + j].w[0] ^ h0[j].w[0];
			y0.w[1] = c->x0[first + j].w[1] ^ h0[j].w[1];
			y1.w[0] = c->x1[first + j].w[0] ^ h1[j].w[0];
			y1.w[1] = c->x1[first + j].w[1] ^ h1[j].w[1];
			memcpy(c->out + 32 * (first + j), &y0, 16);
			memcpy(c->out + 32 * (first + j) + 16, &y1, 16);
		}
	}
	if (c->delta != NULL)
	{
		for (size_t j = 0; j < n; j++)
		{
			uint64_t	tau = h0[j].w[0] + c->delta[first + j] - h1[j].w[0];

			c->cx[first + j] = h0[j].w[0];
			memcpy(c->out + 8 * (first + j), &tau, 8);
		}
	}
	return MPC_OK;
}

mpc_status
ot_rot_sender(ot_ext_sender *s, const uint8_t *msg, size_t len,
			  size_t count, ot_block *m0, ot_block *m1)
{
	rot_send_ctx c = {0};
	size_t		got;

	c.s = s;
	c.m0 = m0;
	c.m1 = m1;
	if (count == 0)
		return MPC_BAD_COUNT;
	return ot_ext_sender_extend(s, MPC_MSG_EXT_U, msg, len, count, count, &got,
								rot_send_rows, &c);
}

/* Runs the extension for a second-flight OT with scratch hash buffers. */
static mpc_status
send_with_scratch(ot_ext_sender *s, const uint8_t *msg_u, size_t len_u, size_t count,
				  rot_send_ctx *c)
{
	size_t		got = 0;
	mpc_status	st;

	c->s = s;
	c->h = aligned_zalloc(2 * OT_EXT_CHUNK * sizeof(ot_block));
	if (c->h == NULL)
		return MPC_NO_MEMORY;
	st = ot_ext_sender_extend(s, MPC_MSG_EXT_U, msg_u, len_u, count, count, &got,
							  rot_send_rows, c);
	crypto_wipe_free(c->h, 2 * OT_EXT_CHUNK * sizeof(ot_block));
	return st;
}

/*
 * The sender's second flight (chosen-message or correlated OT): the count
 * checked, the payload written by the rows' callback into c->out, the frame.
 */
static mpc_status
second_flight_send(ot_ext_sender *s, const uint8_t *msg_u, size_t len_u, size_t count,
				   rot_send_ctx *c, uint8_t type, size_t bytes,
				   uint8_t *msg, size_t cap, size_t *len)
{
	mpc_status	st;

	if (count == 0 || count > OT_EXT_MAX_COUNT)
		return MPC_BAD_COUNT;
	if (cap < bytes)
		return MPC_BUFFER_TOO_SMALL;
	c->out = msg + MPC_MSG_HEADER_BYTES;
	st = send_with_scratch(s, msg_u, len_u, count, c);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(msg, type, 0, (uint32_t) count);
	*len = bytes;
	return MPC_OK;
}

/* The receiver's check of a second flight's frame, count and length. */
static mpc_status
second_flight_check(const uint8_t *msg, size_t len, uint8_t type, size_t count, size_t bytes)
{
	uint32_t	n;

	/* count 0 is never valid: the lower bound 1 then refuses every count */
	return expect(msg, len, type, count == 0 ? 1 : count, count, bytes, &n);
}

size_t
ot_chosen_msg_bytes(size_t count)
{
	return MPC_MSG_HEADER_BYTES + 32 * count;
}

mpc_status
ot_chosen_sender(ot_ext_sender *s, const uint8_t *msg_u, size_t len_u,
				 size_t count, const ot_block *x0, const ot_block *x1,
				 uint8_t *msg, size_t cap, size_t *len)
{
	rot_send_ctx c = {0};

	c.x0 = x0;
	c.x1 = x1;
	return second_flight_send(s, msg_u, len_u, count, &c, MPC_MSG_EXT_CHOSEN,
							  ot_chosen_msg_bytes(count), msg, cap, len);
}

mpc_status
ot_chosen_receiver_finish(size_t count, const uint8_t *choices, const ot_block *keys,
						  const uint8_t *msg, size_t len, ot_block *x)
{
	mpc_status	st = second_flight_check(msg, len, MPC_MSG_EXT_CHOSEN, count, ot_chosen_msg_bytes(count));

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < count; j++)
	{
		uint64_t	c = (uint64_t) 0 - ((choices[j / 8] >> (j % 8)) & 1);
		ot_block	y0,
					y1;

		memcpy(&y0, msg + MPC_MSG_HEADER_BYTES + 32 * j, 16);
		memcpy(&y1, msg + MPC_MSG_HEADER_BYTES + 32 * j + 16, 16);
		x[j].w[0] = keys[j].w[0] ^ (y0.w[0] ^ (c & (y0.w[0] ^ y1.w[0])));
		x[j].w[1] = keys[j].w[1] ^ (y0.w[1] ^ (c & (y0.w[1] ^ y1.w[1])));
	}
	return MPC_OK;
}

size_t
ot_cot_msg_bytes(size_t count)
{
	return MPC_MSG_HEADER_BYTES + 8 * count;
}

/* x_j = H(q_j), τ_j = H(q_j) + Δ_j − H(q_j ⊕ s): then m_{c} + c·τ = x + c·Δ. */
mpc_status
ot_cot_sender(ot_ext_sender *s, const uint8_t *msg_u, size_t len_u,
			  size_t count, const uint64_t *delta, uint64_t *x,
			  uint8_t *msg, size_t cap, size_t *len)
{
	rot_send_ctx c = {0};

	c.delta = delta;
	c.cx = x;
	return second_flight_send(s, msg_u, len_u, count, &c, MPC_MSG_EXT_COT,
							  ot_cot_msg_bytes(count), msg, cap, len);
}

mpc_status
ot_cot_receiver_finish(size_t count, const uint8_t *choices, const ot_block *keys,
					   const uint8_t *msg, size_t len, uint64_t *y)
{
	mpc_status	st = second_flight_check(msg, len, MPC_MSG_EXT_COT, count, ot_cot_msg_bytes(count));

	if (st != MPC_OK)
		return st;
	for (size_t j = 0; j < count; j++)
	{
		uint64_t	c = (uint64_t) 0 - ((choices[j / 8] >> (j % 8)) & 1);
		uint64_t	tau;

		memcpy(&tau, msg + MPC_MSG_HEADER_BYTES + 8 * j, 8);
		y[j] = keys[j].w[0] + (c & tau);
	}
	return MPC_OK;
}
