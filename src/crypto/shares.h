/*
 * shares.h — additive sharing over Z_2^64 with fixed-point values, and the
 * pairwise masks of secure_sum (docs/architecture.md, protocol 5).
 *
 * Pure C over libsodium: no PostgreSQL calls at all, so the mask functions
 * may run on the worker threads of parallel.c.  Callers turn a non-OK status
 * into an ereport; nothing here ever formats a secret or a value.
 *
 * Fixed point: a decimal value v at scale s is the integer v·10^s, which
 * must be exact (no digit beyond the s-th decimal place) and fit in a signed
 * 64-bit integer.  Shares and masks are elements of Z_2^64 (uint64_t, whose
 * arithmetic wraps); a sum that fits in int64_t is read back as the two's
 * complement of its residue.
 */
#ifndef PGPRIV_CRYPTO_SHARES_H
#define PGPRIV_CRYPTO_SHARES_H

#include <stddef.h>
#include <stdint.h>

#define SHARE_MAX_SCALE		18	/* 10^18 < 2^63: one unit still fits */
#define SHARE_KEY_BYTES		32	/* X25519 keys, session ids, seeds */

typedef enum share_status
{
	SHARE_OK = 0,
	SHARE_SYNTAX,				/* not a decimal number */
	SHARE_NOT_FINITE,			/* NaN or Infinity */
	SHARE_RANGE,				/* v·10^s does not fit in int64 */
	SHARE_INEXACT,				/* digits beyond the scale */
	SHARE_BAD_KEY				/* X25519 gave the all-zero point: a low-order key */
} share_status;

/*
 * Parse the text form of a number ("-12.5", "1e+20", "0.0001") into
 * v·10^scale.  Accepts what numeric, integer and float8 output produce.
 */
extern share_status share_fixed_parse(const char *text, size_t len, int scale, int64_t *out);

/*
 * Write v/10^scale in decimal with exactly scale fraction digits into buf
 * (at least 24 bytes); returns the length.
 */
extern size_t share_fixed_format(int64_t v, int scale, char *buf);

/* Split v into parties random shares over Z_2^64 that add up to v. */
extern void share_split(int64_t v, int parties, uint64_t *out);

/* The sum of the shares in Z_2^64, read as a signed 64-bit integer. */
extern int64_t share_open(const uint64_t *shares, size_t n);

/*
 * The run's transcript: BLAKE2b-256 over the session id, the dataset and
 * column names and the participants' public keys in ascending order.  Every
 * pair seed is bound to it, so a different participant list, dataset or
 * session gives unrelated masks.
 */
extern void share_transcript(const uint8_t session[SHARE_KEY_BYTES],
							 const char *dataset, const char *column,
							 const uint8_t *sorted_keys, size_t nkeys,
							 uint8_t out[SHARE_KEY_BYTES]);

/*
 * The seed this party shares with another: BLAKE2b-256 keyed by
 * X25519(my_secret, their_public), over both public keys in ascending order
 * and the transcript.  Both parties of a pair compute the same seed.
 */
extern share_status share_pair_seed(const uint8_t my_secret[SHARE_KEY_BYTES],
									const uint8_t my_public[SHARE_KEY_BYTES],
									const uint8_t their_public[SHARE_KEY_BYTES],
									const uint8_t transcript[SHARE_KEY_BYTES],
									uint8_t seed[SHARE_KEY_BYTES]);

/*
 * Sign of this party's masks in a pair: +1 if its public key sorts first
 * (memcmp), else -1.  The other party of the pair uses the opposite sign, so
 * the pair's masks cancel in the total.
 */
extern int	share_pair_sign(const uint8_t my_public[SHARE_KEY_BYTES],
							const uint8_t their_public[SHARE_KEY_BYTES]);

/*
 * The masks of one pair for one key: 16 bytes of BLAKE2b keyed by the pair
 * seed over the key's bytes; bytes 0..7 (little-endian) mask the value,
 * bytes 8..15 mask the presence indicator.
 */
extern void share_pair_mask(const uint8_t seed[SHARE_KEY_BYTES], const uint8_t *key, size_t len,
							uint64_t *value_mask, uint64_t *presence_mask);

/* A batch for crypto_parallel_for: value[i], presence[i] += Σ sign·mask. */
typedef struct share_mask_job
{
	const uint8_t *const *keys;
	const size_t *lens;
	int			npairs;
	const uint8_t *seeds;		/* npairs × SHARE_KEY_BYTES */
	const int  *signs;			/* npairs of +1 / -1 */
	uint64_t   *value;
	uint64_t   *presence;
} share_mask_job;

extern int	share_mask_range(void *arg, size_t begin, size_t end, size_t *failed_index);

#endif
