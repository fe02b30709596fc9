/*
 * authenticate.c — every connection to a peer proves that the peer holds the
 * secret keys its server definition pins, before any run sends it anything.
 *
 * The asker sends a fresh challenge c and an ephemeral X25519 key E; the
 * owner answers with its identity public keys, a proof keyed by
 * X25519(identity secret, E) and an Ed25519 signature, both over the
 * transcript
 *
 *   "pgpriv hello v1" || c || E || X25519 public key || Ed25519 public key
 *
 * Any role may ask, so the answer is a signature on a message of the
 * asker's choosing; the label keeps it from being anything else this party
 * signs (PIR hints begin with "pgpriv-pir-hint-v1").  The asker checks what
 * its server pins: public_key (the proof, which only the holder of that
 * key's secret can compute) and signing_key (the signature).  A server that
 * pins neither cannot be authenticated and is not used.  The challenge is fresh per connection, so an answer cannot be
 * replayed; an active relay between the two is stopped by TLS with
 * sslmode=verify-full (docs/security.md), not by this check.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "catalog/identity_secret.h"
#include "catalog/pgpriv_catalog.h"
#include "peer/authenticate.h"
#include "peer/connection.h"
#include "peer/fdw_options.h"
#include "peer/version.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_hello);

#define HELLO_LABEL "pgpriv hello v1"
#define HELLO_LABEL_BYTES (sizeof(HELLO_LABEL) - 1)
#define HELLO_TRANSCRIPT_BYTES (HELLO_LABEL_BYTES + 32 + 32 + 32 + 32)

static void
hello_transcript(uint8 out[HELLO_TRANSCRIPT_BYTES], const uint8 challenge[32],
				 const uint8 ephemeral[32], const uint8 x_pk[32], const uint8 sign_pk[32])
{
	memcpy(out, HELLO_LABEL, HELLO_LABEL_BYTES);
	memcpy(out + HELLO_LABEL_BYTES, challenge, 32);
	memcpy(out + HELLO_LABEL_BYTES + 32, ephemeral, 32);
	memcpy(out + HELLO_LABEL_BYTES + 64, x_pk, 32);
	memcpy(out + HELLO_LABEL_BYTES + 96, sign_pk, 32);
}

/* proof = BLAKE2b-256 keyed by the shared X25519 secret, over the transcript. */
static void
hello_proof(uint8 proof[32], const uint8 shared[32], const uint8 *transcript)
{
	crypto_generichash(proof, 32, transcript, HELLO_TRANSCRIPT_BYTES, shared, 32);
}

static bytea *
bytea_of(const uint8 *p, size_t n)
{
	bytea	   *b = palloc(VARHDRSZ + n);

	SET_VARSIZE(b, VARHDRSZ + n);
	memcpy(VARDATA(b), p, n);
	return b;
}

/*
 * pgpriv.serve_hello(hello bytea)
 *   → TABLE(public_key bytea, signing_key bytea, proof bytea, signature bytea)
 *
 * Owner's half, callable by any peer login before any run: hello is the
 * challenge (32 bytes) then the ephemeral X25519 key (32 bytes).
 */
Datum
pgpriv_serve_hello(PG_FUNCTION_ARGS)
{
	bytea	   *hello = PG_GETARG_BYTEA_PP(0);
	const uint8 *h = (const uint8 *) VARDATA_ANY(hello);
	uint8		x_pk[32];
	uint8		x_sk[32];
	uint8		sign_sk[crypto_sign_SECRETKEYBYTES];
	uint8		shared[32];
	uint8		transcript[HELLO_TRANSCRIPT_BYTES];
	uint8		proof[32];
	uint8		signature[crypto_sign_BYTES];
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int			bad;

	catalog_restrict_definer();
	version_require_agreed();
	if (VARSIZE_ANY_EXHDR(hello) != 64)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("A hello is 64 bytes (challenge and ephemeral key), not %zu.",
						   (size_t) VARSIZE_ANY_EXHDR(hello))));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "serve_hello must return a composite type");

	identity_active_keypair(x_pk, x_sk);
	bad = crypto_scalarmult(shared, x_sk, h + 32);
	sodium_memzero(x_sk, sizeof(x_sk));
	if (bad != 0)
	{
		sodium_memzero(shared, sizeof(shared));
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("The ephemeral key is a low-order point.")));
	}
	identity_active_signing_key(sign_sk);
	/* libsodium's Ed25519 secret key ends with its public key */
	hello_transcript(transcript, h, h + 32, x_pk, sign_sk + 32);
	hello_proof(proof, shared, transcript);
	sodium_memzero(shared, sizeof(shared));
	crypto_sign_detached(signature, NULL, transcript, sizeof(transcript), sign_sk);

	values[0] = PointerGetDatum(bytea_of(x_pk, 32));
	values[1] = PointerGetDatum(bytea_of(sign_sk + 32, 32));
	values[2] = PointerGetDatum(bytea_of(proof, 32));
	values[3] = PointerGetDatum(bytea_of(signature, sizeof(signature)));
	sodium_memzero(sign_sk, sizeof(sign_sk));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* A bytea column of the hello's answer (binary results) of exactly n bytes. */
static bool
answer_bytes(PGresult *res, int col, uint8 *out, size_t n)
{
	if (PQgetisnull(res, 0, col) || PQfformat(res, col) != 1 || PQgetlength(res, 0, col) != (int) n)
		return false;
	memcpy(out, PQgetvalue(res, 0, col), n);
	return true;
}

static void pg_attribute_noreturn()
authentication_failed(const char *peer, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("peer \"%s\" failed authentication", peer),
			 errdetail("%s", detail),
			 errhint("Compare the server's public_key and signing_key options with pgpriv.identity_card() "
					 "on the peer, over a second channel.")));
}

void
peer_authenticate(PGconn *conn, ForeignServer *server)
{
	const char *peer = server->servername;
	const char *pinned_pk_text = peer_server_option(server, "public_key");
	const char *pinned_sign_text = peer_server_option(server, "signing_key");
	uint8		pinned_pk[32];
	uint8		pinned_sign[32];
	uint8		e_sk[32];
	uint8		hello[64];
	uint8		x_pk[32];
	uint8		sign_pk[32];
	uint8		proof[32];
	uint8		signature[crypto_sign_BYTES];
	uint8		transcript[HELLO_TRANSCRIPT_BYTES];
	const char *params[1];
	Oid			types[1] = {BYTEAOID};
	int			lengths[1] = {(int) sizeof(hello)};
	int			formats[1] = {1};
	PGresult   *res;
	bool		ok;

	if (pinned_pk_text == NULL && pinned_sign_text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("peer \"%s\" cannot be authenticated: its server pins no key", peer),
				 errdetail("pgpriv only runs protocols with a peer that proves it holds the secret of a pinned key."),
				 errhint("ALTER SERVER %s OPTIONS (ADD public_key '…', ADD signing_key '…') "
						 "with the values of pgpriv.identity_card() on the peer.", peer)));
	if ((pinned_pk_text && !peer_decode_key(pinned_pk_text, pinned_pk)) ||
		(pinned_sign_text && !peer_decode_key(pinned_sign_text, pinned_sign)))
		elog(ERROR, "server \"%s\" has a malformed key option", peer);	/* the validator refuses these */

	randombytes_buf(hello, 32);
	randombytes_buf(e_sk, sizeof(e_sk));
	crypto_scalarmult_base(hello + 32, e_sk);
	params[0] = (const char *) hello;

	/* Binary both ways: the hello's bytes never appear as text on the wire. */
	PG_TRY();
	{
		res = peer_exec_params(conn, peer,
							   "SELECT public_key, signing_key, proof, signature FROM pgpriv.serve_hello($1)",
							   1, types, params, lengths, formats, 1);
	}
	PG_CATCH();
	{
		sodium_memzero(e_sk, sizeof(e_sk));
		PG_RE_THROW();
	}
	PG_END_TRY();
	ok = PQntuples(res) == 1 && PQnfields(res) == 4 &&
		answer_bytes(res, 0, x_pk, 32) && answer_bytes(res, 1, sign_pk, 32) &&
		answer_bytes(res, 2, proof, 32) && answer_bytes(res, 3, signature, sizeof(signature));
	PQclear(res);
	if (!ok)
	{
		sodium_memzero(e_sk, sizeof(e_sk));
		authentication_failed(peer, "Its answer to the challenge is malformed.");
	}
	hello_transcript(transcript, hello, hello + 32, x_pk, sign_pk);

	if (pinned_pk_text)
	{
		uint8		shared[32];
		uint8		expect[32];
		int			bad;

		if (sodium_memcmp(x_pk, pinned_pk, 32) != 0)
		{
			sodium_memzero(e_sk, sizeof(e_sk));
			authentication_failed(peer, "Its X25519 identity key is not the server's public_key.");
		}
		bad = crypto_scalarmult(shared, e_sk, pinned_pk);
		hello_proof(expect, shared, transcript);
		sodium_memzero(shared, sizeof(shared));
		if (bad != 0 || sodium_memcmp(expect, proof, 32) != 0)
		{
			sodium_memzero(e_sk, sizeof(e_sk));
			authentication_failed(peer, "It does not hold the secret of the server's public_key.");
		}
	}
	sodium_memzero(e_sk, sizeof(e_sk));
	if (pinned_sign_text)
	{
		if (sodium_memcmp(sign_pk, pinned_sign, 32) != 0)
			authentication_failed(peer, "Its Ed25519 identity key is not the server's signing_key.");
		if (crypto_sign_verify_detached(signature, transcript, sizeof(transcript), pinned_sign) != 0)
			authentication_failed(peer, "It does not hold the secret of the server's signing_key.");
	}
}
