/*
 * gram.c — cross products of two parties' columns on additive shares
 * (gram.h has the construction).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/gram.h"

/* Pad words per OT key: the key's own two words, then fixed-key AES MMO blocks. */
static size_t
pad_blocks(size_t q)
{
	return q <= 2 ? 0 : (q - 2 + 1) / 2;
}

static EVP_CIPHER_CTX *
pad_aes_new(void)
{
	return ot_label_aes_new("pgpriv gram pads v1");
}

/*
 * The q pad words of each of n keys: words 0 and 1 are the key itself (a
 * random-OT output, already hashed), words 2c and 2c+1 (c >= 1) the block
 * AES(key ⊕ c) ⊕ key ⊕ c.  out holds n × q words.
 */
static int
expand(EVP_CIPHER_CTX *aes, const ot_block *keys, size_t n, size_t q, uint64_t *out, ot_block *scratch)
{
	size_t		nb = pad_blocks(q);

	for (size_t j = 0; j < n; j++)
	{
		out[j * q] = keys[j].w[0];
		if (q > 1)
			out[j * q + 1] = keys[j].w[1];
		for (size_t c = 0; c < nb; c++)
		{
			scratch[j * nb + c] = keys[j];
			scratch[j * nb + c].w[0] ^= (uint64_t) (c + 1);
		}
	}
	if (nb > 0)
	{
		int			outl = 0;
		size_t		blocks = n * nb;
		ot_block   *enc = scratch + blocks;

		if (blocks > INT_MAX / 16 ||
			EVP_EncryptUpdate(aes, (unsigned char *) enc, &outl, (const unsigned char *) scratch,
							  (int) (blocks * 16)) != 1 || outl != (int) (blocks * 16))
			return -1;
		for (size_t j = 0; j < n; j++)
			for (size_t c = 0; c < nb; c++)
			{
				ot_block	b = enc[j * nb + c];

				b.w[0] ^= scratch[j * nb + c].w[0];
				b.w[1] ^= scratch[j * nb + c].w[1];
				out[j * q + 2 + 2 * c] = b.w[0];
				if (2 + 2 * c + 1 < q)
					out[j * q + 2 + 2 * c + 1] = b.w[1];
			}
	}
	return 0;
}

size_t
gram_chunk_ots(size_t rows, size_t k, int bits)
{
	return rows * k * (size_t) bits;
}

size_t
gram_corrections_bytes(size_t rows, size_t k, int bits, size_t q)
{
	return MPC_MSG_HEADER_BYTES + gram_chunk_ots(rows, k, bits) * q * 8;
}

static int
params_ok(size_t rows, size_t k, int bits, size_t q)
{
	return rows > 0 && k > 0 && bits > 0 && bits <= GRAM_MAX_BITS && q > 0 && q <= GRAM_MAX_Q &&
		rows <= GRAM_MAX_OTS && k <= GRAM_MAX_OTS && rows * k <= GRAM_MAX_OTS / (size_t) bits;
}

mpc_status
gram_receiver_start(ot_ext_receiver *r, size_t rows, size_t k, int bits, const int64_t *x,
					uint8_t *msg, size_t cap, size_t *len, ot_block *keys)
{
	size_t		n = gram_chunk_ots(rows, k, bits);
	uint8_t    *choices;
	int64_t		half;
	mpc_status	st;

	if (!params_ok(rows, k, bits, 1))
		return MPC_BAD_COUNT;
	half = (int64_t) 1 << (bits - 1);
	choices = calloc((n + 7) / 8, 1);
	if (choices == NULL)
		return MPC_NO_MEMORY;
	/* OT (i·k + j)·bits + t chooses bit t of x[i][j] + 2^(bits−1). */
	for (size_t e = 0; e < rows * k; e++)
	{
		uint64_t	u;

		if (x[e] <= -half || x[e] >= half)
		{
			free(choices);
			return MPC_OUT_OF_RANGE;
		}
		u = (uint64_t) (x[e] + half);
		for (int t = 0; t < bits; t++)
			if ((u >> t) & 1)
			{
				size_t		o = e * (size_t) bits + (size_t) t;

				choices[o / 8] |= (uint8_t) (1 << (o % 8));
			}
	}
	st = ot_rot_receiver(r, n, choices, msg, cap, len, keys);
	sodium_memzero(choices, (n + 7) / 8);
	free(choices);
	return st;
}

mpc_status
gram_sender_respond(ot_ext_sender *s, size_t rows, size_t k, int bits, size_t q,
					const uint64_t *v, const uint8_t *msg_u, size_t len_u,
					uint8_t *msg, size_t cap, size_t *len, uint64_t *acc)
{
	size_t		n = gram_chunk_ots(rows, k, bits);
	size_t		need = gram_corrections_bytes(rows, k, bits, q);
	size_t		nb = pad_blocks(q);
	ot_block   *m0 = NULL;
	ot_block   *m1 = NULL;
	uint64_t   *p0 = NULL;
	uint64_t   *p1 = NULL;
	ot_block   *scratch = NULL;
	EVP_CIPHER_CTX *aes = NULL;
	uint8_t    *out;
	mpc_status	st = MPC_OK;

	if (!params_ok(rows, k, bits, q))
		return MPC_BAD_COUNT;
	if (cap < need)
		return MPC_BUFFER_TOO_SMALL;
	m0 = malloc(n * sizeof(ot_block));
	m1 = malloc(n * sizeof(ot_block));
	p0 = malloc(n * q * sizeof(uint64_t));
	p1 = malloc(n * q * sizeof(uint64_t));
	scratch = malloc((2 * n * nb + 1) * sizeof(ot_block));
	aes = pad_aes_new();
	if (m0 == NULL || m1 == NULL || p0 == NULL || p1 == NULL || scratch == NULL || aes == NULL)
	{
		st = aes == NULL ? MPC_CRYPTO_FAILED : MPC_NO_MEMORY;
		goto done;
	}
	if ((st = ot_rot_sender(s, msg_u, len_u, n, m0, m1)) != MPC_OK)
		goto done;
	if (expand(aes, m0, n, q, p0, scratch) != 0 || expand(aes, m1, n, q, p1, scratch) != 0)
	{
		st = MPC_CRYPTO_FAILED;
		goto done;
	}
	mpc_msg_put_header(msg, MPC_MSG_GRAM_TAU, ot_ext_sender_next_seq(s) - 1, (uint32_t) n);
	out = msg + MPC_MSG_HEADER_BYTES;
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < k; j++)
			for (int t = 0; t < bits; t++)
			{
				size_t		o = (i * k + j) * (size_t) bits + (size_t) t;

				for (size_t m = 0; m < q; m++)
				{
					uint64_t	c = p0[o * q + m] - p1[o * q + m] + (v[i * q + m] << t);

					memcpy(out + (o * q + m) * 8, &c, 8);
					/* The bank's share of 2^t·b·v is −P0. */
					acc[j * q + m] -= p0[o * q + m];
				}
			}
	/* u = x + 2^(bits−1): the offset's part is the bank's to take off. */
	for (size_t m = 0; m < q; m++)
	{
		uint64_t	sum = 0;

		for (size_t i = 0; i < rows; i++)
			sum += v[i * q + m];
		for (size_t j = 0; j < k; j++)
			acc[j * q + m] -= sum << (bits - 1);
	}
	*len = need;
done:
	if (m0)
		sodium_memzero(m0, n * sizeof(ot_block));
	if (m1)
		sodium_memzero(m1, n * sizeof(ot_block));
	if (p0)
		sodium_memzero(p0, n * q * sizeof(uint64_t));
	if (p1)
		sodium_memzero(p1, n * q * sizeof(uint64_t));
	if (scratch)
		sodium_memzero(scratch, (2 * n * nb + 1) * sizeof(ot_block));
	free(m0);
	free(m1);
	free(p0);
	free(p1);
	free(scratch);
	if (aes)
		EVP_CIPHER_CTX_free(aes);
	return st;
}

mpc_status
gram_receiver_finish(ot_ext_receiver *r, size_t rows, size_t k, int bits, size_t q, const int64_t *x,
					 const ot_block *keys, const uint8_t *msg, size_t len, uint64_t *acc)
{
	size_t		n = gram_chunk_ots(rows, k, bits);
	size_t		nb = pad_blocks(q);
	uint64_t   *pb = NULL;
	ot_block   *scratch = NULL;
	EVP_CIPHER_CTX *aes = NULL;
	uint32_t	seq;
	uint32_t	count;
	int64_t		half;
	const uint8_t *in;
	mpc_status	st;

	if (!params_ok(rows, k, bits, q))
		return MPC_BAD_COUNT;
	if ((st = mpc_msg_get_header(msg, len, MPC_MSG_GRAM_TAU, &seq, &count)) != MPC_OK)
		return st;
	if (seq != ot_ext_receiver_next_seq(r) - 1)
		return MPC_OUT_OF_ORDER;
	if (count != n)
		return MPC_BAD_COUNT;
	if (len != gram_corrections_bytes(rows, k, bits, q))
		return MPC_BAD_LENGTH;
	half = (int64_t) 1 << (bits - 1);
	pb = malloc(n * q * sizeof(uint64_t));
	scratch = malloc((2 * n * nb + 1) * sizeof(ot_block));
	aes = pad_aes_new();
	if (pb == NULL || scratch == NULL || aes == NULL)
	{
		st = aes == NULL ? MPC_CRYPTO_FAILED : MPC_NO_MEMORY;
		goto done;
	}
	if (expand(aes, keys, n, q, pb, scratch) != 0)
	{
		st = MPC_CRYPTO_FAILED;
		goto done;
	}
	in = msg + MPC_MSG_HEADER_BYTES;
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < k; j++)
		{
			uint64_t	u = (uint64_t) (x[i * k + j] + half);

			for (int t = 0; t < bits; t++)
			{
				size_t		o = (i * k + j) * (size_t) bits + (size_t) t;
				uint64_t	b = (u >> t) & 1;

				for (size_t m = 0; m < q; m++)
				{
					uint64_t	c;

					memcpy(&c, in + (o * q + m) * 8, 8);
					acc[j * q + m] += pb[o * q + m] + (b ? c : 0);
				}
			}
		}
	st = MPC_OK;
done:
	if (pb)
		sodium_memzero(pb, n * q * sizeof(uint64_t));
	if (scratch)
		sodium_memzero(scratch, (2 * n * nb + 1) * sizeof(ot_block));
	free(pb);
	free(scratch);
	if (aes)
		EVP_CIPHER_CTX_free(aes);
	return st;
}
