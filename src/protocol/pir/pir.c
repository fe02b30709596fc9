/*
 * pir.c — private lookup by LWE PIR over OPRF-locked records
 * (docs/architecture.md, protocol 4; docs/pir.md), the asker's half: pir and
 * pir_sync.
 *
 * The asker admits a run for its n keys, has the owner evaluate them
 * blinded (serve_oprf, counted against max_keys), derives each key's OPRF
 * output F and from it the two candidate columns of D, and fetches the
 * current hint unless its cached copy is of the current epoch, checking the
 * hint's hash and the owner's Ed25519 signature (server option signing_key).
 * It then sends two LWE queries per key, all answered in one pass, decodes
 * both columns, looks for its tag and opens the record.  The owner sees
 * only blinded elements and LWE ciphertexts: it learns how many keys were
 * looked up, never which.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/lwe_pir.h"
#include "crypto/oprf.h"
#include "crypto/pir_cuckoo.h"
#include "peer/call.h"
#include "peer/fdw_options.h"
#include "run/ask.h"
#include "run/batch.h"
#include "protocol/join/join_ask.h"
#include "protocol/join/join_catalog.h"
#include "protocol/join/oprf_table.h"
#include "protocol/pir/pir.h"
#include "run/progress.h"
#include "run/projection.h"
#include "run/secret_mem.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_pir_key);
PG_FUNCTION_INFO_V1(pgpriv_pir_keys);
PG_FUNCTION_INFO_V1(pgpriv_pir_sync);

/*
 * A lookup of this many keys or fewer, with the hint at hand, takes tens of
 * milliseconds: its phase changes are not written to the progress file.
 * Each write creates and renames a small file, which costs about as much as
 * decoding the answers, and no one could watch a phase that short.  The run
 * itself still shows in pgpriv.progress from its start, and downloading a
 * hint always shows as a phase.
 */
#define PIR_PROGRESS_MIN_KEYS	16

/* The owner's description of the current epoch, checked. */
typedef struct PirSetup
{
	int64		epoch;
	uint8		seed[LWE_PIR_SEED_BYTES];
	lwe_pir_layout layout;
	int32		hint_chunks;
	uint8		hint_hash[PIR_HASH_BYTES];
	uint8		signature[crypto_sign_BYTES];
	List	   *columns;
	int32		batch_limit;
	const uint32 *hint;			/* rows × n words, once obtained; may be hint_memo's */
	bool		cached;
} PirSetup;

static void
malformed(const char *peer, const char *detail) pg_attribute_noreturn();

static void
malformed(const char *peer, const char *detail)
{
	wire_malformed(psprintf("peer \"%s\"", peer), detail);
}

/* The peer's Ed25519 key from the server option signing_key (22023 if absent). */
static void
peer_signing_key(const char *server, uint8 pk[32])
{
	const char *key = peer_server_option(GetForeignServerByName(server, false), "signing_key");

	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("server \"%s\" has no signing_key option, so its PIR hints cannot be checked", server),
				 errhint("Ask the database administrator to set it from the peer's pgpriv.identity_card(): "
						 "ALTER SERVER %s OPTIONS (ADD signing_key '...').", server)));
	if (!peer_decode_key(key, pk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"signing_key\" of server \"%s\" is not a key", server)));
}

/* A bytea in hex text form ("\x…") of exactly len bytes. */
static void
parse_hex_bytes(const char *text, uint8 *out, size_t len, const char *peer, const char *what)
{
	size_t		got;

	if (strncmp(text, "\\x", 2) != 0 || strlen(text + 2) != 2 * len ||
		sodium_hex2bin(out, len, text + 2, 2 * len, NULL, &got, NULL) != 0 || got != len)
		malformed(peer, psprintf("The %s is malformed.", what));
}

/* Ask the owner to set up (or keep) the current epoch; check its signature. */
static void
pir_setup(PeerCall *call, const char *dataset, const char *run, const uint8 signing_pk[32], PirSetup *s)
{
	const char *params[2] = {dataset, run};
	PGresult   *res = peer_call_text(call,
									 "SELECT epoch, seed, rows, cols, slot_bytes, slots_per_col, hint_chunks, "
									 "hint_hash, signature, columns, batch_limit FROM pgpriv.serve_pir_setup($1, $2)",
									 2, params);
	lwe_pir_layout checked;
	StringInfoData msg;
	int			i;
	size_t		hint_bytes;

	if (PQntuples(res) != 1 || PQnfields(res) != 11)
	{
		PQclear(res);
		malformed(call->peer, "The PIR setup is malformed.");
	}
	for (i = 0; i < 11; i++)
		if (PQgetisnull(res, 0, i))
		{
			PQclear(res);
			malformed(call->peer, "The PIR setup has a NULL.");
		}
	s->epoch = join_ask_parse_int(PQgetvalue(res, 0, 0), 1, PG_INT64_MAX, "epoch", call->peer);
	parse_hex_bytes(PQgetvalue(res, 0, 1), s->seed, LWE_PIR_SEED_BYTES, call->peer, "seed");
	s->layout.rows = (uint32) join_ask_parse_int(PQgetvalue(res, 0, 2), 1, LWE_PIR_MAX_ROWS, "row count", call->peer);
	s->layout.cols = (uint32) join_ask_parse_int(PQgetvalue(res, 0, 3), 1, LWE_PIR_MAX_COLS, "column count", call->peer);
	s->layout.slot_bytes = (uint32) join_ask_parse_int(PQgetvalue(res, 0, 4), PIR_RECORD_OVERHEAD,
													   PIR_RECORD_OVERHEAD + PIR_MAX_PAYLOAD_BYTES, "slot size", call->peer);
	s->layout.slots_per_col = (uint32) join_ask_parse_int(PQgetvalue(res, 0, 5), 1, LWE_PIR_MAX_ROWS, "slot count", call->peer);
	s->hint_chunks = (int32) join_ask_parse_int(PQgetvalue(res, 0, 6), 1, PG_INT32_MAX, "hint chunk count", call->peer);
	parse_hex_bytes(PQgetvalue(res, 0, 7), s->hint_hash, PIR_HASH_BYTES, call->peer, "hint hash");
	parse_hex_bytes(PQgetvalue(res, 0, 8), s->signature, crypto_sign_BYTES, call->peer, "hint signature");
	s->columns = peer_parse_text_array(PQgetvalue(res, 0, 9), call->peer);
	s->batch_limit = (int32) join_ask_parse_int(PQgetvalue(res, 0, 10), 1, PG_INT32_MAX, "batch limit", call->peer);
	PQclear(res);

	if (lwe_pir_layout_for_shape(s->layout.rows, s->layout.cols, &checked) != LWE_PIR_OK ||
		(uint64) s->layout.slots_per_col * s->layout.slot_bytes > s->layout.rows)
		malformed(call->peer, "The PIR layout is impossible.");
	hint_bytes = lwe_pir_hint_bytes(&s->layout);
	if ((size_t) s->hint_chunks != (hint_bytes + PIR_HINT_CHUNK_BYTES - 1) / PIR_HINT_CHUNK_BYTES)
		malformed(call->peer, "The hint chunk count does not match the layout.");
	if (hint_bytes > (size_t) pgpriv_max_table_mb * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the PIR hint of dataset \"%s\" at peer \"%s\" exceeds pgpriv.max_table_mb (%d MB)",
						dataset, call->peer, pgpriv_max_table_mb)));

	initStringInfo(&msg);
	pir_signed_message(&msg, dataset, peer_remote_user(call->peer), s->epoch, s->seed, &s->layout,
					   s->columns, s->hint_hash);
	if (crypto_sign_verify_detached(s->signature, (const uint8 *) msg.data, msg.len, signing_pk) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the PIR hint of dataset \"%s\" from peer \"%s\" does not carry a valid signature",
						dataset, call->peer),
				 errdetail("The signature does not verify under the server's signing_key option."),
				 errhint("Check signing_key against the peer's pgpriv.identity_card().")));
	s->hint = NULL;
	s->cached = false;
}

/* The cached hint for this epoch and hash, or NULL. */
static uint32 *
hint_cache_load(const char *server, const char *remote_user, const char *dataset, const PirSetup *s)
{
	CatalogSession cs;
	const char *texts[3] = {server, remote_user, dataset};
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, BYTEAOID};
	Datum		args[5];
	uint32	   *hint = NULL;
	size_t		hint_bytes = lwe_pir_hint_bytes(&s->layout);
	MemoryContext caller = CurrentMemoryContext;

	join_catalog_texts(3, texts, args);
	args[3] = Int64GetDatum(s->epoch);
	args[4] = PointerGetDatum(cstring_to_text_with_len((const char *) s->hint_hash, PIR_HASH_BYTES));
	catalog_open(&cs, true);
	catalog_exec("SELECT hint FROM pgpriv.peer_pir WHERE server = $1 AND remote_user = $2 "
				 "AND dataset = $3 AND epoch = $4 AND hint_hash = $5",
				 5, types, args, NULL, true, 1, SPI_OK_SELECT, "read pgpriv.peer_pir");
	if (SPI_processed == 1)
	{
		bool		isnull;
		bytea	   *b = DatumGetByteaPP(catalog_value(0, 1, &isnull));
		uint8		h[PIR_HASH_BYTES];

		/* Check the copy too: a damaged cache is refetched, never used. */
		if (!isnull && VARSIZE_ANY_EXHDR(b) == hint_bytes)
		{
			crypto_generichash(h, sizeof(h), (const uint8 *) VARDATA_ANY(b), hint_bytes, NULL, 0);
			if (sodium_memcmp(h, s->hint_hash, sizeof(h)) == 0)
			{
				hint = MemoryContextAllocHuge(caller, hint_bytes);
				memcpy(hint, VARDATA_ANY(b), hint_bytes);
			}
		}
	}
	catalog_close(&cs);
	return hint;
}

static void
hint_cache_store(const char *server, const char *remote_user, const char *dataset, const PirSetup *s)
{
	CatalogSession cs;
	const char *texts[3] = {server, remote_user, dataset};
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, BYTEAOID, BYTEAOID};
	Datum		args[6];
	size_t		hint_bytes = lwe_pir_hint_bytes(&s->layout);
	bytea	   *b = palloc_extended(VARHDRSZ + hint_bytes, MCXT_ALLOC_HUGE);

	SET_VARSIZE(b, VARHDRSZ + hint_bytes);
	memcpy(VARDATA(b), s->hint, hint_bytes);
	join_catalog_texts(3, texts, args);
	args[3] = Int64GetDatum(s->epoch);
	args[4] = PointerGetDatum(cstring_to_text_with_len((const char *) s->hint_hash, PIR_HASH_BYTES));
	args[5] = PointerGetDatum(b);
	catalog_open(&cs, true);
	catalog_exec("INSERT INTO pgpriv.peer_pir (server, remote_user, dataset, epoch, hint_hash, hint) "
				 "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (server, remote_user, dataset) DO UPDATE "
				 "SET epoch = EXCLUDED.epoch, hint_hash = EXCLUDED.hint_hash, hint = EXCLUDED.hint, "
				 "fetched_at = pg_catalog.clock_timestamp()",
				 6, types, args, NULL, false, 0, SPI_OK_INSERT, "store pgpriv.peer_pir");
	catalog_close(&cs);
	pfree(b);
}

/*
 * The last hint this backend used, already checked against its signed hash:
 * repeated lookups in one session skip reading and re-hashing the table
 * copy (tens of megabytes for a large dataset).
 */
static struct
{
	char	   *key;			/* server, remote user and dataset */
	int64		epoch;
	uint8		hash[PIR_HASH_BYTES];
	uint32	   *hint;
	size_t		bytes;
}			hint_memo;

static char *
hint_memo_key(const char *server, const char *remote_user, const char *dataset)
{
	return psprintf("%s|%s|%s", server, remote_user, dataset);
}

static void
hint_memo_store(const char *key, const PirSetup *s, size_t hint_bytes)
{
	if (hint_memo.hint)
		pfree(hint_memo.hint);
	if (hint_memo.key)
		pfree(hint_memo.key);
	hint_memo.hint = NULL;
	hint_memo.key = MemoryContextStrdup(TopMemoryContext, key);
	hint_memo.hint = MemoryContextAllocExtended(TopMemoryContext, hint_bytes,
												MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (hint_memo.hint == NULL)
		return;					/* no room: the table copy still serves */
	memcpy(hint_memo.hint, s->hint, hint_bytes);
	hint_memo.bytes = hint_bytes;
	hint_memo.epoch = s->epoch;
	memcpy(hint_memo.hash, s->hint_hash, PIR_HASH_BYTES);
}

/* The hint of the current epoch: remembered, cached, or downloaded, checked against its signed hash and cached. */
static void
pir_obtain_hint(PeerCall *call, const char *dataset, const char *run, PirSetup *s)
{
	char	   *remote_user = peer_remote_user(call->peer);
	size_t		hint_bytes = lwe_pir_hint_bytes(&s->layout);
	size_t		off = 0;
	int32		c;
	char		epochbuf[24];
	char		chunkbuf[16];
	uint8		h[PIR_HASH_BYTES];
	uint32	   *hint;
	char	   *memo_key = hint_memo_key(call->peer, remote_user, dataset);

	/*
	 * The remembered copy is used in place, read-only: copying tens of
	 * megabytes (and faulting in a fresh allocation for them) cost more
	 * than decoding.  It is only replaced by hint_memo_store, which runs
	 * after s->hint has been reset for a new setup.
	 */
	if (hint_memo.hint != NULL && strcmp(hint_memo.key, memo_key) == 0 &&
		hint_memo.epoch == s->epoch && hint_memo.bytes == hint_bytes &&
		memcmp(hint_memo.hash, s->hint_hash, PIR_HASH_BYTES) == 0)
	{
		s->hint = hint_memo.hint;
		s->cached = true;
		return;
	}

	s->hint = hint_cache_load(call->peer, remote_user, dataset, s);
	if (s->hint != NULL)
	{
		s->cached = true;
		hint_memo_store(memo_key, s, hint_bytes);
		return;
	}
	progress_phase("asker: downloading the hint", s->hint_chunks);
	hint = palloc_extended(hint_bytes, MCXT_ALLOC_HUGE);
	snprintf(epochbuf, sizeof(epochbuf), "%lld", (long long) s->epoch);
	for (c = 0; c < s->hint_chunks; c++)
	{
		const char *params[4] = {dataset, run, epochbuf, chunkbuf};
		bytea	   *chunk;
		size_t		want = Min((size_t) PIR_HINT_CHUNK_BYTES, hint_bytes - off);

		snprintf(chunkbuf, sizeof(chunkbuf), "%d", c);
		chunk = peer_call_bytea(call, "SELECT pgpriv.serve_pir_hint($1, $2, $3::pg_catalog.int8, $4::pg_catalog.int4)", 4, params, NULL);
		if (VARSIZE_ANY_EXHDR(chunk) != want)
			malformed(call->peer, psprintf("Hint chunk %d has %zu bytes, %zu were expected.",
										   c, (size_t) VARSIZE_ANY_EXHDR(chunk), want));
		memcpy((uint8 *) hint + off, VARDATA_ANY(chunk), want);
		off += want;
		pfree(chunk);
		progress_advance(c + 1, call->bytes_in, call->bytes_out);
	}
	crypto_generichash(h, sizeof(h), (const uint8 *) hint, hint_bytes, NULL, 0);
	if (sodium_memcmp(h, s->hint_hash, sizeof(h)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the PIR hint of dataset \"%s\" from peer \"%s\" does not match its signed hash",
						dataset, call->peer)));
	s->hint = hint;
	hint_cache_store(call->peer, remote_user, dataset, s);
	hint_memo_store(memo_key, s, hint_bytes);
}

/* Admit a run of nkeys at the owner. */
static void
pir_admit(PeerCall *call, const char *dataset, const char *run, size_t nkeys)
{
	run_ask_admit(call, dataset, "pir", run, (int64) nkeys, NULL);
}

/* The owner evaluates the blinded keys (max_keys counts these); F per key into outputs. */
static void
pir_evaluate(PeerCall *call, const char *dataset, const char *run, const KeySet *keys,
			 int32 batch_limit, uint8 *outputs)
{
	size_t		n = keys->n;
	uint8	   *blinds = secret_palloc(Max(n, 1) * 32);
	uint8	   *blinded = palloc_extended(Max(n, 1) * 32, MCXT_ALLOC_HUGE);

	if (n > PIR_PROGRESS_MIN_KEYS)
		progress_phase("asker: blinded OPRF evaluation", n);
	batch_random_scalars(n, blinds);
	batch_blind(keys, blinds, blinded);
	join_ask_evaluate(call, dataset, "pir", run, keys, blinds, blinded,
					  (size_t) Min(pgpriv_batch_size, batch_limit), outputs, NULL);
	sodium_memzero(blinds, Max(n, 1) * 32);
}

/* One opened record: the key it answers and its payload values. */
typedef struct PirHit
{
	size_t		key;
	char	  **values;
} PirHit;

/*
 * Queries for both candidate columns of every key, answered in as few
 * passes as the message limit allows; decodes, finds tags and opens records.
 * Fresh s and e for every query.
 */
static List *
pir_lookup(PeerCall *call, const char *dataset, const char *run, const PirSetup *s,
		   const KeySet *keys, const uint8 *outputs)
{
	const lwe_pir_layout *L = &s->layout;
	size_t		n = keys->n;
	size_t		nq = 2 * n;
	size_t		qbytes = lwe_pir_query_bytes(L);
	size_t		abytes = lwe_pir_answer_bytes(L);
	size_t		per = Max((size_t) 2, (PIR_MAX_ANSWER_BYTES / Max(qbytes, abytes)) & ~(size_t) 1);
	uint32	   *cols = secret_palloc(Max(nq, 1) * sizeof(uint32));	/* which columns: which keys */
	uint8	   *columns = secret_palloc(Min(per, nq) * L->rows);
	lwe_pir_secret *secrets = secret_palloc(Min(per, nq) * sizeof(lwe_pir_secret));
	char	   *ad = oprf_table_seal_context(dataset, "pir");
	char		epochbuf[24];
	StringInfoData plain;
	List	   *hits = NIL;
	int			ncol = list_length(s->columns);
	size_t		start;
	size_t		i;

	snprintf(epochbuf, sizeof(epochbuf), "%lld", (long long) s->epoch);
	for (i = 0; i < n; i++)
		pir_cuckoo_columns(L, outputs + i * OPRF_OUTPUT_BYTES, cols + 2 * i);
	initStringInfo(&plain);
	if (n > PIR_PROGRESS_MIN_KEYS)
		progress_phase("asker: PIR queries, owner's answer pass", nq);
	for (start = 0; start < nq; start += per)
	{
		size_t		m = Min(per, nq - start);
		bytea	   *msg = palloc_extended(VARHDRSZ + m * qbytes, MCXT_ALLOC_HUGE);
		const char *params[3] = {dataset, run, epochbuf};
		bytea	   *reply;
		uint32	   *answers;
		lwe_pir_status st;
		size_t		q;

		SET_VARSIZE(msg, VARHDRSZ + m * qbytes);
		st = lwe_pir_query_batch(L, s->seed, m, cols + start, (uint32 *) VARDATA(msg), secrets,
								 pgpriv_threads_for_batch());
		if (st != LWE_PIR_OK)
			ereport(ERROR,
					(errcode(st == LWE_PIR_NO_MEMORY ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
					 errmsg("could not make PIR queries"),
					 errdetail("%s", lwe_pir_status_reason(st))));
		reply = peer_call_bytea(call, "SELECT pgpriv.serve_pir_answer($1, $2, $3::pg_catalog.int8, $4)", 3, params, msg);
		pfree(msg);
		if (VARSIZE_ANY_EXHDR(reply) != m * abytes)
			malformed(call->peer, psprintf("The PIR answer has %zu bytes, %zu were expected.",
										   (size_t) VARSIZE_ANY_EXHDR(reply), m * abytes));
		/* Both answers of a key (all of this message's) decoded in one pass over the hint. */
		answers = palloc_extended(m * abytes, MCXT_ALLOC_HUGE);
		memcpy(answers, VARDATA_ANY(reply), m * abytes);
		st = lwe_pir_decode_batch(L, s->hint, m, secrets, answers, columns, pgpriv_threads_for_batch());
		for (q = 0; q < m; q++)
			lwe_pir_secret_wipe(&secrets[q]);
		pfree(answers);
		if (st != LWE_PIR_OK)
			malformed(call->peer, lwe_pir_status_reason(st));
		for (q = 0; q < m; q++)
		{
			size_t		k = (start + q) / 2;
			const uint8 *F = outputs + k * OPRF_OUTPUT_BYTES;
			const uint8 *column = columns + q * L->rows;
			uint32		t;

			/* Both candidates of a key are the same column only when m = 1. */
			if ((start + q) % 2 == 1 && cols[start + q] == cols[start + q - 1])
				continue;
			for (t = 0; t < L->slots_per_col; t++)
			{
				const uint8 *rec = column + (size_t) t * L->slot_bytes;
				EntryRef	e;
				uint32		len;

				if (sodium_memcmp(rec, F, TAG_BYTES) != 0)
					continue;
				e.bytes = rec;
				e.len = L->slot_bytes;
				if (!oprf_table_entry_open(&e, F, ad, &plain))
					wire_malformed(psprintf("peer \"%s\"", call->peer),
								   "A PIR record with a matching tag does not open.");
				if (plain.len < 4)
					malformed(call->peer, "An opened PIR record is too short.");
				memcpy(&len, plain.data, 4);
				len = pg_ntoh32(len);
				if (len > (uint32) plain.len - 4)
					malformed(call->peer, "An opened PIR record announces more bytes than it has.");
				memmove(plain.data, plain.data + 4, len);
				plain.len = (int) len;
				{
					PirHit	   *hit = palloc(sizeof(PirHit));

					hit->key = k;
					hit->values = palloc(sizeof(char *) * Max(ncol, 1));
					oprf_table_payload_split(&plain, ncol, hit->values, call->peer);
					hits = lappend(hits, hit);
				}
			}
		}
		sodium_memzero(columns, m * L->rows);
		pfree(reply);
		progress_advance(start + m, call->bytes_in, call->bytes_out);
		CHECK_FOR_INTERRUPTS();
	}
	return hits;
}

/*
 * Setup (unless set_up: done already), hint and lookup; on a stale epoch (55000) once more from
 * the setup, with fresh secrets.
 */
static List *
pir_run(PeerCall *call, const char *dataset, const char *run, const uint8 signing_pk[32],
		const KeySet *keys, PirSetup *s, bool set_up, bool evaluate, uint8 *outputs)
{
	int			attempt;

	for (attempt = 0;; attempt++)
	{
		MemoryContext cxt = CurrentMemoryContext;
		List	   *volatile hits = NIL;

		PG_TRY();
		{
			if (attempt > 0 || !set_up)
				pir_setup(call, dataset, run, signing_pk, s);
			pir_obtain_hint(call, dataset, run, s);
			if (evaluate && attempt == 0)
				pir_evaluate(call, dataset, run, keys, s->batch_limit, outputs);
			if (outputs != NULL && keys->n > 0)
				hits = pir_lookup(call, dataset, run, s, keys, outputs);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			if (attempt > 0 || edata->sqlerrcode != ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE)
			{
				FreeErrorData(edata);
				PG_RE_THROW();
			}
			FlushErrorState();
			FreeErrorData(edata);
			continue;
		}
		PG_END_TRY();
		return hits;
	}
}

static void
pir_audit(PeerCall *call, const char *dataset, const char *run, size_t nkeys, int64 rows_out,
		  const PirSetup *s, AuditWatch *watch)
{
	run_ask_close(call, watch, run, "pir", dataset, (int64) nkeys, rows_out,
				  psprintf("run %s, epoch %lld, hint %s", run, (long long) s->epoch,
						   s->cached ? "cached" : "downloaded"));
}

/*
 * The common body of pir(peer, dataset, key) and pir(peer, dataset, keys[]):
 * the caller's column definition list is the projection, as for psi_fetch.
 */
static Datum
pir_common(FunctionCallInfo fcinfo, const char *server, const char *dataset, KeySet *keys)
{
	Projection	proj;
	PeerCall	call;
	AuditWatch	watch;
	PirSetup	s;
	uint8		signing_pk[32];
	char	   *run;
	uint8	   *outputs;
	List	   *hits;
	ListCell   *lc;
	int64		rows_out = 0;

	projection_begin(fcinfo, "pgpriv.pir",
					 "SELECT * FROM pgpriv.pir('gov', 'tax', '91110000') AS t(code text, tax_grade text)",
					 &proj);

	if (keys->n == 0)
		return (Datum) 0;		/* nothing to look up: the peer is not called */
	peer_signing_key(server, signing_pk);
	run = run_ask_open(&call, &watch, server, "pir", "pir", dataset, (int64) keys->n,
					   (int64) keys->n);
	/* A column definition list that asks for more than the permit costs nothing. */
	projection_map(&proj, peer_permitted_columns(&call, dataset, "pir"), "pir", dataset, server);
	pir_admit(&call, dataset, run, keys->n);

	/* The permit could have changed since the check before admission. */
	pir_setup(&call, dataset, run, signing_pk, &s);
	projection_map(&proj, s.columns, "pir", dataset, server);

	outputs = secret_palloc(Max(keys->n, 1) * OPRF_OUTPUT_BYTES);
	hits = pir_run(&call, dataset, run, signing_pk, keys, &s, true, true, outputs);
	sodium_memzero(outputs, Max(keys->n, 1) * OPRF_OUTPUT_BYTES);

	foreach(lc, hits)
	{
		PirHit	   *hit = (PirHit *) lfirst(lc);

		projection_emit(&proj, fcinfo, keys->text[hit->key], hit->values);
		rows_out++;
	}
	pir_audit(&call, dataset, run, keys->n, rows_out, &s, &watch);
	return (Datum) 0;
}

/* pgpriv.pir(peer name, dataset text, key text) → SETOF record */
Datum
pgpriv_pir_key(PG_FUNCTION_ARGS)
{
	KeySet		keys;
	KeyBuilder	b;

	key_builder_init(&b, &keys);
	key_builder_add(&b, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	return pir_common(fcinfo, NameStr(*PG_GETARG_NAME(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &keys);
}

/* pgpriv.pir(peer name, dataset text, keys text[]) → SETOF record; NULL elements are skipped. */
Datum
pgpriv_pir_keys(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	KeySet		keys;
	KeyBuilder	b;

	key_builder_init(&b, &keys);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the keys of pgpriv.pir must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			key_builder_add(&b, TextDatumGetCString(elems[i]));
	return pir_common(fcinfo, NameStr(*PG_GETARG_NAME(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &keys);
}

/* pgpriv.pir_sync(peer name, dataset text) → void: fetch or refresh the hint. */
Datum
pgpriv_pir_sync(PG_FUNCTION_ARGS)
{
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PeerCall	call;
	PirSetup	s;
	uint8		signing_pk[32];
	char	   *run;
	KeySet		none = {0};

	peer_signing_key(server, signing_pk);
	run = run_ask_open(&call, NULL, server, "pir_sync", "pir_sync", dataset, 0, 0);
	pir_admit(&call, dataset, run, 0);
	(void) pir_run(&call, dataset, run, signing_pk, &none, &s, false, false, NULL);
	pir_audit(&call, dataset, run, 0, 0, &s, NULL);
	PG_RETURN_VOID();
}
