/*
 * bytes.h — the small memory and byte-order helpers every pure-crypto file
 * of pgpriv uses: a zeroed allocation, a free that wipes first, the
 * little-endian 32-bit fields of the message frames, and ceil(log2 n).
 *
 * Plain malloc/free (src/crypto never allocates through PostgreSQL).  A
 * buffer that held a secret is released only through crypto_wipe_free, so
 * secrets do not linger in freed memory; the caller passes the size it
 * allocated.
 */
#ifndef PGPRIV_CRYPTO_BYTES_H
#define PGPRIV_CRYPTO_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

/* n zero bytes (at least one, so that n = 0 is not mistaken for failure). */
static inline void *
crypto_zalloc(size_t n)
{
	return calloc(1, n == 0 ? 1 : n);
}

/* Wipe the n bytes at p, then free them; p may be NULL. */
static inline void
crypto_wipe_free(void *p, size_t n)
{
	if (p != NULL)
	{
		sodium_memzero(p, n);
		free(p);
	}
}

static inline void
crypto_put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static inline uint32_t
crypto_get_u32le(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static inline size_t
crypto_min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The least b with 2^b ≥ n (0 for n ≤ 1). */
static inline unsigned
crypto_ceil_log2(size_t n)
{
	unsigned	b = 0;

	while (b < 64 && ((size_t) 1 << b) < n)
		b++;
	return b;
}

#endif
