/*
 * keys.c — read the asker's keys and the owner's rows (see keys.h).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/plancache.h"

#include "pgpriv.h"
#include "catalog/dataset.h"
#include "peer/connection.h"
#include "run/keys.h"
#include "run/progress.h"

#define FETCH_ROWS 10000

void
key_builder_add(KeyBuilder *b, const char *text)
{
	KeySet	   *s = b->set;
	size_t		len = strlen(text);
	char	   *utf8;

	if (s->n == b->cap)
	{
		b->cap = b->cap ? b->cap * 2 : 1024;
		s->data = repalloc_huge(s->data, sizeof(uint8 *) * b->cap);
		s->lens = repalloc_huge(s->lens, sizeof(size_t) * b->cap);
		s->text = repalloc_huge(s->text, sizeof(char *) * b->cap);
	}
	s->text[s->n] = pstrdup(text);
	utf8 = pg_server_to_any(s->text[s->n], len, PG_UTF8);
	s->data[s->n] = (const uint8 *) utf8;
	s->lens[s->n] = utf8 == s->text[s->n] ? len : strlen(utf8);
	s->n++;
}

void
key_builder_init(KeyBuilder *b, KeySet *set)
{
	set->n = 0;
	set->data = palloc(sizeof(uint8 *));
	set->lens = palloc(sizeof(size_t));
	set->text = palloc(sizeof(char *));
	b->set = set;
	b->cap = 1;
}

static int
compare_key_index(const void *a, const void *b, void *arg)
{
	const KeySet *s = arg;
	size_t		i = *(const size_t *) a;
	size_t		j = *(const size_t *) b;
	size_t		n = Min(s->lens[i], s->lens[j]);
	int			c = memcmp(s->data[i], s->data[j], n);

	if (c != 0)
		return c;
	return (s->lens[i] > s->lens[j]) - (s->lens[i] < s->lens[j]);
}

void
keys_unique(KeySet *s)
{
	size_t	   *order;
	size_t		i;
	size_t		out = 0;
	const uint8 **data;
	size_t	   *lens;
	char	  **text;

	if (s->n < 2)
		return;
	order = palloc_extended(sizeof(size_t) * s->n, MCXT_ALLOC_HUGE);
	for (i = 0; i < s->n; i++)
		order[i] = i;
	qsort_arg(order, s->n, sizeof(size_t), compare_key_index, s);

	data = palloc_extended(sizeof(uint8 *) * s->n, MCXT_ALLOC_HUGE);
	lens = palloc_extended(sizeof(size_t) * s->n, MCXT_ALLOC_HUGE);
	text = palloc_extended(sizeof(char *) * s->n, MCXT_ALLOC_HUGE);
	for (i = 0; i < s->n; i++)
	{
		size_t		k = order[i];

		if (out > 0 && lens[out - 1] == s->lens[k] &&
			memcmp(data[out - 1], s->data[k], s->lens[k]) == 0)
			continue;
		data[out] = s->data[k];
		lens[out] = s->lens[k];
		text[out] = s->text[k];
		out++;
	}
	s->data = data;
	s->lens = lens;
	s->text = text;
	s->n = out;
}

/*
 * The one statement of keys_query: a SELECT (not SELECT INTO), as the
 * statement's own text, without the trailing semicolon a user may type.
 */
char *
keys_query_check(const char *keys_query)
{
	return single_select_text(keys_query, "keys_query", "For example: SELECT credit_code FROM applicants");
}

/*
 * Errors of the wrapped query, as errors of the user's keys_query: a
 * position is moved from the wrapper's text into the user's, the query
 * shown is the user's, and SPI's context line quoting the wrapper is
 * replaced by one quoting keys_query as the caller wrote it.
 */
static void
keys_query_rewrite_error(ErrorData *edata, const KeysQuery *kq)
{
	if (edata->internalquery && strcmp(edata->internalquery, kq->wrapped) == 0)
	{
		int			pos = edata->internalpos - kq->prefix_chars;

		pfree(edata->internalquery);
		edata->internalquery = pstrdup(kq->user);
		edata->internalpos = (pos > 0 && pos <= kq->stmt_chars) ? pos + kq->lead_chars : 0;
	}
	if (edata->context)
	{
		char	   *line = psprintf("SQL statement \"%s\"", kq->wrapped);
		char	   *at = strstr(edata->context, line);

		if (at)
		{
			StringInfoData ctx;
			const char *rest = at + strlen(line);

			initStringInfo(&ctx);
			appendBinaryStringInfo(&ctx, edata->context, at - edata->context);
			appendStringInfo(&ctx, "keys_query \"%s\"", kq->user);
			appendStringInfoString(&ctx, rest);
			pfree(edata->context);
			edata->context = ctx.data;
		}
		pfree(line);
	}
}

void
keys_query_prepare(KeysQuery *kq, const char *keys_query, const char *select_list)
{
	const char *stmt;
	const char *prefix;

	stmt = keys_query_check(keys_query);
	prefix = psprintf("SELECT %s FROM (", select_list);
	kq->user = keys_query;
	kq->wrapped = psprintf("%s%s\n) AS k(pgpriv_key)", prefix, stmt);
	kq->prefix_chars = strlen(prefix);	/* ASCII */
	kq->stmt_chars = pg_mbstrlen(stmt);
	kq->lead_chars = pg_mbstrlen_with_len(keys_query, strstr(keys_query, stmt) - keys_query);
	kq->plan = NULL;
}

Portal
keys_query_open(KeysQuery *kq)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Portal portal = NULL;

	PG_TRY();
	{
		kq->plan = SPI_prepare(kq->wrapped, 0, NULL);
		if (kq->plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		portal = SPI_cursor_open(NULL, kq->plan, NULL, NULL, true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		keys_query_rewrite_error(edata, kq);
		ReThrowError(edata);
	}
	PG_END_TRY();
	return portal;
}

uint64
keys_query_fetch_all(KeysQuery *kq)
{
	Portal		portal;
	uint64		nrows;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = keys_query_open(kq);
	SPI_cursor_fetch(portal, true, FETCH_ALL);
	nrows = SPI_processed;
	SPI_cursor_close(portal);
	if (nrows > (uint64) pgpriv_max_run_keys)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a run may ask at most %d keys (pgpriv.max_run_keys), not %llu",
						pgpriv_max_run_keys, (unsigned long long) nrows)));
	return nrows;
}

void
keys_collect(const char *keys_query, KeySet *keys)
{
	MemoryContext caller = CurrentMemoryContext;
	KeysQuery	kq;
	Portal		portal;
	KeyBuilder	b;

	/*
	 * Refuse anything but one query that returns rows, before running it.
	 * The key is the first column cast to text (as on the owner's side):
	 * char(n) keys lose their padding exactly as ::text does.  The alias
	 * list renames only the first column.
	 */
	keys_query_prepare(&kq, keys_query, "k.pgpriv_key::pg_catalog.text");

	key_builder_init(&b, keys);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = keys_query_open(&kq);
	for (;;)
	{
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		peer_check_alive();
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		if (SPI_tuptable->tupdesc->natts < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("keys_query returns no column")));
		for (i = 0; i < SPI_processed; i++)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			MemoryContext spi;

			if (v == NULL)
				continue;		/* NULL keys are ignored */
			spi = MemoryContextSwitchTo(caller);
			key_builder_add(&b, v);
			MemoryContextSwitchTo(spi);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	keys_unique(keys);
}

void
dataset_rows_fetch(const Dataset *ds, List *columns, DatasetRows *rows)
{
	(void) dataset_rows_fetch_checked(ds, columns, NULL, rows, NULL, NULL, NULL);
}

/*
 * As dataset_rows_fetch; with check, also the change check (see
 * catalog/change_check.h) in the snapshot the rows are read in.  If the
 * check is exact and its stamp equals known, no row is read and false is
 * returned: the rows are those read when known was computed.  With
 * progress_what, a progress report (progress_begin) starts just before rows
 * are read; the caller ends it.
 */
bool
dataset_rows_fetch_checked(const Dataset *ds, List *columns, const char *known,
						   DatasetRows *rows, ChangeCheck *check,
						   const char *progress_what, const char *progress_peer)
{
	MemoryContext caller = CurrentMemoryContext;
	StringInfoData sql;
	DatasetRoleContext role;
	KeyBuilder	b;
	size_t		cap = 0;
	ListCell   *lc;
	SPIPlanPtr	plan;
	Portal		portal;
	int			ncol = list_length(columns);
	Oid			consent_types[2] = {NAMEOID, TEXTOID};
	Datum		consent_args[2];
	List	   *query_list = NIL;
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT d.%s::pg_catalog.text", quote_identifier(ds->key_column));
	foreach(lc, columns)
		appendStringInfo(&sql, ", d.%s::pg_catalog.text", quote_identifier((char *) lfirst(lc)));
	appendStringInfo(&sql, " FROM (%s\n) AS d WHERE d.%s IS NOT NULL",
					 ds->query, quote_identifier(ds->key_column));

	/*
	 * Applicant consent: only rows whose key the permit's authorised_by
	 * query returns (run here, as the publisher, with $1 = the peer role and
	 * $2 = the capability).  Every capability reads the owner's rows through
	 * this function, so a key without consent is in no intersection, table,
	 * sum or score; a withdrawn consent is in force from the next run.
	 */
	if (ds->consent_query)
		appendStringInfo(&sql, " AND d.%s::pg_catalog.text OPERATOR(pg_catalog.=) ANY "
						 "(SELECT c.pgpriv_consent::pg_catalog.text FROM (%s\n) AS c(pgpriv_consent))",
						 quote_identifier(ds->key_column), ds->consent_query);

	key_builder_init(&b, &rows->keys);
	rows->ncolumns = ncol;
	rows->values = palloc(sizeof(char *));

	/* The publisher's rights and search_path, never the extension owner's. */
	dataset_enter_role(ds->owner_role, ds->search_path, &role);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* $1 and $2 of the consent query, when there is one. */
	if (ds->consent_query)
	{
		consent_args[0] = DirectFunctionCall1(namein, CStringGetDatum(ds->consent_role));
		consent_args[1] = CStringGetTextDatum(ds->consent_capability);
	}
	plan = SPI_prepare(sql.data, ds->consent_query ? 2 : 0, consent_types);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataset \"%s\" can no longer be read: %s", ds->name,
						SPI_result_code_string(SPI_result))));
	if (check)
	{
		/*
		 * The tree as it will run, taken before the portal opens; the locks
		 * taken in planning it are held to the end of the transaction, so no
		 * DDL can change it in between.
		 */
		MemoryContext spi = MemoryContextSwitchTo(caller);

		query_list = ((CachedPlanSource *) linitial(SPI_plan_get_plan_sources(plan)))->query_list;
		change_check_walk(query_list, check);
		MemoryContextSwitchTo(spi);
	}
	/* Opening the portal checks the publisher's privileges; no row is read yet. */
	portal = SPI_cursor_open(NULL, plan, ds->consent_query ? consent_args : NULL, NULL, true);
	if (check && check->exact)
	{
		int			sec;
		Oid			user;

		/* The change log and pg_trigger are read as the extension owner. */
		GetUserIdAndSecContext(&user, &sec);
		SetUserIdAndSecContext(role.save_userid, sec);
		change_check_stamp(check, query_list);
		SetUserIdAndSecContext(user, sec);
	}
	if (check && check->exact && known && strcmp(known, check->stamp) == 0)
	{
		ereport(DEBUG1,
				(errmsg_internal("dataset \"%s\" unchanged since it was last read (change check %s)",
								 ds->name, check->stamp)));
		SPI_cursor_close(portal);
		SPI_finish();
		dataset_leave_role(&role);
		return false;
	}
	if (check)
		ereport(DEBUG1,
				(errmsg_internal("dataset \"%s\" is read: %s", ds->name,
								 check->exact ? "changed, or not read before" : check->reason)));
	if (progress_what)
	{
		progress_begin(progress_what, progress_peer, ds->name, 0);
		progress_phase("owner: reading the dataset", 0);
	}
	for (;;)
	{
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			MemoryContext spi = MemoryContextSwitchTo(caller);
			size_t		row = rows->keys.n;
			int			c;

			key_builder_add(&b, SPI_getvalue(tup, desc, 1));
			if (ncol > 0)
			{
				if (row + 1 > cap)
				{
					cap = Max(cap * 2, 1024);
					rows->values = repalloc_huge(rows->values, sizeof(char *) * cap * ncol);
				}
				for (c = 0; c < ncol; c++)
				{
					char	   *v = SPI_getvalue(tup, desc, c + 2);

					rows->values[row * ncol + c] =
						v ? pg_server_to_any(pstrdup(v), strlen(v), PG_UTF8) : NULL;
				}
			}
			MemoryContextSwitchTo(spi);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	dataset_leave_role(&role);
	return true;
}

static int
rowref_cmp(const void *a, const void *b)
{
	const RowRef *x = a;
	const RowRef *y = b;
	int			c = memcmp(x->key, y->key, Min(x->len, y->len));

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

void
row_index_build(const DatasetRows *rows, RowIndex *index)
{
	index->n = rows->keys.n;
	index->refs = palloc_extended(sizeof(RowRef) * Max(index->n, 1), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < index->n; i++)
	{
		index->refs[i].key = rows->keys.data[i];
		index->refs[i].len = rows->keys.lens[i];
		index->refs[i].row = i;
	}
	qsort(index->refs, index->n, sizeof(RowRef), rowref_cmp);
}

int64
row_index_unique(const RowIndex *index, const uint8 *key, size_t len)
{
	RowRef		probe = {key, len, 0};
	RowRef	   *hit = bsearch(&probe, index->refs, index->n, sizeof(RowRef), rowref_cmp);

	if (hit == NULL ||
		(hit > index->refs && rowref_cmp(hit - 1, &probe) == 0) ||
		(hit + 1 < index->refs + index->n && rowref_cmp(hit + 1, &probe) == 0))
		return -1;
	return (int64) hit->row;
}

bool
dataset_value_number(const char *text, double *out)
{
	char	   *end;
	double		v;

	if (strcmp(text, "t") == 0 || strcmp(text, "true") == 0)
	{
		*out = 1.0;
		return true;
	}
	if (strcmp(text, "f") == 0 || strcmp(text, "false") == 0)
	{
		*out = 0.0;
		return true;
	}
	errno = 0;
	v = strtod(text, &end);
	while (*end == ' ')
		end++;
	if (end == text || *end != '\0' || errno != 0 || !isfinite(v))
		return false;
	*out = v;
	return true;
}

int
keys_query_label(const char *text, const char *label)
{
	if (strcmp(text, "t") == 0 || strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
		return 1;
	if (strcmp(text, "f") == 0 || strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
		return 0;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("label column \"%s\" of keys_query holds a value other than 0, 1, true or false", label),
			 errhint("Give the label as a boolean or as 0/1, e.g. (defaulted)::int AS %s.", label)));
}
