/*
 * joint_woe.c — weight of evidence (WOE) and information value (IV) of the
 * owner's columns against the asker's 0/1 labels (docs/joint_woe.md), the
 * owner's half and the asker's half.
 *
 * The asker (a bank) has keys and a label per key; the owner (the bureau)
 * has the columns.  The asker makes an ElGamal key of its own and sends,
 * per row, its key in clear, an encryption of its label under that key and
 * a proof that the ciphertext holds 0 or 1 (crypto/elgamal_proof.h), bound
 * to the run and the row's position.  The owner checks every proof, looks
 * up each key (a key with no row or several rows takes no part), cuts each
 * column into quantile bins over the matched rows, adds up the label
 * ciphertexts per bin, re-randomises each sum and returns, per bin, its
 * number of rows and the sum — or neither, for a bin of fewer rows than the
 * permit's min_group.  The asker decrypts each sum (a small discrete
 * logarithm) and computes WOE and IV.
 *
 * The owner learns the keys asked (as for joint_score) and nothing of the
 * labels; the asker learns the bin edges (quantiles of the owner's column
 * over the matched rows) and, per bin, the number of rows and of events.
 * The proofs stop a modified asker from encoding anything but 0 or 1 in a
 * label, so each bin's sum is a count of its labelled rows; what any choice
 * of 0/1 labels reveals is the function itself (docs/joint_woe.md).  Run
 * state lives in the serving backend's memory and is wiped when the run
 * ends, a new one starts, or the session ends.
 */
#include "postgres.h"

#include <math.h>
#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "catalog/receipt.h"
#include "crypto/elgamal.h"
#include "crypto/elgamal_proof.h"
#include "crypto/parallel.h"
#include "peer/call.h"
#include "protocol/mpc/mpc_asker.h"
#include "protocol/mpc/mpc_serve.h"
#include "protocol/mpc/mpc_terms.h"
#include "protocol/train/joint_woe.h"
#include "run/ask.h"
#include "run/admission.h"
#include "run/keys.h"
#include "run/progress.h"
#include "run/secret_mem.h"
#include "run/served_run.h"
#include "wire/message.h"

#define EL ELGAMAL_ELEMENT_BYTES
#define CT ELGAMAL_CIPHERTEXT_BYTES
#define PROOF ELGAMAL_BIT_PROOF_BYTES
#define ROW_HEAD (CT + PROOF)			/* a row: ciphertext, proof, then the key */
#define BIN_BYTES (8 + 1 + CT)			/* rows, suppressed flag, the sum */
#define HEAD_BYTES (8 + 8 + CT)			/* matched rows, keys without a row, Σ labels */
#define SLAB 4096

PG_FUNCTION_INFO_V1(pgpriv_serve_woe_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_woe_push);
PG_FUNCTION_INFO_V1(pgpriv_serve_woe_finish);
PG_FUNCTION_INFO_V1(pgpriv_joint_woe);

typedef struct WoeTerms
{
	int			nbins;			/* quantile bins, for columns without given edges */
	int			k;
	char	  **columns;
	int		   *ngiven;			/* per column: edges given by the asker (0: quantiles) */
	double	  **given;
} WoeTerms;

#define EDGES_TEXT_MAX (WOE_MAX_BINS * 32)

/*
 * Edges travel as text, one number per line, strictly increasing and
 * finite: parsed into edges (at most max of them); the count, or -1.
 */
static int
edges_parse(const uint8 *text, uint32 len, double *edges, int max)
{
	char	   *buf;
	char	   *p;
	int			n = 0;

	if (len == 0)
		return 0;
	if (len > EDGES_TEXT_MAX)
		return -1;
	buf = pnstrdup((const char *) text, len);
	if (strlen(buf) != len)
		return -1;				/* a NUL inside */
	for (p = buf;;)
	{
		char	   *end;
		double		e;

		errno = 0;
		e = strtod(p, &end);
		if (end == p || errno != 0 || isnan(e) || isinf(e) || n >= max ||
			(n > 0 && e <= edges[n - 1]) || (*end != '\n' && *end != '\0'))
			return -1;
		edges[n++] = e;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	pfree(buf);
	return n;
}

static void
edges_add(WireBuilder *b, const double *edges, int n)
{
	StringInfoData et;

	initStringInfo(&et);
	for (int e = 0; e < n; e++)
		appendStringInfo(&et, "%s%.17g", e ? "\n" : "", edges[e]);
	wire_builder_add(b, (const uint8 *) et.data, (uint32) et.len);
	pfree(et.data);
}

/* Terms: item 0 = nbins, k (4 bytes each); then per column its name and its given edges. */
static void
terms_add(WireBuilder *b, const WoeTerms *t)
{
	uint8		head[8];

	wire_put_u32(head, (uint32) t->nbins);
	wire_put_u32(head + 4, (uint32) t->k);
	wire_builder_add(b, head, sizeof(head));
	for (int j = 0; j < t->k; j++)
	{
		wire_builder_add(b, (const uint8 *) t->columns[j], (uint32) strlen(t->columns[j]));
		edges_add(b, t->given[j], t->ngiven[j]);
	}
}

static void
terms_read(WireReader *r, WoeTerms *t)
{
	const uint8 *item;
	uint32		len;

	if (!wire_reader_next(r, &item, &len) || len != 8)
		wire_malformed("the asker", "The joint_woe terms lack their head.");
	t->nbins = (int) wire_get_u32(item);
	t->k = (int) wire_get_u32(item + 4);
	if (t->nbins < 2 || t->nbins > WOE_MAX_BINS || t->k < 1 || t->k > WOE_MAX_COLUMNS)
		wire_malformed("the asker", psprintf("%d bins of %d columns.", t->nbins, t->k));
	t->columns = palloc(sizeof(char *) * t->k);
	t->ngiven = palloc(sizeof(int) * t->k);
	t->given = palloc(sizeof(double *) * t->k);
	for (int j = 0; j < t->k; j++)
	{
		t->columns[j] = mpc_terms_column(r, t->columns, j, "A joint_woe column name is missing or too long.",
										 "A column named twice.");
		t->given[j] = palloc(sizeof(double) * WOE_MAX_BINS);
		if (!wire_reader_next(r, &item, &len) ||
			(t->ngiven[j] = edges_parse(item, len, t->given[j], WOE_MAX_BINS - 1)) < 0)
			wire_malformed("the asker", psprintf("Column \"%s\"'s given edges are not increasing numbers.",
												 t->columns[j]));
	}
}

void
joint_woe_admission_check(const char *dataset, const Permit *permit, bytea *terms)
{
	WireReader	r;
	WoeTerms	t;

	mpc_terms_open(&r, terms, WIRE_WOE_TERMS, 2 * WOE_MAX_COLUMNS + 1, Max(NAMEDATALEN, EDGES_TEXT_MAX),
				   "A train run is admitted with its terms.");
	terms_read(&r, &t);
	permit_require_columns(dataset, "train", permit, t.columns, t.k);
}

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

typedef struct WoeRun
{
	ServedRun	base;
	WoeTerms	t;
	uint8		pk[EL];			/* the asker's key */
	DatasetRows rows;
	RowIndex	index;			/* rows sorted by key */
	int64		received;		/* rows pushed */
	int64		matched;		/* of which with exactly one dataset row */
	size_t	   *match_row;		/* per matched row: its dataset row */
	uint8	   *match_ct;		/* per matched row: the label ciphertext */
	double	   *values;			/* matched × k, NaN for NULL */
} WoeRun;

static WoeRun *
woe_run_get(const char *run)
{
	return served_run_get("train", run);
}

/* A column value as a number: the owner's data, so refused by column name. */
static double
owner_value(const char *text, const char *dataset, const char *column)
{
	double		v;

	if (!dataset_value_number(text, &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("column \"%s\" of dataset \"%s\" holds a value that is not a finite number",
						column, dataset),
				 errhint("joint_woe bins numeric columns; publish a numeric expression for it.")));
	return v;
}

/*
 * pgpriv.serve_woe_begin(dataset, run, terms) → integer (rows per push)
 *
 * For a run admitted by serve_admit with its terms: the terms again and the
 * asker's key; reads the dataset's columns once.
 */
Datum
pgpriv_serve_woe_begin(PG_FUNCTION_ARGS)
{
	MpcServeBegin sb;
	WireReader	r;
	WoeTerms	t;
	const uint8 *item;
	uint32		len;
	WoeRun	   *wr;
	MemoryContext old;
	List	   *columns = NIL;
	elgamal_status st;

	mpc_serve_begin(fcinfo, "train", NULL, &sb);
	wire_reader_init(&r, sb.msg, WIRE_WOE_TERMS, 2 * WOE_MAX_COLUMNS + 2, Max(NAMEDATALEN, EDGES_TEXT_MAX),
					 "the asker");
	terms_read(&r, &t);
	permit_require_columns(sb.dataset, "train", &sb.permit, t.columns, t.k);
	if (!wire_reader_next(&r, &item, &len) || len != EL || r.remaining != 0)
		wire_malformed("the asker", "The begin message must end with the asker's 32-byte key.");
	if ((st = elgamal_check_element(item)) != ELGAMAL_OK)
		wire_malformed("the asker", psprintf("Its key is %s.", elgamal_status_reason(st)));

	wr = served_run_open("train", sb.run, sb.dataset, sizeof(WoeRun), NULL);
	memcpy(wr->pk, item, EL);
	wr->base.bytes_in = VARSIZE_ANY_EXHDR(sb.msg);
	old = MemoryContextSwitchTo(wr->base.cxt);
	wr->t.nbins = t.nbins;
	wr->t.k = t.k;
	wr->t.columns = palloc(sizeof(char *) * t.k);
	wr->t.ngiven = palloc(sizeof(int) * t.k);
	wr->t.given = palloc(sizeof(double *) * t.k);
	for (int j = 0; j < t.k; j++)
	{
		wr->t.ngiven[j] = t.ngiven[j];
		wr->t.given[j] = palloc(sizeof(double) * WOE_MAX_BINS);
		memcpy(wr->t.given[j], t.given[j], sizeof(double) * WOE_MAX_BINS);
		wr->t.columns[j] = pstrdup(t.columns[j]);
		columns = lappend(columns, wr->t.columns[j]);
	}
	progress_begin("joint_woe", session_role_name(), sb.dataset, sb.admission->keys);
	progress_phase("owner: reading the columns", 0);
	{
		dataset_rows_fetch(&sb.ds, columns, &wr->rows);
		row_index_build(&wr->rows, &wr->index);
		wr->match_row = palloc_extended(sizeof(size_t) * Max(sb.admission->keys, 1), MCXT_ALLOC_HUGE);
		wr->match_ct = palloc_extended((Size) CT * Max(sb.admission->keys, 1), MCXT_ALLOC_HUGE);
	}
	MemoryContextSwitchTo(old);
	progress_phase("owner: checking labels' proofs (rows)", sb.admission->keys);
	PG_RETURN_INT32(Min(pgpriv_batch_size, 1 << 16));
}

/*
 * pgpriv.serve_woe_push(run, rows) → bigint (rows received so far)
 *
 * A batch of rows: each proof is checked (bound to the run and the row's
 * position), each key looked up.
 */
Datum
pgpriv_serve_woe_push(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *msg = PG_GETARG_BYTEA_PP(1);
	WoeRun	   *wr = woe_run_get(run);
	Admission  *admission = admission_require(wr->base.run, wr->base.dataset, "train");
	uint32		max_rows = (uint32) Min((int64) Min(pgpriv_batch_size, 1 << 16), admission->keys - wr->received);
	WireReader	r;
	const uint8 *item;
	uint32		len;
	uint8	   *cts;
	uint8	   *proofs;
	const uint8 **keys;
	uint32	   *lens;
	uint32		n = 0;
	elgamal_bit_job job;
	size_t		failed = 0;
	int			st;

	catalog_restrict_definer();
	admission_absorb(run, TRANSCRIPT_REQUEST, msg);
	{
		wire_reader_init(&r, msg, WIRE_WOE_ROWS, max_rows, ROW_HEAD + (1 << 20), "the asker");
		cts = palloc((Size) CT * Max(r.remaining, 1));
		proofs = palloc((Size) PROOF * Max(r.remaining, 1));
		keys = palloc(sizeof(uint8 *) * Max(r.remaining, 1));
		lens = palloc(sizeof(uint32) * Max(r.remaining, 1));
		while (wire_reader_next(&r, &item, &len))
		{
			if (len <= ROW_HEAD)
				wire_malformed("the asker", "A row without its key.");
			memcpy(cts + (Size) n * CT, item, CT);
			memcpy(proofs + (Size) n * PROOF, item + CT, PROOF);
			keys[n] = item + ROW_HEAD;
			lens[n] = len - ROW_HEAD;
			n++;
		}
		if (n == 0)
			wire_malformed("the asker", "An empty batch.");
		job.base = (size_t) wr->received;
		job.pk = wr->pk;
		job.prefix = (const uint8 *) wr->base.run;
		job.prefix_len = strlen(wr->base.run);
		job.bits = NULL;
		job.cts = cts;
		job.proofs = proofs;
		job.stride = 0;
		for (uint32 start = 0; start < n; start += SLAB)
		{
			uint32		m = Min((uint32) SLAB, n - start);
			elgamal_bit_job slab = job;

			CHECK_FOR_INTERRUPTS();
			slab.base = job.base + start;
			slab.cts = cts + (Size) start * CT;
			slab.proofs = proofs + (Size) start * PROOF;
			st = crypto_parallel_for(m, pgpriv_threads_for_batch(), elgamal_bit_verify_range, &slab, &failed);
			if (st != 0)
				wire_malformed("the asker",
							   psprintf("Row %lld: %s.", (long long) (slab.base + failed + 1),
										st == ELGAMAL_BAD_PROOF ? "its label's proof does not verify"
										: elgamal_status_reason((elgamal_status) st)));
		}
		for (uint32 i = 0; i < n; i++)
		{
			int64		row = row_index_unique(&wr->index, keys[i], lens[i]);

			if (row < 0)
				continue;		/* no row, or several: no single answer */
			wr->match_row[wr->matched] = (size_t) row;
			memcpy(wr->match_ct + (Size) wr->matched * CT, cts + (Size) i * CT, CT);
			wr->matched++;
		}
		wr->received += n;
		wr->base.bytes_in += VARSIZE_ANY_EXHDR(msg);
		progress_advance(wr->received, wr->base.bytes_in, wr->base.bytes_out);
	}
	PG_RETURN_INT64(wr->received);
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
random_scalar(uint8 r[ELGAMAL_SCALAR_BYTES])
{
	do
		crypto_core_ristretto255_scalar_random(r);
	while (sodium_is_zero(r, ELGAMAL_SCALAR_BYTES));
}

/* sum re-randomised into out (an empty sum stays the all-zero encoding of 0). */
static void
rerandomised(const uint8 pk[EL], const uint8 sum[CT], uint8 out[CT])
{
	uint8		r[ELGAMAL_SCALAR_BYTES];
	elgamal_status st;

	random_scalar(r);
	st = elgamal_rerandomise(pk, sum, r, out);
	sodium_memzero(r, sizeof(r));
	if (st != ELGAMAL_OK)
		elog(ERROR, "joint_woe: re-randomising a checked sum failed: %s", elgamal_status_reason(st));
}

/*
 * out = the sum of n ciphertexts (64 bytes apart), on all cores: partial
 * sums of SUM_CHUNK ciphertexts in parallel, then those added up.
 */
#define SUM_CHUNK 512
static void
sum_ciphertexts(const uint8 *cts, size_t n, uint8 out[CT])
{
	size_t		chunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
	uint8	   *partial;
	uint8	   *flags;
	elgamal_sum_job job;
	size_t		failed = 0;
	int			st;

	memset(out, 0, CT);
	if (n == 0)
		return;
	partial = palloc_extended(chunks * CT, MCXT_ALLOC_HUGE);
	flags = palloc_extended(n, MCXT_ALLOC_HUGE);
	memset(flags, 1, n);
	job = (elgamal_sum_job) {.cts = cts, .stride = CT, .flags = flags, .n = n, .chunk = SUM_CHUNK,
	.partial = partial};
	CHECK_FOR_INTERRUPTS();
	st = crypto_parallel_for(chunks, pgpriv_threads_for_batch(), elgamal_sum_range, &job, &failed);
	if (st != 0)
		elog(ERROR, "joint_woe: adding checked ciphertexts failed: %s", elgamal_status_reason((elgamal_status) st));
	for (size_t c = 0; c < chunks; c++)
		if (elgamal_add(out, partial + c * CT, out) != ELGAMAL_OK)
			elog(ERROR, "joint_woe: adding partial sums failed");
	pfree(partial);
	pfree(flags);
}

/*
 * pgpriv.serve_woe_finish(run) → bytea
 *
 * Once every admitted row is in: per column, the quantile edges over the
 * matched rows with a value, then per bin (bin 0: no value) its rows and
 * re-randomised label sum, both withheld below min_group.  Ends the run.
 */
Datum
pgpriv_serve_woe_finish(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	WoeRun	   *wr = woe_run_get(run);
	Admission  *admission = admission_require(wr->base.run, wr->base.dataset, "train");
	Dataset		ds;
	Permit		permit;
	int			min_group;
	WireBuilder b;
	uint8		head[HEAD_BYTES];
	uint8		total[CT];
	bytea	   *reply;

	catalog_restrict_definer();
	{
		if (wr->received != admission->keys)
			wire_malformed("the asker", psprintf("The run ends after %lld of its %lld admitted rows.",
												 (long long) wr->received, (long long) admission->keys));
		permit_require(wr->base.dataset, "train", &ds, &permit);
		min_group = Max(permit.min_group, 1);
		if (wr->matched < min_group)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("fewer of the rows asked have a row in dataset \"%s\" than its min_group %d",
							wr->base.dataset, min_group),
					 errdetail("Nothing is returned for a training set smaller than min_group; how many fewer is not said.")));
		progress_phase("owner: adding up labels per bin", wr->t.k);

		sum_ciphertexts(wr->match_ct, (size_t) wr->matched, total);
		wire_builder_init(&b, WIRE_WOE_RESULT);
		{
			uint64		m = pg_hton64((uint64) wr->matched);
			uint64		none = pg_hton64((uint64) (wr->received - wr->matched));

			memcpy(head, &m, 8);
			memcpy(head + 8, &none, 8);
			rerandomised(wr->pk, total, head + 16);
			wire_builder_add(&b, head, sizeof(head));
		}
		for (int j = 0; j < wr->t.k; j++)
		{
			const char *col = wr->t.columns[j];
			double	   *v = palloc_extended(sizeof(double) * Max(wr->matched, 1), MCXT_ALLOC_HUGE);
			double	   *sorted = palloc_extended(sizeof(double) * Max(wr->matched, 1), MCXT_ALLOC_HUGE);
			double		edges[WOE_MAX_BINS];
			int			nedges = 0;
			int64		nv = 0;
			int			nb;
			uint8	   *sums;
			int64	   *counts;
			int		   *bins;
			int64	   *offsets;
			uint8	   *by_bin;
			for (int64 i = 0; i < wr->matched; i++)
			{
				const char *text = wr->rows.values[wr->match_row[i] * wr->rows.ncolumns + j];

				v[i] = text == NULL ? NAN : owner_value(text, wr->base.dataset, col);
				if (text != NULL)
					sorted[nv++] = v[i];
			}
			if (wr->t.ngiven[j] > 0)
			{
				/* The asker's edges, as given. */
				nedges = wr->t.ngiven[j];
				memcpy(edges, wr->t.given[j], sizeof(double) * nedges);
			}
			else
			{
				qsort(sorted, nv, sizeof(double), double_cmp);
				/* Upper edges at the 1/B … (B−1)/B quantiles, repeated ones once. */
				for (int q = 1; q < wr->t.nbins && nv > 0; q++)
				{
					double		e = sorted[Min((int64) ((double) q * nv / wr->t.nbins), nv - 1)];

					if (nedges == 0 || e > edges[nedges - 1])
						edges[nedges++] = e;
				}
				if (nedges > 0 && edges[nedges - 1] >= sorted[nv - 1])
					nedges--;	/* the last bin would be empty */
			}
			nb = nedges + 2;	/* bin 0: no value; bins 1 … nedges + 1 */
			sums = palloc0((Size) nb * CT);
			counts = palloc0(sizeof(int64) * nb);
			offsets = palloc0(sizeof(int64) * (nb + 1));
			bins = palloc_extended(sizeof(int) * Max(wr->matched, 1), MCXT_ALLOC_HUGE);
			for (int64 i = 0; i < wr->matched; i++)
			{
				int			bin = 0;

				if (!isnan(v[i]))
				{
					bin = 1;
					while (bin <= nedges && v[i] > edges[bin - 1])
						bin++;
				}
				bins[i] = bin;
				counts[bin]++;
			}
			/* The ciphertexts grouped by bin, each bin's added up on all cores. */
			for (int bin = 0; bin < nb; bin++)
				offsets[bin + 1] = offsets[bin] + counts[bin];
			by_bin = palloc_extended((Size) CT * Max(wr->matched, 1), MCXT_ALLOC_HUGE);
			{
				int64	   *fill = palloc(sizeof(int64) * nb);

				memcpy(fill, offsets, sizeof(int64) * nb);
				for (int64 i = 0; i < wr->matched; i++)
					memcpy(by_bin + (Size) (fill[bins[i]]++) * CT, wr->match_ct + (Size) i * CT, CT);
				pfree(fill);
			}
			for (int bin = 0; bin < nb; bin++)
				sum_ciphertexts(by_bin + (Size) offsets[bin] * CT, (size_t) counts[bin], sums + (Size) bin * CT);
			pfree(by_bin);
			pfree(bins);
			wire_builder_add(&b, (const uint8 *) col, (uint32) strlen(col));
			edges_add(&b, edges, nedges);
			for (int bin = 0; bin < nb; bin++)
			{
				uint8		item[BIN_BYTES];
				bool		withheld = counts[bin] > 0 && counts[bin] < min_group;
				uint64		c = pg_hton64(withheld ? 0 : (uint64) counts[bin]);

				memset(item, 0, sizeof(item));
				memcpy(item, &c, 8);
				item[8] = withheld ? 1 : 0;
				if (!withheld && counts[bin] > 0)
					rerandomised(wr->pk, sums + (Size) bin * CT, item + 9);
				wire_builder_add(&b, item, sizeof(item));
			}
			progress_advance(j + 1, wr->base.bytes_in, wr->base.bytes_out);
		}
		reply = wire_builder_finish(&b);
		wr->base.bytes_out += VARSIZE_ANY_EXHDR(reply);
	}
	return mpc_serve_last_reply(admission, wr->received, wr->matched, &wr->base, run, reply);
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

static void
parse_options(Jsonb *options, int *nbins, List **columns, JsonbValue **edges)
{
	JsonbValue *v;

	*nbins = 10;
	*columns = NIL;
	*edges = NULL;
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("joint_woe options must be a jsonb object")));
	v = getKeyJsonValueFromContainer(&options->root, "bins", 4, NULL);
	if (v != NULL)
	{
		if (v->type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("joint_woe option \"bins\" must be a number")));
		*nbins = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
		if (*nbins < 2 || *nbins > WOE_MAX_BINS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("joint_woe option \"bins\" must be between 2 and %d, not %d", WOE_MAX_BINS, *nbins)));
	}
	v = getKeyJsonValueFromContainer(&options->root, "columns", 7, NULL);
	if (v != NULL)
	{
		if (!mpc_asker_name_array(v, columns))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("joint_woe option \"columns\" must be an array of column names")));
		if (*columns == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("joint_woe option \"columns\" names no column")));
	}
	v = getKeyJsonValueFromContainer(&options->root, "edges", 5, NULL);
	if (v != NULL)
	{
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("joint_woe option \"edges\" must be an object: column name → array of increasing numbers")));
		*edges = v;
	}
	{
		/* Unknown options are mistakes, not silently ignored. */
		JsonbIterator *it = JsonbIteratorInit(&options->root);
		JsonbValue	e;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
			if (tok == WJB_KEY &&
				!(e.val.string.len == 4 && memcmp(e.val.string.val, "bins", 4) == 0) &&
				!(e.val.string.len == 7 && memcmp(e.val.string.val, "columns", 7) == 0) &&
				!(e.val.string.len == 5 && memcmp(e.val.string.val, "edges", 5) == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown joint_woe option \"%.*s\"", e.val.string.len, e.val.string.val),
						 errhint("Options are bins, columns and edges.")));
	}
}

static void
dlog_interrupts(void *arg pg_attribute_unused())
{
	CHECK_FOR_INTERRUPTS();
}

/* The decrypted count of a sum from the owner, within [0, bound]. */
static int64
decrypt_count(const uint8 sk[ELGAMAL_SCALAR_BYTES], const uint8 ct[CT], int64 bound, elgamal_dlog *d,
			  const char *sender)
{
	uint8		share[EL];
	uint8		zero[EL] = {0};
	uint8		m[EL];
	int64		v = -1;
	elgamal_status st;

	if (sodium_is_zero(ct, CT))
		return 0;
	if ((st = elgamal_check_ciphertext(ct)) != ELGAMAL_OK ||
		(st = elgamal_partial_decrypt(sk, ct, share)) != ELGAMAL_OK ||
		(st = elgamal_combine(ct, share, zero, m)) != ELGAMAL_OK)
		wire_malformed(sender, psprintf("A label sum holds %s.", elgamal_status_reason(st)));
	d->bound = bound;
	st = elgamal_dlog_solve(d, m, dlog_interrupts, NULL, &v);
	sodium_memzero(share, sizeof(share));
	if (st != ELGAMAL_OK || v < 0 || v > bound)
		wire_malformed(sender, psprintf("A label sum is not a count between 0 and %lld.", (long long) bound));
	return v;
}

static Datum
numeric_from_double(double v)
{
	return DirectFunctionCall1(float8_numeric, Float8GetDatum(v));
}

/*
 * The edges option, column by column: each named column must be one of
 * those binned, its edges increasing finite numbers, at most WOE_MAX_BINS − 1.
 */
static void
given_edges(JsonbValue *edges, WoeTerms *t)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	t->ngiven = palloc0(sizeof(int) * t->k);
	t->given = palloc(sizeof(double *) * t->k);
	for (int j = 0; j < t->k; j++)
		t->given[j] = palloc(sizeof(double) * WOE_MAX_BINS);
	if (edges == NULL)
		return;
	it = JsonbIteratorInit(edges->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		char	   *name;
		int			j;
		JsonbValue	arr;
		JsonbIterator *ai;
		JsonbValue	x;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(e.val.string.val, e.val.string.len);
		for (j = 0; j < t->k && strcmp(t->columns[j], name) != 0; j++)
			;
		if (j == t->k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("joint_woe option \"edges\" names column \"%s\", which is not binned", name),
					 errhint("Edges apply to the columns binned: those of option \"columns\", or all of the permit's.")));
		tok = JsonbIteratorNext(&it, &arr, true);
		if (tok != WJB_VALUE || arr.type != jbvBinary || !JsonContainerIsArray(arr.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the edges of column \"%s\" must be an array of increasing numbers", name)));
		ai = JsonbIteratorInit(arr.val.binary.data);
		while ((tok = JsonbIteratorNext(&ai, &x, true)) != WJB_DONE)
		{
			double		v;

			if (tok != WJB_ELEM)
				continue;
			if (x.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the edges of column \"%s\" must be an array of increasing numbers", name)));
			v = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(x.val.numeric)));
			if (t->ngiven[j] >= WOE_MAX_BINS - 1 || isinf(v) ||
				(t->ngiven[j] > 0 && v <= t->given[j][t->ngiven[j] - 1]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the edges of column \"%s\" must be at most %d increasing numbers", name,
								WOE_MAX_BINS - 1)));
			t->given[j][t->ngiven[j]++] = v;
		}
		if (t->ngiven[j] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the edges of column \"%s\" are empty", name),
					 errhint("Leave the column out of \"edges\" for quantile bins.")));
	}
}

/*
 * pgpriv.joint_woe(peer, dataset, keys_query, label, options)
 *   → TABLE(column_name, bin, lower, upper, rows, events, non_events, woe, iv)
 */
Datum
pgpriv_joint_woe(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server;
	char	   *dataset;
	char	   *keys_query;
	char	   *label;
	Jsonb	   *options = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	int			nbins;
	List	   *columns;
	JsonbValue *edges_opt;
	KeysQuery	kq;
	KeySet		keys = {0};
	KeyBuilder	kb;
	uint8	   *bits;
	uint8		sk[ELGAMAL_SCALAR_BYTES];
	uint8		pk[EL];
	uint8	   *cts;
	uint8	   *proofs;
	WoeTerms	t = {0};
	PeerCall	call;
	AuditWatch	watch;
	char	   *run;
	char	   *sender;
	bytea	   *result;
	int64		batch;
	MemoryContext fn_cxt = CurrentMemoryContext;

	mpc_asker_args(fcinfo, "joint_woe needs a peer, a dataset, a keys query and a label column",
				   &server, &dataset, &keys_query);
	label = text_to_cstring(PG_GETARG_TEXT_PP(3));
	parse_options(options, &nbins, &columns, &edges_opt);
	sender = psprintf("peer \"%s\"", server);

	InitMaterializedSRF(fcinfo, 0);

	/* The asker's rows: the key, then keys_query's columns (label among them). */
	keys_query_prepare(&kq, keys_query, MPC_ASKER_SELECT);
	key_builder_init(&kb, &keys);
	{
		TupleDesc	td;
		uint64		nrows;
		int			label_col;

		nrows = keys_query_fetch_all(&kq);
		td = SPI_tuptable->tupdesc;
		label_col = mpc_asker_label_column(td, label,
										   "keys_query returns the key first, then the label column named by label.");
		MemoryContextSwitchTo(fn_cxt);
		bits = secret_palloc(Max(nrows, 1));	/* the labels: wiped however the run ends */
		for (uint64 r = 0; r < nrows; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			char	   *key = SPI_getvalue(tup, td, 1);
			char	   *lv = SPI_getvalue(tup, td, label_col);

			if (key == NULL || lv == NULL)
				continue;		/* no key, or no label: not a training row */
			bits[keys.n] = (uint8) keys_query_label(lv, label);
			key_builder_add(&kb, key);
			if ((r & 8191) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}
	SPI_finish();
	MemoryContextSwitchTo(fn_cxt);
	if (keys.n == 0)
		return (Datum) 0;		/* nothing to train on: no run */

	run = run_ask_open(&call, &watch, server, "joint_woe", "train", dataset, (int64) keys.n,
					   (int64) keys.n);

	/* The owner's columns: those named, else every column of the permit. */
	if (columns == NIL)
		columns = peer_permitted_columns(&call, dataset, "train");
	if (list_length(columns) > WOE_MAX_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("joint_woe bins at most %d columns in a run, not %d", WOE_MAX_COLUMNS,
						list_length(columns)),
				 errhint("Name the columns in options, e.g. '{\"columns\": [\"tax_paid\"]}'.")));
	if (columns == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("peer \"%s\" permits no column of dataset \"%s\" for train", server, dataset)));
	t.nbins = nbins;
	t.k = list_length(columns);
	t.columns = palloc(sizeof(char *) * t.k);
	for (int j = 0; j < t.k; j++)
		t.columns[j] = list_nth(columns, j);
	given_edges(edges_opt, &t);

	/* Labels: encrypted under a key of this run and proven 0 or 1. */
	elgamal_keygen_share(sk, pk);
	cts = palloc_extended((Size) CT * keys.n, MCXT_ALLOC_HUGE);
	proofs = palloc_extended((Size) PROOF * keys.n, MCXT_ALLOC_HUGE);
	progress_phase("asker: encrypting labels (rows)", (int64) keys.n);
	for (size_t start = 0; start < keys.n; start += SLAB)
	{
		elgamal_bit_job job = {start, pk, (const uint8 *) run, strlen(run), bits + start,
			cts + start * CT, proofs + start * PROOF, 0};
		size_t		failed = 0;
		int			st;

		CHECK_FOR_INTERRUPTS();
		st = crypto_parallel_for(Min((size_t) SLAB, keys.n - start), pgpriv_threads_for_batch(),
								 elgamal_bit_prove_range, &job, &failed);
		if (st != 0)
			elog(ERROR, "joint_woe: encrypting a label failed: %s", elgamal_status_reason((elgamal_status) st));
		progress_advance((int64) Min(start + SLAB, keys.n), 0, 0);
	}
	secret_wipe(bits);

	PG_TRY();
	{
		WireBuilder b;

		wire_builder_init(&b, WIRE_WOE_TERMS);
		terms_add(&b, &t);
		run_ask_admit(&call, dataset, "train", run, (int64) keys.n, wire_builder_finish(&b));
		wire_builder_init(&b, WIRE_WOE_TERMS);
		terms_add(&b, &t);
		wire_builder_add(&b, pk, EL);
		{
			const char *params[2] = {dataset, run};
			PGresult   *res = peer_call_msg(&call, "SELECT pgpriv.serve_woe_begin($1, $2, $3)", 2, params,
											wire_builder_finish(&b));

			if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
				wire_malformed(sender, "The begin reply is missing.");
			batch = strtol(PQgetvalue(res, 0, 0), NULL, 10);
			PQclear(res);
			if (batch < 1 || batch > (1 << 16))
				wire_malformed(sender, psprintf("A batch of %lld rows.", (long long) batch));
		}
		progress_phase("asker: sending labels (rows)", (int64) keys.n);
		for (size_t start = 0; start < keys.n; start += batch)
		{
			size_t		m = Min((size_t) batch, keys.n - start);
			const char *params[1] = {run};
			bytea	   *ack;
			PGresult   *res;

			wire_builder_init(&b, WIRE_WOE_ROWS);
			for (size_t i = start; i < start + m; i++)
			{
				uint8	   *p = wire_builder_reserve(&b, ROW_HEAD + keys.lens[i]);

				memcpy(p, cts + i * CT, CT);
				memcpy(p + CT, proofs + i * PROOF, PROOF);
				memcpy(p + ROW_HEAD, keys.data[i], keys.lens[i]);
				wire_builder_commit(&b, (uint32) (ROW_HEAD + keys.lens[i]));
			}
			ack = wire_builder_finish(&b);
			res = peer_call_msg(&call, "SELECT pgpriv.serve_woe_push($1, $2)", 1, params, ack);
			if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
				strtoll(PQgetvalue(res, 0, 0), NULL, 10) != (long long) (start + m))
				wire_malformed(sender, "The owner acknowledged another number of rows.");
			PQclear(res);
			progress_advance((int64) (start + m), call.bytes_in, call.bytes_out);
		}
		{
			const char *params[1] = {run};

			result = peer_call_bytea(&call, "SELECT pgpriv.serve_woe_finish($1)", 1, params, NULL);
		}
	}
	PG_CATCH();
	{
		sodium_memzero(sk, sizeof(sk));
		PG_RE_THROW();
	}
	PG_END_TRY();

	{
		WireReader	r;
		const uint8 *item;
		uint32		len;
		uint64		u;
		int64		matched;
		int64		events_total;
		elgamal_dlog d;

		progress_phase("asker: decrypting counts (columns)", t.k);
		wire_reader_init(&r, result, WIRE_WOE_RESULT, 1 + t.k * (WOE_MAX_BINS + 3),
						 Max(HEAD_BYTES, WOE_MAX_BINS * 32), sender);
		if (!wire_reader_next(&r, &item, &len) || len != HEAD_BYTES)
			wire_malformed(sender, "The result lacks its head.");
		memcpy(&u, item, 8);
		matched = (int64) pg_ntoh64(u);
		if (matched < 1 || matched > (int64) keys.n)
			wire_malformed(sender, psprintf("%lld matched rows of %zu.", (long long) matched, keys.n));
		if (elgamal_dlog_init(&d, 16, matched, pgpriv_threads_for_batch()) != ELGAMAL_OK)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		PG_TRY();
		{
			events_total = decrypt_count(sk, item + 16, matched, &d, sender);
			for (int j = 0; j < t.k; j++)
			{
				double		edges[WOE_MAX_BINS];
				int			nedges = 0;
				int64		sum_rows = 0;
				int			nb;
				int64		bin_rows[WOE_MAX_BINS + 2];
				int64		bin_events[WOE_MAX_BINS + 2];
				bool		withheld[WOE_MAX_BINS + 2];
				double		non_total = (double) (matched - events_total);

				if (!wire_reader_next(&r, &item, &len) || len != strlen(t.columns[j]) ||
					memcmp(item, t.columns[j], len) != 0)
					wire_malformed(sender, psprintf("The result for column %d is not that of \"%s\".", j + 1,
													t.columns[j]));
				if (!wire_reader_next(&r, &item, &len))
					wire_malformed(sender, "The result lacks a column's edges.");
				nedges = edges_parse(item, len, edges, t.ngiven[j] > 0 ? t.ngiven[j] : t.nbins - 1);
				if (nedges < 0 || (t.ngiven[j] > 0 &&
								   (nedges != t.ngiven[j] || memcmp(edges, t.given[j], sizeof(double) * nedges) != 0)))
					wire_malformed(sender, psprintf("Column \"%s\"'s bin edges are not %s.", t.columns[j],
													t.ngiven[j] > 0 ? "the ones given" : "increasing numbers"));
				nb = nedges + 2;
				for (int bin = 0; bin < nb; bin++)
				{
					if (!wire_reader_next(&r, &item, &len) || len != BIN_BYTES || item[8] > 1)
						wire_malformed(sender, psprintf("Column \"%s\" lacks bin %d.", t.columns[j], bin));
					memcpy(&u, item, 8);
					bin_rows[bin] = (int64) pg_ntoh64(u);
					withheld[bin] = item[8] == 1;
					if (bin_rows[bin] < 0 || bin_rows[bin] > matched - sum_rows ||
						(withheld[bin] && bin_rows[bin] != 0))
						wire_malformed(sender, psprintf("Column \"%s\"'s bins hold more rows than matched.",
														t.columns[j]));
					sum_rows += bin_rows[bin];
					bin_events[bin] = withheld[bin] ? 0
						: decrypt_count(sk, item + 9, bin_rows[bin], &d, sender);
				}
				for (int bin = 0; bin < nb; bin++)
				{
					Datum		values[9];
					bool		nulls[9] = {0};
					int64		ev = bin_events[bin];
					int64		ne = bin_rows[bin] - ev;

					if (!withheld[bin] && bin_rows[bin] == 0)
						continue;	/* an empty bin (no NULLs, say) is no row */
					values[0] = CStringGetTextDatum(t.columns[j]);
					values[1] = Int32GetDatum(bin);
					nulls[2] = bin <= 1;
					if (bin > 1)
						values[2] = numeric_from_double(edges[bin - 2]);
					nulls[3] = bin == 0 || bin == nb - 1;
					if (!nulls[3])
						values[3] = numeric_from_double(edges[bin - 1]);
					if (withheld[bin])
					{
						for (int c = 4; c < 9; c++)
							nulls[c] = true;
					}
					else
					{
						/* Siddiqi: WOE = ln(%non-events / %events), 0.5 added to an empty count. */
						double		de = ((double) ev + (ev == 0 ? 0.5 : 0)) / Max((double) events_total, 1);
						double		dn = ((double) ne + (ne == 0 ? 0.5 : 0)) / Max(non_total, 1);
						double		woe = log(dn / de);

						values[4] = Int64GetDatum(bin_rows[bin]);
						values[5] = Int64GetDatum(ev);
						values[6] = Int64GetDatum(ne);
						values[7] = Float8GetDatum(woe);
						values[8] = Float8GetDatum((dn - de) * woe);
					}
					tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				}
				progress_advance(j + 1, call.bytes_in, call.bytes_out);
			}
			if (r.remaining != 0)
				wire_malformed(sender, "The result holds more than the columns asked.");
		}
		PG_CATCH();
		{
			elgamal_dlog_free(&d);
			sodium_memzero(sk, sizeof(sk));
			PG_RE_THROW();
		}
		PG_END_TRY();
		elgamal_dlog_free(&d);
		sodium_memzero(sk, sizeof(sk));

		run_ask_close(&call, &watch, run, "train", dataset, (int64) keys.n, matched,
					  psprintf("run %s, woe of %d of the peer's columns in up to %d bins", run, t.k, nbins));
	}
	return (Datum) 0;
}
