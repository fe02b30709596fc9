/*
 * psi_oprf.c — blinded join by OPRF table: psi and psi_fetch
 * (docs/architecture.md, protocol 1), the owner's half and the asker's half.
 *
 * Owner.  For each (dataset, peer role) there is a long-term OPRF key k.
 * From it the owner materialises an encrypted table: per row
 * F = OPRF(k, key) (RFC 9497 Evaluate), tag = F[0..16), and for psi_fetch the
 * permitted columns sealed with XChaCha20-Poly1305 under F[32..64) and a
 * random nonce.  Entries are sorted by tag, which hides the dataset's row
 * order.  The table is versioned by a digest of everything it depends on (the
 * rows, the key generation, the permit's columns), so a data change or a key
 * rotation yields a new version and an unchanged dataset keeps its version.
 *
 * Asker.  Blinds its keys, has the owner evaluate the blinded elements
 * (counted against max_keys), finalizes, fetches the encrypted table unless
 * its cached copy has the current version, and matches tags; for psi_fetch
 * it opens the matching entries.
 *
 * What crosses the wire: blinded and evaluated ristretto255 elements, the
 * sorted tags and sealed payloads.  The owner learns how many keys were
 * asked; the asker learns which of its keys are present, their permitted
 * columns (psi_fetch), and the number of rows in the dataset.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/fmgroids.h"
#include "common/hashfn.h"
#include "port/pg_bswap.h"

#include "pgpriv.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/oprf.h"
#include "peer/call.h"
#include "catalog/receipt.h"
#include "run/ask.h"
#include "run/admission.h"
#include "run/batch.h"
#include "run/keys.h"
#include "protocol/join/join_ask.h"
#include "protocol/join/join_catalog.h"
#include "protocol/join/join_serve.h"
#include "protocol/join/oprf_table.h"
#include "protocol/join/psi_ot.h"
#include "run/progress.h"
#include "run/projection.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_psi_table);
PG_FUNCTION_INFO_V1(pgpriv_serve_psi_chunk);
PG_FUNCTION_INFO_V1(pgpriv_serve_oprf);
PG_FUNCTION_INFO_V1(pgpriv_psi);
PG_FUNCTION_INFO_V1(pgpriv_psi_fetch);

/* The capabilities this protocol serves. */
static void
check_capability(const char *capability)
{
	join_check_psi_capability(capability, "the OPRF table");
}

/* serve_oprf also evaluates the keys of a pir run (protocol 4). */
static void
check_oprf_capability(const char *capability)
{
	if (strcmp(capability, "pir") != 0)
		check_capability(capability);
}

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

/*
 * pgpriv.serve_psi_table(dataset, capability, run)
 *   → TABLE(version text, entries bigint, chunks int, columns text[], batch_limit int)
 *
 * Called by a peer for an admitted run: rebuilds the encrypted table if the
 * dataset changed, and describes it.
 */
Datum
pgpriv_serve_psi_table(PG_FUNCTION_ARGS)
{
	JoinServe	js;
	char	   *peer = session_role_name();
	DatasetRows rows;
	char	   *version;
	char	   *current;
	char	   *known;
	char	   *prefix;
	ChangeCheck check;
	int64		entries = 0;
	int32		chunks = 0;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	join_serve_begin(&js, fcinfo, NULL, NULL, check_capability);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "serve_psi_table must return a composite type");

	/* One builder at a time per (dataset, peer, capability). */
	DirectFunctionCall1(pg_advisory_xact_lock_int8,
						Int64GetDatum((int64) hash_bytes((const unsigned char *) psprintf("%s|%s|%s", js.dataset, peer, js.capability),
														 strlen(js.dataset) + strlen(peer) + strlen(js.capability) + 2)));

	/*
	 * The change check (catalog/change_check.h): while the stored table's
	 * dataset is unchanged, in this very snapshot, the table is served as
	 * it is and no row is read.  The prefix ties the stamp to the catalog
	 * version (republish, key rotation) and the permitted columns.
	 */
	prefix = psprintf("%s|", join_serve_stamp(&js));
	current = oprf_table_stored_version(js.dataset, peer, js.capability, &entries, &chunks);
	known = current ? served_check_known(js.dataset, peer, js.capability, prefix) : NULL;
	if (dataset_rows_fetch_checked(&js.ds, js.permit.columns, known, &rows, &check, "psi table", peer))
	{
		version = join_serve_version(&js, &rows);
		if (current == NULL || strcmp(current, version) != 0)
		{
			oprf_table_build(&js.ds, peer, js.capability, js.permit.columns, &rows, version, &entries, &chunks);
			audit_append_run("owner", peer, js.capability, js.dataset, -1, entries, -1, -1,
							 "ok", psprintf("encrypted table built, version %s", version), js.run);
		}
		served_check_record(js.dataset, peer, js.capability, prefix, &check);
		progress_end();
	}
	else
		version = current;

	values[0] = CStringGetTextDatum(version);
	values[1] = Int64GetDatum(entries);
	values[2] = Int32GetDatum(chunks);
	values[3] = oprf_table_columns_datum(js.permit.columns);
	values[4] = Int32GetDatum(pgpriv_batch_size);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* pgpriv.serve_psi_chunk(dataset, capability, run, version, chunk) → bytea */
Datum
pgpriv_serve_psi_chunk(PG_FUNCTION_ARGS)
{
	CatalogSession cs;
	JoinServe	js;
	char	   *version = text_to_cstring(PG_GETARG_TEXT_PP(3));
	int32		chunk = PG_GETARG_INT32(4);
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		args[5];
	bytea	   *out = NULL;
	MemoryContext caller = CurrentMemoryContext;

	join_serve_begin(&js, fcinfo, NULL, NULL, check_capability);
	{
		const char *texts[4] = {js.dataset, session_role_name(), js.capability, version};

		join_catalog_texts(4, texts, args);
	}
	args[4] = Int32GetDatum(chunk);
	catalog_open(&cs, false);
	catalog_exec("SELECT data FROM pgpriv.served_table WHERE dataset = $1 AND peer_role = $2 "
				 "AND capability = $3 AND version = $4 AND chunk = $5",
				 5, types, args, NULL, true, 1, SPI_OK_SELECT, "read pgpriv.served_table");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = catalog_value(0, 1, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		out = DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(spi);
	}
	catalog_close(&cs);
	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("encrypted table of dataset \"%s\" has no chunk %d at version %s", js.dataset, chunk, version),
				 errhint("The dataset changed during the run; run the query again.")));
	PG_RETURN_BYTEA_P(join_serve_reply(&js, 0, out));
}

/*
 * pgpriv.serve_oprf(dataset, capability, run, blinded bytea) → bytea
 *
 * RFC 9497 BlindEvaluate of one batch of the asker's blinded elements, for a
 * run admitted (and charged to the budget) by serve_admit; never more keys
 * than were admitted.  The batch that completes the run writes its audit row.
 */
Datum
pgpriv_serve_oprf(PG_FUNCTION_ARGS)
{
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	JoinServe	js;
	uint32		count;
	const uint8 *elements;
	uint8	   *evaluated;
	uint8		sk[32];
	bytea	   *reply;

	join_serve_begin(&js, fcinfo, NULL, msg, check_oprf_capability);
	elements = wire_unpack_fixed(msg, WIRE_BLINDED, OPRF_ELEMENT_BYTES,
								 (uint32) pgpriv_batch_size, &count, "the asker");
	/* Never compute for more keys than were admitted: count them first. */
	admission_serve(js.admission, count, VARSIZE_ANY_EXHDR(msg), 0);

	evaluated = palloc_extended(Max(count, 1) * (Size) OPRF_ELEMENT_BYTES, MCXT_ALLOC_HUGE);
	oprf_key_for_peer(js.dataset, js.capability, sk, NULL);
	PG_TRY();
	{
		batch_mult(count, sk, elements, evaluated, "the asker");
	}
	PG_FINALLY();
	{
		sodium_memzero(sk, sizeof(sk));
	}
	PG_END_TRY();

	reply = wire_pack_fixed(WIRE_EVALUATED, evaluated, count, OPRF_ELEMENT_BYTES);
	admission_serve(js.admission, 0, 0, VARSIZE_ANY_EXHDR(reply));
	/* A pir run goes on to its answer pass, which completes it. */
	if (js.admission->served == js.admission->keys && strcmp(js.capability, "pir") != 0)
		admission_complete(js.admission, js.admission->served);
	admission_absorb(js.run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

typedef struct TableInfo
{
	char	   *version;
	int64		entries;
	int32		chunks;
	List	   *columns;
	int32		batch_limit;
} TableInfo;

static const char *const table_info_sql =
"SELECT version, entries, chunks, columns, batch_limit FROM pgpriv.serve_psi_table($1, $2, $3)";

/* Parse the owner's description of its table (the reply to table_info_sql). */
static void
parse_table_info(PeerCall *call, PGresult *res, TableInfo *info)
{
	if (PQntuples(res) != 1 || PQnfields(res) != 5 ||
		PQgetisnull(res, 0, 0) || strlen(PQgetvalue(res, 0, 0)) != 32)
	{
		PQclear(res);
		wire_malformed(psprintf("peer \"%s\"", call->peer), "The table description is malformed.");
	}
	info->version = pstrdup(PQgetvalue(res, 0, 0));
	info->entries = join_ask_parse_int(PQgetvalue(res, 0, 1), 0, PG_INT64_MAX, "entry count", call->peer);
	info->chunks = (int32) join_ask_parse_int(PQgetvalue(res, 0, 2), 1, PG_INT32_MAX, "chunk count", call->peer);
	info->columns = peer_parse_text_array(PQgetvalue(res, 0, 3), call->peer);
	info->batch_limit = (int32) join_ask_parse_int(PQgetvalue(res, 0, 4), 1, PG_INT32_MAX, "batch limit", call->peer);
	PQclear(res);
}

/* Get the table at info->version: from the cache, or downloaded and cached. */
static List *
obtain_table(PeerCall *call, const char *dataset, const char *capability, const char *run,
			 const TableInfo *info, bool *cached)
{
	char	   *remote_user = peer_remote_user(call->peer);
	List	   *chunks = oprf_table_cache_load(call->peer, remote_user, dataset, capability, info->version);
	int32		c;
	int64		total = 0;
	int64		limit = (int64) pgpriv_max_table_mb * 1024 * 1024;
	char		chunkbuf[16];

	if (list_length(chunks) == info->chunks)
	{
		*cached = true;
		return chunks;
	}
	*cached = false;
	chunks = NIL;
	progress_phase("asker: downloading the encrypted table", info->chunks);
	for (c = 0; c < info->chunks; c++)
	{
		const char *params[5] = {dataset, capability, run, info->version, chunkbuf};
		bytea	   *chunk;

		snprintf(chunkbuf, sizeof(chunkbuf), "%d", c);
		chunk = peer_call_bytea(call, "SELECT pgpriv.serve_psi_chunk($1, $2, $3, $4, $5::pg_catalog.int4)", 5, params, NULL);
		total += VARSIZE_ANY_EXHDR(chunk);
		if (total > limit)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the encrypted table of dataset \"%s\" at peer \"%s\" exceeds pgpriv.max_table_mb (%d MB)",
							dataset, call->peer, pgpriv_max_table_mb)));
		chunks = lappend(chunks, chunk);
		progress_advance(c + 1, call->bytes_in, call->bytes_out);
	}
	oprf_table_cache_store(call->peer, remote_user, dataset, capability, info->version, chunks);
	return chunks;
}

typedef struct JoinRun
{
	PeerCall	call;
	KeySet		keys;
	TableInfo	info;
	Table		table;
	uint8	   *blinds;			/* secret: wiped when the run ends */
	uint8	   *blinded;
	uint8	   *outputs;		/* OPRF outputs of the keys, 64 bytes each */
	bool		cached;
	char	   *run;
	AuditWatch	watch;			/* a failure from here on is audited */
} JoinRun;

/*
 * What psi and psi_fetch share, first half: keys, blinding and the owner's
 * table.  The keys are blinded while the owner reads its dataset and, if it
 * changed, rebuilds its table: the two sides' work overlaps.
 */
static void
join_begin(JoinRun *jr, const char *server, const char *dataset, const char *capability,
		   Projection *proj)
{
	List	   *chunks;
	size_t		n = jr->keys.n;

	jr->run = run_ask_open(&jr->call, &jr->watch, server, capability, capability, dataset,
						   (int64) n, (int64) n);

	/* A column definition list that asks for more than the permit costs nothing. */
	if (proj)
		projection_map(proj, peer_permitted_columns(&jr->call, dataset, capability),
					   capability, dataset, server);

	/* The owner admits the run (permit, budget, audit) before anything else. */
	run_ask_admit(&jr->call, dataset, capability, jr->run, (int64) n, NULL);
	{
		const char *params[3] = {dataset, capability, jr->run};

		peer_call_send_text(&jr->call, table_info_sql, 3, params);
	}

	progress_phase("asker: blinding keys (owner prepares its table)", n);
	jr->blinds = palloc_extended(Max(n, 1) * 32, MCXT_ALLOC_HUGE);
	jr->blinded = palloc_extended(Max(n, 1) * 32, MCXT_ALLOC_HUGE);
	batch_random_scalars(n, jr->blinds);
	batch_blind(&jr->keys, jr->blinds, jr->blinded);

	progress_phase("asker: owner prepares its table", 0);
	parse_table_info(&jr->call, peer_call_finish_text(&jr->call), &jr->info);
	chunks = obtain_table(&jr->call, dataset, capability, jr->run, &jr->info, &jr->cached);
	oprf_table_index(chunks, jr->info.entries, server, strcmp(capability, "psi_fetch") == 0, &jr->table);
}

/*
 * The asker's keys, and the protocol that runs (docs/psi.md, "protocol
 * choice"): false if the run is over already — no key to ask (the peer is
 * not called), or it ran over ot (psi_ot.c).
 */
static bool
join_keys(JoinRun *jr, FunctionCallInfo fcinfo, const char *server, const char *dataset,
		  const char *capability, const char *keys_query, Projection *proj)
{
	keys_collect(keys_query, &jr->keys);
	if (jr->keys.n == 0)
		return false;
	if (psi_ot_chosen(server, dataset, capability, jr->keys.n))
	{
		psi_ot_ask(fcinfo, server, dataset, capability, &jr->keys, proj);
		return false;
	}
	return true;
}

/*
 * Second half: the owner evaluates the blinded keys (this is what max_keys
 * counts), batch by batch; while it works on batch i+1 the asker finalizes
 * batch i.
 */
static void
join_evaluate(JoinRun *jr, const char *dataset, const char *capability)
{
	size_t		n = jr->keys.n;

	jr->outputs = palloc_extended(Max(n, 1) * OPRF_OUTPUT_BYTES, MCXT_ALLOC_HUGE);
	join_ask_evaluate(&jr->call, dataset, capability, jr->run, &jr->keys, jr->blinds, jr->blinded,
					  (size_t) Min(pgpriv_batch_size, jr->info.batch_limit), jr->outputs,
					  "asker: owner evaluates, asker finalizes");
	sodium_memzero(jr->blinds, Max(n, 1) * 32);
	progress_phase("asker: matching", n);
}

static void
join_audit(JoinRun *jr, const char *dataset, const char *capability, int64 keys_out)
{
	run_ask_close(&jr->call, &jr->watch, jr->run, capability, dataset, (int64) jr->keys.n, keys_out,
				  psprintf("run %s, protocol table, version %s%s", jr->run, jr->info.version,
						   jr->cached ? " (cached)" : " (downloaded)"));
}

/*
 * Set up a materialised result of one text column.  (RETURNS TABLE(key
 * text) is a set of scalars to the executor, so InitMaterializedSRF's row
 * type lookup does not apply.)
 */
static void
materialize_key_srf(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc	desc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	desc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(desc, (AttrNumber) 1, "key", TEXTOID, -1, 0);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
											  false, work_mem);
	rsinfo->setDesc = desc;
	MemoryContextSwitchTo(old);
}

/* pgpriv.psi(peer name, dataset text, keys_query text) → TABLE(key text) */
Datum
pgpriv_psi(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *keys_query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	JoinRun		jr;
	size_t		i;
	int64		matched = 0;

	materialize_key_srf(fcinfo);
	if (!join_keys(&jr, fcinfo, server, dataset, "psi", keys_query, NULL))
		return (Datum) 0;
	join_begin(&jr, server, dataset, "psi", NULL);
	join_evaluate(&jr, dataset, "psi");
	for (i = 0; i < jr.keys.n; i++)
	{
		const uint8 *tag = jr.outputs + i * OPRF_OUTPUT_BYTES;
		size_t		pos = oprf_table_lower_bound(&jr.table, tag);

		if (pos < jr.table.n && memcmp(jr.table.entries[pos].bytes, tag, TAG_BYTES) == 0)
		{
			Datum		v = CStringGetTextDatum(jr.keys.text[i]);
			bool		isnull = false;

			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
			matched++;
		}
	}
	sodium_memzero(jr.outputs, Max(jr.keys.n, 1) * OPRF_OUTPUT_BYTES);
	join_audit(&jr, dataset, "psi", matched);
	return (Datum) 0;
}

/*
 * pgpriv.psi_fetch(peer name, dataset text, keys_query text) → SETOF record
 *
 * The caller's column definition list is the projection: the key first,
 * then permitted columns by name, converted to the declared types.
 */
Datum
pgpriv_psi_fetch(PG_FUNCTION_ARGS)
{
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *keys_query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Projection	proj;
	JoinRun		jr;
	int			ncol;
	char	  **values;
	StringInfoData plain;
	char	   *ad = oprf_table_seal_context(dataset, "psi_fetch");
	size_t		i;
	int64		rows_out = 0;

	projection_begin(fcinfo, "pgpriv.psi_fetch",
					 "SELECT * FROM pgpriv.psi_fetch('gov', 'tax', $$SELECT code FROM applicants$$) "
					 "AS t(code text, tax_grade text)", &proj);
	if (!join_keys(&jr, fcinfo, server, dataset, "psi_fetch", keys_query, &proj))
		return (Datum) 0;
	join_begin(&jr, server, dataset, "psi_fetch", &proj);
	ncol = list_length(jr.info.columns);
	/* The permit could have changed since the check before admission. */
	projection_map(&proj, jr.info.columns, "psi_fetch", dataset, server);

	/* Only now, with the projection known to be permitted, spend the budget. */
	join_evaluate(&jr, dataset, "psi_fetch");

	values = palloc(sizeof(char *) * Max(ncol, 1));
	initStringInfo(&plain);
	for (i = 0; i < jr.keys.n; i++)
	{
		const uint8 *F = jr.outputs + i * OPRF_OUTPUT_BYTES;
		size_t		pos;

		for (pos = oprf_table_lower_bound(&jr.table, F);
			 pos < jr.table.n && memcmp(jr.table.entries[pos].bytes, F, TAG_BYTES) == 0; pos++)
		{
			if (!oprf_table_entry_open(&jr.table.entries[pos], F, ad, &plain))
				wire_malformed(psprintf("peer \"%s\"", server),
							   "A table entry with a matching tag does not open.");
			oprf_table_payload_split(&plain, ncol, values, server);
			projection_emit(&proj, fcinfo, jr.keys.text[i], values);
			rows_out++;
		}
		if ((i & 0xfff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	sodium_memzero(jr.outputs, Max(jr.keys.n, 1) * OPRF_OUTPUT_BYTES);
	join_audit(&jr, dataset, "psi_fetch", rows_out);
	return (Datum) 0;
}
