/*
 * fuzz_receipt.c — libFuzzer harness for the decoder of receipt statements
 * (receipt_decode, src/catalog/receipt.c; docs/receipts.md).
 *
 * A peer's statement reaches receipt_decode on both sides: the owner parses
 * the asker's in pgpriv.serve_receipt, the asker the owner's answer.  The
 * input is the statement's bytes.  Checks beyond "no crash": an accepted
 * statement encodes back to exactly the same bytes (the encoding is
 * canonical: one statement, one encoding), and a statement the encoder
 * makes is accepted.  The backend functions receipt.c calls elsewhere
 * (SPI, jsonb, the identity key) resolve to generated stubs that abort if
 * ever reached.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): statements made with receipt_encode.
 */
#include "postgres.h"

#include "catalog/receipt.h"

#include "fuzz_seed.h"
#include "pg_shim.h"

static void
differ(const char *what)
{
	fprintf(stderr, "fuzz_receipt: %s\n", what);
	abort();
}

static bytea *
sample(bool nulls, const char *outcome)
{
	Receipt		r;
	uint8		k[32];

	memset(&r, 0, sizeof(r));
	memset(k, 0xa5, sizeof(k));
	receipt_set_text(&r, RF_RUN_ID, "0123456789abcdef0123456789abcdef");
	receipt_set_text(&r, RF_SIGNER, nulls ? "asker" : "owner");
	receipt_set_hex(&r, RF_ASKER_KEY, k);
	receipt_set_hex(&r, RF_OWNER_KEY, nulls ? NULL : k);
	receipt_set_text(&r, RF_ASKER_ROLE, nulls ? NULL : "bank_role");
	receipt_set_text(&r, RF_DATASET, "firms");
	receipt_set_text(&r, RF_CAPABILITY, "psi");
	receipt_set_int(&r, RF_KEYS_IN, 40);
	receipt_set_int(&r, RF_KEYS_OUT, nulls ? -1 : 30);
	receipt_set_int(&r, RF_BYTES_IN, 123456);
	receipt_set_int(&r, RF_BYTES_OUT, 0);
	receipt_set_int(&r, RF_MESSAGES, 7);
	receipt_set_hex(&r, RF_TRANSCRIPT, nulls ? NULL : k);
	receipt_set_text(&r, RF_OUTCOME, outcome);
	receipt_set_int(&r, RF_AT, 1796212345678901);
	receipt_set_hex(&r, RF_PEER_STATEMENT, nulls ? NULL : k);
	receipt_set_text(&r, RF_DISPUTED, nulls ? NULL : "the asker's transcript digest differs from the owner's");
	return receipt_encode(&r);
}

static void
generate(const char *dir)
{
	bytea	   *a = sample(false, "ok");
	bytea	   *b = sample(true, "failed: peer misbehaved (08P01)");

	fuzz_seed_write(dir, "owner", VARDATA(a), VARSIZE(a) - VARHDRSZ, NULL, 0);
	fuzz_seed_write(dir, "asker", VARDATA(b), VARSIZE(b) - VARHDRSZ, NULL, 0);
	shim_reset();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_seed_generate(generate);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PG_TRY();
	{
		Receipt		r;

		if (receipt_decode(data, size, &r))
		{
			bytea	   *again = receipt_encode(&r);

			if (VARSIZE(again) - VARHDRSZ != size || memcmp(VARDATA(again), data, size) != 0)
				differ("an accepted statement does not encode back to the same bytes");
		}
	}
	PG_CATCH();
	{
		shim_error_caught();
	}
	PG_END_TRY();
	shim_reset();
	return 0;
}
