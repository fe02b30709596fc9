/*
 * identity.c — the party's long-term identity key pairs.
 *
 * A party holds an X25519 key pair (pairwise mask seeds for secure_sum,
 * docs/architecture.md, protocol 5) and an Ed25519 signing key pair (PIR hint
 * signatures, protocol 4).  Keys are made here from libsodium's CSPRNG and
 * handed to the extension script, which stores them in a table only the
 * extension owner can read.  Nothing here is ever logged.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgpriv_new_identity);
PG_FUNCTION_INFO_V1(pgpriv_signing_public_key);

static bytea *
bytea_from(const unsigned char *bytes, size_t len)
{
	bytea	   *out = (bytea *) palloc(VARHDRSZ + len);

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), bytes, len);
	return out;
}

/*
 * pgpriv._new_identity() → (public_key, secret_key, sign_public_key,
 * sign_secret_key).  VOLATILE: fresh randomness on every call.
 */
Datum
pgpriv_new_identity(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	unsigned char x_pk[crypto_box_PUBLICKEYBYTES];
	unsigned char x_sk[crypto_box_SECRETKEYBYTES];
	unsigned char ed_pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char ed_sk[crypto_sign_SECRETKEYBYTES];
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	HeapTuple	tuple;

	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("libsodium could not be initialised")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "pgpriv._new_identity must return a composite type");

	/* X25519 for key agreement: crypto_box keys are X25519 keys. */
	crypto_box_keypair(x_pk, x_sk);
	crypto_sign_keypair(ed_pk, ed_sk);

	values[0] = PointerGetDatum(bytea_from(x_pk, sizeof(x_pk)));
	values[1] = PointerGetDatum(bytea_from(x_sk, sizeof(x_sk)));
	values[2] = PointerGetDatum(bytea_from(ed_pk, sizeof(ed_pk)));
	values[3] = PointerGetDatum(bytea_from(ed_sk, sizeof(ed_sk)));

	sodium_memzero(x_sk, sizeof(x_sk));
	sodium_memzero(ed_sk, sizeof(ed_sk));

	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/*
 * pgpriv._x25519_public_key(secret bytea) → the public half, so the script
 * can check that a stored key pair is consistent after a restore.
 */
PG_FUNCTION_INFO_V1(pgpriv_x25519_public_key);
Datum
pgpriv_x25519_public_key(PG_FUNCTION_ARGS)
{
	bytea	   *sk = PG_GETARG_BYTEA_PP(0);
	unsigned char pk[crypto_scalarmult_BYTES];

	if (VARSIZE_ANY_EXHDR(sk) != crypto_scalarmult_SCALARBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"secret\" must be %d bytes, got %d",
						(int) crypto_scalarmult_SCALARBYTES,
						(int) VARSIZE_ANY_EXHDR(sk))));
	if (crypto_scalarmult_base(pk, (const unsigned char *) VARDATA_ANY(sk)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"secret\" is not a usable X25519 secret key")));
	PG_RETURN_BYTEA_P(bytea_from(pk, sizeof(pk)));
}

/*
 * pgpriv._signing_public_key(sign_secret bytea) → the Ed25519 public half
 * (the last 32 bytes of libsodium's 64-byte secret key encoding).
 */
Datum
pgpriv_signing_public_key(PG_FUNCTION_ARGS)
{
	bytea	   *sk = PG_GETARG_BYTEA_PP(0);
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];

	if (VARSIZE_ANY_EXHDR(sk) != crypto_sign_SECRETKEYBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"sign_secret\" must be %d bytes, got %d",
						(int) crypto_sign_SECRETKEYBYTES,
						(int) VARSIZE_ANY_EXHDR(sk))));
	crypto_sign_ed25519_sk_to_pk(pk, (const unsigned char *) VARDATA_ANY(sk));
	PG_RETURN_BYTEA_P(bytea_from(pk, sizeof(pk)));
}
