/*
 * identity_secret.c — read the active X25519 identity key pair (see
 * identity_secret.h).
 *
 * The table pgpriv.identity_keys is readable by the extension owner only, so
 * the read runs as that role whoever calls.  The secret's copies in SPI
 * memory are wiped before SPI frees them.
 */
#include "postgres.h"

#include <sodium.h>

#include "executor/spi.h"

#include "catalog/identity_secret.h"
#include "catalog/pgpriv_catalog.h"

void
identity_active_keypair(uint8 public_key[32], uint8 secret_key[32])
{
	OwnerContext owner;
	bool		pk_null;
	bool		sk_null;
	bytea	   *pk;
	bytea	   *sk;

	catalog_enter_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT k.public_key, k.secret_key FROM pgpriv.identity_keys AS k "
					" WHERE k.retired_at IS NULL ORDER BY k.created_at, k.public_key LIMIT 1",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgpriv.identity_keys");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("this party has no active identity key"),
				 errhint("The extension owner makes one with pgpriv.rotate_identity().")));
	pk = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &pk_null));
	sk = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &sk_null));
	/* The table's CHECK constraints make these 32 bytes; trust nothing anyway. */
	if (pk_null || sk_null || VARSIZE_ANY_EXHDR(pk) != 32 || VARSIZE_ANY_EXHDR(sk) != 32)
		elog(ERROR, "the identity key pair in pgpriv.identity_keys is malformed");
	memcpy(public_key, VARDATA_ANY(pk), 32);
	memcpy(secret_key, VARDATA_ANY(sk), 32);
	sodium_memzero(VARDATA_ANY(sk), 32);
	SPI_finish();
	catalog_leave_owner(&owner);
}

void
identity_active_signing_key(uint8 secret_key[64])
{
	OwnerContext owner;
	bool		sk_null;
	bytea	   *sk;

	catalog_enter_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT k.sign_secret_key FROM pgpriv.identity_keys AS k "
					" WHERE k.retired_at IS NULL ORDER BY k.created_at, k.public_key LIMIT 1",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgpriv.identity_keys");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("this party has no active identity key"),
				 errhint("The extension owner makes one with pgpriv.rotate_identity().")));
	sk = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &sk_null));
	if (sk_null || VARSIZE_ANY_EXHDR(sk) != 64)
		elog(ERROR, "the signing key in pgpriv.identity_keys is malformed");
	memcpy(secret_key, VARDATA_ANY(sk), 64);
	sodium_memzero(VARDATA_ANY(sk), 64);
	SPI_finish();
	catalog_leave_owner(&owner);
}
