/*
 * secure_sum_serve.c — secure_sum (docs/architecture.md, protocol 5; docs/secure_sum.md),
 * the owner's half: serve_sum_begin checks the participants and the run's
 * terms and derives its pair seeds, serve_sum_batch answers each batch of
 * keys with its masked figures.  The protocol itself is described at the top
 * of secure_sum.c, which holds the asker's half and what both use
 * (secure_sum.h).
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
#include "protocol/mpc/mpc_serve.h"
#include "protocol/sum/secure_sum.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_sum_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_sum_batch);

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

typedef struct SumRun
{
	ServedRun	base;			/* run id, dataset, memory */
	int			npairs;
	uint8	   *seeds;			/* npairs × 32; wiped when the run ends */
	int		   *signs;
	SumTable	table;
	uint8	   *last_key;		/* the last key asked, for the ascending check */
	size_t		last_len;
	bool		any_asked;
	int64		held;			/* asked keys this party holds */
} SumRun;

static void owner_sum_dataset(SumRun *sr, const Dataset *ds, const char *dataset,
							  const char *column, int n);

/* Decode the participants message; returns how many participants. */
static int
participants_decode(bytea *msg, uint8 session[SHARE_KEY_BYTES], Participant *parts)
{
	WireReader	r;
	const uint8 *item;
	uint32		len;
	int			n = 0;
	int			askers = 0;
	int			i;
	int			j;

	wire_reader_init(&r, msg, WIRE_SUM_PARTICIPANTS, SUM_MAX_PARTICIPANTS + 1,
					 1 + SHARE_KEY_BYTES + NAMEDATALEN - 1, "the asker");
	if (!wire_reader_next(&r, &item, &len) || len != SHARE_KEY_BYTES)
		wire_malformed("the asker", "The first item must be the 32-byte session id.");
	memcpy(session, item, SHARE_KEY_BYTES);
	while (wire_reader_next(&r, &item, &len))
	{
		Participant *p = &parts[n];
		size_t		namelen;

		if (len < 1 + SHARE_KEY_BYTES || (item[0] != SUM_KIND_ASKER && item[0] != SUM_KIND_PEER))
			wire_malformed("the asker", psprintf("Participant %d is malformed.", n + 1));
		namelen = len - 1 - SHARE_KEY_BYTES;
		p->kind = item[0];
		memcpy(p->key, item + 1, SHARE_KEY_BYTES);
		memcpy(p->name, item + 1 + SHARE_KEY_BYTES, namelen);
		p->name[namelen] = '\0';
		if (strlen(p->name) != namelen || !pg_verify_mbstr(PG_UTF8, p->name, (int) namelen, true))
			wire_malformed("the asker", psprintf("The name of participant %d is not valid UTF-8.", n + 1));
		if (p->kind == SUM_KIND_ASKER)
			askers++;
		n++;
	}
	if (n == 0 || askers > 1)
		wire_malformed("the asker", "A run has at least one participant and at most one asker among them.");
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (memcmp(parts[i].key, parts[j].key, SHARE_KEY_BYTES) == 0)
				wire_malformed("the asker", psprintf("Participants %d and %d have the same public key.",
													   i + 1, j + 1));
	return n;
}

/* This party's pgpriv servers that pin a public_key: (name in UTF-8, key). */
typedef struct KnownPeer
{
	char	   *name;
	uint8		key[SHARE_KEY_BYTES];
} KnownPeer;

static List *
known_peers_load(void)
{
	CatalogSession cs;
	MemoryContext caller = CurrentMemoryContext;
	List	   *out = NIL;
	uint64		i;

	catalog_open(&cs, false);
	catalog_exec("SELECT s.srvname::pg_catalog.text, o.option_value "
				 "  FROM pg_catalog.pg_foreign_server AS s "
				 "  JOIN pg_catalog.pg_foreign_data_wrapper AS w ON w.oid = s.srvfdw, "
				 "       pg_catalog.pg_options_to_table(s.srvoptions) AS o "
				 " WHERE w.fdwname = 'pgpriv' AND o.option_name = 'public_key'", 0, NULL, NULL, NULL,
				 true, 0, SPI_OK_SELECT, "read pgpriv's servers");
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *key = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		MemoryContext spi = MemoryContextSwitchTo(caller);
		KnownPeer  *kp = palloc(sizeof(KnownPeer));

		/* The validator accepted it, so it decodes; skip it if not. */
		if (name && key && peer_decode_key(key, kp->key))
		{
			kp->name = pg_server_to_any(pstrdup(name), strlen(name), PG_UTF8);
			out = lappend(out, kp);
		}
		MemoryContextSwitchTo(spi);
	}
	catalog_close(&cs);
	return out;
}

/*
 * Check the participants against this party's own peer definitions and
 * find this party among them.  A key that contradicts a server of the same
 * name is refused; keys this party does not know are allowed (see
 * docs/secure_sum.md, "Trust").
 */
static int
participants_check(const Participant *parts, int n, const uint8 my_key[SHARE_KEY_BYTES],
				   const char *dataset, const Permit *permit)
{
	List	   *known = known_peers_load();
	int			self = -1;
	int			vouched = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		ListCell   *lc;
		bool		is_known = false;

		if (memcmp(parts[i].key, my_key, SHARE_KEY_BYTES) == 0)
		{
			if (parts[i].kind != SUM_KIND_PEER)
				wire_malformed("the asker", "This party is listed as the asker.");
			self = i;
			is_known = true;
		}
		foreach(lc, known)
		{
			KnownPeer  *kp = lfirst(lc);

			if (memcmp(kp->key, parts[i].key, SHARE_KEY_BYTES) == 0)
				is_known = true;

			if (parts[i].name[0] != '\0' && strcmp(kp->name, parts[i].name) == 0 &&
				memcmp(kp->key, parts[i].key, SHARE_KEY_BYTES) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied: participant \"%s\" of this secure_sum run has a public key that contradicts this party's server \"%s\"",
								pg_any_to_server(parts[i].name, strlen(parts[i].name), PG_UTF8),
								pg_any_to_server(kp->name, strlen(kp->name), PG_UTF8)),
						 errdetail("The asker's public_key for that peer differs from the one pinned here."),
						 errhint("Compare fingerprints with pgpriv._fingerprint() on both sides.")));
		}
		if (is_known && parts[i].kind == SUM_KIND_PEER)
			vouched++;
	}
	if (self < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: this party is not among the participants of the secure_sum run on dataset \"%s\"",
						dataset),
				 errdetail("No participant carries this party's identity public key."),
				 errhint("The asker's server for this party needs public_key set to this party's pgpriv.identity().")));

	/*
	 * min_parties counts only contributors this party knows: itself and the
	 * parties its own servers pin.  Any other key could be a cluster of the
	 * asker's publishing an empty dataset, which would leave this party's
	 * figure alone in the total.
	 */
	if (permit->min_parties > 0 && vouched < permit->min_parties)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: secure_sum on dataset \"%s\" needs at least %d contributing parties this party knows, this run has %d",
						dataset, permit->min_parties, vouched),
				 errdetail("A contributor counts when it is this party or a pgpriv server defined here with its public_key."),
				 errhint("The owner declares the other banks as servers (CREATE SERVER ... OPTIONS (public_key ...)).")));
	return self;
}

/* The permit's limits on the run's shape: its column, min_parties, min_group. */
static void
permit_check_run(const char *dataset, const char *column, const Permit *permit,
				 const Participant *parts, int n)
{
	int			peers = 0;
	int			i;

	sum_permit_require_column("secure_sum", dataset, column, permit);
	for (i = 0; i < n; i++)
		if (parts[i].kind == SUM_KIND_PEER)
			peers++;
	if (permit->min_parties > 0 && peers < permit->min_parties)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: secure_sum on dataset \"%s\" needs at least %d contributing parties besides the asker, this run has %d",
						dataset, permit->min_parties, peers)));
	if (permit->min_group > 0 && n < permit->min_group)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: secure_sum on dataset \"%s\" reveals totals over at least %d parties, this run has %d",
						dataset, permit->min_group, n)));
}

/*
 * serve_admit's check of a secure_sum run's terms, so that a run refused for
 * its shape (column, min_parties, min_group, participants' keys) is refused
 * at admission: audited, and charged nothing.  terms is the value column,
 * a zero byte, then the participants message of serve_sum_begin.  Raises
 * the same errors serve_sum_begin would.
 */
void
secure_sum_admission_check(const char *dataset, const Permit *permit, bytea *terms)
{
	const char *p = VARDATA_ANY(terms);
	size_t		len = VARSIZE_ANY_EXHDR(terms);
	const char *nul = memchr(p, '\0', len);
	Participant *parts = palloc0(sizeof(Participant) * SUM_MAX_PARTICIPANTS);
	uint8		session[SHARE_KEY_BYTES];
	uint8		my_key[SHARE_KEY_BYTES];
	uint8		my_secret[SHARE_KEY_BYTES];
	bytea	   *msg;
	char	   *column;
	int			n;

	if (nul == NULL)
		wire_malformed("the asker", "The secure_sum terms carry no value column.");
	column = pnstrdup(p, nul - p);
	msg = (bytea *) palloc(VARHDRSZ + len - (nul - p) - 1);
	SET_VARSIZE(msg, VARHDRSZ + len - (nul - p) - 1);
	memcpy(VARDATA(msg), nul + 1, len - (nul - p) - 1);

	n = participants_decode(msg, session, parts);
	permit_check_run(dataset, column, permit, parts, n);
	identity_active_keypair(my_key, my_secret);
	sodium_memzero(my_secret, sizeof(my_secret));
	(void) participants_check(parts, n, my_key, dataset, permit);
}

/* The owner's pair seeds; its identity secret is wiped whatever happens. */
static pg_noinline void
owner_seeds_derive(SumRun *sr, const Participant *parts, int n, int self, uint8 *my_secret,
				   const uint8 *session, const char *dataset, const char *column)
{
	PG_TRY();
	{
		sr->npairs = sum_pair_seeds_derive(parts, n, self, my_secret, session, dataset, column,
									   sr->seeds, sr->signs, "the asker");
	}
	PG_CATCH();
	{
		sodium_memzero(my_secret, SHARE_KEY_BYTES);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sodium_memzero(my_secret, SHARE_KEY_BYTES);
}

/*
 * pgpriv.serve_sum_begin(dataset, run, value_column, participants) → batch limit
 *
 * For a run admitted by serve_admit (permit checked, its keys charged):
 * checks the run against the permit and this party's peer definitions,
 * derives the pair seeds, and sums the dataset's column per key.
 */
Datum
pgpriv_serve_sum_begin(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	Admission  *admission = admission_require(run, dataset, "secure_sum");
	Dataset		ds;
	Permit		permit;
	Participant *parts = palloc0(sizeof(Participant) * SUM_MAX_PARTICIPANTS);
	uint8		session[SHARE_KEY_BYTES];
	uint8		my_key[SHARE_KEY_BYTES];
	uint8		my_secret[SHARE_KEY_BYTES];
	int			n;
	int			self;
	MemoryContext cxt;
	MemoryContext old;
	SumRun	   *sr;

	catalog_restrict_definer();
	/* Not in the transcript: it comes as a text parameter (a hex bytea literal). */
	permit_require(dataset, "secure_sum", &ds, &permit);
	n = participants_decode(msg, session, parts);
	permit_check_run(dataset, column, &permit, parts, n);

	served_run_close();
	progress_begin("secure_sum", session_role_name(), dataset, admission->keys);
	progress_phase("owner: checking the participants", 0);
	identity_active_keypair(my_key, my_secret);
	PG_TRY();
	{
		self = participants_check(parts, n, my_key, dataset, &permit);
	}
	PG_CATCH();
	{
		sodium_memzero(my_secret, sizeof(my_secret));
		PG_RE_THROW();
	}
	PG_END_TRY();

	sr = served_run_open("secure_sum", run, dataset, sizeof(SumRun), NULL);
	cxt = sr->base.cxt;
	old = CurrentMemoryContext;
	{
		sr->seeds = secret_alloc(cxt, SHARE_KEY_BYTES * n);	/* wiped when the run closes */
		sr->signs = MemoryContextAlloc(cxt, sizeof(int) * n);
		owner_seeds_derive(sr, parts, n, self, my_secret, session, dataset, column);

		/* The dataset is read and summed once, before any key is asked. */
		progress_phase("owner: reading the dataset", 0);
		owner_sum_dataset(sr, &ds, dataset, column, n);
		MemoryContextSwitchTo(old);
	}
	progress_end();
	PG_RETURN_INT32(pgpriv_batch_size);
}

/* Read the dataset's column and sum it per key, into sr->table. */
static void
owner_sum_dataset(SumRun *sr, const Dataset *ds, const char *dataset, const char *column, int n)
{
	MemoryContext cxt = sr->base.cxt;
	MemoryContext rows_cxt = AllocSetContextCreate(cxt, "pgpriv secure_sum rows", ALLOCSET_DEFAULT_SIZES);
	DatasetRows rows;

	MemoryContextSwitchTo(rows_cxt);
	dataset_rows_fetch(ds, list_make1(pstrdup(column)), &rows);
	MemoryContextSwitchTo(cxt);
	progress_phase("owner: summing the dataset per key", (int64) rows.keys.n);
	sum_table_build(&rows, dataset, column, n, &sr->table);
	MemoryContextDelete(rows_cxt);
}

/*
 * pgpriv.serve_sum_batch(run, keys) → the masked value and presence of each key
 *
 * Keys must come in strictly ascending order over the whole run (so none is
 * asked twice).  The batch that reaches the admitted count ends the run.
 */
Datum
pgpriv_serve_sum_batch(PG_FUNCTION_ARGS)
{
	char	   *run;
	bytea	   *msg;
	SumRun	   *sr = mpc_serve_step(fcinfo, "secure_sum", &run, &msg);
	Admission  *admission;
	WireReader	r;
	uint32		count;
	const uint8 **keys;
	size_t	   *lens;
	uint64	   *value;
	uint64	   *presence;
	uint8	   *items;
	bytea	   *reply;
	uint32		i;

	admission = admission_require(run, sr->base.dataset, "secure_sum");
	wire_reader_init(&r, msg, WIRE_SUM_KEYS, (uint32) pgpriv_batch_size, SUM_MAX_KEY_BYTES, "the asker");
	count = r.remaining;
	/* Refuses keys beyond the admitted (and charged) count. */
	admission_serve(admission, count, VARSIZE_ANY_EXHDR(msg), 0);

	keys = palloc(sizeof(uint8 *) * Max(count, 1));
	lens = palloc(sizeof(size_t) * Max(count, 1));
	value = palloc0(sizeof(uint64) * Max(count, 1));
	presence = palloc0(sizeof(uint64) * Max(count, 1));
	for (i = 0; i < count; i++)
	{
		const uint8 *k;
		uint32		len;
		int64		v;

		(void) wire_reader_next(&r, &k, &len);
		if (i > 0 ? sum_key_compare(keys[i - 1], lens[i - 1], k, len) >= 0
			: sr->any_asked && sum_key_compare(sr->last_key, sr->last_len, k, len) >= 0)
			wire_malformed("the asker", "Keys are not in strictly ascending order.");
		keys[i] = k;
		lens[i] = len;
		if (sum_table_lookup(&sr->table, k, len, &v))
		{
			value[i] = (uint64) v;
			presence[i] = 1;
			sr->held++;
		}
	}
	sum_masks_add(count, keys, lens, sr->npairs, sr->seeds, sr->signs, value, presence);

	items = palloc(SUM_SHARE_BYTES * Max(count, 1));
	for (i = 0; i < count; i++)
	{
		uint64		v = pg_hton64(value[i]);
		uint64		p = pg_hton64(presence[i]);

		memcpy(items + i * SUM_SHARE_BYTES, &v, 8);
		memcpy(items + i * SUM_SHARE_BYTES + 8, &p, 8);
	}
	reply = wire_pack_fixed(WIRE_SUM_SHARES, items, count, SUM_SHARE_BYTES);
	admission->bytes_out += VARSIZE_ANY_EXHDR(reply);

	if (count > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(sr->base.cxt);

		if (sr->last_key)
			pfree(sr->last_key);
		sr->last_key = palloc(Max(lens[count - 1], 1));
		memcpy(sr->last_key, keys[count - 1], lens[count - 1]);
		sr->last_len = lens[count - 1];
		sr->any_asked = true;
		MemoryContextSwitchTo(old);
	}
	if (admission->served == admission->keys)
	{
		/* The run is complete: one audit row with everything that crossed. */
		admission_complete(admission, sr->held);
		served_run_close();
	}
	return mpc_serve_reply(run, reply);
}

