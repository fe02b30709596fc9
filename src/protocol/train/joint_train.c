/*
 * joint_train.c — vertical logistic regression on the two-party engine
 * (docs/joint_train.md): pgpriv.joint_train on the asker's side,
 * serve_train_begin, serve_train_step and serve_train_finish on the owner's.
 *
 * The asker (a bank) has keys, a 0/1 label per key and optionally its own
 * feature columns; the owner (a bureau) has feature columns for the same
 * keys.  Each party standardises its own columns over the training rows
 * (the owner tells the asker its means and standard deviations: needed to
 * return raw-column weights) and quantises them to `bits`-bit fixed point.
 * The weights live as additive shares over Z_2^64 from the start (zero);
 * the labels never leave the asker.  Per mini-batch, slice by slice of rows:
 *
 *   forward   z = X_b·w_b + X_a·w_a + b on shares: the cross terms by
 *             fixed-choice products (crypto/fixprod.h; the owner chooses
 *             with the bits of X_b, the asker with those of X_a; the
 *             multipliers are the other party's weight shares), the rest
 *             locally; truncated (mpc_trunc_local)
 *   residual  r = σ(z) − y with σ(z) ≈ 1/2 + z/4 (first-order Taylor
 *             around 0, as in Hardy et al. 2017's vertical logistic
 *             regression): linear, so local on shares; the asker takes y
 *             off its own share
 *   backward  g = X^T·r on shares (the same fixed-choice products, by row)
 *   update    w −= lr/|batch|·(g + l2·w), local on shares with truncation
 *
 * and at the end the owner sends its weight shares to the asker only, who
 * folds the standardisation back into raw-column weights and an intercept.
 * The owner learns the keys asked (as for joint_score), the run's public
 * parameters and the number of own features of the asker; the asker learns
 * the owner's per-column means and standard deviations over the training
 * rows and which keys have a usable owner row; each learns the final model
 * only as the asker reveals it (the owner not at all).  Every other message
 * is a correction masked by a pad of the OT extension.
 *
 * Run state lives in the serving backend (served_run.h; the OT state in
 * malloc'd memory wiped by the run's wipe hook).  Everything the asker
 * sends is checked against the owner's own schedule, computed from the
 * admitted terms; nothing it sends sizes the owner's memory beyond the
 * admitted keys and the fixed caps of joint_train.h.
 */
#include "postgres.h"

#include <math.h>

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
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
#include "crypto/fixprod.h"
#include "crypto/mpc.h"
#include "peer/call.h"
#include "protocol/mpc/mpc_asker.h"
#include "protocol/mpc/mpc_flight.h"
#include "protocol/mpc/mpc_serve.h"
#include "protocol/mpc/mpc_terms.h"
#include "protocol/train/joint_train.h"
#include "run/ask.h"
#include "run/admission.h"
#include "run/keys.h"
#include "run/progress.h"
#include "run/secret_mem.h"
#include "run/served_run.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_train_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_train_step);
PG_FUNCTION_INFO_V1(pgpriv_serve_train_finish);
PG_FUNCTION_INFO_V1(pgpriv_joint_train);

#define TERMS_HEAD_BYTES	48
#define STEP_HEAD_BYTES		16
#define UPDATE_SHIFT		20		/* the learning-rate constant's fractional bits */
#define SLICE_ROWS			4096

enum
{
	PH_SETUP = 1,
	PH_EXTEND = 2,
	PH_FORWARD = 3,
	PH_BACKWARD = 4,
	PH_DONE = 5
};

typedef struct TrainTerms
{
	int			kb;				/* the owner's columns */
	int			ka;				/* the asker's own features */
	int			bits;			/* of the quantised features */
	int			epochs;
	int64		batch;
	int			slice;			/* rows per message */
	double		lr;
	double		l2;
	char	  **columns;		/* the owner's, kb */
} TrainTerms;

static void
put_double(uint8 *p, double v)
{
	uint64		u;

	memcpy(&u, &v, 8);
	u = pg_hton64(u);
	memcpy(p, &u, 8);
}

static double
get_double(const uint8 *p)
{
	uint64		u;
	double		v;

	memcpy(&u, p, 8);
	u = pg_ntoh64(u);
	memcpy(&v, &u, 8);
	return v;
}

/* ----------------------------------------------------------------------
 * Terms
 * ----------------------------------------------------------------------
 */

static void
terms_add(WireBuilder *b, const TrainTerms *t)
{
	uint8		head[TERMS_HEAD_BYTES] = {0};

	wire_put_u32(head, (uint32) t->kb);
	wire_put_u32(head + 4, (uint32) t->ka);
	wire_put_u32(head + 8, (uint32) t->bits);
	wire_put_u32(head + 12, (uint32) t->epochs);
	wire_put_u32(head + 16, (uint32) t->batch);
	wire_put_u32(head + 20, (uint32) t->slice);
	put_double(head + 24, t->lr);
	put_double(head + 32, t->l2);
	wire_builder_add(b, head, sizeof(head));
	for (int j = 0; j < t->kb; j++)
		wire_builder_add(b, (const uint8 *) t->columns[j], (uint32) strlen(t->columns[j]));
}

static void
terms_read(WireReader *r, TrainTerms *t)
{
	const uint8 *item;
	uint32		len;
	int			kmax;

	if (!wire_reader_next(r, &item, &len) || len != TERMS_HEAD_BYTES)
		wire_malformed("the asker", "The joint_train terms start with a 48-byte head.");
	t->kb = (int) wire_get_u32(item);
	t->ka = (int) wire_get_u32(item + 4);
	t->bits = (int) wire_get_u32(item + 8);
	t->epochs = (int) wire_get_u32(item + 12);
	t->batch = (int64) wire_get_u32(item + 16);
	t->slice = (int) wire_get_u32(item + 20);
	t->lr = get_double(item + 24);
	t->l2 = get_double(item + 32);
	for (int i = 40; i < TERMS_HEAD_BYTES; i++)
		if (item[i] != 0)
			wire_malformed("the asker", "Reserved bytes of the joint_train terms are not zero.");
	if (wire_get_u32(item) > TRAIN_MAX_FEATURES || wire_get_u32(item + 4) > TRAIN_MAX_FEATURES ||
		t->kb < 1 || t->ka < 0 || t->kb + t->ka > TRAIN_MAX_FEATURES)
		wire_malformed("the asker", psprintf("A joint_train run uses 1 to %d of the owner's columns and at most %d features in all.",
											 TRAIN_MAX_FEATURES, TRAIN_MAX_FEATURES));
	kmax = Max(t->kb, t->ka);
	if (t->bits < 4 || t->bits > FIXPROD_MAX_BITS || t->epochs < 1 || t->epochs > 1000 ||
		t->batch < 1 || t->batch > PG_INT32_MAX || t->slice < 1 ||
		(size_t) t->slice * kmax * t->bits > FIXPROD_MAX_SLICE_OTS ||
		!(t->lr > 0 && t->lr <= 100) || !(t->l2 >= 0 && t->l2 <= 100))
		wire_malformed("the asker", "joint_train parameters out of range.");
	t->columns = palloc0(sizeof(char *) * t->kb);
	for (int j = 0; j < t->kb; j++)
		t->columns[j] = mpc_terms_column(r, t->columns, j, "A joint_train column name is missing or too long.",
										 "A column named twice.");
}

void
joint_train_admission_check(const char *dataset, const Permit *permit, bytea *terms)
{
	WireReader	r;
	TrainTerms	t;

	mpc_terms_open(&r, terms, WIRE_TRAIN_TERMS, TRAIN_MAX_FEATURES + 1, Max(NAMEDATALEN, TERMS_HEAD_BYTES),
				   "A train run is admitted with its terms.");
	terms_read(&r, &t);
	if (r.remaining != 0)
		wire_malformed("the asker", "Bytes after the joint_train terms.");
	permit_require_columns(dataset, "train", permit, t.columns, t.kb);
}

/* ----------------------------------------------------------------------
 * What both halves compute alike: the schedule, the model's arithmetic
 * ----------------------------------------------------------------------
 */

typedef struct Schedule
{
	int64		m;				/* training rows */
	int64		batch;
	int			slice;
	int			epochs;
	int			phase;
	int64		ext_row;		/* rows extended */
	int			epoch;
	int64		b0;				/* the batch's first row */
	int64		s0;				/* the slice's first row within the batch */
	uint32		call;			/* forward and backward steps so far (the use number) */
} Schedule;

static void
sched_init(Schedule *s, int64 m, const TrainTerms *t)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->batch = Min(t->batch, m);
	s->slice = t->slice;
	s->epochs = t->epochs;
	s->phase = PH_SETUP;
}

static int64
sched_batch_rows(const Schedule *s)
{
	return Min(s->batch, s->m - s->b0);
}

/* The current step's rows. */
static void
sched_rows(const Schedule *s, int64 *row0, int64 *nrows)
{
	*row0 = 0;
	*nrows = 0;
	if (s->phase == PH_EXTEND)
	{
		*row0 = s->ext_row;
		*nrows = Min((int64) s->slice, s->m - s->ext_row);
	}
	else if (s->phase == PH_FORWARD || s->phase == PH_BACKWARD)
	{
		*row0 = s->b0 + s->s0;
		*nrows = Min((int64) s->slice, sched_batch_rows(s) - s->s0);
	}
}

/* Past the current step; the batch's rows when its last backward step ended (update now), else 0. */
static int64
sched_advance(Schedule *s)
{
	int64		row0,
				nrows,
				n;

	sched_rows(s, &row0, &nrows);
	switch (s->phase)
	{
		case PH_SETUP:
			s->phase = PH_EXTEND;
			return 0;
		case PH_EXTEND:
			s->ext_row += nrows;
			if (s->ext_row == s->m)
				s->phase = PH_FORWARD;
			return 0;
		case PH_FORWARD:
			s->call++;
			s->phase = PH_BACKWARD;
			return 0;
		case PH_BACKWARD:
			s->call++;
			s->s0 += nrows;
			s->phase = PH_FORWARD;
			n = sched_batch_rows(s);
			if (s->s0 < n)
				return 0;
			s->b0 += n;
			s->s0 = 0;
			if (s->b0 >= s->m)
			{
				s->b0 = 0;
				if (++s->epoch == s->epochs)
					s->phase = PH_DONE;
			}
			return n;
	}
	return 0;
}

static int64
sched_total_steps(const Schedule *s)
{
	int64		per_epoch = 0;

	for (int64 b0 = 0; b0 < s->m; b0 += s->batch)
		per_epoch += 2 * ((Min(s->batch, s->m - b0) + s->slice - 1) / s->slice);
	return 1 + (s->m + s->slice - 1) / s->slice + per_epoch * s->epochs;
}

/*
 * One party's shares.  Weights, in order: the owner's kb columns, the
 * asker's ka, the intercept; all at scale 2^16.  Gradients accumulate at
 * scale 2^(16+fx) (quantised features carry fx fractional bits).
 */
typedef struct Model
{
	int			party;
	int			kb,
				ka,
				nw;
	int			fx;
	uint64	   *w;
	uint64	   *g;
	uint64	   *z;				/* the slice's forward sums, then its residuals */
	int			slice;
} Model;

static void
model_init(Model *md, int party, const TrainTerms *t, int slice)
{
	md->party = party;
	md->kb = t->kb;
	md->ka = t->ka;
	md->nw = t->kb + t->ka + 1;
	md->fx = t->bits - 3;
	md->w = secret_palloc(sizeof(uint64) * md->nw);
	md->g = secret_palloc(sizeof(uint64) * md->nw);
	md->z = secret_palloc(sizeof(uint64) * slice);
	md->slice = slice;
}

static void
model_wipe(Model *md)
{
	if (md->w)
		sodium_memzero(md->w, sizeof(uint64) * md->nw);
	if (md->g)
		sodium_memzero(md->g, sizeof(uint64) * md->nw);
	if (md->z)
		sodium_memzero(md->z, sizeof(uint64) * md->slice);
}

/* z[r] += Σ_j x[row0 + r][j]·w[off + j] for this party's own plaintext columns. */
static void
local_forward(Model *md, const int32 *x, int k, int off, int64 row0, int64 nrows)
{
	for (int64 r = 0; r < nrows; r++)
	{
		const int32 *xr = x + (row0 + r) * k;
		uint64		acc = 0;

		for (int j = 0; j < k; j++)
			acc += (uint64) (int64) xr[j] * md->w[off + j];
		md->z[r] += acc;
	}
}

/* The intercept into z; then residuals r = 1/2 + z/4 − y at scale 2^16. */
static void
residuals(Model *md, int64 row0, int64 nrows, const uint8 *y)
{
	uint64		b = md->w[md->nw - 1] << md->fx;

	for (int64 r = 0; r < nrows; r++)
		md->z[r] += b;
	mpc_trunc_local(md->party, md->z, nrows, md->fx + 2);
	if (md->party == 0)
		for (int64 r = 0; r < nrows; r++)
			md->z[r] += ((uint64) 1 << 15) - ((uint64) y[row0 + r] << 16);
}

/* g[off + j] += Σ_r x[row0 + r][j]·res[r] for this party's own columns. */
static void
local_backward(Model *md, const int32 *x, int k, int off, int64 row0, int64 nrows)
{
	for (int64 r = 0; r < nrows; r++)
	{
		const int32 *xr = x + (row0 + r) * k;

		for (int j = 0; j < k; j++)
			md->g[off + j] += (uint64) (int64) xr[j] * md->z[r];
	}
}

/* The intercept's gradient: Σ_r res[r], at the features' scale. */
static void
intercept_backward(Model *md, int64 nrows)
{
	uint64		sum = 0;

	for (int64 r = 0; r < nrows; r++)
		sum += md->z[r];
	md->g[md->nw - 1] += sum << md->fx;
}

/* w −= lr/n·(g + l2·w), n the batch's rows; g cleared. */
static void
model_update(Model *md, int64 n, const TrainTerms *t)
{
	uint64		c = (uint64) llround(t->lr / (double) n * (double) (1 << UPDATE_SHIFT));
	uint64		c2 = (uint64) llround(t->lr * t->l2 * (double) (1 << UPDATE_SHIFT));

	if (c == 0)
		c = 1;
	mpc_trunc_local(md->party, md->g, md->nw, md->fx);
	for (int i = 0; i < md->nw; i++)
	{
		uint64		d = md->g[i] * c;
		uint64		e = md->w[i] * c2;

		mpc_trunc_local(md->party, &d, 1, UPDATE_SHIFT);
		if (i < md->nw - 1 && c2 != 0)
		{
			mpc_trunc_local(md->party, &e, 1, UPDATE_SHIFT);
			d += e;
		}
		md->w[i] -= d;
		md->g[i] = 0;
	}
}

/* Quantised standardised value: round((v − mean)/sd · 2^fx), clipped to bits. */
static int32
quantise(double v, double mean, double sd, int bits)
{
	double		q = rint((v - mean) / sd * (double) (1 << (bits - 3)));
	double		hi = (double) ((1 << (bits - 1)) - 1);

	if (q > hi)
		q = hi;
	if (q < -hi - 1)
		q = -hi - 1;
	return (int32) q;
}

static void
column_stats(const double *v, int64 n, int k, int j, double *mean, double *sd)
{
	double		s = 0,
				ss = 0;

	for (int64 r = 0; r < n; r++)
		s += v[r * k + j];
	*mean = s / (double) n;
	for (int64 r = 0; r < n; r++)
	{
		double		d = v[r * k + j] - *mean;

		ss += d * d;
	}
	*sd = sqrt(ss / (double) n);
	if (!(*sd > 1e-12))
		*sd = 1.0;				/* a constant column: its weight stays 0 */
}

static void
check_mpc(mpc_status st, const char *sender)
{
	if (st == MPC_NO_MEMORY)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (st != MPC_OK)
		wire_malformed(sender, mpc_status_reason(st));
}

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

typedef struct TrainRun
{
	ServedRun	base;
	TrainTerms	t;
	Schedule	s;
	Model		md;
	int64		m;				/* training rows */
	int32	   *xb;				/* m × kb, quantised */
	Size		xb_bytes;
	fixprod_receiver *fr;		/* X_b, the owner choosing */
	fixprod_sender *fs;			/* X_a, the asker choosing (ka > 0) */
	int64		steps;
} TrainRun;

static void
train_run_wipe(ServedRun *run)
{
	TrainRun   *tr = (TrainRun *) run;

	fixprod_receiver_free(tr->fr);
	fixprod_sender_free(tr->fs);
	tr->fr = NULL;
	tr->fs = NULL;
	if (tr->xb)
		sodium_memzero(tr->xb, tr->xb_bytes);
	model_wipe(&tr->md);
	mpc_memory_release();
}

static size_t
max_item_bytes(const TrainTerms *t)
{
	size_t		k = (size_t) Max(t->kb, t->ka);
	size_t		ots = (size_t) t->slice * k * t->bits;

	return Max(Max(fixprod_base_b_bytes(), fixprod_base_a_bytes()),
			   Max(ot_ext_u_msg_bytes(ots), fixprod_use_bytes(t->slice, k, t->bits)));
}

/*
 * pgpriv.serve_train_begin(dataset, run, msg) → bytea
 *
 * For a run admitted with its terms: the terms again and the keys.  Reads
 * the columns, keeps the keys with exactly one row and a number in every
 * column (the training rows, at least min_group of them), standardises and
 * quantises them and answers with which keys are used, the columns' means
 * and standard deviations over those rows, and its first base-OT message.
 */
Datum
pgpriv_serve_train_begin(PG_FUNCTION_ARGS)
{
	MpcServeBegin sb;
	WireReader	r;
	TrainTerms	t;
	TrainRun   *tr;
	MemoryContext old;
	int64		nkeys;
	uint8	   *usable;
	bytea	   *reply;

	mpc_serve_begin(fcinfo, "train", "This run has begun already.", &sb);
	wire_reader_init(&r, sb.msg, WIRE_TRAIN_TERMS,
					 (uint32) Min((int64) PG_UINT32_MAX - 64, sb.admission->keys + TRAIN_MAX_FEATURES + 1),
					 Max(Max(NAMEDATALEN, TERMS_HEAD_BYTES), 1 << 20), "the asker");
	terms_read(&r, &t);
	permit_require_columns(sb.dataset, "train", &sb.permit, t.columns, t.kb);
	if ((int64) r.remaining != sb.admission->keys)
		wire_malformed("the asker", psprintf("%u keys, %lld admitted.", r.remaining,
											 (long long) sb.admission->keys));
	nkeys = (int64) r.remaining;

	tr = served_run_open("train", sb.run, sb.dataset, sizeof(TrainRun), train_run_wipe);
	mpc_memory_hold();
	tr->base.bytes_in = VARSIZE_ANY_EXHDR(sb.msg);
	progress_begin("joint_train", session_role_name(), sb.dataset, nkeys);
	progress_phase("owner: reading the columns", nkeys);
	{
		DatasetRows rows;
		List	   *columns = NIL;
		RowIndex	index;
		double	   *v;
		double	   *mean;
		double	   *sd;
		int64		m = 0;
		int			min_group = Max(sb.permit.min_group, 1);
		const uint8 *item;
		uint32		len;
		WireBuilder b;
		uint8	   *p;
		size_t		alen;
		char	   *whose = psprintf("dataset \"%s\"", sb.dataset);

		old = MemoryContextSwitchTo(tr->base.cxt);
		tr->t = t;
		tr->t.columns = palloc(sizeof(char *) * t.kb);
		for (int j = 0; j < t.kb; j++)
		{
			tr->t.columns[j] = pstrdup(t.columns[j]);
			columns = lappend(columns, tr->t.columns[j]);
		}
		MemoryContextSwitchTo(old);
		dataset_rows_fetch(&sb.ds, columns, &rows);
		row_index_build(&rows, &index);
		usable = palloc0((Max(nkeys, 1) + 7) / 8);
		v = secret_palloc(sizeof(double) * Max(nkeys, 1) * t.kb);
		for (int64 i = 0; wire_reader_next(&r, &item, &len); i++)
		{
			int64		row = row_index_unique(&index, item, len);
			bool		ok = row >= 0;	/* no row, or several: no single answer */

			for (int j = 0; ok && j < t.kb; j++)
			{
				const char *text = rows.values[row * rows.ncolumns + j];

				if (text == NULL)
					ok = false;
				else if (!dataset_value_number(text, &v[m * t.kb + j]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("column \"%s\" of %s holds a value that is not a finite number",
									t.columns[j], whose),
							 errhint("joint_train's features are numbers or booleans; publish a numeric expression.")));
			}
			if (ok)
			{
				usable[i / 8] |= (uint8) (1 << (i % 8));
				m++;
			}
			if ((i & 8191) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		if (m < min_group)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("fewer of the rows asked have a row in dataset \"%s\" than its min_group %d",
							sb.dataset, min_group),
					 errdetail("No model is trained on fewer rows than min_group; how many fewer is not said.")));
		if ((size_t) m * Max(t.kb, t.ka) * t.bits > TRAIN_MAX_OTS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a joint_train run holds at most %zu rows × columns × bits, not %lld",
							TRAIN_MAX_OTS, (long long) m * Max(t.kb, t.ka) * t.bits),
					 errhint("Train on fewer rows or columns, or with fewer feature_bits.")));

		mean = palloc(sizeof(double) * t.kb);
		sd = palloc(sizeof(double) * t.kb);
		old = MemoryContextSwitchTo(tr->base.cxt);
		tr->m = m;
		tr->xb_bytes = sizeof(int32) * m * t.kb;
		tr->xb = secret_alloc(tr->base.cxt, tr->xb_bytes);
		sched_init(&tr->s, m, &t);
		model_init(&tr->md, 1, &t, t.slice);
		MemoryContextSwitchTo(old);
		for (int j = 0; j < t.kb; j++)
		{
			column_stats(v, m, t.kb, j, &mean[j], &sd[j]);
			for (int64 i = 0; i < m; i++)
				tr->xb[i * t.kb + j] = quantise(v[i * t.kb + j], mean[j], sd[j], t.bits);
		}
		secret_wipe(v);
		tr->fr = fixprod_receiver_new((size_t) m, (size_t) t.kb, t.bits, tr->xb);
		if (t.ka > 0)
			tr->fs = fixprod_sender_new((size_t) m, (size_t) t.ka, t.bits);
		if (tr->fr == NULL || (t.ka > 0 && tr->fs == NULL))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

		wire_builder_init(&b, WIRE_TRAIN_READY);
		wire_builder_add(&b, usable, (uint32) ((Max(nkeys, 1) + 7) / 8));
		p = wire_builder_reserve(&b, 16 * t.kb);
		for (int j = 0; j < t.kb; j++)
		{
			put_double(p + 16 * j, mean[j]);
			put_double(p + 16 * j + 8, sd[j]);
		}
		wire_builder_commit(&b, 16 * t.kb);
		p = wire_builder_reserve(&b, fixprod_base_a_bytes());
		check_mpc(fixprod_receiver_base_start(tr->fr, p, fixprod_base_a_bytes(), &alen), "the asker");
		wire_builder_commit(&b, (uint32) alen);
		reply = wire_builder_finish(&b);
		tr->base.bytes_out = VARSIZE_ANY_EXHDR(reply);
		tr->steps = sched_total_steps(&tr->s);
		progress_phase("owner: two-party training (steps)", tr->steps);
	}
	return mpc_serve_reply(sb.run, reply);
}

/*
 * pgpriv.serve_train_step(run, msg) → bytea
 *
 * One step of the open run's schedule: the asker's message for it, the
 * owner's in return.  Any error ends the run.
 */
Datum
pgpriv_serve_train_step(PG_FUNCTION_ARGS)
{
	char	   *run;
	bytea	   *msg;
	TrainRun   *tr = mpc_serve_step(fcinfo, "train", &run, &msg);
	bytea	   *reply = NULL;

	{
		WireReader	r;
		const uint8 *head;
		const uint8 *p1;
		const uint8 *p2;
		uint32		hl,
					l1,
					l2;
		int64		row0,
					nrows;
		Schedule   *s = &tr->s;
		TrainTerms *t = &tr->t;
		Model	   *md = &tr->md;
		WireBuilder b;
		size_t		cap = max_item_bytes(t);
		uint8	   *out;
		size_t		olen = 0;

		wire_reader_init(&r, msg, WIRE_TRAIN_FLIGHT, 3, (uint32) cap, "the asker");
		if (!wire_reader_next(&r, &head, &hl) || hl != STEP_HEAD_BYTES ||
			!wire_reader_next(&r, &p1, &l1) || !wire_reader_next(&r, &p2, &l2) || r.remaining != 0)
			wire_malformed("the asker", "A joint_train step is a head and two messages.");
		sched_rows(s, &row0, &nrows);
		if (s->phase == PH_DONE || (int) wire_get_u32(head) != s->phase ||
			wire_get_u32(head + 4) != s->call || (int64) wire_get_u32(head + 8) != row0 ||
			(int64) wire_get_u32(head + 12) != nrows)
			wire_malformed("the asker", "A joint_train step out of its schedule.");
		wire_builder_init_sized(&b, WIRE_TRAIN_REPLY, cap + 8);
		out = wire_builder_reserve(&b, cap);
		switch (s->phase)
		{
			case PH_SETUP:
				/* p1: B for the owner's base OTs; p2: the asker's A (ka > 0) */
				check_mpc(fixprod_receiver_base_finish(tr->fr, p1, l1), "the asker");
				if (t->ka > 0)
					check_mpc(fixprod_sender_base_respond(tr->fs, p2, l2, out, cap, &olen), "the asker");
				else if (l2 != 0)
					wire_malformed("the asker", "A base-OT message for no own feature.");
				break;
			case PH_EXTEND:
				/* p1: the asker's u for X_a (ka > 0); the owner's u for X_b back */
				if (t->ka > 0)
					check_mpc(fixprod_sender_extend(tr->fs, (size_t) nrows, p1, l1), "the asker");
				else if (l1 != 0)
					wire_malformed("the asker", "An extension for no own feature.");
				if (l2 != 0)
					wire_malformed("the asker", "An extension step carries one message.");
				check_mpc(fixprod_receiver_extend(tr->fr, (size_t) nrows, out, cap, &olen), "the asker");
				break;
			case PH_FORWARD:
				memset(md->z, 0, sizeof(uint64) * nrows);
				check_mpc(fixprod_receiver_use(tr->fr, (uint64) s->call + 1, (size_t) row0, (size_t) nrows,
											   FIXPROD_BY_COLUMN, p1, l1, md->z), "the asker");
				local_forward(md, tr->xb, t->kb, 0, row0, nrows);
				if (t->ka > 0)
					check_mpc(fixprod_sender_use(tr->fs, (uint64) s->call + 1, (size_t) row0, (size_t) nrows,
												 FIXPROD_BY_COLUMN, md->w + t->kb, out, cap, &olen, md->z),
							  "the asker");
				if (l2 != 0)
					wire_malformed("the asker", "A forward step carries one message.");
				residuals(md, row0, nrows, NULL);
				break;
			case PH_BACKWARD:
				check_mpc(fixprod_receiver_use(tr->fr, (uint64) s->call + 1, (size_t) row0, (size_t) nrows,
											   FIXPROD_BY_ROW, p1, l1, md->g), "the asker");
				local_backward(md, tr->xb, t->kb, 0, row0, nrows);
				intercept_backward(md, nrows);
				if (t->ka > 0)
					check_mpc(fixprod_sender_use(tr->fs, (uint64) s->call + 1, (size_t) row0, (size_t) nrows,
												 FIXPROD_BY_ROW, md->z, out, cap, &olen, md->g + t->kb),
							  "the asker");
				if (l2 != 0)
					wire_malformed("the asker", "A backward step carries one message.");
				break;
		}
		wire_builder_commit(&b, (uint32) olen);
		{
			int64		ended = sched_advance(s);

			if (ended > 0)
				model_update(md, ended, t);
		}
		reply = wire_builder_finish(&b);
	}
	tr->base.bytes_in += VARSIZE_ANY_EXHDR(msg);
	tr->base.bytes_out += VARSIZE_ANY_EXHDR(reply);
	progress_advance(tr->s.call, tr->base.bytes_in, tr->base.bytes_out);
	return mpc_serve_reply(run, reply);
}

/*
 * pgpriv.serve_train_finish(run) → bytea
 *
 * After the schedule's last step: the owner's shares of the weights, to the
 * asker (who alone learns the model).  Ends and audits the run.
 */
Datum
pgpriv_serve_train_finish(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TrainRun   *tr = served_run_get("train", run);
	Admission  *admission = admission_require(tr->base.run, tr->base.dataset, "train");
	bytea	   *reply = NULL;

	catalog_restrict_definer();
	{
		uint8	   *w;

		if (tr->s.phase != PH_DONE)
			wire_malformed("the asker", "The run ends before its last step.");
		w = palloc(8 * tr->md.nw);
		for (int i = 0; i < tr->md.nw; i++)
		{
			uint64		u = pg_hton64(tr->md.w[i]);

			memcpy(w + 8 * i, &u, 8);
		}
		reply = wire_pack_fixed(WIRE_TRAIN_REPLY, w, (uint32) tr->md.nw, 8);
		sodium_memzero(w, 8 * tr->md.nw);
		tr->base.bytes_out += VARSIZE_ANY_EXHDR(reply);
	}
	return mpc_serve_last_reply(admission, admission->keys, tr->m, &tr->base, run, reply);
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

typedef struct TrainOptions
{
	int			epochs;
	double		lr;
	int64		batch;			/* 0: all rows */
	double		l2;
	int64		seed;
	int			bits;
	List	   *features;		/* the owner's columns, NIL: the permit's */
	char	   *intercept;
} TrainOptions;

static void pg_attribute_noreturn()
bad_option(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("joint_train option %s", what),
			 errhint("Options are epochs, learning_rate, batch_size, l2, seed, feature_bits, features and intercept (docs/joint_train.md).")));
}

static double
option_number(Jsonb *options, const char *name, double dflt, double lo, double hi, bool integral)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&options->root, name, strlen(name), NULL);
	double		d;

	if (v == NULL)
		return dflt;
	if (v->type != jbvNumeric)
		bad_option(psprintf("\"%s\" must be a number", name));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (!(d >= lo && d <= hi) || (integral && d != floor(d)))
		bad_option(psprintf("\"%s\" must be %s between %g and %g", name, integral ? "an integer" : "a number",
							lo, hi));
	return d;
}

static void
parse_options(Jsonb *options, TrainOptions *o)
{
	static const char *const known[] = {"epochs", "learning_rate", "batch_size", "l2", "seed",
	"feature_bits", "features", "intercept"};
	JsonbValue *v;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	o->epochs = 10;
	o->lr = 1.0;
	o->batch = 4096;
	o->l2 = 0;
	o->seed = 1;
	o->bits = 8;
	o->features = NIL;
	o->intercept = "intercept";
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		bad_option("must be a jsonb object");
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		if (tok == WJB_KEY)
		{
			bool		found = false;

			for (size_t i = 0; i < lengthof(known); i++)
				found |= strlen(known[i]) == (size_t) e.val.string.len &&
					memcmp(known[i], e.val.string.val, e.val.string.len) == 0;
			if (!found)
				bad_option(psprintf("\"%.*s\" is unknown", e.val.string.len, e.val.string.val));
		}
	o->epochs = (int) option_number(options, "epochs", o->epochs, 1, 1000, true);
	o->lr = option_number(options, "learning_rate", o->lr, 1e-6, 100, false);
	o->batch = (int64) option_number(options, "batch_size", (double) o->batch, 0, PG_INT32_MAX, true);
	o->l2 = option_number(options, "l2", o->l2, 0, 100, false);
	o->seed = (int64) option_number(options, "seed", (double) o->seed, -9007199254740992.0, 9007199254740992.0, true);
	o->bits = (int) option_number(options, "feature_bits", o->bits, 4, FIXPROD_MAX_BITS, true);
	v = getKeyJsonValueFromContainer(&options->root, "intercept", 9, NULL);
	if (v != NULL)
	{
		if (v->type != jbvString || v->val.string.len == 0 || v->val.string.len >= NAMEDATALEN)
			bad_option("\"intercept\" must be a column name");
		o->intercept = pnstrdup(v->val.string.val, v->val.string.len);
	}
	v = getKeyJsonValueFromContainer(&options->root, "features", 8, NULL);
	if (v != NULL)
	{
		if (!mpc_asker_name_array(v, &o->features))
			bad_option("\"features\" must be an array of the peer's column names");
		if (o->features == NIL)
			bad_option("\"features\" names no column");
	}
}

static uint64
splitmix64(uint64 *state)
{
	uint64		z = (*state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* The asker's side of one step: its flight, the owner's reply handled. */
typedef struct AskerRun
{
	PeerCall   *call;
	const char *run;
	const char *sender;
	TrainTerms *t;
	Schedule	s;
	Model		md;
	int64		m;
	uint8	   *y;
	int32	   *xa;				/* m × ka, quantised */
	fixprod_sender *fs;			/* X_b: the owner chooses */
	fixprod_receiver *fr;		/* X_a: the asker chooses (ka > 0) */
	size_t		cap;
} AskerRun;

static void
asker_step(AskerRun *ar, const uint8 *owner_a, size_t owner_a_len)
{
	Schedule   *s = &ar->s;
	TrainTerms *t = ar->t;
	Model	   *md = &ar->md;
	int64		row0,
				nrows;
	uint8		head[STEP_HEAD_BYTES];
	WireBuilder b;
	uint8	   *p;
	size_t		len = 0;
	bytea	   *reply;
	WireReader	r;
	const uint8 *q;
	uint32		ql;
	uint64		use = (uint64) s->call + 1;
	const char *params[1] = {ar->run};
	int64		ended;

	sched_rows(s, &row0, &nrows);
	wire_put_u32(head, (uint32) s->phase);
	wire_put_u32(head + 4, s->call);
	wire_put_u32(head + 8, (uint32) row0);
	wire_put_u32(head + 12, (uint32) nrows);
	wire_builder_init_sized(&b, WIRE_TRAIN_FLIGHT, 2 * ar->cap + 64);
	wire_builder_add(&b, head, sizeof(head));
	p = wire_builder_reserve(&b, ar->cap);
	switch (s->phase)
	{
		case PH_SETUP:
			check_mpc(fixprod_sender_base_respond(ar->fs, owner_a, owner_a_len, p, ar->cap, &len), ar->sender);
			break;
		case PH_EXTEND:
			if (t->ka > 0)
				check_mpc(fixprod_receiver_extend(ar->fr, (size_t) nrows, p, ar->cap, &len), ar->sender);
			break;
		case PH_FORWARD:
			memset(md->z, 0, sizeof(uint64) * nrows);
			check_mpc(fixprod_sender_use(ar->fs, use, (size_t) row0, (size_t) nrows, FIXPROD_BY_COLUMN,
										 md->w, p, ar->cap, &len, md->z), ar->sender);
			if (t->ka > 0)
				local_forward(md, ar->xa, t->ka, t->kb, row0, nrows);
			break;
		case PH_BACKWARD:
			check_mpc(fixprod_sender_use(ar->fs, use, (size_t) row0, (size_t) nrows, FIXPROD_BY_ROW,
										 md->z, p, ar->cap, &len, md->g), ar->sender);
			if (t->ka > 0)
				local_backward(md, ar->xa, t->ka, t->kb, row0, nrows);
			intercept_backward(md, nrows);
			break;
	}
	wire_builder_commit(&b, (uint32) len);
	len = 0;
	p = wire_builder_reserve(&b, ar->cap);
	if (s->phase == PH_SETUP && t->ka > 0)
		check_mpc(fixprod_receiver_base_start(ar->fr, p, ar->cap, &len), ar->sender);
	wire_builder_commit(&b, (uint32) len);

	reply = peer_call_bytea(ar->call, "SELECT pgpriv.serve_train_step($1, $2)", 1, params, wire_builder_finish(&b));
	wire_reader_init(&r, reply, WIRE_TRAIN_REPLY, 1, (uint32) ar->cap, ar->sender);
	if (!wire_reader_next(&r, &q, &ql))
		wire_malformed(ar->sender, "A joint_train reply without its message.");
	switch (s->phase)
	{
		case PH_SETUP:
			if (t->ka > 0)
				check_mpc(fixprod_receiver_base_finish(ar->fr, q, ql), ar->sender);
			else if (ql != 0)
				wire_malformed(ar->sender, "A base-OT message for no own feature.");
			break;
		case PH_EXTEND:
			check_mpc(fixprod_sender_extend(ar->fs, (size_t) nrows, q, ql), ar->sender);
			break;
		case PH_FORWARD:
			if (t->ka > 0)
				check_mpc(fixprod_receiver_use(ar->fr, use, (size_t) row0, (size_t) nrows, FIXPROD_BY_COLUMN,
											   q, ql, md->z), ar->sender);
			else if (ql != 0)
				wire_malformed(ar->sender, "Corrections for no own feature.");
			residuals(md, row0, nrows, ar->y);
			break;
		case PH_BACKWARD:
			if (t->ka > 0)
				check_mpc(fixprod_receiver_use(ar->fr, use, (size_t) row0, (size_t) nrows, FIXPROD_BY_ROW,
											   q, ql, md->g + t->kb), ar->sender);
			else if (ql != 0)
				wire_malformed(ar->sender, "Corrections for no own feature.");
			break;
	}
	pfree(reply);
	ended = sched_advance(s);
	if (ended > 0)
		model_update(md, ended, t);
}

/* The asker's engine state: shares wiped, OT state freed, however the run ends. */
static void
asker_run_free(AskerRun *ar)
{
	model_wipe(&ar->md);
	fixprod_sender_free(ar->fs);
	fixprod_receiver_free(ar->fr);
	mpc_memory_release();
}

static void
jsonb_put(JsonbParseState **state, const char *name, double v)
{
	JsonbValue	k;
	JsonbValue	n;

	k.type = jbvString;
	k.val.string.val = (char *) name;
	k.val.string.len = (int) strlen(name);
	pushJsonbValue(state, WJB_KEY, &k);
	n.type = jbvNumeric;
	n.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(v)));
	pushJsonbValue(state, WJB_VALUE, &n);
}

/*
 * pgpriv.joint_train(peer, dataset, keys_query, label, options) → jsonb
 *
 * The model as joint_score takes it: raw-column weights of the peer's
 * columns and of keys_query's own feature columns, and the intercept under
 * the name options->>'intercept' (default "intercept": score with a
 * keys_query that has 1 AS intercept).
 */
Datum
pgpriv_joint_train(PG_FUNCTION_ARGS)
{
	char	   *server;
	char	   *dataset;
	char	   *keys_query;
	char	   *label;
	Jsonb	   *options = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	TrainOptions o;
	KeysQuery	kq;
	KeySet		keys = {0};
	KeyBuilder	kb;
	char	  **ktext = NULL;
	uint8	   *yall = NULL;
	double	   *xall = NULL;
	int			ka = 0;
	char	  **own = NULL;
	int64		n = 0;
	TrainTerms	t = {0};
	PeerCall	call;
	AuditWatch	watch;
	char	   *run;
	char	   *sender;
	AskerRun	ar = {0};
	double	   *mean_b,
			   *sd_b,
			   *mean_a,
			   *sd_a;
	double	   *w;
	JsonbValue *res;
	JsonbParseState *state = NULL;
	MemoryContext fn_cxt = CurrentMemoryContext;

	mpc_asker_args(fcinfo, "joint_train needs a peer, a dataset, a keys query and a label column",
				   &server, &dataset, &keys_query);
	label = text_to_cstring(PG_GETARG_TEXT_PP(3));
	parse_options(options, &o);
	sender = psprintf("peer \"%s\"", server);

	/* The asker's rows: the key, then keys_query's columns (the label among them). */
	keys_query_prepare(&kq, keys_query, MPC_ASKER_SELECT);
	{
		TupleDesc	td;
		uint64		nrows;
		int			label_col;
		int		   *own_col;

		nrows = keys_query_fetch_all(&kq);
		td = SPI_tuptable->tupdesc;
		label_col = mpc_asker_label_column(td, label,
										   "keys_query returns the key first, then the label column named by label, then any own feature columns.");
		MemoryContextSwitchTo(fn_cxt);
		own_col = palloc(sizeof(int) * (td->natts + 1));
		own = palloc(sizeof(char *) * (td->natts + 1));
		for (int c = 3; c <= td->natts; c++)
		{
			const char *name = NameStr(TupleDescAttr(td, c - 1)->attname);

			if (!TupleDescAttr(td, c - 1)->attisdropped &&
				strcmp(name, label) != 0 && strcmp(name, o.intercept) != 0)
			{
				own_col[ka] = c;
				own[ka++] = pstrdup(name);
			}
		}
		if (ka > TRAIN_MAX_FEATURES - 1)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("joint_train takes at most %d features in all, and keys_query has %d of its own",
							TRAIN_MAX_FEATURES, ka)));
		ktext = palloc_extended(sizeof(char *) * Max(nrows, 1), MCXT_ALLOC_HUGE);
		yall = secret_palloc(Max(nrows, 1));	/* the labels: wiped however the run ends */
		xall = secret_palloc(sizeof(double) * Max(nrows, 1) * Max(ka, 1));
		for (uint64 r = 0; r < nrows; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			char	   *key = SPI_getvalue(tup, td, 1);
			char	   *lv;

			if (key == NULL)
				continue;		/* no key: no row to join */
			lv = SPI_getvalue(tup, td, label_col);
			if (lv == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("label column \"%s\" of keys_query is NULL for a key", label),
						 errhint("Leave unlabelled keys out of keys_query (WHERE %s IS NOT NULL).", label)));
			yall[n] = keys_query_label(lv, label);
			for (int j = 0; j < ka; j++)
			{
				char	   *fv = SPI_getvalue(tup, td, own_col[j]);

				if (fv == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("feature column \"%s\" of keys_query is NULL for a key", own[j]),
							 errhint("Leave such keys out, or give the column a value (coalesce).")));
				if (!dataset_value_number(fv, &xall[n * ka + j]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("feature column \"%s\" of keys_query holds a value that is not a finite number",
									own[j])));
			}
			ktext[n++] = key;
			if ((r & 8191) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}
	SPI_finish();
	MemoryContextSwitchTo(fn_cxt);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys_query returned no key to train on")));

	/* One shuffle of the rows (seed), so that mini-batches are random. */
	{
		uint64		st = (uint64) o.seed;

		for (int64 i = n - 1; i > 0; i--)
		{
			int64		j = (int64) (splitmix64(&st) % (uint64) (i + 1));
			char	   *kt = ktext[i];
			uint8		yt = yall[i];

			ktext[i] = ktext[j];
			ktext[j] = kt;
			yall[i] = yall[j];
			yall[j] = yt;
			for (int c = 0; c < ka; c++)
			{
				double		xt = xall[i * ka + c];

				xall[i * ka + c] = xall[j * ka + c];
				xall[j * ka + c] = xt;
			}
		}
	}
	key_builder_init(&kb, &keys);
	for (int64 i = 0; i < n; i++)
		key_builder_add(&kb, ktext[i]);

	run = run_ask_open(&call, &watch, server, "joint_train", "train", dataset, n, n);

	if (o.features == NIL)
		o.features = peer_permitted_columns(&call, dataset, "train");
	if (o.features == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("peer \"%s\" permits no column of dataset \"%s\" for train", server, dataset)));
	if (list_length(o.features) + ka > TRAIN_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("joint_train takes at most %d features in all, not %d of the peer's and %d own",
						TRAIN_MAX_FEATURES, list_length(o.features), ka),
				 errhint("Name the peer's columns in options, e.g. '{\"features\": [\"tax_paid\"]}'.")));
	t.kb = list_length(o.features);
	t.ka = ka;
	t.bits = o.bits;
	t.epochs = o.epochs;
	t.batch = o.batch == 0 ? n : Min(o.batch, n);
	t.slice = (int) Min((int64) SLICE_ROWS, (int64) (FIXPROD_MAX_SLICE_OTS / ((size_t) Max(t.kb, ka) * t.bits)));
	t.lr = o.lr;
	t.l2 = o.l2;
	t.columns = palloc(sizeof(char *) * t.kb);
	for (int j = 0; j < t.kb; j++)
	{
		t.columns[j] = list_nth(o.features, j);
		if (strcmp(t.columns[j], o.intercept) == 0)
			bad_option(psprintf("\"intercept\" names \"%s\", a column of the peer", o.intercept));
		for (int i = 0; i < ka; i++)
			if (strcmp(t.columns[j], own[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" is both the peer's and one of keys_query's features", own[i]),
						 errhint("joint_score tells them apart by name: rename the own column.")));
	}

	ar.call = &call;
	ar.run = run;
	ar.sender = sender;
	ar.t = &t;
	ar.cap = max_item_bytes(&t);
	mpc_memory_hold();
	PG_TRY();
	{
		WireBuilder b;
		bytea	   *ready;
		WireReader	r;
		const uint8 *usable;
		const uint8 *stats;
		const uint8 *owner_a;
		uint32		ul,
					sl,
					al;
		int64		m = 0;
		double	   *xs;

		wire_builder_init(&b, WIRE_TRAIN_TERMS);
		terms_add(&b, &t);
		run_ask_admit(&call, dataset, "train", run, n, wire_builder_finish(&b));
		progress_phase("asker: owner reads its columns", 0);
		wire_builder_init(&b, WIRE_TRAIN_TERMS);
		terms_add(&b, &t);
		for (int64 i = 0; i < n; i++)
			wire_builder_add(&b, keys.data[i], (uint32) keys.lens[i]);
		{
			const char *params[2] = {dataset, run};

			ready = peer_call_bytea(&call, "SELECT pgpriv.serve_train_begin($1, $2, $3)", 2, params,
									wire_builder_finish(&b));
		}
		wire_reader_init(&r, ready, WIRE_TRAIN_READY, 3, (uint32) Max((n + 7) / 8, 4096), sender);
		if (!wire_reader_next(&r, &usable, &ul) || ul != (uint32) ((n + 7) / 8) ||
			!wire_reader_next(&r, &stats, &sl) || sl != (uint32) (16 * t.kb) ||
			!wire_reader_next(&r, &owner_a, &al))
			wire_malformed(sender, "The begin reply is not the usable keys, the columns' statistics and a base-OT message.");
		mean_b = palloc(sizeof(double) * t.kb);
		sd_b = palloc(sizeof(double) * t.kb);
		for (int j = 0; j < t.kb; j++)
		{
			mean_b[j] = get_double(stats + 16 * j);
			sd_b[j] = get_double(stats + 16 * j + 8);
			if (!isfinite(mean_b[j]) || !(sd_b[j] > 0) || !isfinite(sd_b[j]))
				wire_malformed(sender, psprintf("Column \"%s\"'s mean or standard deviation is not a number.",
												t.columns[j]));
		}
		for (int64 i = 0; i < n; i++)
			if ((usable[i / 8] >> (i % 8)) & 1)
				m++;
		if (m == 0)
			wire_malformed(sender, "No usable row, and no refusal.");

		/* The training rows, in the order sent: labels, own features standardised and quantised. */
		ar.m = m;
		ar.y = secret_palloc(m);
		xs = secret_palloc(sizeof(double) * m * Max(ka, 1));
		for (int64 i = 0, e = 0; i < n; i++)
			if ((usable[i / 8] >> (i % 8)) & 1)
			{
				ar.y[e] = yall[i];
				for (int j = 0; j < ka; j++)
					xs[e * ka + j] = xall[i * ka + j];
				e++;
			}
		secret_wipe(yall);
		mean_a = palloc(sizeof(double) * Max(ka, 1));
		sd_a = palloc(sizeof(double) * Max(ka, 1));
		ar.xa = secret_palloc(sizeof(int32) * m * Max(ka, 1));
		for (int j = 0; j < ka; j++)
		{
			column_stats(xs, m, ka, j, &mean_a[j], &sd_a[j]);
			for (int64 e = 0; e < m; e++)
				ar.xa[e * ka + j] = quantise(xs[e * ka + j], mean_a[j], sd_a[j], t.bits);
		}
		sched_init(&ar.s, m, &t);
		model_init(&ar.md, 0, &t, t.slice);
		ar.fs = fixprod_sender_new((size_t) m, (size_t) t.kb, t.bits);
		if (ka > 0)
			ar.fr = fixprod_receiver_new((size_t) m, (size_t) ka, t.bits, ar.xa);
		if (ar.fs == NULL || (ka > 0 && ar.fr == NULL))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

		progress_phase("asker: two-party training (steps)", sched_total_steps(&ar.s));
		while (ar.s.phase != PH_DONE)
		{
			CHECK_FOR_INTERRUPTS();
			asker_step(&ar, owner_a, al);
			progress_advance(ar.s.call, call.bytes_in, call.bytes_out);
		}
		{
			const char *params[1] = {run};
			bytea	   *fin = peer_call_bytea(&call, "SELECT pgpriv.serve_train_finish($1)", 1, params, NULL);
			uint32		count;
			const uint8 *shares = wire_unpack_fixed(fin, WIRE_TRAIN_REPLY, 8, (uint32) ar.md.nw, &count, sender);

			if (count != (uint32) ar.md.nw)
				wire_malformed(sender, "The weight shares are not one per weight.");
			w = palloc(sizeof(double) * ar.md.nw);
			for (int i = 0; i < ar.md.nw; i++)
			{
				uint64		u;

				memcpy(&u, shares + 8 * i, 8);
				w[i] = mpc_fixed_decode((int64_t) (ar.md.w[i] + pg_ntoh64(u)));
			}
		}
	}
	PG_CATCH();
	{
		asker_run_free(&ar);
		PG_RE_THROW();
	}
	PG_END_TRY();
	asker_run_free(&ar);
	secret_wipe(ar.y);
	secret_wipe(ar.xa);
	secret_wipe(xall);

	/* Standardisation folded back: raw-column weights and the intercept. */
	{
		double		b = w[ar.md.nw - 1];

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		for (int j = 0; j < t.kb; j++)
		{
			jsonb_put(&state, t.columns[j], w[j] / sd_b[j]);
			b -= w[j] * mean_b[j] / sd_b[j];
		}
		for (int j = 0; j < ka; j++)
		{
			jsonb_put(&state, own[j], w[t.kb + j] / sd_a[j]);
			b -= w[t.kb + j] * mean_a[j] / sd_a[j];
		}
		jsonb_put(&state, o.intercept, b);
		res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	ereport(NOTICE,
			(errmsg("joint_train: trained on %lld rows; %lld of the keys asked had no usable row at peer \"%s\"",
					(long long) ar.m, (long long) (n - ar.m), server)));

	run_ask_close(&call, &watch, run, "train", dataset, n, ar.m,
				  psprintf("run %s, logistic regression on %d of the peer's and %d own columns, %d epochs",
						   run, t.kb, ka, t.epochs));
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
