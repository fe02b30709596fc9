/*
 * fuzz_rng.c — a seeded ChaCha20 stream as libsodium's randombytes
 * implementation (see fuzz_rng.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_rng.h"

static unsigned char key[crypto_stream_chacha20_KEYBYTES];
static uint64_t nonce;

static const char *
rng_name(void)
{
	return "pgpriv-fuzz-deterministic";
}

/* Each request is a fresh nonce under the seed's key: requests never overlap. */
static void
rng_buf(void *const buf, const size_t size)
{
	unsigned char n[crypto_stream_chacha20_NONCEBYTES];

	memcpy(n, &nonce, sizeof(n));
	nonce++;
	if (size > 0)
		crypto_stream_chacha20(buf, size, n, key);
}

static uint32_t
rng_random(void)
{
	uint32_t	v;

	rng_buf(&v, sizeof(v));
	return v;
}

static void
rng_stir(void)
{
}

static int
rng_close(void)
{
	return 0;
}

static randombytes_implementation fuzz_impl = {
	.implementation_name = rng_name,
	.random = rng_random,
	.stir = rng_stir,
	.uniform = NULL,			/* libsodium's own, over random() */
	.buf = rng_buf,
	.close = rng_close,
};

void
fuzz_rng_install(void)
{
	if (randombytes_set_implementation(&fuzz_impl) != 0 || sodium_init() < 0)
		abort();
	fuzz_rng_seed(0);
}

void
fuzz_rng_seed(uint64_t seed)
{
	memset(key, 0, sizeof(key));
	memcpy(key, &seed, sizeof(seed));
	nonce = 0;
}
