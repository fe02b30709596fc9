/*
 * fuzz_rng.h — deterministic randomness for the fuzzing harnesses.
 *
 * pgpriv draws all its randomness from libsodium (randombytes_buf and the
 * scalar samplers built on it).  A harness installs this generator before
 * anything calls sodium_init and reseeds it at the start of every input,
 * so that an input replays exactly: the same secrets, the same messages,
 * the same path through the decoders.  test/crypto/test_kkrt uses it too,
 * for reproducible sets.  Never use this outside the tests.
 */
#ifndef PGPRIV_FUZZ_RNG_H
#define PGPRIV_FUZZ_RNG_H

#include <stdint.h>

/* Replace libsodium's generator (before sodium_init) and call sodium_init. */
extern void fuzz_rng_install(void);

/* Restart the stream from a seed. */
extern void fuzz_rng_seed(uint64_t seed);

#endif
