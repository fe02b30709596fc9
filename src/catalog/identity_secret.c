/*
 * identity_secret.c — read the active identity's secret keys (see
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
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"

/*
 * Columns of the active key's row: column 1 into out1 (len1 bytes), and
 * column 2, when out2 is not NULL, into out2 (len2 bytes).
 */
static void
identity_active_read(const char *sql, uint8 *out1, size_t len1, uint8 *out2, size_t len2)
{
	CatalogSession cs;
	uint8	   *out[2] = {out1, out2};
	size_t		len[2] = {len1, len2};

	catalog_open(&cs, true);
	catalog_exec(sql, 0, NULL, NULL, NULL, true, 1, SPI_OK_SELECT, "read pgpriv.identity_keys");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("this party has no active identity key"),
				 errhint("The extension owner makes one with pgpriv.rotate_identity().")));
	for (int c = 0; c < 2 && out[c] != NULL; c++)
	{
		bool		isnull;
		bytea	   *v = DatumGetByteaPP(catalog_value(0, c + 1, &isnull));

		/* The table's CHECK constraints fix these lengths; trust nothing anyway. */
		if (isnull || VARSIZE_ANY_EXHDR(v) != len[c])
			elog(ERROR, "the active key in pgpriv.identity_keys is malformed");
		memcpy(out[c], VARDATA_ANY(v), len[c]);
		sodium_memzero(VARDATA_ANY(v), len[c]);
	}
	catalog_close(&cs);
}

void
identity_active_keypair(uint8 public_key[32], uint8 secret_key[32])
{
	identity_active_read("SELECT k.public_key, k.secret_key FROM pgpriv.identity_keys AS k "
						 " WHERE k.retired_at IS NULL ORDER BY k.created_at, k.public_key LIMIT 1",
						 public_key, 32, secret_key, 32);
}

void
identity_active_signing_key(uint8 secret_key[64])
{
	identity_active_read("SELECT k.sign_secret_key FROM pgpriv.identity_keys AS k "
						 " WHERE k.retired_at IS NULL ORDER BY k.created_at, k.public_key LIMIT 1",
						 secret_key, 64, NULL, 0);
}
