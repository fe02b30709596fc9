/*
 * secure_sum.c — per-key totals across several parties by pairwise additive
 * masking over Z_2^64 (docs/architecture.md, protocol 5): the asker's half,
 * and what both halves use (declared in secure_sum.h); the owner's half is
 * in secure_sum_serve.c.  docs/secure_sum.md is the user's view.
 *
 * The asker picks a fresh 32-byte session id and sends every listed peer the
 * participant list: each participant's X25519 identity public key (a listed
 * peer's from the asker's server option public_key; the asker's own if it
 * contributes) and the asker's name for it.  Every participant i derives,
 * with every other participant j, a seed from X25519(sk_i, pk_j) bound to
 * both keys and to the run's transcript (session id, dataset, column, all
 * keys), and for each requested key k returns
 *
 *   value_i(k)    + Σ_j s_ij · PRF(seed_ij, k)[0..8)
 *   present_i(k)  + Σ_j s_ij · PRF(seed_ij, k)[8..16)      (mod 2^64)
 *
 * with s_ij = +1 if pk_i sorts before pk_j, else -1, so that s_ij = -s_ji and
 * every pair's masks cancel when the asker adds all replies: it learns, per
 * key, the total and how many parties hold the key, and nothing about any
 * one party's figure (as long as at least two owners take part, or the asker
 * itself contributes).  Values are integers of 10^-SUM_SCALE units; every
 * party keeps its per-key figure within ±(2^63-1)/parties, so the total
 * never wraps.
 *
 * The keys travel in clear to the owners (they must look them up), in
 * ascending byte order, batch by batch; an owner keeps the run's state in
 * its serving backend between the asker's calls, as psi_count does.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/identity_secret.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/parallel.h"
#include "crypto/shares.h"
#include "peer/call.h"
#include "peer/fdw_options.h"
#include "catalog/receipt.h"
#include "run/admission.h"
#include "run/keys.h"
#include "run/progress.h"
#include "run/secret_mem.h"
#include "run/served_run.h"
#include "protocol/sum/secure_sum.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_secure_sum);

/* The order keys.c sorts keys in: bytes, then length. */
int
sum_key_compare(const uint8 *a, size_t alen, const uint8 *b, size_t blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static int
compare_row_keys(const void *a, const void *b, void *arg)
{
	const KeySet *s = arg;
	size_t		i = *(const size_t *) a;
	size_t		j = *(const size_t *) b;

	return sum_key_compare(s->data[i], s->lens[i], s->data[j], s->lens[j]);
}

size_t *
sum_keys_order(const KeySet *keys)
{
	size_t	   *order = palloc_extended(sizeof(size_t) * Max(keys->n, 1), MCXT_ALLOC_HUGE);

	for (size_t i = 0; i < keys->n; i++)
		order[i] = i;
	qsort_arg(order, keys->n, sizeof(size_t), compare_row_keys, (void *) keys);
	return order;
}

void
sum_permit_require_column(const char *capability, const char *dataset, const char *column,
						  const Permit *permit)
{
	ListCell   *lc;

	foreach(lc, permit->columns)
		if (strcmp((char *) lfirst(lc), column) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: role \"%s\" may not sum column \"%s\" of dataset \"%s\"",
					session_role_name(), column, dataset),
			 errhint("The owner names the columns in pgpriv.permit('%s', '%s', '%s', '{...}').",
					 dataset, session_role_name(), capability)));
}

/*
 * A value a party cannot contribute to capability's sums (secure_sum,
 * psi_sum) at the given scale; range_detail says what range a total has.
 * The message names the dataset and column, never the key or the value: on
 * an owner it goes to the asker.
 */
void
sum_value_refusal(const char *capability, const char *dataset, const char *column,
				  share_status st, int scale, const char *range_detail)
{
	if (st == SHARE_SYNTAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("dataset \"%s\": a value of column \"%s\" is not a number", dataset, column)));
	if (st == SHARE_NOT_FINITE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("dataset \"%s\": a value of column \"%s\" is not finite", dataset, column),
				 errdetail("%s adds finite numbers only (no NaN or infinity).", capability)));
	if (st == SHARE_INEXACT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("dataset \"%s\": a value of column \"%s\" has more than %d decimal places",
						dataset, column, scale),
				 errdetail("%s adds values exactly at a fixed scale of %d decimal places.", capability, scale),
				 errhint("Round the column in the dataset's query, e.g. round(x, %d).", scale)));
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("dataset \"%s\": a per-key total of column \"%s\" is out of range for %s",
					dataset, column, capability),
			 errdetail("%s", range_detail)));
}

static void pg_attribute_noreturn()
value_refusal(const char *dataset, const char *column, share_status st, int64 bound)
{
	sum_value_refusal("secure_sum", dataset, column, st, SUM_SCALE,
					  psprintf("With this many parties, each party's total per key must lie within ±%lld units of 10^-%d.",
							   (long long) bound, SUM_SCALE));
}

/*
 * Sum one party's rows per key (duplicated keys add up; NULL values count
 * as absent, and a key with only NULL values is not held).  The table keeps
 * its own copy of the keys, so rows may be freed afterwards.
 */
void
sum_table_build(const DatasetRows *rows, const char *dataset, const char *column, int parties,
				SumTable *t)
{
	size_t		n = rows->keys.n;
	size_t	   *order = sum_keys_order(&rows->keys);
	int64		bound = PG_INT64_MAX / parties;
	Size		key_bytes = 0;
	uint8	   *buf;
	size_t		i;
	size_t		g;

	for (i = 0; i < n; i++)
		key_bytes = add_size(key_bytes, rows->keys.lens[i]);

	t->keys = palloc_extended(sizeof(uint8 *) * Max(n, 1), MCXT_ALLOC_HUGE);
	t->lens = palloc_extended(sizeof(size_t) * Max(n, 1), MCXT_ALLOC_HUGE);
	t->values = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	buf = palloc_extended(Max(key_bytes, 1), MCXT_ALLOC_HUGE);
	t->n = 0;
	t->cursor = 0;
	for (i = 0; i < n; i = g)
	{
		const uint8 *k = rows->keys.data[order[i]];
		size_t		klen = rows->keys.lens[order[i]];
		int64		sum = 0;
		bool		present = false;

		for (g = i; g < n; g++)
		{
			size_t		r = order[g];
			const char *text = rows->values[r * rows->ncolumns];
			int64		v;
			share_status st;

			if (sum_key_compare(rows->keys.data[r], rows->keys.lens[r], k, klen) != 0)
				break;
			if ((g & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (text == NULL)
				continue;
			st = share_fixed_parse(text, strlen(text), SUM_SCALE, &v);
			if (st != SHARE_OK)
				value_refusal(dataset, column, st, bound);
			if (pg_add_s64_overflow(sum, v, &sum))
				value_refusal(dataset, column, SHARE_RANGE, bound);
			present = true;
		}
		if (!present)
			continue;
		if (sum > bound || sum < -bound)
			value_refusal(dataset, column, SHARE_RANGE, bound);
		memcpy(buf, k, klen);
		t->keys[t->n] = buf;
		t->lens[t->n] = klen;
		t->values[t->n] = sum;
		t->n++;
		buf += klen;
	}
	pfree(order);
}

/* The party's figure for key, if it holds it; keys must come in ascending order. */
bool
sum_table_lookup(SumTable *t, const uint8 *key, size_t len, int64 *value)
{
	int			c = 1;

	while (t->cursor < t->n &&
		   (c = sum_key_compare(t->keys[t->cursor], t->lens[t->cursor], key, len)) < 0)
		t->cursor++;
	if (t->cursor < t->n && c == 0)
	{
		*value = t->values[t->cursor];
		return true;
	}
	return false;
}

/*
 * Pair seeds of party self with every other participant, and their signs.
 * Returns the number of pairs.  A low-order key is the asker's doing: 08P01.
 */
int
sum_pair_seeds_derive(const Participant *parts, int n, int self, const uint8 secret[SHARE_KEY_BYTES],
				  const uint8 session[SHARE_KEY_BYTES], const char *dataset, const char *column,
				  uint8 *seeds, int *signs, const char *sender)
{
	uint8	   *sorted = palloc(SHARE_KEY_BYTES * n);
	uint8		transcript[SHARE_KEY_BYTES];
	int			i;
	int			j;
	int			npairs = 0;

	/* Participant keys in ascending order: the same transcript for everyone. */
	for (i = 0; i < n; i++)
		memcpy(sorted + i * SHARE_KEY_BYTES, parts[i].key, SHARE_KEY_BYTES);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && memcmp(sorted + (j - 1) * SHARE_KEY_BYTES, sorted + j * SHARE_KEY_BYTES,
									SHARE_KEY_BYTES) > 0; j--)
		{
			uint8		tmp[SHARE_KEY_BYTES];

			memcpy(tmp, sorted + j * SHARE_KEY_BYTES, SHARE_KEY_BYTES);
			memcpy(sorted + j * SHARE_KEY_BYTES, sorted + (j - 1) * SHARE_KEY_BYTES, SHARE_KEY_BYTES);
			memcpy(sorted + (j - 1) * SHARE_KEY_BYTES, tmp, SHARE_KEY_BYTES);
		}
	share_transcript(session, dataset, column, sorted, (size_t) n, transcript);
	pfree(sorted);

	for (i = 0; i < n; i++)
	{
		if (i == self)
			continue;
		if (share_pair_seed(secret, parts[self].key, parts[i].key, transcript,
							seeds + npairs * SHARE_KEY_BYTES) != SHARE_OK)
			wire_malformed(sender, psprintf("The public key of participant %d is not a usable X25519 key.",
										   i + 1));
		signs[npairs] = share_pair_sign(parts[self].key, parts[i].key);
		npairs++;
	}
	return npairs;
}

/* value[i], presence[i] += Σ ± masks for keys [0, n), on all cores for big batches. */
void
sum_masks_add(size_t n, const uint8 *const *keys, const size_t *lens, int npairs, const uint8 *seeds,
		  const int *signs, uint64 *value, uint64 *presence)
{
	share_mask_job job = {.keys = keys, .lens = lens, .npairs = npairs, .seeds = seeds, .signs = signs,
	.value = value, .presence = presence};
	size_t		failed;

	if (npairs == 0 || n == 0)
		return;
	(void) crypto_parallel_for(n, n < SUM_PARALLEL_MIN ? 1 : pgpriv_threads_for_batch(),
							   share_mask_range, &job, &failed);
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

/* The listed peers, with the key each server pins; duplicates and gaps refused. */
static int
peers_resolve(ArrayType *arr, Participant *parts)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	int			j;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("peers must be a one-dimensional array")));
	deconstruct_array(arr, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secure_sum needs at least one peer")));
	if (n > SUM_MAX_PARTICIPANTS - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("secure_sum takes at most %d peers, not %d", SUM_MAX_PARTICIPANTS - 1, n)));
	for (i = 0; i < n; i++)
	{
		const char *name;
		ForeignServer *server;
		ForeignDataWrapper *fdw;
		ListCell   *lc;
		bool		have_key = false;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("peers must not contain NULL")));
		name = NameStr(*DatumGetName(elems[i]));
		server = GetForeignServerByName(name, false);
		fdw = GetForeignDataWrapper(server->fdwid);
		if (strcmp(fdw->fdwname, "pgpriv") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("server \"%s\" is not a pgpriv peer", name)));
		foreach(lc, server->options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "public_key") == 0)
				have_key = peer_decode_key(defGetString(def), parts[i].key);
		}
		if (!have_key)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("peer \"%s\" has no public_key option", name),
					 errdetail("secure_sum derives its masks from every participant's identity key."),
					 errhint("Set it to the peer's pgpriv.identity(): ALTER SERVER %s OPTIONS (ADD public_key '...').",
							 quote_identifier(name))));
		parts[i].kind = SUM_KIND_PEER;
		strlcpy(parts[i].name, name, sizeof(parts[i].name));
		for (j = 0; j < i; j++)
		{
			if (strcmp(parts[j].name, name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("peer \"%s\" is listed twice", name)));
			if (memcmp(parts[j].key, parts[i].key, SHARE_KEY_BYTES) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("peers \"%s\" and \"%s\" have the same public_key", parts[j].name, name),
						 errdetail("They are the same party.")));
		}
	}
	return n;
}

/* The caller's own dataset of that name, if it may manage it. */
static bool
own_dataset_lookup(const char *name, Dataset *ds)
{
	MemoryContext caller = CurrentMemoryContext;
	CatalogSession cs;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		found;

	args[0] = CStringGetTextDatum(name);
	catalog_open(&cs, true);
	catalog_exec("SELECT d.name, d.query, d.key_column::pg_catalog.text, "
				 "       d.owner_role::pg_catalog.text, d.search_path, d.version "
				 "  FROM pgpriv.dataset AS d "
				 " WHERE d.name = $1 AND pgpriv._may_manage(d.owner_role)",
				 1, argtypes, args, NULL, true, 1, SPI_OK_SELECT, "read pgpriv.dataset");
	found = SPI_processed == 1;
	if (found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		ds->name = SPI_getvalue(tup, desc, 1);
		ds->query = SPI_getvalue(tup, desc, 2);
		ds->key_column = SPI_getvalue(tup, desc, 3);
		ds->columns = NIL;		/* not needed: the column to read is named */
		ds->owner_role = SPI_getvalue(tup, desc, 4);
		ds->search_path = SPI_getvalue(tup, desc, 5);
		ds->consent_query = NULL;	/* our own contribution: no peer's consent */
		ds->consent_role = NULL;
		ds->consent_capability = NULL;
		ds->version = pg_strtoint64(SPI_getvalue(tup, desc, 6));
		MemoryContextSwitchTo(spi);
	}
	catalog_close(&cs);
	return found;
}

/* Is column one of the dataset's payload columns?  (Read as the extension owner.) */
static bool
own_dataset_has_column(const char *dataset, const char *column)
{
	CatalogSession cs;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		found;

	args[0] = CStringGetTextDatum(dataset);
	args[1] = CStringGetTextDatum(column);
	catalog_open(&cs, true);
	catalog_exec("SELECT 1 FROM pgpriv.dataset AS d "
				 " WHERE d.name = $1 AND $2::pg_catalog.name = ANY (d.columns)",
				 2, argtypes, args, NULL, true, 1, SPI_OK_SELECT, "read pgpriv.dataset");
	found = SPI_processed == 1;
	catalog_close(&cs);
	return found;
}

/* The participants message: session id, then kind ‖ public key ‖ name (UTF-8). */
static bytea *
participants_encode(const uint8 session[SHARE_KEY_BYTES], const Participant *parts, int n)
{
	WireBuilder b;
	int			i;

	wire_builder_init(&b, WIRE_SUM_PARTICIPANTS);
	wire_builder_add(&b, session, SHARE_KEY_BYTES);
	for (i = 0; i < n; i++)
	{
		char	   *name = pg_server_to_any(parts[i].name, strlen(parts[i].name), PG_UTF8);
		size_t		namelen = strlen(name);
		uint8		item[1 + SHARE_KEY_BYTES + NAMEDATALEN];

		/* A name longer than a participant item allows is cut: it is only a label. */
		if (namelen > NAMEDATALEN - 1)
			namelen = pg_encoding_mbcliplen(PG_UTF8, name, (int) namelen, NAMEDATALEN - 1);
		item[0] = (uint8) parts[i].kind;
		memcpy(item + 1, parts[i].key, SHARE_KEY_BYTES);
		memcpy(item + 1 + SHARE_KEY_BYTES, name, namelen);
		wire_builder_add(&b, item, (uint32) (1 + SHARE_KEY_BYTES + namelen));
	}
	return wire_builder_finish(&b);
}

static char *
bytea_hex_literal(const bytea *b)
{
	size_t		len = VARSIZE_ANY_EXHDR(b);
	char	   *out = palloc(2 + 2 * len + 1);

	out[0] = '\\';
	out[1] = 'x';
	sodium_bin2hex(out + 2, 2 * len + 1, (const uint8 *) VARDATA_ANY(b), len);
	return out;
}

/* How many keys from start go into the next batch (bounded by count and bytes). */
static size_t
batch_extent(const KeySet *keys, size_t start, size_t limit)
{
	size_t		m = 0;
	Size		bytes = 0;

	while (start + m < keys->n && m < limit)
	{
		Size		item = 4 + keys->lens[start + m];

		if (m > 0 && bytes + item > SUM_MAX_MESSAGE_BYTES)
			break;
		bytes += item;
		m++;
	}
	return m;
}

/* One asker run: who takes part, what crossed, and the running sums. */
typedef struct AskerSum
{
	const char *dataset;
	const char *column;
	Participant *parts;
	int			npeers;
	int			n;				/* participants: npeers, plus the asker if it contributes */
	bool		contributes;
	Dataset		own;
	uint8		session[SHARE_KEY_BYTES];
	uint8	   *seeds;			/* the asker's pair seeds, if it contributes */
	int		   *signs;
	int			npairs;
	SumTable	own_table;
	KeySet		keys;
	char	   *run;
	char	   *peer_list;
	PeerCall   *calls;
	uint64	   *value;			/* per key: Σ of all masked values (mod 2^64) */
	uint64	   *presence;		/* per key: Σ of all masked presence indicators */
	int64		batch;
	int64		bytes_in;
	int64		bytes_out;
} AskerSum;

/* Decide who takes part; derive the asker's own seeds if it contributes. */
static void
asker_prepare(AskerSum *as, ArrayType *peers_arr, const char *keys_query)
{
	uint8		my_key[SHARE_KEY_BYTES];
	uint8		my_secret[SHARE_KEY_BYTES];
	StringInfoData list;
	size_t		i;
	int			p;

	as->parts = palloc0(sizeof(Participant) * SUM_MAX_PARTICIPANTS);
	as->npeers = peers_resolve(peers_arr, as->parts);
	as->n = as->npeers;
	as->contributes = own_dataset_lookup(as->dataset, &as->own);
	if (as->contributes && !own_dataset_has_column(as->dataset, as->column))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("this party's dataset \"%s\" has no column \"%s\"", as->dataset, as->column),
				 errdetail("The caller contributes its own dataset of the same name to the totals.")));

	keys_collect(keys_query, &as->keys);
	for (i = 0; i < as->keys.n; i++)
		if (as->keys.lens[i] > SUM_MAX_KEY_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a key of %zu bytes is longer than secure_sum allows (%d bytes)",
							as->keys.lens[i], SUM_MAX_KEY_BYTES)));

	randombytes_buf(as->session, sizeof(as->session));
	identity_active_keypair(my_key, my_secret);
	PG_TRY();
	{
		for (p = 0; p < as->npeers; p++)
			if (memcmp(as->parts[p].key, my_key, SHARE_KEY_BYTES) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("peer \"%s\" has this party's own public key", as->parts[p].name),
						 errhint("The caller contributes its own dataset of that name by itself; do not list it.")));
		if (as->contributes)
		{
			Participant *me = &as->parts[as->n];

			me->kind = SUM_KIND_ASKER;
			memcpy(me->key, my_key, SHARE_KEY_BYTES);
			me->name[0] = '\0';
			as->n++;
			as->seeds = secret_palloc(SHARE_KEY_BYTES * as->n);	/* wiped however the call ends */
			as->signs = palloc(sizeof(int) * as->n);
			as->npairs = sum_pair_seeds_derive(as->parts, as->n, as->n - 1, my_secret, as->session,
										   as->dataset, as->column, as->seeds, as->signs,
										   "this party's server definitions");
		}
	}
	PG_FINALLY();
	{
		sodium_memzero(my_secret, sizeof(my_secret));
	}
	PG_END_TRY();

	as->run = peer_new_run_id();
	initStringInfo(&list);
	for (p = 0; p < as->npeers; p++)
		appendStringInfo(&list, "%s%s", p > 0 ? "," : "", as->parts[p].name);
	as->peer_list = list.data;
	as->value = palloc_extended(sizeof(uint64) * Max(as->keys.n, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	as->presence = palloc_extended(sizeof(uint64) * Max(as->keys.n, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	as->batch = pgpriv_batch_size;
}

/* Admission and begin on every owner, overlapped with the asker's own summing. */
static void
asker_begin(AskerSum *as)
{
	char	   *begin_msg = bytea_hex_literal(participants_encode(as->session, as->parts, as->n));
	char		nbuf[32];
	int			p;

	as->calls = palloc0(sizeof(PeerCall) * as->npeers);
	for (p = 0; p < as->npeers; p++)
		peer_call_open(&as->calls[p], as->parts[p].name);

	/* Every owner admits the run (permit, budget, audit) before anything else. */
	progress_phase("asker: owners admit the run", as->npeers);
	snprintf(nbuf, sizeof(nbuf), "%zu", as->keys.n);
	{
		/* The run's terms go with the admission, so a refusal is on record. */
		bytea	   *pmsg = participants_encode(as->session, as->parts, as->n);
		size_t		clen = strlen(as->column);
		bytea	   *terms = (bytea *) palloc(VARHDRSZ + clen + 1 + VARSIZE_ANY_EXHDR(pmsg));

		SET_VARSIZE(terms, VARHDRSZ + clen + 1 + VARSIZE_ANY_EXHDR(pmsg));
		memcpy(VARDATA(terms), as->column, clen);
		VARDATA(terms)[clen] = '\0';
		memcpy(VARDATA(terms) + clen + 1, VARDATA_ANY(pmsg), VARSIZE_ANY_EXHDR(pmsg));
		for (p = 0; p < as->npeers; p++)
		{
			const char *params[4] = {as->dataset, "secure_sum", as->run, nbuf};

			peer_call_send_bytea(&as->calls[p], "CALL pgpriv.serve_admit($1, $2, $3, $4::pg_catalog.int8, $5)",
								 4, params, terms);
		}
	}
	for (p = 0; p < as->npeers; p++)
		PQclear(peer_call_finish_text(&as->calls[p]));

	/* Owners check the run and sum their datasets while the asker sums its own. */
	for (p = 0; p < as->npeers; p++)
	{
		const char *params[4] = {as->dataset, as->run, as->column, begin_msg};

		peer_call_send_text(&as->calls[p], "SELECT pgpriv.serve_sum_begin($1, $2, $3, $4::pg_catalog.bytea)",
							4, params);
	}
	if (as->contributes)
	{
		MemoryContext rows_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgpriv secure_sum rows",
													   ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(rows_cxt);
		DatasetRows rows;

		progress_phase("asker: summing this party's dataset", 0);
		dataset_rows_fetch(&as->own, list_make1(pstrdup(as->column)), &rows);
		MemoryContextSwitchTo(old);
		sum_table_build(&rows, as->dataset, as->column, as->n, &as->own_table);
		MemoryContextDelete(rows_cxt);
	}
	progress_phase("asker: owners sum their datasets", as->npeers);
	for (p = 0; p < as->npeers; p++)
	{
		PGresult   *res = peer_call_finish_text(&as->calls[p]);
		char	   *end = NULL;
		long		limit = 0;
		bool		ok = PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0);

		if (ok)
		{
			errno = 0;
			limit = strtol(PQgetvalue(res, 0, 0), &end, 10);
			ok = errno == 0 && *end == '\0' && limit >= 1;
		}
		PQclear(res);
		if (!ok)
			wire_malformed(psprintf("peer \"%s\"", as->parts[p].name), "Expected a positive batch limit.");
		as->batch = Min(as->batch, (int64) limit);
		progress_advance(p + 1, 0, 0);
	}
}

/* Add one owner's reply for keys [start, start+m) to the running sums. */
static void
asker_add_reply(AskerSum *as, int p, size_t start, size_t m)
{
	bytea	   *reply = peer_call_finish_bytea(&as->calls[p]);
	char	   *sender = psprintf("peer \"%s\"", as->parts[p].name);
	uint32		count;
	const uint8 *items = wire_unpack_fixed(reply, WIRE_SUM_SHARES, SUM_SHARE_BYTES, (uint32) m,
										   &count, sender);
	size_t		i;

	if (count != m)
		wire_malformed(sender, psprintf("%u figures where %zu were due.", count, m));
	for (i = 0; i < m; i++)
	{
		uint64		v;
		uint64		pr;

		memcpy(&v, items + i * SUM_SHARE_BYTES, 8);
		memcpy(&pr, items + i * SUM_SHARE_BYTES + 8, 8);
		as->value[start + i] += pg_ntoh64(v);
		as->presence[start + i] += pg_ntoh64(pr);
	}
	pfree(reply);
	pfree(sender);
}

/*
 * Batch by batch: every owner masks its figures while the asker masks its
 * own, then the asker adds everything up.  At least one batch, even of no
 * keys: it ends the run on the owners.
 */
static void
asker_exchange(AskerSum *as)
{
	const char *run_params[1] = {as->run};
	size_t		start = 0;
	size_t		i;
	int			p;

	progress_phase("asker: adding the owners' masked figures", (int64) as->keys.n);
	do
	{
		size_t		m = batch_extent(&as->keys, start, (size_t) as->batch);
		WireBuilder b;
		bytea	   *msg;

		wire_builder_init(&b, WIRE_SUM_KEYS);
		for (i = 0; i < m; i++)
			wire_builder_add(&b, as->keys.data[start + i], (uint32) as->keys.lens[start + i]);
		msg = wire_builder_finish(&b);
		for (p = 0; p < as->npeers; p++)
			peer_call_send_bytea(&as->calls[p], "SELECT pgpriv.serve_sum_batch($1, $2)", 1, run_params, msg);
		pfree(msg);

		if (as->contributes)
		{
			for (i = 0; i < m; i++)
			{
				int64		v;

				if (sum_table_lookup(&as->own_table, as->keys.data[start + i], as->keys.lens[start + i], &v))
				{
					as->value[start + i] += (uint64) v;
					as->presence[start + i] += 1;
				}
			}
			sum_masks_add(m, as->keys.data + start, as->keys.lens + start, as->npairs, as->seeds, as->signs,
					  as->value + start, as->presence + start);
		}
		for (p = 0; p < as->npeers; p++)
			asker_add_reply(as, p, start, m);

		start += m;
		as->bytes_in = 0;
		as->bytes_out = 0;
		for (p = 0; p < as->npeers; p++)
		{
			as->bytes_in += as->calls[p].bytes_in;
			as->bytes_out += as->calls[p].bytes_out;
		}
		progress_advance((int64) start, as->bytes_in, as->bytes_out);
		CHECK_FOR_INTERRUPTS();
	} while (start < as->keys.n);
}

/*
 * pgpriv.secure_sum(peers name[], dataset text, value_column text, keys_query text)
 *   → TABLE(key text, total numeric, contributors int)
 */
Datum
pgpriv_secure_sum(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *peers_arr = PG_GETARG_ARRAYTYPE_P(0);
	char	   *keys_query = text_to_cstring(PG_GETARG_TEXT_PP(3));
	AskerSum   *as = palloc0(sizeof(AskerSum));
	int64		with_contributors = 0;
	size_t		i;
	AuditWatch	watch;

	as->dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	as->column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	InitMaterializedSRF(fcinfo, 0);
	asker_prepare(as, peers_arr, keys_query);
	if (as->keys.n == 0)
		return (Datum) 0;		/* nothing to ask anyone */

	progress_begin("secure_sum", as->peer_list, as->dataset, (int64) as->keys.n);
	audit_watch_begin(&watch, "secure_sum", as->peer_list, as->dataset, (int64) as->keys.n, NULL, 0);
	audit_watch_run(&watch, as->run);
	asker_begin(as);
	asker_exchange(as);
	secret_wipe(as->seeds);

	/*
	 * Masks cancel only if every participant used the same participant list
	 * and keys: more contributors than parties (or a total without
	 * contributors) means they did not, and nothing is shown.
	 */
	for (i = 0; i < as->keys.n; i++)
	{
		int64		total = share_open(&as->value[i], 1);
		uint64		contributors = as->presence[i];
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		char		buf[32];

		if (contributors > (uint64) as->n || (contributors == 0 && total != 0))
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("the replies of the secure_sum participants do not add up"),
					 errdetail("Their masks did not cancel: a participant used other keys or another participant list."),
					 errhint("Check with pgpriv.peer_identity() that every peer's public_key is current.")));
		if (contributors > 0)
			with_contributors++;
		share_fixed_format(total, SUM_SCALE, buf);
		values[0] = CStringGetTextDatum(as->keys.text[i]);
		values[1] = DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		values[2] = Int32GetDatum((int32) contributors);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	{
		OwnerContext oc;
		int			p;

		/* One receipt per owner, each over that owner's own messages. */
		for (p = 0; p < as->npeers; p++)
			receipt_asker_exchange(&as->calls[p], as->run, "secure_sum", as->dataset,
								   (int64) as->keys.n, with_contributors,
								   as->calls[p].bytes_in, as->calls[p].bytes_out);
		catalog_enter_owner(&oc);
		audit_append_run("asker", as->peer_list, "secure_sum", as->dataset, (int64) as->keys.n,
						 with_contributors, as->bytes_in, as->bytes_out, "ok",
						 psprintf("run %s; participants: %s%s", as->run, as->peer_list,
								  as->contributes ? " and this party" : ""), as->run);
		catalog_leave_owner(&oc);
	}
	progress_end();
	audit_watch_end(&watch);
	return (Datum) 0;
}
