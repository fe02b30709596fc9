/*
 * oprf.h — RFC 9497 OPRF(ristretto255, SHA-512), mode 0x00 (base OPRF).
 *
 * Pure crypto over libsodium: no PostgreSQL calls at all, so these functions
 * may run on the worker threads of parallel.c.  Every function returns an
 * oprf_status; callers turn a non-OK status into an ereport naming the
 * argument.  Scalars and elements use the RFC 9497 §4.1 encodings (32 bytes,
 * little-endian scalars mod L, canonical ristretto255 encodings).
 */
#ifndef PGPRIV_CRYPTO_OPRF_H
#define PGPRIV_CRYPTO_OPRF_H

#include <stddef.h>
#include <stdint.h>

#define OPRF_SCALAR_BYTES	32
#define OPRF_ELEMENT_BYTES	32
#define OPRF_OUTPUT_BYTES	64		/* Nh for SHA-512 */
#define OPRF_MAX_INPUT_BYTES 65535	/* I2OSP(len(input), 2), RFC 9497 §3.3.1 */

typedef enum oprf_status
{
	OPRF_OK = 0,
	OPRF_INPUT_TOO_LONG,		/* input of 2^16 bytes or more */
	OPRF_SCALAR_NONCANONICAL,	/* scalar encoding >= L */
	OPRF_SCALAR_ZERO,			/* zero scalar where RFC 9497 forbids it */
	OPRF_ELEMENT_INVALID,		/* not a canonical ristretto255 encoding */
	OPRF_ELEMENT_IDENTITY,		/* the identity element (RFC 9497 §4.1) */
	OPRF_DERIVE_FAILED,			/* DeriveKeyPairError, RFC 9497 §3.2.1 */
	OPRF_BAD_LENGTH				/* a length the RFC does not allow */
} oprf_status;

/* Human-readable reason, for errdetail (never contains secret bytes). */
extern const char *oprf_status_reason(oprf_status st);

/* RFC 9380 §5.3.1 expand_message_xmd with SHA-512; dst_len <= 255, out_len <= 255*64. */
extern oprf_status oprf_expand_message_xmd(const uint8_t *msg, size_t msg_len,
										   const uint8_t *dst, size_t dst_len,
										   uint8_t *out, size_t out_len);

/* RFC 9497 §4.1 HashToGroup / HashToScalar with the mode-0x00 context string. */
extern oprf_status oprf_hash_to_group(const uint8_t *input, size_t input_len,
									  uint8_t element[OPRF_ELEMENT_BYTES]);
extern oprf_status oprf_hash_to_scalar(const uint8_t *input, size_t input_len,
									   const uint8_t *dst, size_t dst_len,
									   uint8_t scalar[OPRF_SCALAR_BYTES]);

/* Checks of encodings coming from outside. */
extern oprf_status oprf_check_scalar(const uint8_t scalar[OPRF_SCALAR_BYTES]);	/* canonical, non-zero */
extern oprf_status oprf_check_element(const uint8_t element[OPRF_ELEMENT_BYTES]);	/* canonical, not identity */

/* RFC 9497 §3.2.1 DeriveKeyPair; pk may be NULL. info_len <= 65535. */
extern oprf_status oprf_derive_key_pair(const uint8_t *seed, size_t seed_len,
										const uint8_t *info, size_t info_len,
										uint8_t sk[OPRF_SCALAR_BYTES],
										uint8_t pk[OPRF_ELEMENT_BYTES]);

/* A fresh uniformly random non-zero scalar (randombytes_buf via libsodium). */
extern void oprf_random_scalar(uint8_t scalar[OPRF_SCALAR_BYTES]);

/* RFC 9497 §3.3.1 Blind with a given blind. */
extern oprf_status oprf_blind(const uint8_t *input, size_t input_len,
							  const uint8_t blind[OPRF_SCALAR_BYTES],
							  uint8_t blinded[OPRF_ELEMENT_BYTES]);

/* RFC 9497 §3.3.1 BlindEvaluate. */
extern oprf_status oprf_blind_evaluate(const uint8_t sk[OPRF_SCALAR_BYTES],
									   const uint8_t blinded[OPRF_ELEMENT_BYTES],
									   uint8_t evaluated[OPRF_ELEMENT_BYTES]);

/* RFC 9497 §3.3.1 Finalize. */
extern oprf_status oprf_finalize(const uint8_t *input, size_t input_len,
								 const uint8_t blind[OPRF_SCALAR_BYTES],
								 const uint8_t evaluated[OPRF_ELEMENT_BYTES],
								 uint8_t output[OPRF_OUTPUT_BYTES]);

/* RFC 9497 §3.3.1 Evaluate (the server's unblinded evaluation). */
extern oprf_status oprf_evaluate(const uint8_t sk[OPRF_SCALAR_BYTES],
								 const uint8_t *input, size_t input_len,
								 uint8_t output[OPRF_OUTPUT_BYTES]);

/*
 * Finalize for count inputs at once (added with the batch SQL functions).
 * Output i is byte-identical to oprf_finalize on item i; the blinds' inverses
 * are computed together with Montgomery's trick instead of one ScalarInverse
 * each.  On failure, returns the status oprf_finalize would give for the
 * lowest failing index and stores that index in *failed_index.  blinds and
 * evaluated hold count × 32 bytes, outputs count × 64 bytes.
 */
extern oprf_status oprf_finalize_batch(size_t count,
									   const uint8_t *const *inputs,
									   const size_t *input_lens,
									   const uint8_t *blinds,
									   const uint8_t *evaluated,
									   uint8_t *outputs,
									   size_t *failed_index);

#endif
