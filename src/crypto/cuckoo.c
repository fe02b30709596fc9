/*
 * cuckoo.c — stash-less 3-choice cuckoo hashing (see cuckoo.h for the
 * parameters and their sources).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/cuckoo.h"

size_t
cuckoo_bins_for(size_t n, double e)
{
	double		b = (double) n * e;
	size_t		m = (size_t) b;

	if ((double) m < b)
		m++;
	return m < 4 ? 4 : m;
}

size_t
cuckoo_bins(size_t n)
{
	double		e;

	if (n > ((size_t) 1 << 19))
		e = (145.0 + CUCKOO_STAT_SEC) / 125.0;
	else
		e = 2.0;
	return cuckoo_bins_for(n, e);
}

static inline uint32_t
reduce(uint64_t w, size_t m)
{
	return (uint32_t) (((unsigned __int128) w * m) >> 64);
}

#define HASH_BATCH 256

cuckoo_status
cuckoo_hash(const uint8_t seed[16], const uint8_t *items, size_t n, size_t m, uint32_t *idx)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t		in[2 * HASH_BATCH * 16];
	uint8_t		out[2 * HASH_BATCH * 16];
	cuckoo_status st = CUCKOO_OK;

	if (n == 0 || n > CUCKOO_MAX_ITEMS || m == 0 || m > UINT32_MAX - 1)
		return CUCKOO_BAD_ARGUMENT;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return CUCKOO_NO_MEMORY;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, seed, NULL) != 1 ||
		EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return CUCKOO_CRYPTO_FAILED;
	}
	for (size_t first = 0; first < n; first += HASH_BATCH)
	{
		size_t		c = n - first < HASH_BATCH ? n - first : HASH_BATCH;
		int			outl = 0;

		for (size_t k = 0; k < c; k++)
		{
			memcpy(in + 32 * k, items + 16 * (first + k), 16);
			memcpy(in + 32 * k + 16, items + 16 * (first + k), 16);
			in[32 * k + 16] ^= 1;
		}
		if (EVP_EncryptUpdate(ctx, out, &outl, in, (int) (32 * c)) != 1 ||
			outl != (int) (32 * c))
		{
			st = CUCKOO_CRYPTO_FAILED;
			break;
		}
		for (size_t k = 0; k < c; k++)
		{
			uint64_t	w[4];
			const uint8_t *x = items + 16 * (first + k);

			/* w = AES(x) ⊕ x, w' = AES(x ⊕ 1) ⊕ x, as four words */
			for (int b = 0; b < 32; b++)
				out[32 * k + b] ^= x[b % 16];
			memcpy(w, out + 32 * k, 32);
			for (int h = 0; h < CUCKOO_HASHES; h++)
				idx[3 * (first + k) + h] = reduce(w[h], m);
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

/* splitmix64: the walk's choices are public and need only be varied */
static inline uint64_t
walk_next(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

cuckoo_status
cuckoo_place(const uint32_t *idx, size_t n, size_t m, uint64_t walk_seed,
			 uint32_t *bin_item, uint8_t *item_hidx)
{
	uint64_t	rng = walk_seed;

	if (n == 0 || n > CUCKOO_MAX_ITEMS || m < n || m > UINT32_MAX - 1)
		return CUCKOO_BAD_ARGUMENT;
	for (size_t b = 0; b < m; b++)
		bin_item[b] = CUCKOO_EMPTY;

	for (size_t i = 0; i < n; i++)
	{
		uint32_t	cur = (uint32_t) i;
		int			from = -1;	/* hash index cur was just evicted from */
		unsigned	kicks = 0;

		for (;;)
		{
			const uint32_t *h = idx + 3 * (size_t) cur;
			int			k,
						pick;
			uint32_t	bin,
						evicted;

			/* a free bin among the three, if any */
			for (k = 0; k < CUCKOO_HASHES; k++)
				if (bin_item[h[k]] == CUCKOO_EMPTY)
					break;
			if (k < CUCKOO_HASHES)
			{
				bin_item[h[k]] = cur;
				item_hidx[cur] = (uint8_t) k;
				break;
			}
			if (kicks++ >= CUCKOO_MAX_KICKS)
				return CUCKOO_FULL;
			/* evict from one of the bins other than the one we came from */
			if (from < 0)
				pick = (int) (walk_next(&rng) % CUCKOO_HASHES);
			else
			{
				pick = (int) (walk_next(&rng) % (CUCKOO_HASHES - 1));
				if (pick >= from)
					pick++;
			}
			bin = h[pick];
			evicted = bin_item[bin];
			bin_item[bin] = cur;
			from = item_hidx[evicted];
			item_hidx[cur] = (uint8_t) pick;
			/* (from: the hash index through which the evicted item sat here) */
			cur = evicted;
		}
	}
	return CUCKOO_OK;
}
