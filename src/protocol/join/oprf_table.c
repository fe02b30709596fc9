/*
 * oprf_table.c — the encrypted OPRF table of psi and psi_fetch (see
 * oprf_table.h): the owner's build and storage, the asker's cache, index
 * and opening.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/catalog_spi.h"
#include "crypto/oprf.h"
#include "run/batch.h"
#include "protocol/join/join_catalog.h"
#include "protocol/join/oprf_table.h"
#include "run/progress.h"
#include "wire/message.h"

/* Additional data binding a sealed payload to its dataset and capability. */
char *
oprf_table_seal_context(const char *dataset, const char *capability)
{
	return psprintf("pgpriv-psi-v1|%s|%s", dataset, capability);
}

/* Serialise one row's permitted values: per column u32 length (or ~0 for NULL) and bytes. */
void
oprf_table_payload_serialise(StringInfo buf, char **values, int ncol)
{
	int			c;

	resetStringInfo(buf);
	for (c = 0; c < ncol; c++)
	{
		uint32		len = values[c] ? (uint32) strlen(values[c]) : 0xFFFFFFFF;
		uint32		be = pg_hton32(len);

		appendBinaryStringInfo(buf, (char *) &be, 4);
		if (values[c])
			appendBinaryStringInfo(buf, values[c], len);
	}
}

static int
compare_hash16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/*
 * Digest of the table's inputs, independent of row order: the sorted
 * BLAKE2b hashes of the rows, then the key generation, capability and
 * columns.  Equal digests mean an identical table could be served again.
 */
char *
oprf_table_version(const DatasetRows *rows, int32 key_generation, const char *capability,
			  List *columns)
{
	size_t		n = rows->keys.n;
	uint8	   *hashes = palloc_extended(Max(n, 1) * 16, MCXT_ALLOC_HUGE);
	crypto_generichash_state st;
	StringInfoData buf;
	uint8		digest[16];
	char		hex[33];
	size_t		i;
	ListCell   *lc;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		crypto_generichash_state rs;

		oprf_table_payload_serialise(&buf, rows->values + i * rows->ncolumns, rows->ncolumns);
		crypto_generichash_init(&rs, NULL, 0, 16);
		crypto_generichash_update(&rs, (const uint8 *) &rows->keys.lens[i], sizeof(size_t));
		crypto_generichash_update(&rs, rows->keys.data[i], rows->keys.lens[i]);
		crypto_generichash_update(&rs, (const uint8 *) buf.data, buf.len);
		crypto_generichash_final(&rs, hashes + i * 16, 16);
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	qsort(hashes, n, 16, compare_hash16);

	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, hashes, n * 16);
	crypto_generichash_update(&st, (const uint8 *) &key_generation, sizeof(key_generation));
	crypto_generichash_update(&st, (const uint8 *) capability, strlen(capability) + 1);
	/* keys derived per capability: tables cached before that are another version */
	crypto_generichash_update(&st, (const uint8 *) "capability key v1", sizeof("capability key v1"));
	foreach(lc, columns)
		crypto_generichash_update(&st, (const uint8 *) lfirst(lc), strlen(lfirst(lc)) + 1);
	crypto_generichash_final(&st, digest, sizeof(digest));
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	pfree(hashes);
	return pstrdup(hex);
}

char *
served_check_known(const char *dataset, const char *peer, const char *capability, const char *prefix)
{
	CatalogSession cs;
	const char *texts[3] = {dataset, peer, capability};
	char	   *known = NULL;
	MemoryContext caller = CurrentMemoryContext;

	join_catalog_exec(&cs, false, "SELECT stamp FROM pgpriv.served_check "
					  " WHERE dataset = $1 AND peer_role = $2 AND capability = $3",
					  3, texts, true, 1, SPI_OK_SELECT, "read pgpriv.served_check");
	if (SPI_processed == 1)
	{
		char	   *stamp = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (stamp && strncmp(stamp, prefix, strlen(prefix)) == 0)
			known = MemoryContextStrdup(caller, stamp + strlen(prefix));
	}
	catalog_close(&cs);
	return known;
}

void
served_check_record(const char *dataset, const char *peer, const char *capability,
					const char *prefix, const ChangeCheck *check)
{
	CatalogSession cs;
	const char *stamp = check->exact ? psprintf("%s%s", prefix, check->stamp) : NULL;
	const char *how = check->exact ? "triggers" : psprintf("reread: %s", check->reason);
	const char *texts[5] = {dataset, peer, capability, stamp, how};

	join_catalog_exec(&cs, false,
					  "INSERT INTO pgpriv.served_check AS s (dataset, peer_role, capability, stamp, change_check) "
					  "VALUES ($1, $2, $3, $4, $5) "
					  "ON CONFLICT (dataset, peer_role, capability) DO UPDATE SET stamp = EXCLUDED.stamp, "
					  "change_check = EXCLUDED.change_check, reads = s.reads + 1, "
					  "read_at = pg_catalog.clock_timestamp()",
					  5, texts, false, 0, SPI_OK_INSERT, "store pgpriv.served_check");
	catalog_close(&cs);
	change_check_compact(check);
}

/* Current version of the served table for (dataset, peer, capability), or NULL. */
char *
oprf_table_stored_version(const char *dataset, const char *peer, const char *capability,
			   int64 *entries, int32 *chunks)
{
	CatalogSession cs;
	const char *texts[3] = {dataset, peer, capability};
	char	   *version = NULL;
	MemoryContext caller = CurrentMemoryContext;

	join_catalog_exec(&cs, false, "SELECT version, entries, count(*) OVER () FROM pgpriv.served_table "
					  " WHERE dataset = $1 AND peer_role = $2 AND capability = $3 LIMIT 1",
					  3, texts, true, 1, SPI_OK_SELECT, "read pgpriv.served_table");
	if (SPI_processed == 1)
	{
		bool		isnull;

		version = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		*entries = DatumGetInt64(catalog_value(0, 2, &isnull));
		*chunks = (int32) DatumGetInt64(catalog_value(0, 3, &isnull));
	}
	catalog_close(&cs);
	return version;
}

Datum
oprf_table_columns_datum(List *columns)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(columns), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, columns)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static int
compare_entry(const void *a, const void *b)
{
	return memcmp(((const EntryRef *) a)->bytes, ((const EntryRef *) b)->bytes, TAG_BYTES);
}

/* Build the encrypted table from the rows and store it in chunks. */
void
oprf_table_build(const Dataset *ds, const char *peer, const char *capability, List *columns,
			const DatasetRows *rows, const char *version, int64 *entries_out, int32 *chunks_out)
{
	CatalogSession cs;
	size_t		n = rows->keys.n;
	int			ncol = rows->ncolumns;
	bool		sealed = strcmp(capability, "psi_fetch") == 0;
	uint8		sk[32];
	uint8	   *outputs = palloc_extended(Max(n, 1) * OPRF_OUTPUT_BYTES, MCXT_ALLOC_HUGE);
	EntryRef   *refs = palloc_extended(Max(n, 1) * sizeof(EntryRef), MCXT_ALLOC_HUGE);
	char	   *ad = oprf_table_seal_context(ds->name, capability);
	StringInfoData plain;
	size_t		i;
	int32		chunk = 0;
	const char *texts[4] = {ds->name, peer, capability, version};
	SPIPlanPtr	insert;
	Oid			ins_types[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT8OID, INT4OID, BYTEAOID};

	oprf_key_for_peer(ds->name, capability, sk, NULL);
	progress_phase("owner: evaluating the OPRF over the dataset", n);
	batch_evaluate_unblinded(&rows->keys, sk, outputs);
	sodium_memzero(sk, sizeof(sk));

	progress_phase("owner: sealing the table", n);
	initStringInfo(&plain);
	for (i = 0; i < n; i++)
	{
		const uint8 *F = outputs + i * OPRF_OUTPUT_BYTES;
		uint8	   *entry;
		uint32		len;

		if (sealed)
		{
			unsigned long long ctlen;

			oprf_table_payload_serialise(&plain, rows->values + i * ncol, ncol);
			if (plain.len + TAG_BYTES + NONCE_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES > MAX_ENTRY_BYTES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("a row of dataset \"%s\" has more than %d bytes of permitted columns",
								ds->name, MAX_ENTRY_BYTES)));
			len = TAG_BYTES + NONCE_BYTES + plain.len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
			entry = palloc(len);
			memcpy(entry, F, TAG_BYTES);
			/* A fresh random nonce: rows sharing a key share the sealing key. */
			randombytes_buf(entry + TAG_BYTES, NONCE_BYTES);
			crypto_aead_xchacha20poly1305_ietf_encrypt(entry + TAG_BYTES + NONCE_BYTES, &ctlen,
													   (const uint8 *) plain.data, plain.len,
													   (const uint8 *) ad, strlen(ad), NULL,
													   entry + TAG_BYTES, F + SEAL_KEY_OFFSET);
		}
		else
		{
			len = TAG_BYTES;
			entry = palloc(len);
			memcpy(entry, F, TAG_BYTES);
		}
		refs[i].bytes = entry;
		refs[i].len = len;
		if ((i & 0xfff) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			progress_advance(i, 0, 0);
		}
	}
	sodium_memzero(outputs, Max(n, 1) * OPRF_OUTPUT_BYTES);
	qsort(refs, n, sizeof(EntryRef), compare_entry);

	/* Replace the stored table. */
	join_catalog_exec(&cs, false,
					  "DELETE FROM pgpriv.served_table WHERE dataset = $1 AND peer_role = $2 AND capability = $3",
					  3, texts, false, 0, SPI_OK_DELETE, "clear pgpriv.served_table");
	insert = SPI_prepare("INSERT INTO pgpriv.served_table (dataset, peer_role, capability, version, columns, entries, chunk, data) "
						 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, ins_types);
	if (insert == NULL)
		elog(ERROR, "could not prepare the served table insert");

	i = 0;
	do
	{
		WireBuilder wb;
		size_t		bytes = 0;
		Datum		args[8];

		wire_builder_init(&wb, WIRE_TABLE_CHUNK);
		while (i < n && bytes < CHUNK_TARGET_BYTES && wb.count < (uint32) pgpriv_batch_size)
		{
			wire_builder_add(&wb, refs[i].bytes, refs[i].len);
			bytes += refs[i].len + 4;
			i++;
		}
		join_catalog_texts(4, texts, args);
		args[4] = oprf_table_columns_datum(columns);
		args[5] = Int64GetDatum((int64) n);
		args[6] = Int32GetDatum(chunk);
		args[7] = PointerGetDatum(wire_builder_finish(&wb));
		if (SPI_execute_plan(insert, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store a served table chunk");
		chunk++;
		CHECK_FOR_INTERRUPTS();
	} while (i < n);
	catalog_close(&cs);

	*entries_out = (int64) n;
	*chunks_out = chunk;
}

/* The asker's cached copy of a table, as a list of chunk messages, or NIL. */
List *
oprf_table_cache_load(const char *server, const char *remote_user, const char *dataset,
		   const char *capability, const char *version)
{
	CatalogSession cs;
	const char *texts[5] = {server, remote_user, dataset, capability, version};
	List	   *chunks = NIL;
	MemoryContext caller = CurrentMemoryContext;
	uint64		i;

	join_catalog_exec(&cs, true, "SELECT data FROM pgpriv.peer_table WHERE server = $1 AND remote_user = $2 "
					  "AND dataset = $3 AND capability = $4 AND version = $5 ORDER BY chunk",
					  5, texts, true, 0, SPI_OK_SELECT, "read pgpriv.peer_table");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = catalog_value(i, 1, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		chunks = lappend(chunks, DatumGetByteaPCopy(d));
		MemoryContextSwitchTo(spi);
	}
	catalog_close(&cs);
	return chunks;
}

void
oprf_table_cache_store(const char *server, const char *remote_user, const char *dataset,
			const char *capability, const char *version, List *chunks)
{
	CatalogSession cs;
	const char *texts[5] = {server, remote_user, dataset, capability, version};
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, BYTEAOID};
	Datum		args[7];
	SPIPlanPtr	plan;
	ListCell   *lc;
	int32		chunk = 0;

	join_catalog_texts(5, texts, args);
	catalog_open(&cs, true);
	catalog_exec("DELETE FROM pgpriv.peer_table WHERE server = $1 AND remote_user = $2 "
				 "AND dataset = $3 AND capability = $4",
				 4, types, args, NULL, false, 0, SPI_OK_DELETE, "clear pgpriv.peer_table");
	plan = SPI_prepare("INSERT INTO pgpriv.peer_table (server, remote_user, dataset, capability, version, chunk, data) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types);
	foreach(lc, chunks)
	{
		args[5] = Int32GetDatum(chunk++);
		args[6] = PointerGetDatum(lfirst(lc));
		if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store a table chunk");
	}
	catalog_close(&cs);
}

/* Index the entries of the chunks, checking framing and tag order. */
void
oprf_table_index(List *chunks, int64 expected, const char *peer, bool sealed, Table *table)
{
	size_t		cap = 1024;
	ListCell   *lc;
	char	   *sender = psprintf("peer \"%s\"", peer);

	table->n = 0;
	table->entries = palloc(sizeof(EntryRef) * cap);
	foreach(lc, chunks)
	{
		WireReader r;
		const uint8 *item;
		uint32		len;

		wire_reader_init(&r, (bytea *) lfirst(lc), WIRE_TABLE_CHUNK, MAX_CHUNK_ENTRIES,
						 MAX_ENTRY_BYTES, sender);
		while (wire_reader_next(&r, &item, &len))
		{
			if (len < TAG_BYTES ||
				(sealed && len < TAG_BYTES + NONCE_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES) ||
				(!sealed && len != TAG_BYTES))
				wire_malformed(sender, psprintf("Table entry %zu has %u bytes.", table->n + 1, len));
			if (table->n > 0 && memcmp(table->entries[table->n - 1].bytes, item, TAG_BYTES) > 0)
				wire_malformed(sender, "Table entries are not in tag order.");
			if (table->n == cap)
			{
				cap *= 2;
				table->entries = repalloc_huge(table->entries, sizeof(EntryRef) * cap);
			}
			table->entries[table->n].bytes = item;
			table->entries[table->n].len = len;
			table->n++;
		}
	}
	if ((int64) table->n != expected)
		wire_malformed(sender,
					   psprintf("The table has %zu entries, %lld were announced.", table->n, (long long) expected));
}

/* First entry whose tag is >= tag (binary search). */
size_t
oprf_table_lower_bound(const Table *t, const uint8 *tag)
{
	size_t		lo = 0;
	size_t		hi = t->n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (memcmp(t->entries[mid].bytes, tag, TAG_BYTES) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Open one sealed entry; false if it does not open (not ours, or tampered). */
bool
oprf_table_entry_open(const EntryRef *e, const uint8 *F, const char *ad, StringInfo plain)
{
	const uint8 *nonce = e->bytes + TAG_BYTES;
	const uint8 *ct = nonce + NONCE_BYTES;
	size_t		ctlen = e->len - TAG_BYTES - NONCE_BYTES;
	unsigned long long plen;

	resetStringInfo(plain);
	enlargeStringInfo(plain, ctlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8 *) plain->data, &plen, NULL, ct, ctlen,
												   (const uint8 *) ad, strlen(ad), nonce,
												   F + SEAL_KEY_OFFSET) != 0)
		return false;
	plain->len = (int) plen;
	return true;
}

/* Split an opened payload into ncol values (NULL for SQL NULL). */
void
oprf_table_payload_split(StringInfo plain, int ncol, char **values, const char *peer)
{
	const uint8 *p = (const uint8 *) plain->data;
	const uint8 *end = p + plain->len;
	int			c;

	for (c = 0; c < ncol; c++)
	{
		uint32		len;

		if (end - p < 4)
			goto bad;
		memcpy(&len, p, 4);
		len = pg_ntoh32(len);
		p += 4;
		if (len == 0xFFFFFFFF)
		{
			values[c] = NULL;
			continue;
		}
		if ((size_t) (end - p) < len)
			goto bad;
		values[c] = pg_any_to_server(pnstrdup((const char *) p, len), len, PG_UTF8);
		p += len;
	}
	if (p == end)
		return;
bad:
	wire_malformed(psprintf("peer \"%s\"", peer),
				   psprintf("An opened table entry does not hold %d column values.", ncol));
}

int64
oprf_table_rows_split(const uint8 *p, size_t len, int ncol, const char *peer,
					  oprf_table_row_fn emit, void *arg)
{
	const uint8 *end = p + len;
	char	  **values = palloc(sizeof(char *) * Max(ncol, 1));
	StringInfoData row;
	uint32		nrows,
				r;

	if (len < 4)
		goto bad;
	nrows = wire_get_u32(p);
	p += 4;
	initStringInfo(&row);
	for (r = 0; r < nrows; r++)
	{
		uint32		rlen;

		if (end - p < 4)
			goto bad;
		rlen = wire_get_u32(p);
		p += 4;
		if ((size_t) (end - p) < rlen)
			goto bad;
		resetStringInfo(&row);
		appendBinaryStringInfo(&row, (const char *) p, (int) rlen);
		p += rlen;
		oprf_table_payload_split(&row, ncol, values, peer);
		emit(arg, values);
	}
	if (p != end)
		goto bad;
	pfree(row.data);
	pfree(values);
	return (int64) nrows;
bad:
	wire_malformed(psprintf("peer \"%s\"", peer), "An opened entry does not hold the rows it announces.");
	return 0;					/* keep the compiler quiet */
}
