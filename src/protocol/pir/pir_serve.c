/*
 * pir_serve.c — private lookup by LWE PIR over OPRF-locked records
 * (docs/architecture.md, protocol 4; docs/pir.md), the owner's half.
 *
 * Per (dataset, peer role) the owner keeps a derived cache file
 * pgpriv_pir/<name>.<epoch> under the data directory holding the database D
 * (records tag ‖ nonce ‖ sealed payload, placed by 2-choice cuckoo hashing)
 * and the hint H = D·A.  pgpriv.served_pir records the current epoch, the
 * layout and the signed hash of H.  A new epoch is built when the dataset,
 * the OPRF key or the permit changes, or when the file is missing or does
 * not check out: it is rebuilt, never served.
 *
 * The shared definitions for the asker's half (pir.c) are in pir.h.
 */
#include "postgres.h"

#include <sys/mman.h>

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/identity_secret.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/lwe_pir.h"
#include "crypto/oprf.h"
#include "crypto/pir_cuckoo.h"
#include "catalog/receipt.h"
#include "run/admission.h"
#include "run/batch.h"
#include "run/keys.h"
#include "protocol/join/join_catalog.h"
#include "protocol/join/join_serve.h"
#include "protocol/join/oprf_table.h"
#include "protocol/pir/pir.h"
#include "run/progress.h"
#include "run/secret_mem.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_pir_setup);
PG_FUNCTION_INFO_V1(pgpriv_serve_pir_hint);
PG_FUNCTION_INFO_V1(pgpriv_serve_pir_answer);

#define PIR_DIR			"pgpriv_pir"
#define PIR_MAGIC		"PGPRPIR1"
#define PIR_MAX_ATTEMPTS 8

/* The cache file's header; D (rows × cols bytes) and H (rows × n words) follow, then a checksum. */
typedef struct PirFileHeader
{
	char		magic[8];
	int64		epoch;
	uint8		seed[LWE_PIR_SEED_BYTES];
	uint32		rows;
	uint32		cols;
	uint32		slot_bytes;
	uint32		slots_per_col;
	char		version[33];
} PirFileHeader;

/* The current state of (dataset, peer role), from pgpriv.served_pir. */
typedef struct PirState
{
	bool		found;
	char	   *version;
	int64		epoch;
	uint8		seed[LWE_PIR_SEED_BYTES];
	lwe_pir_layout layout;
	uint8		hint_hash[PIR_HASH_BYTES];
	uint8		signature[crypto_sign_BYTES];
	char	   *stamp;			/* catalog version and columns last checked */
	TimestampTz checked_at;		/* when the rows were last compared */
} PirState;

/* Queries answered in this session for the admitted run, per epoch. */
static char answered_run[64];
static int64 answered_epoch = -1;
static int64 answered_queries;

/*
 * The cache file's path for (database, dataset, peer role) at an epoch.
 * The directory is the cluster's, so the database is part of the name: two
 * databases publishing a dataset of the same name for the same role each
 * keep their own file instead of rebuilding each other's.
 */
static char *
pir_file_path(const char *dataset, const char *peer, int64 epoch)
{
	uint8		h[16];
	char		hex[33];
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8 *) dataset, strlen(dataset) + 1);
	crypto_generichash_update(&st, (const uint8 *) peer, strlen(peer) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return psprintf("%s/db%u.%s.%lld", PIR_DIR, MyDatabaseId, hex, (long long) epoch);
}

static void
put_u32le(StringInfo buf, uint32 v)
{
	uint8		b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};

	appendBinaryStringInfo(buf, (char *) b, 4);
}

/*
 * The message the owner signs and the asker verifies: it binds the hint's
 * hash to the dataset, the peer role it was built for, the epoch, the seed
 * of A, the layout and the permitted columns.
 */
void
pir_signed_message(StringInfo buf, const char *dataset, const char *peer_role, int64 epoch,
				   const uint8 seed[LWE_PIR_SEED_BYTES], const lwe_pir_layout *layout,
				   List *columns, const uint8 *hint_hash)
{
	ListCell   *lc;

	resetStringInfo(buf);
	appendBinaryStringInfo(buf, "pgpriv-pir-hint-v1", strlen("pgpriv-pir-hint-v1") + 1);
	appendBinaryStringInfo(buf, dataset, strlen(dataset) + 1);
	appendBinaryStringInfo(buf, peer_role, strlen(peer_role) + 1);
	put_u32le(buf, (uint32) ((uint64) epoch & 0xffffffff));
	put_u32le(buf, (uint32) ((uint64) epoch >> 32));
	appendBinaryStringInfo(buf, (const char *) seed, LWE_PIR_SEED_BYTES);
	put_u32le(buf, layout->rows);
	put_u32le(buf, layout->cols);
	put_u32le(buf, layout->slot_bytes);
	put_u32le(buf, layout->slots_per_col);
	put_u32le(buf, (uint32) list_length(columns));
	foreach(lc, columns)
		appendBinaryStringInfo(buf, (char *) lfirst(lc), strlen((char *) lfirst(lc)) + 1);
	appendBinaryStringInfo(buf, (const char *) hint_hash, PIR_HASH_BYTES);
}

static void
pir_status_error(lwe_pir_status st)
{
	if (st == LWE_PIR_NO_MEMORY)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in the PIR layer")));
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("the PIR layer failed"),
			 errdetail("%s", lwe_pir_status_reason(st))));
}

static bool
read_state(const char *dataset, const char *peer, PirState *state)
{
	CatalogSession cs;
	const char *texts[2] = {dataset, peer};
	MemoryContext caller = CurrentMemoryContext;

	memset(state, 0, sizeof(*state));
	join_catalog_exec(&cs, false,
					  "SELECT version, epoch, seed, rows, cols, slot_bytes, slots_per_col, hint_hash, signature, "
					  "stamp, checked_at FROM pgpriv.served_pir WHERE dataset = $1 AND peer_role = $2",
					  2, texts, true, 1, SPI_OK_SELECT, "read pgpriv.served_pir");
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		bytea	   *seed;
		bytea	   *hh;
		bytea	   *sig;

		state->found = true;
		state->version = MemoryContextStrdup(caller, SPI_getvalue(t, d, 1));
		state->stamp = MemoryContextStrdup(caller, SPI_getvalue(t, d, 10));
		state->checked_at = DatumGetTimestampTz(SPI_getbinval(t, d, 11, &isnull));
		state->epoch = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
		seed = DatumGetByteaPP(SPI_getbinval(t, d, 3, &isnull));
		state->layout.rows = (uint32) DatumGetInt32(SPI_getbinval(t, d, 4, &isnull));
		state->layout.cols = (uint32) DatumGetInt32(SPI_getbinval(t, d, 5, &isnull));
		state->layout.slot_bytes = (uint32) DatumGetInt32(SPI_getbinval(t, d, 6, &isnull));
		state->layout.slots_per_col = (uint32) DatumGetInt32(SPI_getbinval(t, d, 7, &isnull));
		hh = DatumGetByteaPP(SPI_getbinval(t, d, 8, &isnull));
		sig = DatumGetByteaPP(SPI_getbinval(t, d, 9, &isnull));
		if (VARSIZE_ANY_EXHDR(seed) != LWE_PIR_SEED_BYTES || VARSIZE_ANY_EXHDR(hh) != PIR_HASH_BYTES ||
			VARSIZE_ANY_EXHDR(sig) != crypto_sign_BYTES)
			state->found = false;	/* rebuilt below */
		else
		{
			memcpy(state->seed, VARDATA_ANY(seed), LWE_PIR_SEED_BYTES);
			memcpy(state->hint_hash, VARDATA_ANY(hh), PIR_HASH_BYTES);
			memcpy(state->signature, VARDATA_ANY(sig), crypto_sign_BYTES);
		}
	}
	catalog_close(&cs);
	return state->found;
}

/*
 * The file whose checksum this session last verified in full (device,
 * inode, size, modification time): a lookup served from an unchanged
 * dataset reads neither the rows nor, after the first time in a session,
 * the whole file.  A rebuild writes a new file (another inode).
 */
static struct
{
	bool		valid;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	time_t		mtime;
}			verified_file;

/*
 * Open the cache file of a state and check its header against it (and its
 * size); with verify_all, or the first time this session opens that file,
 * also its checksum over everything.  Returns the open file positioned
 * after the header, or NULL if it must be rebuilt.
 */
static FILE *
open_checked(const char *dataset, const char *peer, const PirState *state, bool verify_all)
{
	char	   *path = pir_file_path(dataset, peer, state->epoch);
	FILE	   *f = AllocateFile(path, PG_BINARY_R);
	PirFileHeader hdr;
	struct stat sb;
	size_t		body = lwe_pir_db_bytes(&state->layout) + lwe_pir_hint_bytes(&state->layout);

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &sb) != 0 ||
		(uint64) sb.st_size != sizeof(hdr) + body + PIR_HASH_BYTES ||
		fread(&hdr, sizeof(hdr), 1, f) != 1 ||
		memcmp(hdr.magic, PIR_MAGIC, 8) != 0 || hdr.epoch != state->epoch ||
		memcmp(hdr.seed, state->seed, LWE_PIR_SEED_BYTES) != 0 ||
		hdr.rows != state->layout.rows || hdr.cols != state->layout.cols ||
		hdr.slot_bytes != state->layout.slot_bytes ||
		hdr.slots_per_col != state->layout.slots_per_col ||
		hdr.version[32] != '\0' || strcmp(hdr.version, state->version) != 0)
	{
		FreeFile(f);
		return NULL;
	}
	if (!verify_all && !(verified_file.valid && verified_file.dev == sb.st_dev &&
						 verified_file.ino == sb.st_ino && verified_file.size == sb.st_size &&
						 verified_file.mtime == sb.st_mtime))
		verify_all = true;
	if (verify_all)
	{
		crypto_generichash_state st;
		uint8		want[PIR_HASH_BYTES];
		uint8		got[PIR_HASH_BYTES];
		uint8	   *buf = palloc(1 << 20);
		size_t		left = body;

		crypto_generichash_init(&st, NULL, 0, PIR_HASH_BYTES);
		crypto_generichash_update(&st, (const uint8 *) &hdr, sizeof(hdr));
		while (left > 0)
		{
			size_t		m = Min(left, (size_t) (1 << 20));

			if (fread(buf, 1, m, f) != m)
			{
				FreeFile(f);
				return NULL;
			}
			crypto_generichash_update(&st, buf, m);
			left -= m;
		}
		crypto_generichash_final(&st, want, sizeof(want));
		if (fread(got, 1, sizeof(got), f) != sizeof(got) || sodium_memcmp(want, got, sizeof(got)) != 0)
		{
			verified_file.valid = false;
			FreeFile(f);
			return NULL;
		}
		pfree(buf);
		if (fseeko(f, (off_t) sizeof(hdr), SEEK_SET) != 0)
		{
			FreeFile(f);
			return NULL;
		}
		verified_file.valid = true;
		verified_file.dev = sb.st_dev;
		verified_file.ino = sb.st_ino;
		verified_file.size = sb.st_size;
		verified_file.mtime = sb.st_mtime;
	}
	return f;
}

/* Read len bytes at offset off of the body (after the header); 55000 if the file is short. */
static void
read_body(FILE *f, const char *dataset, size_t off, uint8 *out, size_t len)
{
	if (fseeko(f, (off_t) (sizeof(PirFileHeader) + off), SEEK_SET) != 0 ||
		fread(out, 1, len, f) != len)
	{
		FreeFile(f);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the PIR database of dataset \"%s\" changed during the run", dataset),
				 errhint("Run the lookup again.")));
	}
}

static void
write_all(FILE *f, const void *p, size_t len, crypto_generichash_state *st, const char *path)
{
	if (fwrite(p, 1, len, f) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", path)));
	if (st)
		crypto_generichash_update(st, p, len);
}

/* Build D and H for the rows at a new epoch; write the file and the state row. */
static void
build_epoch(const Dataset *ds, const char *peer, List *columns, const DatasetRows *rows,
			const char *version, int64 epoch, PirState *state)
{
	size_t		n = rows->keys.n;
	int			ncol = rows->ncolumns;
	uint8		sk[32];
	uint8		sign_sk[64];
	uint8	   *outputs = secret_palloc(Max(n, 1) * OPRF_OUTPUT_BYTES);
	char	   *ad = oprf_table_seal_context(ds->name, "pir");
	StringInfoData plain;
	StringInfoData msg;
	size_t		maxpay = 0;
	size_t		i;
	uint32		slot_bytes;
	uint32		ctlen;
	uint8	   *records;
	uint8	   *db = NULL;
	uint32	   *hint;
	uint32		attempt;
	lwe_pir_status st;
	char	   *path;
	char	   *tmppath;
	FILE	   *f;
	PirFileHeader hdr;
	crypto_generichash_state cs;
	CatalogSession cat;
	uint8		checksum[PIR_HASH_BYTES];
	Oid			types[12] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, BYTEAOID, INT4OID, INT4OID, INT4OID,
	INT4OID, TEXTARRAYOID, BYTEAOID, BYTEAOID};
	Datum		args[12];
	int64		old_epoch = state->found ? state->epoch : -1;

	oprf_key_for_peer(ds->name, "pir", sk, NULL);
	progress_phase("owner: evaluating the OPRF over the dataset", n);
	batch_evaluate_unblinded(&rows->keys, sk, outputs);
	sodium_memzero(sk, sizeof(sk));

	/* Every record has the same size: pad the payloads to the longest. */
	initStringInfo(&plain);
	for (i = 0; i < n; i++)
	{
		oprf_table_payload_serialise(&plain, rows->values + i * ncol, ncol);
		maxpay = Max(maxpay, (size_t) plain.len);
	}
	if (maxpay > PIR_MAX_PAYLOAD_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a row of dataset \"%s\" has more than %d bytes of permitted columns, the limit for pir",
						ds->name, PIR_MAX_PAYLOAD_BYTES)));
	slot_bytes = (uint32) (PIR_RECORD_OVERHEAD + maxpay);
	ctlen = slot_bytes - TAG_BYTES - NONCE_BYTES;

	progress_phase("owner: sealing the records", n);
	records = palloc_extended(Max(n, 1) * (Size) slot_bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	{
		uint8	   *pt = secret_palloc(ctlen);

		for (i = 0; i < n; i++)
		{
			const uint8 *F = outputs + i * OPRF_OUTPUT_BYTES;
			uint8	   *rec = records + i * (Size) slot_bytes;
			uint32		be;
			unsigned long long outlen;
			size_t		plen = ctlen - crypto_aead_xchacha20poly1305_ietf_ABYTES;

			oprf_table_payload_serialise(&plain, rows->values + i * ncol, ncol);
			memset(pt, 0, plen);
			be = pg_hton32((uint32) plain.len);
			memcpy(pt, &be, 4);
			memcpy(pt + 4, plain.data, plain.len);
			memcpy(rec, F, TAG_BYTES);
			randombytes_buf(rec + TAG_BYTES, NONCE_BYTES);
			crypto_aead_xchacha20poly1305_ietf_encrypt(rec + TAG_BYTES + NONCE_BYTES, &outlen,
													   pt, plen, (const uint8 *) ad, strlen(ad), NULL,
													   rec + TAG_BYTES, F + SEAL_KEY_OFFSET);
			if ((i & 0xfff) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		sodium_memzero(pt, ctlen);
	}

	progress_phase("owner: placing the records", n);
	for (attempt = 0; attempt < PIR_MAX_ATTEMPTS; attempt++)
	{
		pir_cuckoo_status cst = pir_cuckoo_layout(Max(n, 1), slot_bytes, attempt, &state->layout);

		if (cst != PIR_CUCKOO_OK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("dataset \"%s\" does not fit a PIR database", ds->name),
					 errdetail("%s", pir_cuckoo_status_reason(cst))));
		db = palloc_extended(lwe_pir_db_bytes(&state->layout), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		cst = pir_cuckoo_build(&state->layout, n, outputs, records, PIR_CUCKOO_MAX_KICKS, db);
		if (cst == PIR_CUCKOO_OK)
			break;
		pfree(db);
		db = NULL;
		if (cst == PIR_CUCKOO_NO_MEMORY)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory placing PIR records")));
		if (cst != PIR_CUCKOO_FULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not place the PIR records of dataset \"%s\"", ds->name),
					 errdetail("%s", pir_cuckoo_status_reason(cst))));
	}
	sodium_memzero(outputs, Max(n, 1) * OPRF_OUTPUT_BYTES);
	if (db == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("could not place the PIR records of dataset \"%s\"", ds->name),
				 errdetail("Too many rows share a key.")));

	progress_phase("owner: computing the hint", 0);
	randombytes_buf(state->seed, LWE_PIR_SEED_BYTES);
	hint = palloc_extended(lwe_pir_hint_bytes(&state->layout), MCXT_ALLOC_HUGE);
	st = lwe_pir_hint(&state->layout, db, state->seed, hint, pgpriv_threads_for_batch());
	if (st != LWE_PIR_OK)
		pir_status_error(st);
	crypto_generichash(state->hint_hash, PIR_HASH_BYTES, (const uint8 *) hint,
					   lwe_pir_hint_bytes(&state->layout), NULL, 0);
	state->epoch = epoch;
	state->version = pstrdup(version);

	initStringInfo(&msg);
	pir_signed_message(&msg, ds->name, peer, epoch, state->seed, &state->layout, columns, state->hint_hash);
	identity_active_signing_key(sign_sk);
	crypto_sign_detached(state->signature, NULL, (const uint8 *) msg.data, msg.len, sign_sk);
	sodium_memzero(sign_sk, sizeof(sign_sk));

	/* The file: written aside, then renamed into place. */
	progress_phase("owner: writing the PIR database", 0);
	if (MakePGDirectory(PIR_DIR) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", PIR_DIR)));
	path = pir_file_path(ds->name, peer, epoch);
	tmppath = psprintf("%s.tmp", path);
	f = AllocateFile(tmppath, PG_BINARY_W);
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
	memset(&hdr, 0, sizeof(hdr));
	memcpy(hdr.magic, PIR_MAGIC, 8);
	hdr.epoch = epoch;
	memcpy(hdr.seed, state->seed, LWE_PIR_SEED_BYTES);
	hdr.rows = state->layout.rows;
	hdr.cols = state->layout.cols;
	hdr.slot_bytes = state->layout.slot_bytes;
	hdr.slots_per_col = state->layout.slots_per_col;
	strlcpy(hdr.version, version, sizeof(hdr.version));
	crypto_generichash_init(&cs, NULL, 0, PIR_HASH_BYTES);
	write_all(f, &hdr, sizeof(hdr), &cs, tmppath);
	write_all(f, db, lwe_pir_db_bytes(&state->layout), &cs, tmppath);
	write_all(f, hint, lwe_pir_hint_bytes(&state->layout), &cs, tmppath);
	crypto_generichash_final(&cs, checksum, sizeof(checksum));
	write_all(f, checksum, sizeof(checksum), NULL, tmppath);
	if (FreeFile(f) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmppath)));
	if (durable_rename(tmppath, path, ERROR) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\": %m", tmppath)));
	if (old_epoch >= 0 && old_epoch != epoch)
		(void) unlink(pir_file_path(ds->name, peer, old_epoch));
	pfree(db);
	pfree(hint);
	pfree(records);

	args[0] = CStringGetTextDatum(ds->name);
	args[1] = CStringGetTextDatum(peer);
	args[2] = CStringGetTextDatum(version);
	args[3] = Int64GetDatum(epoch);
	args[4] = PointerGetDatum(cstring_to_text_with_len((char *) state->seed, LWE_PIR_SEED_BYTES));
	args[5] = Int32GetDatum((int32) state->layout.rows);
	args[6] = Int32GetDatum((int32) state->layout.cols);
	args[7] = Int32GetDatum((int32) state->layout.slot_bytes);
	args[8] = Int32GetDatum((int32) state->layout.slots_per_col);
	args[9] = oprf_table_columns_datum(columns);
	args[10] = PointerGetDatum(cstring_to_text_with_len((char *) state->hint_hash, PIR_HASH_BYTES));
	args[11] = PointerGetDatum(cstring_to_text_with_len((char *) state->signature, crypto_sign_BYTES));
	catalog_open(&cat, false);
	catalog_exec("INSERT INTO pgpriv.served_pir AS s (dataset, peer_role, version, epoch, seed, rows, cols, "
				 "slot_bytes, slots_per_col, columns, hint_hash, signature) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
				 "ON CONFLICT (dataset, peer_role) DO UPDATE SET version = EXCLUDED.version, "
				 "epoch = EXCLUDED.epoch, seed = EXCLUDED.seed, rows = EXCLUDED.rows, cols = EXCLUDED.cols, "
				 "slot_bytes = EXCLUDED.slot_bytes, slots_per_col = EXCLUDED.slots_per_col, "
				 "columns = EXCLUDED.columns, hint_hash = EXCLUDED.hint_hash, "
				 "signature = EXCLUDED.signature, built_at = pg_catalog.clock_timestamp()",
				 12, types, args, NULL, false, 0, SPI_OK_INSERT, "store pgpriv.served_pir");
	catalog_close(&cat);
	state->found = true;
}

/* Record that the epoch was checked against the dataset now, under stamp. */
static void
mark_checked(const char *dataset, const char *peer, const char *stamp)
{
	CatalogSession cs;
	const char *texts[3] = {dataset, peer, stamp};

	join_catalog_exec(&cs, false, "UPDATE pgpriv.served_pir SET stamp = $3, checked_at = pg_catalog.clock_timestamp() "
					  "WHERE dataset = $1 AND peer_role = $2",
					  3, texts, false, 0, SPI_OK_UPDATE, "update pgpriv.served_pir");
	catalog_close(&cs);
}

/*
 * pgpriv.serve_pir_setup(dataset, run) → TABLE(epoch, seed, rows, cols,
 *   slot_bytes, slots_per_col, hint_chunks, hint_hash, signature, columns, batch_limit)
 *
 * For an admitted pir run: rebuild D and H if the dataset, key or permit
 * changed or the file does not check out, and describe the current epoch.
 */
Datum
pgpriv_serve_pir_setup(PG_FUNCTION_ARGS)
{
	JoinServe	js;
	char	   *peer = session_role_name();
	DatasetRows rows;
	char	   *version;
	PirState	state;
	FILE	   *f = NULL;
	TupleDesc	tupdesc;
	Datum		values[11];
	bool		nulls[11] = {false};
	size_t		hint_bytes;
	char	   *lockkey;
	char	   *stamp;
	bool		fresh = false;
	bool		read = false;
	ChangeCheck check;

	join_serve_begin(&js, fcinfo, "pir", NULL, NULL);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "serve_pir_setup must return a composite type");

	/* One builder at a time per (dataset, peer). */
	lockkey = psprintf("pir|%s|%s", js.dataset, peer);
	DirectFunctionCall1(pg_advisory_xact_lock_int8,
						Int64GetDatum((int64) hash_bytes((const unsigned char *) lockkey, strlen(lockkey))));

	/*
	 * The catalog stamp changes with a republish, a key rotation or the
	 * permitted columns.  With it unchanged, the change check
	 * (catalog/change_check.h) tells in this very snapshot whether the
	 * dataset's rows are those the epoch was built from: then the epoch is
	 * served after a check of the file's header and size, and no row is
	 * read.  Where the check cannot be exact (a function or table triggers
	 * cannot follow), the rows are read and compared, or, for up to
	 * pgpriv.pir_refresh_seconds after the last comparison, trusted.
	 */
	stamp = join_serve_stamp(&js);
	if (read_state(js.dataset, peer, &state) && strcmp(state.stamp, stamp) == 0)
	{
		char	   *known = served_check_known(js.dataset, peer, "pir", stamp);

		if (known == NULL && pgpriv_pir_refresh_seconds > 0 &&
			!TimestampDifferenceExceeds(state.checked_at, GetCurrentTimestamp(),
										pgpriv_pir_refresh_seconds * 1000))
			fresh = true;
		else if (known != NULL)
		{
			read = dataset_rows_fetch_checked(&js.ds, js.permit.columns, known, &rows, &check,
											  "pir setup", peer);
			fresh = !read;
		}
		else
			read = dataset_rows_fetch_checked(&js.ds, js.permit.columns, NULL, &rows, &check,
											  "pir setup", peer);
		if (fresh)
		{
			f = open_checked(js.dataset, peer, &state, false);
			if (f != NULL)
				FreeFile(f);
			else
				fresh = false;	/* the file is gone: read and rebuild */
		}
	}

	/*
	 * Only the check and the rebuild are long enough to watch in
	 * pgpriv.progress.  The fresh path takes well under a millisecond, less
	 * than writing the progress file would (a file created and renamed).
	 */
	if (!fresh)
	{
		if (!read)
			(void) dataset_rows_fetch_checked(&js.ds, js.permit.columns, NULL, &rows, &check,
											  "pir setup", peer);
		version = join_serve_version(&js, &rows);

		if (read_state(js.dataset, peer, &state) && strcmp(state.version, version) == 0)
			f = open_checked(js.dataset, peer, &state, true);
		if (f != NULL)
			FreeFile(f);
		else
		{
			int64		epoch = state.found ? state.epoch + 1 : 1;

			build_epoch(&js.ds, peer, js.permit.columns, &rows, version, epoch, &state);
			audit_append_run("owner", peer, "pir", js.dataset, -1, (int64) rows.keys.n, -1, -1, "ok",
							 psprintf("PIR database built, epoch %lld", (long long) epoch), js.run);
		}
		mark_checked(js.dataset, peer, stamp);
		served_check_record(js.dataset, peer, "pir", stamp, &check);
		progress_end();
	}

	hint_bytes = lwe_pir_hint_bytes(&state.layout);
	values[0] = Int64GetDatum(state.epoch);
	values[1] = PointerGetDatum(cstring_to_text_with_len((char *) state.seed, LWE_PIR_SEED_BYTES));
	values[2] = Int32GetDatum((int32) state.layout.rows);
	values[3] = Int32GetDatum((int32) state.layout.cols);
	values[4] = Int32GetDatum((int32) state.layout.slot_bytes);
	values[5] = Int32GetDatum((int32) state.layout.slots_per_col);
	values[6] = Int32GetDatum((int32) ((hint_bytes + PIR_HINT_CHUNK_BYTES - 1) / PIR_HINT_CHUNK_BYTES));
	values[7] = PointerGetDatum(cstring_to_text_with_len((char *) state.hint_hash, PIR_HASH_BYTES));
	values[8] = PointerGetDatum(cstring_to_text_with_len((char *) state.signature, crypto_sign_BYTES));
	values[9] = oprf_table_columns_datum(js.permit.columns);
	values[10] = Int32GetDatum(pgpriv_batch_size);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* The current state, refusing any other epoch (55000: the asker re-syncs). */
static void
require_epoch(const char *dataset, const char *peer, int64 epoch, PirState *state)
{
	if (!read_state(dataset, peer, state) || state->epoch != epoch)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("PIR epoch %lld of dataset \"%s\" is not current", (long long) epoch, dataset),
				 errhint("Run pgpriv.pir_sync, or the lookup again.")));
}

static FILE *
open_for_serving(const char *dataset, const char *peer, const PirState *state)
{
	FILE	   *f = open_checked(dataset, peer, state, false);

	if (f == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("PIR epoch %lld of dataset \"%s\" is not current", (long long) state->epoch, dataset),
				 errdetail("Its database file is missing or damaged and is rebuilt at the next setup."),
				 errhint("Run the lookup again.")));
	return f;
}

/*
 * The mapping of the file answers were last served from, kept for the
 * session.  D is mapped read-only, not copied: the answer pass then runs at
 * memory speed straight from the page cache.  Mapping and unmapping ~100 MB
 * on every answer cost a few milliseconds of page faults and page-table
 * teardown (with TLB shootdowns to the worker threads' CPUs) per lookup, so
 * the mapping stays until an answer is asked from another file.  Every
 * answer still opens the file by its path and checks its header and size
 * (open_for_serving), and the mapping is reused only if that file is the
 * very one mapped (same device and inode, which cannot be recycled while
 * mapped): a rebuild writes a new file and renames it over this one, so a
 * new epoch always gets a new mapping.  The price: after a rebuild, the
 * previous file's disk space is released only when this session next
 * answers from the new one, or ends.
 */
static struct
{
	void	   *map;
	size_t		len;
	dev_t		dev;
	ino_t		ino;
}			served_map;

static uint8 *
map_for_serving(FILE *f, const char *dataset, const PirState *state)
{
	size_t		len = sizeof(PirFileHeader) + lwe_pir_db_bytes(&state->layout);
	struct stat sb;
	void	   *map;

	if (fstat(fileno(f), &sb) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat the PIR database of dataset \"%s\": %m", dataset)));
	if (served_map.map != NULL && served_map.len == len &&
		served_map.dev == sb.st_dev && served_map.ino == sb.st_ino)
		return (uint8 *) served_map.map + sizeof(PirFileHeader);

	if (served_map.map != NULL)
		(void) munmap(served_map.map, served_map.len);
	served_map.map = NULL;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fileno(f), 0);
	if (map == MAP_FAILED)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not map the PIR database of dataset \"%s\": %m", dataset)));
	served_map.map = map;
	served_map.len = len;
	served_map.dev = sb.st_dev;
	served_map.ino = sb.st_ino;
	return (uint8 *) map + sizeof(PirFileHeader);
}

/* pgpriv.serve_pir_hint(dataset, run, epoch, chunk) → bytea: bytes [chunk·C, (chunk+1)·C) of H. */
Datum
pgpriv_serve_pir_hint(PG_FUNCTION_ARGS)
{
	int64		epoch = PG_GETARG_INT64(2);
	int32		chunk = PG_GETARG_INT32(3);
	char	   *peer = session_role_name();
	JoinServe	js;
	PirState	state;
	FILE	   *f;
	size_t		hint_bytes;
	size_t		off;
	size_t		len;
	bytea	   *out;

	join_serve_begin(&js, fcinfo, "pir", NULL, NULL);
	require_epoch(js.dataset, peer, epoch, &state);
	hint_bytes = lwe_pir_hint_bytes(&state.layout);
	if (chunk < 0 || (size_t) chunk * PIR_HINT_CHUNK_BYTES >= hint_bytes)
		wire_malformed("the asker", psprintf("The hint has no chunk %d.", chunk));
	off = (size_t) chunk * PIR_HINT_CHUNK_BYTES;
	len = Min((size_t) PIR_HINT_CHUNK_BYTES, hint_bytes - off);
	f = open_for_serving(js.dataset, peer, &state);
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	read_body(f, js.dataset, lwe_pir_db_bytes(&state.layout) + off, (uint8 *) VARDATA(out), len);
	FreeFile(f);
	PG_RETURN_BYTEA_P(join_serve_reply(&js, 0, out));
}

/*
 * pgpriv.serve_pir_answer(dataset, run, epoch, queries) → bytea
 *
 * queries: count × cols little-endian uint32 words; the reply is count ×
 * rows words, answer i for query i, from one pass over D.  At most two
 * queries per admitted key and epoch; the pass that reaches that completes
 * the run.
 */
Datum
pgpriv_serve_pir_answer(PG_FUNCTION_ARGS)
{
	int64		epoch = PG_GETARG_INT64(2);
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	char	   *peer = session_role_name();
	JoinServe	js;
	PirState	state;
	FILE	   *f;
	size_t		qbytes;
	size_t		len = VARSIZE_ANY_EXHDR(msg);
	size_t		count;
	uint8	   *db;
	uint32	   *queries;
	bytea	   *reply;
	size_t		reply_len;
	lwe_pir_status st;

	join_serve_begin(&js, fcinfo, "pir", msg, NULL);
	require_epoch(js.dataset, peer, epoch, &state);
	qbytes = lwe_pir_query_bytes(&state.layout);
	if (len == 0 || len % qbytes != 0)
		wire_malformed("the asker",
					   psprintf("%zu bytes of queries is not a whole number of %zu-byte queries.", len, qbytes));
	count = len / qbytes;
	if (strcmp(answered_run, js.run) != 0 || answered_epoch != epoch)
	{
		strlcpy(answered_run, js.run, sizeof(answered_run));
		answered_epoch = epoch;
		answered_queries = 0;
	}
	if ((int64) count > 2 * js.admission->keys - answered_queries)
		wire_malformed("the asker", psprintf("More than two queries for each of the %lld keys admitted for run %s.",
											 (long long) js.admission->keys, js.run));
	if (count > PIR_MAX_ANSWER_BYTES / lwe_pir_answer_bytes(&state.layout))
		wire_malformed("the asker", psprintf("%zu queries in one message; the limit is %zu.", count,
											 (size_t) (PIR_MAX_ANSWER_BYTES / lwe_pir_answer_bytes(&state.layout))));

	/* The words arrive little-endian, as lwe_pir's uint32 arrays are laid out on this host. */
	queries = palloc_extended(len, MCXT_ALLOC_HUGE);
	memcpy(queries, VARDATA_ANY(msg), len);
	reply_len = count * lwe_pir_answer_bytes(&state.layout);
	reply = palloc_extended(VARHDRSZ + reply_len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(reply, VARHDRSZ + reply_len);

	f = open_for_serving(js.dataset, peer, &state);
	db = map_for_serving(f, js.dataset, &state);
	FreeFile(f);
	st = lwe_pir_answer_batch(&state.layout, db, count, queries, (uint32 *) VARDATA(reply),
							  pgpriv_threads_for_batch());
	if (st != LWE_PIR_OK)
		pir_status_error(st);
	pfree(queries);

	answered_queries += (int64) count;
	admission_serve(js.admission, 0, (int64) len, (int64) reply_len);
	if (answered_queries == 2 * js.admission->keys)
		admission_complete(js.admission, -1);
	admission_absorb(js.run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}
