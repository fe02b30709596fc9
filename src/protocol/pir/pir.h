/*
 * pir.h — private lookup by LWE PIR over OPRF-locked records
 * (docs/architecture.md, protocol 4; docs/pir.md): what the owner's half
 * (pir_serve.c) and the asker's half (pir.c) share.
 *
 * A record is tag ‖ nonce ‖ XChaCha20-Poly1305(u32 payload length ‖ payload
 * ‖ zero padding) with tag = F[0..16) and the key F[32..64), F the row's
 * OPRF output; every record of a database has the same size.  Queries,
 * answers and the hint cross the wire as little-endian uint32 words.
 */
#ifndef PGPRIV_PROTOCOL_PIR_H
#define PGPRIV_PROTOCOL_PIR_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "crypto/lwe_pir.h"

#ifdef WORDS_BIGENDIAN
#error "pgpriv's PIR messages are little-endian uint32 arrays; big-endian hosts are not supported"
#endif

#define PIR_HASH_BYTES			32		/* BLAKE2b-256 of the hint */
#define PIR_HINT_CHUNK_BYTES	(8 * 1024 * 1024)
#define PIR_MAX_PAYLOAD_BYTES	(16 * 1024)
/* tag, nonce, AEAD tag and the u32 payload length */
#define PIR_RECORD_OVERHEAD		(16 + 24 + 16 + 4)
/* Largest answer message (and query message) in one call. */
#define PIR_MAX_ANSWER_BYTES	((size_t) 256 * 1024 * 1024)

/* The message whose Ed25519 signature vouches for a hint. */
extern void pir_signed_message(StringInfo buf, const char *dataset, const char *peer_role, int64 epoch,
							   const uint8 seed[LWE_PIR_SEED_BYTES], const lwe_pir_layout *layout,
							   List *columns, const uint8 *hint_hash);

#endif
