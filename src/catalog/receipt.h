/*
 * receipt.h — signed receipts of runs (docs/receipts.md).
 *
 * At the end of a run each side signs a statement of it with its Ed25519
 * identity key and gives it to the other; both keep both
 * (pgpriv.receipt_log).  A statement is a fixed list of fields in a
 * canonical byte encoding (what is signed, stored and sent); its jsonb form
 * is derived from it and turned back into the same bytes to be checked.
 *
 * The transcript digest is a hash chain over every binary protocol message
 * of the run, each side absorbing the same bytes: the asker what it sends
 * and receives (peer/call.c), the owner what its serving functions take and
 * return.
 */
#ifndef PGPRIV_CATALOG_RECEIPT_H
#define PGPRIV_CATALOG_RECEIPT_H

#include "postgres.h"

#define RECEIPT_LABEL		"pgpriv receipt v1"
#define RECEIPT_MAX_BYTES	8192
#define RECEIPT_MAX_TEXT	1024

/* The running digest of a run's binary messages. */
typedef struct Transcript
{
	uint8		h[32];
	int64		messages;
} Transcript;

#define TRANSCRIPT_REQUEST	'Q'		/* asker → owner */
#define TRANSCRIPT_RESPONSE 'R'		/* owner → asker */

extern void transcript_reset(Transcript *t);
extern void transcript_absorb(Transcript *t, char tag, const void *data, size_t len);

typedef enum ReceiptField
{
	RF_RUN_ID,
	RF_SIGNER,
	RF_ASKER_KEY,
	RF_OWNER_KEY,
	RF_ASKER_ROLE,
	RF_DATASET,
	RF_CAPABILITY,
	RF_KEYS_IN,
	RF_KEYS_OUT,
	RF_BYTES_IN,
	RF_BYTES_OUT,
	RF_MESSAGES,
	RF_TRANSCRIPT,
	RF_OUTCOME,
	RF_AT,
	RF_PEER_STATEMENT,
	RF_DISPUTED,
	RF_COUNT
} ReceiptField;

/* A statement's fields as text, NULL for SQL NULL. */
typedef struct Receipt
{
	char	   *v[RF_COUNT];
} Receipt;

extern void receipt_set_text(Receipt *r, ReceiptField f, const char *value);
extern void receipt_set_int(Receipt *r, ReceiptField f, int64 value);	/* < 0: NULL */
extern void receipt_set_hex(Receipt *r, ReceiptField f, const uint8 *bytes32);	/* NULL: NULL */
extern void receipt_set_now(Receipt *r);

/* The canonical bytes (also checks every field: elog on a bad one). */
extern bytea *receipt_encode(const Receipt *r);

/* Parse canonical bytes; false if they are not exactly a statement's. */
extern bool receipt_decode(const uint8 *data, size_t len, Receipt *r);

/* The signer's key as the statement names it; false if none. */
extern bool receipt_signer_key(const Receipt *r, uint8 key[32]);

/* Sign with this party's active identity key. */
extern void receipt_sign(const bytea *statement, uint8 signature[64]);

/* BLAKE2b-256(statement || signature) in hex (65 bytes with the NUL). */
extern void receipt_digest_hex(const uint8 *statement, size_t len, const uint8 *sig, size_t siglen,
							   char out[65]);

/* Keep a statement (through pgpriv._receipt_store, as the extension owner). */
extern void receipt_store(const char *run, const char *signer, bool own, const bytea *statement,
						  const uint8 *signature, const char *disputed);
/* The same for actor (the failure recorder, acting for the analyst). */
extern void receipt_store_as(const char *actor, const char *run, const char *signer, bool own,
							 const bytea *statement, const uint8 *signature, const char *disputed);

/* This party's Ed25519 identity public key. */
extern void receipt_own_key(uint8 key[32]);

struct PeerCall;

/*
 * The asker's end of a run: sign its statement, exchange it for the
 * owner's with one call of pgpriv.serve_receipt, check the owner's (08P01
 * if it is missing, malformed, not signed by the owner's pinned signing
 * key, or names another run or another transcript), keep both.
 */
extern void receipt_asker_exchange(struct PeerCall *call, const char *run, const char *capability,
								   const char *dataset, int64 keys_in, int64 keys_out,
								   int64 bytes_in, int64 bytes_out);

/*
 * The asker's end of a run the owner refused at admission (sqlstate: the
 * refusal's), called while that error is on its way and before the asker's
 * transaction aborts: its statement of the failed run for the owner's
 * statement of the refusal (one call of pgpriv.serve_receipt), both handed
 * to the failure recorder, which keeps them.  Nothing is kept if the
 * owner's is missing or does not verify; errors are the caller's to discard.
 */
extern void receipt_asker_refused(struct PeerCall *call, const char *run, const char *capability,
								  const char *dataset, int64 keys_in, int sqlstate);

#endif
