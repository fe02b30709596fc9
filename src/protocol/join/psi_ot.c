/*
 * psi_ot.c — psi and psi_fetch over the OT-extension protocols, the owner's
 * half and the asker's half: RR22 (crypto/rr22.h: an OKVS and a silent
 * VOLE; what pgpriv.psi_protocol = ot runs) and KKRT16 (crypto/kkrt.h: a
 * batched OPRF over a 448-wide IKNP; psi_protocol = kkrt).  docs/psi.md,
 * "protocol choice".
 *
 * Why a second protocol.  The OPRF table of psi_oprf.c costs the owner one
 * ristretto255 evaluation per row whenever its table is rebuilt, and the
 * asker one blind, one evaluation (at the owner) and one finalize per key.
 * For two large fresh sets that is minutes of curve arithmetic; the
 * OT-extension protocols do the same join with a few hundred base OTs and
 * then only AES, BLAKE2b and (RR22) GF(2^128) products per element.
 *
 * The run (asker = receiver R, owner = sender S); the owner's serve
 * functions take either protocol and tell them apart by the hello's own
 * frame type:
 *   1. CALL serve_admit(dataset, capability, run, m): m = the cuckoo table
 *      size (KKRT, crypto/cuckoo.h) or the OKVS size (RR22,
 *      rr22_columns) for the asker's n keys, because each bin or column is
 *      one evaluation a modified asker could spend on a key of its choice:
 *      the budget and max_keys are charged for m, never for less.
 *   2. serve_ot_begin(…, HELLO) → BASE ‖ the permitted columns: the owner
 *      checks that HELLO's n gives exactly the admitted m before anything is
 *      allocated, reads its rows, hashes each distinct key to a 16-byte item
 *      and shuffles the items (their order is the order of its tags).
 *   3. RR22 only: serve_ot_extend(…, COT) → TREES, the VOLE's last two
 *      flights (the asker has encoded its OKVS before it sends COT).
 *   4. serve_ot_extend(…, chunks) × ⌈chunks / OT_U_CHUNKS_PER_CALL⌉: the
 *      OT-extension columns (KKRT's U) or D = A + P (RR22), pipelined (the
 *      asker makes the next group while the owner reads the last).
 *   5. serve_ot_tags(…, batch) for every batch of owner items, pipelined:
 *      the truncated tags (τ bytes, 2^-40 false matches over all n·n'
 *      comparisons) and, for psi_fetch, each item's rows sealed.  The last
 *      batch completes the run on the owner's side (its audit row).
 *
 * psi_fetch's sealing.  RR22 gives each owner item y one output F(y), which
 * the asker has for its x = y and for nothing else; bytes 16..31 are never
 * sent (rr22.h), so the rows of y are sealed under K_y = BLAKE2b-256(key =
 * F(y)[16..32), seal context) (XChaCha20-Poly1305, nonce zero: each key
 * seals one message).  KKRT gives y three outputs F_0, F_1, F_2 (one per
 * hash function) and the asker has the one at its hash index, so the owner
 * draws a fresh 16-byte seed s_y, seals under K_y = BLAKE2b-256(key = s_y,
 * seal context) and sends w_i = s_y ⊕ BLAKE2b-128(key = F_i[16..32), seal
 * context) for i = 0, 1, 2: 48 bytes per item besides the ciphertext.  The
 * seal context names the dataset, capability and run.
 *
 * Memory.  The owner holds its rows (as the table build does), the items,
 * and the protocol's state (KKRT: 56·m bytes; RR22: 16·m, plus the VOLE's
 * until its trees are sent), in one context that lives from begin to the
 * last batch, or until another run opens in the session (run/served_run.h);
 * the asker holds its keys, the receiver (its own outputs, 32 bytes per
 * key; RR22 also D, 16·m) and one batch of the owner's tags at a time.
 * Neither side's allocation is sized by the peer beyond pgpriv.max_run_keys
 * and the admitted m.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "catalog/receipt.h"
#include "crypto/cuckoo.h"
#include "crypto/kkrt.h"
#include "crypto/parallel.h"
#include "crypto/rr22.h"
#include "peer/call.h"
#include "protocol/join/join_ask.h"
#include "protocol/join/join_catalog.h"
#include "protocol/join/join_serve.h"
#include "protocol/join/oprf_table.h"
#include "protocol/join/psi_ot.h"
#include "run/ask.h"
#include "run/admission.h"
#include "run/keys.h"
#include "run/progress.h"
#include "run/served_run.h"
#include "wire/message.h"

PG_FUNCTION_INFO_V1(pgpriv_serve_ot_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_ot_extend);
PG_FUNCTION_INFO_V1(pgpriv_serve_ot_tags);

int			pgpriv_psi_protocol = PSI_PROTOCOL_AUTO;
bool		pgpriv_serve_ot = true;

#define OT_U_CHUNKS_PER_CALL	8	/* 8 × 8192 bins × 56 bytes ≈ 3.7 MB a call */
#define OT_TAG_BATCHES_PER_CALL 2	/* tag batches per serve_ot_tags call, one per core */
#define OT_SEED_BYTES			16	/* an item's sealing seed; its key is derived */
#define OT_WRAP_BYTES			(KKRT_HASHES * OT_SEED_BYTES)
#define OT_SEAL_ABYTES			crypto_aead_xchacha20poly1305_ietf_ABYTES
#define OT_MAX_COLUMNS			1600	/* MaxTupleAttributeNumber */

StaticAssertDecl(KKRT_ITEM_BYTES == RR22_ITEM_BYTES, "both protocols take the same 16-byte items");

/* The protocol's name in audit rows and progress phases. */
static const char *
ot_proto_name(bool rr22)
{
	return rr22 ? "rr22" : "kkrt";
}

/* ----------------------------------------------------------------------
 * Shared by both halves
 * ----------------------------------------------------------------------
 */

static void
check_capability(const char *capability)
{
	join_check_psi_capability(capability, "the OT-extension join");
}

/*
 * The 16-byte KKRT item of a key (its UTF-8 bytes, keys.h): BLAKE2b-128
 * with a domain and the length, so both sides agree whatever their
 * encodings and no two keys collide except with probability 2^-128·pairs.
 */
static void
ot_item_of_key(const uint8 *key, size_t len, uint8 out[KKRT_ITEM_BYTES])
{
	static const char domain[] = "pgpriv-psi-ot-item-v1";
	crypto_generichash_state st;
	uint8		be[8];
	int			k;

	for (k = 0; k < 8; k++)
		be[k] = (uint8) ((uint64) len >> (56 - 8 * k));
	crypto_generichash_init(&st, NULL, 0, KKRT_ITEM_BYTES);
	crypto_generichash_update(&st, (const uint8 *) domain, sizeof(domain));
	crypto_generichash_update(&st, be, sizeof(be));
	crypto_generichash_update(&st, key, len);
	crypto_generichash_final(&st, out, KKRT_ITEM_BYTES);
}

/* Items of keys [begin, end) on worker threads (pure crypto: ot_item_of_key). */
typedef struct ItemJob
{
	const KeySet *keys;
	uint8	   *out;			/* item i at out + i·stride */
	size_t		stride;
} ItemJob;

static int
item_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	ItemJob    *job = (ItemJob *) arg;
	size_t		i;

	(void) failed;

	for (i = begin; i < end; i++)
		ot_item_of_key(job->keys->data[i], job->keys->lens[i], job->out + i * job->stride);
	return 0;
}

/* The items of every key, on all cores. */
static void
ot_items_of_keys(const KeySet *keys, uint8 *out, size_t stride)
{
	ItemJob		job;
	size_t		failed = 0;

	job.keys = keys;
	job.out = out;
	job.stride = stride;
	(void) crypto_parallel_for(keys->n, pgpriv_threads_for_batch(), item_range, &job, &failed);
	CHECK_FOR_INTERRUPTS();
}

static char *
ot_seal_context(const char *dataset, const char *capability, const char *run)
{
	return psprintf("pgpriv-psi-ot-v1|%s|%s|%s", dataset, capability, run);
}

/* pad = BLAKE2b-128(key = F[16..32), msg = the seal context). */
static void
ot_wrap_pad(const uint8 *F, const char *ad, uint8 pad[OT_SEED_BYTES])
{
	crypto_generichash(pad, OT_SEED_BYTES, (const uint8 *) ad, strlen(ad), F + 16, 16);
}

/* The sealing key of an item from its seed. */
static void
ot_seal_key(const uint8 seed[OT_SEED_BYTES], const char *ad, uint8 key[32])
{
	crypto_generichash(key, 32, (const uint8 *) ad, strlen(ad), seed, OT_SEED_BYTES);
}

/* A KKRT status as an error: the peer's message for the 08P01 ones. */
static void
ot_status_error(mpc_status st, const char *sender, const char *what)
{
	if (st == MPC_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory in the OT-extension join (%s)", what)));
	if (st == MPC_CRYPTO_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("a cryptographic library call failed in the OT-extension join (%s)", what)));
	wire_malformed(sender, psprintf("The %s message: %s.", what, mpc_status_reason(st)));
}

static uint32
get_u32le(const uint8 *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

/*
 * fn over [0, n) on all cores (worker threads: pure crypto only,
 * crypto/parallel.h); a failure is the MPC status fn returned, raised as
 * ot_status_error(sender, what).
 */
static void
ot_parallel(size_t n, crypto_range_fn fn, void *job, const char *sender, const char *what)
{
	size_t		failed = 0;
	int			st = crypto_parallel_for(n, pgpriv_threads_for_batch(), fn, job, &failed);

	if (st != 0)
		ot_status_error((mpc_status) st, sender, what);
}

/* One message of index k of a job (an extension chunk, a tag batch), either protocol. */
typedef mpc_status (*ot_one_fn) (void *job, size_t k);

typedef struct OtEach
{
	ot_one_fn	one;
	void	   *job;
} OtEach;

static int
ot_each_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	OtEach	   *e = (OtEach *) arg;
	size_t		k;

	for (k = begin; k < end; k++)
	{
		mpc_status	st = e->one(e->job, k);

		if (st != MPC_OK)
		{
			*failed = k;
			return (int) st;
		}
	}
	return 0;
}

/* one(job, k) for every k < n, as ot_parallel. */
static void
ot_parallel_each(size_t n, ot_one_fn one, void *job, const char *sender, const char *what)
{
	OtEach		e;

	e.one = one;
	e.job = job;
	ot_parallel(n, ot_each_range, &e, sender, what);
}

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

/*
 * The OT run a serving session holds between the asker's calls: a served run
 * (run/served_run.h), so opening any other run closes it.
 */
typedef struct OtServe
{
	ServedRun	base;			/* its context holds everything below */
	bool		sealed;			/* psi_fetch */
	char	   *ad;				/* seal context */
	bool		rr22;			/* RR22 (rr), else KKRT16 (sender) */
	kkrt_sender *sender;		/* malloc'd; freed by the context's callback */
	rr22_sender *rr;			/* malloc'd; freed by the context's callback */
	bool		cot_read;		/* rr22: the VOLE's COT flight answered */
	size_t		n;				/* distinct owner items */
	uint8	   *ys;				/* n × 16, shuffled */
	/* psi_fetch: item j's rows are order[first[j] .. first[j + 1]) */
	DatasetRows rows;
	uint32	   *first;
	uint32	   *order;
	size_t		batches;
	size_t		batches_sent;
	bool	   *batch_sent;
	size_t		chunks_read;
} OtServe;

/* The wipe hook: the sender is malloc'd (crypto/kkrt.c wipes it). */
static void
ot_serve_wipe(ServedRun *run)
{
	OtServe    *s = (OtServe *) run;

	if (s->sender)
		kkrt_sender_free(s->sender);
	s->sender = NULL;
	if (s->rr)
		rr22_sender_free(s->rr);
	s->rr = NULL;
}

/* Every extension message read: tags can go out. */
static bool
ot_serve_ready(const OtServe *s)
{
	return s->rr22 ? rr22_sender_ready(s->rr) : kkrt_sender_ready(s->sender);
}

static size_t
ot_serve_chunks(const OtServe *s)
{
	return s->rr22 ? rr22_sender_chunks(s->rr) : kkrt_sender_chunks(s->sender);
}

/* The served-run name of an OT run (psi and psi_fetch runs over the table open none). */
static const char *
ot_run_kind(const char *capability)
{
	return strcmp(capability, "psi_fetch") == 0 ? "psi_fetch" : "psi";
}

/* The session's run, if it is this one and at this stage; else 08P01. */
static OtServe *
ot_serve_require(const char *capability, const char *run, bool want_ready)
{
	OtServe    *s = served_run_find(ot_run_kind(capability), run);

	if (s == NULL || (s->rr22 ? s->rr == NULL : s->sender == NULL) || ot_serve_ready(s) != want_ready)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("Run %s has no OT-extension step of this kind pending in this session.", run),
				 errhint("An OT-extension run goes serve_ot_begin, serve_ot_extend until every chunk is sent, then serve_ot_tags.")));
	return s;
}

typedef struct RowHash
{
	uint8		h[KKRT_ITEM_BYTES];
	uint32		row;
} RowHash;

static int
compare_row_hash(const void *a, const void *b)
{
	return memcmp(((const RowHash *) a)->h, ((const RowHash *) b)->h, KKRT_ITEM_BYTES);
}

/*
 * Uniform draws for the owner's shuffle: ChaCha20 under a fresh random key
 * (one getrandom for the whole shuffle rather than one per draw, which cost
 * 0.2 s at 2^20), each draw by the same rejection rule as libsodium's
 * randombytes_uniform, so every permutation stays equally likely.
 */
typedef struct ShuffleRng
{
	uint8		key[crypto_stream_chacha20_KEYBYTES];
	uint64		block;			/* the nonce of the next 1 KiB of stream */
	uint32		buf[256];
	int			pos;
} ShuffleRng;

static void
shuffle_rng_init(ShuffleRng *r)
{
	crypto_stream_chacha20_keygen(r->key);
	r->block = 0;
	r->pos = lengthof(r->buf);
}

static uint32
shuffle_next32(ShuffleRng *r)
{
	if (r->pos == lengthof(r->buf))
	{
		uint8		nonce[crypto_stream_chacha20_NONCEBYTES];
		int			k;

		for (k = 0; k < (int) sizeof(nonce); k++)
			nonce[k] = (uint8) (r->block >> (8 * k));
		crypto_stream_chacha20((uint8 *) r->buf, sizeof(r->buf), nonce, r->key);
		r->block++;
		r->pos = 0;
	}
	return r->buf[r->pos++];
}

/* Uniform in [0, bound), bound >= 2: reject below 2^32 mod bound. */
static uint32
shuffle_uniform(ShuffleRng *r, uint32 bound)
{
	uint32		min = (1U + ~bound) % bound;
	uint32		v;

	do
		v = shuffle_next32(r);
	while (v < min);
	return v % bound;
}

/*
 * The owner's items: each distinct key's hash once, in a uniformly random
 * order (the tags go out in this order, which must carry no secret: not
 * the dataset's row order), and for psi_fetch the rows of each.
 */
static void
ot_serve_items(OtServe *s)
{
	size_t		nrows = s->rows.keys.n;
	RowHash    *rh = palloc_extended(Max(nrows, 1) * sizeof(RowHash), MCXT_ALLOC_HUGE);
	uint32	   *gstart = palloc_extended((Max(nrows, 1) + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	uint32	   *perm;
	size_t		i,
				g = 0,
				pos = 0;

	for (i = 0; i < nrows; i++)
		rh[i].row = (uint32) i;
	StaticAssertStmt(offsetof(RowHash, h) == 0, "the item is the start of a RowHash");
	ot_items_of_keys(&s->rows.keys, (uint8 *) rh, sizeof(RowHash));
	qsort(rh, nrows, sizeof(RowHash), compare_row_hash);
	for (i = 0; i < nrows; i++)
		if (i == 0 || memcmp(rh[i].h, rh[i - 1].h, KKRT_ITEM_BYTES) != 0)
			gstart[g++] = (uint32) i;
	gstart[g] = (uint32) nrows;
	s->n = g;

	/* Fisher–Yates over the groups, uniform draws from a fresh ChaCha20 stream. */
	perm = palloc_extended(Max(g, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (i = 0; i < g; i++)
		perm[i] = (uint32) i;
	{
		ShuffleRng	rng;

		shuffle_rng_init(&rng);
		for (i = g; i > 1; i--)
		{
			uint32		j = shuffle_uniform(&rng, (uint32) i);
			uint32		t = perm[i - 1];

			perm[i - 1] = perm[j];
			perm[j] = t;
		}
		sodium_memzero(&rng, sizeof(rng));
	}

	s->ys = palloc_extended(Max(g, 1) * KKRT_ITEM_BYTES, MCXT_ALLOC_HUGE);
	if (s->sealed)
	{
		s->first = palloc_extended((Max(g, 1) + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
		s->order = palloc_extended(Max(nrows, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	}
	for (i = 0; i < g; i++)
	{
		uint32		grp = perm[i];

		memcpy(s->ys + i * KKRT_ITEM_BYTES, rh[gstart[grp]].h, KKRT_ITEM_BYTES);
		if (s->sealed)
		{
			uint32		r;

			s->first[i] = (uint32) pos;
			for (r = gstart[grp]; r < gstart[grp + 1]; r++)
				s->order[pos++] = rh[r].row;
		}
	}
	if (s->sealed)
		s->first[g] = (uint32) pos;
	pfree(rh);
	pfree(gstart);
	pfree(perm);
}

/*
 * pgpriv.serve_ot_begin(dataset, capability, run, hello bytea) → bytea
 *
 * The hello's own frame type says which protocol the asker runs: a KKRT
 * HELLO or an RR22 HELLO (crypto/rr22.h).  Reply: WIRE_OT_BASE, item 0 the
 * protocol's BASE message (empty if the dataset has no key: the run is then
 * complete), then the permitted columns.
 */
Datum
pgpriv_serve_ot_begin(PG_FUNCTION_ARGS)
{
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	JoinServe	js;
	WireReader	rd;
	const uint8 *hello;
	uint32		hlen;
	uint32		n_r;
	size_t		m;
	size_t		max_n;
	bool		rr22;
	OtServe    *s;
	MemoryContext old;
	WireBuilder wb;
	bytea	   *reply;
	ListCell   *lc;
	bool		sealed;
	const char *name;

	/* Refused by name before the asker's hello is looked at (or absorbed). */
	catalog_restrict_definer();
	if (!pgpriv_serve_ot)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this server serves psi and psi_fetch over its OPRF table only (pgpriv.serve_ot is off)"),
				 errhint("The asker can set pgpriv.psi_protocol = table, or auto, which reads this setting.")));
	join_serve_begin(&js, fcinfo, NULL, msg, check_capability);
	sealed = strcmp(js.capability, "psi_fetch") == 0;

	wire_reader_init(&rd, msg, WIRE_OT_HELLO, 1,
					 (uint32) Max(kkrt_hello_bytes(), rr22_hello_bytes()), "the asker");
	if (!wire_reader_next(&rd, &hello, &hlen) || hlen < MPC_MSG_HEADER_BYTES)
		wire_malformed("the asker", "The OT-extension hello is missing or of the wrong size.");
	rr22 = hello[1] == RR22_MSG_HELLO;
	if (hlen != (rr22 ? rr22_hello_bytes() : kkrt_hello_bytes()))
		wire_malformed("the asker", "The OT-extension hello is missing or of the wrong size.");
	name = ot_proto_name(rr22);
	/* The asker's set size decides the owner's memory: bound it first. */
	n_r = get_u32le(hello + 8);
	max_n = rr22 ? RR22_MAX_N : KKRT_MAX_N;
	if (n_r == 0 || n_r > (uint32) pgpriv_max_run_keys || n_r > max_n)
		wire_malformed("the asker", psprintf("An OT-extension run of %u keys (pgpriv.max_run_keys is %d).",
											 n_r, pgpriv_max_run_keys));
	/*
	 * Each bin (KKRT) or OKVS column (RR22) is one evaluation a modified
	 * asker can spend on a key of its choice: never more than were admitted
	 * and charged.
	 */
	m = rr22 ? rr22_columns(n_r) : cuckoo_bins(n_r);
	admission_serve(js.admission, (int64) m, VARSIZE_ANY_EXHDR(msg), 0);

	s = served_run_open(ot_run_kind(js.capability), js.run, js.dataset, sizeof(OtServe), ot_serve_wipe);
	s->sealed = sealed;
	s->rr22 = rr22;

	old = MemoryContextSwitchTo(s->base.cxt);
	s->ad = ot_seal_context(js.dataset, js.capability, js.run);
	progress_begin(js.capability, session_role_name(), js.dataset, (int64) n_r);
	progress_phase(psprintf("owner (%s): reading the dataset", name), 0);
	dataset_rows_fetch(&js.ds, s->sealed ? js.permit.columns : NIL, &s->rows);
	ot_serve_items(s);
	MemoryContextSwitchTo(old);

	wire_builder_init(&wb, WIRE_OT_BASE);
	if (s->n == 0)
	{
		wire_builder_add(&wb, (const uint8 *) "", 0);
		served_run_close();
		s = NULL;
	}
	else
	{
		mpc_status	st;
		size_t		blen;
		size_t		bcap = rr22 ? rr22_base_bytes() : kkrt_base_bytes();
		uint8	   *base;

		if (s->n > max_n)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("dataset \"%s\" has %zu distinct keys, more than the OT-extension join's %zu",
							js.dataset, s->n, max_n),
					 errhint("The asker can set pgpriv.psi_protocol = table.")));
		if (rr22)
			s->rr = rr22_sender_new(s->n, pgpriv_threads_for_batch(), &st);
		else
			s->sender = kkrt_sender_new(s->n, &st);
		if (rr22 ? s->rr == NULL : s->sender == NULL)
			ot_status_error(st, "the asker", "sender setup");
		progress_phase(psprintf("owner (%s): base OTs", name), 0);
		base = wire_builder_reserve(&wb, bcap);
		if (rr22)
			st = rr22_sender_hello(s->rr, hello, hlen, n_r, base, bcap, &blen);
		else
			st = kkrt_sender_hello(s->sender, hello, hlen, n_r, base, bcap, &blen);
		if (st != MPC_OK)
		{
			served_run_close();
			ot_status_error(st, "the asker", "OT-extension hello");
		}
		wire_builder_commit(&wb, (uint32) blen);
		s->batches = rr22 ? rr22_sender_batches(s->rr) : kkrt_sender_batches(s->sender);
		s->batch_sent = MemoryContextAllocZero(s->base.cxt, Max(s->batches, 1) * sizeof(bool));
		progress_phase(psprintf("owner (%s): reading the extension", name), (int64) ot_serve_chunks(s));
	}
	if (sealed)
		foreach(lc, js.permit.columns)
			wire_builder_add(&wb, (const uint8 *) lfirst(lc), (uint32) strlen(lfirst(lc)));
	reply = wire_builder_finish(&wb);
	admission_serve(js.admission, 0, 0, VARSIZE_ANY_EXHDR(reply));
	if (s == NULL)
	{
		/* No owner key: nothing can match; the run is complete. */
		admission_complete_note(js.admission, 0, psprintf("protocol %s, the dataset has no key", name));
		progress_end();
	}
	admission_absorb(js.run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}

typedef struct ExtendJob
{
	kkrt_sender *sender;
	rr22_sender *rr;
	const uint8 **items;
	uint32	   *lens;
} ExtendJob;

/* Worker threads: the asker's chunk k read. */
static mpc_status
extend_one(void *arg, size_t k)
{
	ExtendJob  *job = (ExtendJob *) arg;

	return job->rr ? rr22_sender_chunk(job->rr, job->items[k], job->lens[k]) :
		kkrt_sender_chunk(job->sender, job->items[k], job->lens[k]);
}

/*
 * pgpriv.serve_ot_extend(dataset, capability, run, chunks bytea) → bytea
 *
 * KKRT: U chunks in, an empty WIRE_OT_U back.  RR22: first the VOLE's COT
 * flight alone, answered by its TREES flight (one item of WIRE_OT_U), then D
 * chunks, each answered by an empty WIRE_OT_U.
 */
Datum
pgpriv_serve_ot_extend(PG_FUNCTION_ARGS)
{
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	JoinServe	js;
	OtServe    *s;
	WireReader	rd;
	ExtendJob	job;
	const uint8 *items[OT_U_CHUNKS_PER_CALL];
	uint32		lens[OT_U_CHUNKS_PER_CALL];
	size_t		count = 0;
	size_t		max_item;
	int			st;
	WireBuilder wb;
	bytea	   *reply;

	join_serve_begin(&js, fcinfo, NULL, msg, check_capability);
	s = ot_serve_require(js.capability, js.run, false);

	if (!s->rr22)
		max_item = kkrt_u_bytes(KKRT_CHUNK_BINS);
	else if (!s->cot_read)
		max_item = rr22_cot_bytes(rr22_sender_columns(s->rr));
	else
		max_item = rr22_d_bytes(RR22_CHUNK_ELEMS);
	wire_reader_init(&rd, msg, WIRE_OT_U, s->rr22 && !s->cot_read ? 1 : OT_U_CHUNKS_PER_CALL,
					 (uint32) max_item, "the asker");
	while (wire_reader_next(&rd, &items[count], &lens[count]))
		count++;
	if (count == 0)
		wire_malformed("the asker", "An OT-extension message without chunks.");
	wire_builder_init(&wb, WIRE_OT_U);
	if (s->rr22 && !s->cot_read)
	{
		/* The VOLE's third flight: the answer is its fourth, the GGM trees. */
		size_t		tcap = rr22_trees_bytes(rr22_sender_columns(s->rr));
		uint8	   *trees;
		size_t		tlen;

		progress_phase("owner (rr22): the VOLE", 0);
		trees = wire_builder_reserve(&wb, tcap);
		st = rr22_sender_cot(s->rr, items[0], lens[0], trees, tcap, &tlen);
		if (st != MPC_OK)
			ot_status_error((mpc_status) st, "the asker", "VOLE correlation");
		wire_builder_commit(&wb, (uint32) tlen);
		s->cot_read = true;
		progress_phase("owner (rr22): reading the extension", (int64) ot_serve_chunks(s));
	}
	else
	{
		job.sender = s->sender;
		job.rr = s->rr22 ? s->rr : NULL;
		job.items = items;
		job.lens = lens;
		ot_parallel_each(count, extend_one, &job, "the asker", "OT-extension chunk");
		s->chunks_read += count;
		progress_advance((int64) s->chunks_read, js.admission->bytes_in, js.admission->bytes_out);
		if (ot_serve_ready(s))
			progress_phase(psprintf("owner (%s): sending tags", ot_proto_name(s->rr22)), (int64) s->batches);
	}
	reply = wire_builder_finish(&wb);
	PG_RETURN_BYTEA_P(join_serve_reply(&js, VARSIZE_ANY_EXHDR(msg), reply));
}

typedef struct EvalJob
{
	const kkrt_sender *sender;
	const rr22_sender *rr;
	const uint8 *ys;
	uint8	   *out;
} EvalJob;

/* Bytes of the owner's outputs per item: three KKRT outputs, or one RR22 output. */
#define OT_OUTS_BYTES(rr22) ((rr22) ? RR22_OUT_BYTES : KKRT_HASHES * KKRT_OUT_BYTES)

static int
eval_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	EvalJob    *job = (EvalJob *) arg;
	mpc_status	st = job->rr ?
		rr22_sender_eval_batch(job->rr, job->ys + begin * RR22_ITEM_BYTES, end - begin,
							   job->out + begin * RR22_OUT_BYTES) :
		kkrt_sender_eval_batch(job->sender, job->ys + begin * KKRT_ITEM_BYTES, end - begin,
							   job->out + begin * KKRT_HASHES * KKRT_OUT_BYTES);

	if (st != MPC_OK)
	{
		*failed = begin;
		return (int) st;
	}
	return 0;
}

/*
 * psi_fetch: the entry of item j — KKRT: its wrapped keys, then its rows
 * sealed; RR22: its rows sealed under its one output's bytes 16..31.
 */
static void
ot_serve_seal_item(OtServe *s, size_t j, const uint8 *outs, WireBuilder *wb, StringInfo plain,
				   StringInfo row, const char *dataset)
{
	uint8		seed[OT_SEED_BYTES];
	uint8		K[32];
	uint8		nonce[NONCE_BYTES];
	uint8	   *entry;
	uint32		r;
	uint32		nrows = s->first[j + 1] - s->first[j];
	uint32		be;
	size_t		len;
	unsigned long long ctlen;
	int			i,
				k;

	resetStringInfo(plain);
	be = pg_hton32(nrows);
	appendBinaryStringInfo(plain, (char *) &be, 4);
	for (r = s->first[j]; r < s->first[j + 1]; r++)
	{
		oprf_table_payload_serialise(row, s->rows.values + (size_t) s->order[r] * s->rows.ncolumns,
									 s->rows.ncolumns);
		be = pg_hton32((uint32) row->len);
		appendBinaryStringInfo(plain, (char *) &be, 4);
		appendBinaryStringInfo(plain, row->data, row->len);
		if (plain->len > MAX_ENTRY_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the rows of one key of dataset \"%s\" have more than %d bytes of permitted columns",
							dataset, MAX_ENTRY_BYTES)));
	}
	if (s->rr22)
	{
		len = plain->len + OT_SEAL_ABYTES;
		entry = wire_builder_reserve(wb, len);
		ot_seal_key(outs + 16, s->ad, K);
		memset(nonce, 0, sizeof(nonce));
		crypto_aead_xchacha20poly1305_ietf_encrypt(entry, &ctlen,
												   (const uint8 *) plain->data, plain->len,
												   (const uint8 *) s->ad, strlen(s->ad), NULL, nonce, K);
		sodium_memzero(K, sizeof(K));
		wire_builder_commit(wb, (uint32) len);
		return;
	}
	len = OT_WRAP_BYTES + plain->len + OT_SEAL_ABYTES;
	entry = wire_builder_reserve(wb, len);
	randombytes_buf(seed, sizeof(seed));
	for (i = 0; i < KKRT_HASHES; i++)
	{
		uint8		pad[OT_SEED_BYTES];

		ot_wrap_pad(outs + i * KKRT_OUT_BYTES, s->ad, pad);
		for (k = 0; k < OT_SEED_BYTES; k++)
			entry[i * OT_SEED_BYTES + k] = seed[k] ^ pad[k];
		sodium_memzero(pad, sizeof(pad));
	}
	ot_seal_key(seed, s->ad, K);
	sodium_memzero(seed, sizeof(seed));
	/* A fresh key per item seals one message: the zero nonce is never reused. */
	memset(nonce, 0, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(entry + OT_WRAP_BYTES, &ctlen,
											   (const uint8 *) plain->data, plain->len,
											   (const uint8 *) s->ad, strlen(s->ad), NULL, nonce, K);
	sodium_memzero(K, sizeof(K));
	wire_builder_commit(wb, (uint32) len);
}

typedef struct TagsJob
{
	const kkrt_sender *sender;
	const rr22_sender *rr;
	const uint8 *ys;
	size_t		first;			/* batch number of buffer 0 */
	uint8	  **bufs;
	size_t	   *lens;
} TagsJob;

/* Worker threads: the TAGS message of index k (kkrt_sender_tags is thread-safe). */
static mpc_status
tags_one(void *arg, size_t k)
{
	TagsJob    *job = (TagsJob *) arg;

	return job->rr ?
		rr22_sender_tags(job->rr, job->ys, job->first + k, job->bufs[k], job->lens[k], &job->lens[k]) :
		kkrt_sender_tags(job->sender, job->ys, job->first + k, job->bufs[k], job->lens[k], &job->lens[k]);
}

/*
 * pgpriv.serve_ot_tags(dataset, capability, run, batch integer) → bytea
 *
 * WIRE_OT_TAGS for the batches batch .. batch + OT_TAG_BATCHES_PER_CALL − 1
 * (fewer at the end) of the owner's items, computed on all cores: per batch
 * its KKRT or RR22 TAGS message, then for psi_fetch one entry per item in
 * the same order.
 */
Datum
pgpriv_serve_ot_tags(PG_FUNCTION_ARGS)
{
	int32		batch = PG_GETARG_INT32(3);
	JoinServe	js;
	OtServe    *s;
	size_t		k,
				nb;
	uint8	   *bufs[OT_TAG_BATCHES_PER_CALL];
	size_t		lens[OT_TAG_BATCHES_PER_CALL];
	size_t		total = 0;
	TagsJob		tjob;
	WireBuilder wb;
	bytea	   *reply;
	size_t		tag_batch;

	join_serve_begin(&js, fcinfo, NULL, NULL, check_capability);
	s = ot_serve_require(js.capability, js.run, true);
	tag_batch = s->rr22 ? RR22_TAG_BATCH : KKRT_TAG_BATCH;
	if (batch < 0 || (size_t) batch >= s->batches)
		wire_malformed("the asker", psprintf("Tag batch %d of %zu.", batch, s->batches));
	nb = Min((size_t) OT_TAG_BATCHES_PER_CALL, s->batches - (size_t) batch);
	for (k = 0; k < nb; k++)
		if (s->batch_sent[batch + k])
			wire_malformed("the asker", psprintf("Tag batch %zu asked again.", batch + k));

	for (k = 0; k < nb; k++)
	{
		size_t		cnt = Min((size_t) tag_batch, s->n - (batch + k) * tag_batch);

		lens[k] = s->rr22 ? rr22_tags_bytes(cnt, rr22_sender_tag_bytes(s->rr)) :
			kkrt_tags_bytes(cnt, kkrt_sender_tag_bytes(s->sender));
		bufs[k] = palloc(lens[k]);
		total += lens[k] + 4;
	}
	tjob.sender = s->sender;
	tjob.rr = s->rr22 ? s->rr : NULL;
	tjob.ys = s->ys;
	tjob.first = (size_t) batch;
	tjob.bufs = bufs;
	tjob.lens = lens;
	ot_parallel_each(nb, tags_one, &tjob, "the asker", "tag batch");

	wire_builder_init_sized(&wb, WIRE_OT_TAGS, total);
	for (k = 0; k < nb; k++)
	{
		size_t		start = (batch + k) * tag_batch;
		size_t		cnt = Min(tag_batch, s->n - start);

		wire_builder_add(&wb, bufs[k], (uint32) lens[k]);
		pfree(bufs[k]);
		if (s->sealed)
		{
			size_t		ob = OT_OUTS_BYTES(s->rr22);
			uint8	   *outs = palloc_extended(cnt * ob, MCXT_ALLOC_HUGE);
			EvalJob		job;
			size_t		j;
			StringInfoData plain,
						row;

			job.sender = s->sender;
			job.rr = s->rr22 ? s->rr : NULL;
			job.ys = s->ys + start * KKRT_ITEM_BYTES;
			job.out = outs;
			ot_parallel(cnt, eval_range, &job, "the asker", "evaluation");
			initStringInfo(&plain);
			initStringInfo(&row);
			for (j = 0; j < cnt; j++)
			{
				ot_serve_seal_item(s, start + j, outs + j * ob, &wb, &plain, &row, js.dataset);
				if ((j & 0x3ff) == 0)
					CHECK_FOR_INTERRUPTS();
			}
			sodium_memzero(outs, cnt * ob);
			pfree(outs);
			pfree(plain.data);
			pfree(row.data);
		}
	}
	reply = wire_builder_finish(&wb);
	for (k = 0; k < nb; k++)
		s->batch_sent[batch + k] = true;
	s->batches_sent += nb;
	admission_serve(js.admission, 0, 0, VARSIZE_ANY_EXHDR(reply));
	progress_advance((int64) s->batches_sent, js.admission->bytes_in, js.admission->bytes_out);
	if (s->batches_sent == s->batches)
	{
		admission_complete_note(js.admission, js.admission->served,
								psprintf("protocol %s, %zu owner keys", ot_proto_name(s->rr22), s->n));
		progress_end();
		served_run_close();
	}
	admission_absorb(js.run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}

/* ----------------------------------------------------------------------
 * Protocol choice
 * ----------------------------------------------------------------------
 */

/*
 * Entries of the asker's cached copy of the owner's table (any version),
 * or -1 if it has none: the sum of the chunks' wire counts.
 */
static int64
cached_table_entries(const char *server, const char *dataset, const char *capability)
{
	CatalogSession cs;
	const char *texts[4] = {server, peer_remote_user(server), dataset, capability};
	int64		entries = -1;
	uint64		i;

	join_catalog_exec(&cs, true, "SELECT pg_catalog.substring(data, 1, 10) FROM pgpriv.peer_table "
					  "WHERE server = $1 AND remote_user = $2 AND dataset = $3 AND capability = $4",
					  4, texts, true, 0, SPI_OK_SELECT, "read pgpriv.peer_table");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bytea	   *head = DatumGetByteaPP(catalog_value(i, 1, &isnull));

		if (isnull || VARSIZE_ANY_EXHDR(head) < WIRE_HEADER_BYTES)
			continue;
		entries = Max(entries, 0) + wire_get_u32((const uint8 *) VARDATA_ANY(head) + 2);
	}
	catalog_close(&cs);
	return entries;
}

/*
 * Whether the owner serves ot (its pgpriv.serve_ot; one round trip on the
 * run's cached connection).  An owner that does not say is taken to serve it:
 * serve_ot_begin refuses by name if it does not.
 */
static bool
owner_serves_ot(const char *server)
{
	PeerCall	call;
	PGresult   *res;
	bool		serves;

	peer_call_open(&call, server);
	res = peer_call_text(&call, "SELECT pg_catalog.current_setting('pgpriv.serve_ot', true)", 0, NULL);
	serves = PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
		strcmp(PQgetvalue(res, 0, 0), "off") != 0;
	PQclear(res);
	return serves;
}

bool
psi_ot_chosen(const char *server, const char *dataset, const char *capability, size_t nkeys)
{
	int64		cached;

	if (pgpriv_psi_protocol == PSI_PROTOCOL_TABLE)
		return false;
	if (pgpriv_psi_protocol == PSI_PROTOCOL_OT || pgpriv_psi_protocol == PSI_PROTOCOL_KKRT ||
		pgpriv_psi_protocol == PSI_PROTOCOL_RR22)
		return true;
	if (nkeys < PSI_OT_MIN_KEYS)
		return false;
	cached = cached_table_entries(server, dataset, capability);
	if (cached >= 0 && (int64) nkeys * PSI_OT_TABLE_RATIO <= cached)
		return false;
	return owner_serves_ot(server);
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

typedef struct OtAsk
{
	PeerCall	call;
	AuditWatch	watch;
	char	   *run;
	char	   *sender;			/* "peer \"name\"" */
	bool		rr22;			/* RR22 (rr), else KKRT16 (r) */
	const char *name;			/* "rr22" or "kkrt" */
	kkrt_receiver *r;			/* malloc'd; freed by cxt's callback */
	rr22_receiver *rr;			/* malloc'd; freed by cxt's callback */
	MemoryContext cxt;
	size_t		m;				/* bins or OKVS columns: what was admitted */
	List	   *columns;
	char	   *ad;
	int64		rows_out;
} OtAsk;

/*
 * The receiver is malloc'd: freed when its context goes, at the end of the
 * run or with the query's memory after an error (the holder lives in the
 * context, not on the stack an error unwinds).
 */
typedef struct ReceiverHolder
{
	kkrt_receiver *r;
	rr22_receiver *rr;
} ReceiverHolder;

static void
ot_ask_free_receiver(void *arg)
{
	ReceiverHolder *h = (ReceiverHolder *) arg;

	if (h->r)
		kkrt_receiver_free(h->r);
	h->r = NULL;
	if (h->rr)
		rr22_receiver_free(h->rr);
	h->rr = NULL;
}

static size_t
ot_ask_chunk_bytes(const OtAsk *a, size_t chunk)
{
	return a->rr22 ? rr22_receiver_chunk_bytes(a->rr, chunk) : kkrt_receiver_chunk_bytes(a->r, chunk);
}

typedef struct ChunkJob
{
	const OtAsk *a;
	kkrt_receiver *r;
	rr22_receiver *rr;
	size_t		first;
	uint8	  **bufs;
	size_t	   *lens;
} ChunkJob;

/* Worker threads: the asker's chunk first + k. */
static mpc_status
chunk_one(void *arg, size_t k)
{
	ChunkJob   *job = (ChunkJob *) arg;
	size_t		c = job->first + k;

	return job->rr ?
		rr22_receiver_chunk(job->rr, c, job->bufs[k], rr22_receiver_chunk_bytes(job->rr, c), &job->lens[k]) :
		kkrt_receiver_chunk(job->r, c, job->bufs[k], kkrt_receiver_chunk_bytes(job->r, c), &job->lens[k]);
}

/* The U (KKRT) or D (RR22) chunks [first, first + count) as one WIRE_OT_U message. */
static bytea *
ot_ask_extension(OtAsk *a, size_t first, size_t count)
{
	uint8	   *bufs[OT_U_CHUNKS_PER_CALL];
	size_t		lens[OT_U_CHUNKS_PER_CALL];
	ChunkJob	job;
	size_t		k;
	WireBuilder wb;
	size_t		total = 0;

	for (k = 0; k < count; k++)
	{
		bufs[k] = palloc(ot_ask_chunk_bytes(a, first + k));
		total += ot_ask_chunk_bytes(a, first + k) + 4;
	}
	job.a = a;
	job.r = a->r;
	job.rr = a->rr22 ? a->rr : NULL;
	job.first = first;
	job.bufs = bufs;
	job.lens = lens;
	ot_parallel_each(count, chunk_one, &job, a->sender, "OT-extension chunk");
	wire_builder_init_sized(&wb, WIRE_OT_U, total);
	for (k = 0; k < count; k++)
	{
		wire_builder_add(&wb, bufs[k], (uint32) lens[k]);
		pfree(bufs[k]);
	}
	return wire_builder_finish(&wb);
}

typedef struct EmitRow
{
	FunctionCallInfo fcinfo;
	Projection *proj;
	const char *key;
} EmitRow;

static void
ot_ask_emit(void *arg, char **values)
{
	EmitRow    *e = (EmitRow *) arg;

	projection_emit(e->proj, e->fcinfo, e->key, values);
}

/* Open the entry of a matched key and emit its rows (psi_fetch). */
static void
ot_ask_open(OtAsk *a, FunctionCallInfo fcinfo, Projection *proj, const KeySet *keys, size_t i,
			const uint8 *entry, uint32 elen)
{
	int			hidx = 0;
	const uint8 *F = a->rr22 ? rr22_receiver_output(a->rr, i) : kkrt_receiver_output(a->r, i, &hidx);
	size_t		wrap = a->rr22 ? 0 : OT_WRAP_BYTES;
	uint8		pad[OT_SEED_BYTES];
	uint8		seed[OT_SEED_BYTES];
	uint8		K[32];
	uint8		nonce[NONCE_BYTES];
	StringInfoData plain;
	unsigned long long plen;
	EmitRow		emit;
	int			k;

	if (F == NULL || hidx < 0 || hidx >= KKRT_HASHES || elen < wrap + OT_SEAL_ABYTES)
		wire_malformed(a->sender, "A matching entry is too short.");
	if (a->rr22)
	{
		/* one output per item: its bytes 16..31 are the sealing seed itself */
		memset(pad, 0, sizeof(pad));
		ot_seal_key(F + 16, a->ad, K);
	}
	else
	{
		ot_wrap_pad(F, a->ad, pad);
		for (k = 0; k < OT_SEED_BYTES; k++)
			seed[k] = entry[hidx * OT_SEED_BYTES + k] ^ pad[k];
		ot_seal_key(seed, a->ad, K);
		sodium_memzero(seed, sizeof(seed));
	}
	memset(nonce, 0, sizeof(nonce));
	initStringInfo(&plain);
	enlargeStringInfo(&plain, elen - wrap);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8 *) plain.data, &plen, NULL,
												   entry + wrap, elen - wrap,
												   (const uint8 *) a->ad, strlen(a->ad), nonce, K) != 0)
		wire_malformed(a->sender, "An entry with a matching tag does not open.");
	sodium_memzero(K, sizeof(K));
	sodium_memzero(pad, sizeof(pad));
	plain.len = (int) plen;

	emit.fcinfo = fcinfo;
	emit.proj = proj;
	emit.key = keys->text[i];
	a->rows_out += oprf_table_rows_split((const uint8 *) plain.data, (size_t) plain.len,
										 list_length(a->columns), a->call.peer, ot_ask_emit, &emit);
	pfree(plain.data);
}

/*
 * One reply of the owner's tags (and entries): the batches first ..
 * first + nb − 1, each read and matched.
 */
static void
ot_ask_tags(OtAsk *a, FunctionCallInfo fcinfo, Projection *proj, const KeySet *keys, size_t first,
			size_t nb, bytea *reply)
{
	WireReader	rd;
	size_t		b;
	size_t		tag_batch = a->rr22 ? RR22_TAG_BATCH : KKRT_TAG_BATCH;

	wire_reader_init(&rd, reply, WIRE_OT_TAGS, (uint32) (nb * (tag_batch + 1)),
					 (uint32) Max(Max(kkrt_tags_bytes(KKRT_TAG_BATCH, 16), rr22_tags_bytes(RR22_TAG_BATCH, 16)),
								  MAX_ENTRY_BYTES + OT_WRAP_BYTES + OT_SEAL_ABYTES),
					 a->sender);
	for (b = first; b < first + nb; b++)
	{
		const uint8 *tags;
		uint32		tlen;
		uint32		cnt;
		mpc_status	st;
		const uint8 **entries = NULL;
		uint32	   *elens = NULL;
		size_t		start = b * tag_batch;
		size_t		i;

		if (!wire_reader_next(&rd, &tags, &tlen) || tlen < MPC_MSG_HEADER_BYTES)
			wire_malformed(a->sender, "A tag batch without its tags.");
		if (get_u32le(tags + 4) != b)
			wire_malformed(a->sender, psprintf("Tag batch %u where %zu was asked.", get_u32le(tags + 4), b));
		cnt = get_u32le(tags + 8);
		if (proj)
		{
			if (rd.remaining < cnt)
				wire_malformed(a->sender, psprintf("%u entries for %u tags.", rd.remaining, cnt));
			entries = palloc(sizeof(uint8 *) * Max(cnt, 1));
			elens = palloc(sizeof(uint32) * Max(cnt, 1));
			for (i = 0; i < cnt; i++)
				(void) wire_reader_next(&rd, &entries[i], &elens[i]);
		}
		st = a->rr22 ? rr22_receiver_tags(a->rr, tags, tlen) : kkrt_receiver_tags(a->r, tags, tlen);
		if (st != MPC_OK)
			ot_status_error(st, a->sender, "tag batch");
		if (proj == NULL)
			continue;
		for (i = 0; i < keys->n; i++)
		{
			size_t		j = a->rr22 ? rr22_receiver_match(a->rr, i) : kkrt_receiver_match(a->r, i);

			if (j != SIZE_MAX && j >= start && j < start + cnt)
				ot_ask_open(a, fcinfo, proj, keys, i, entries[j - start], elens[j - start]);
			if ((i & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		pfree(entries);
		pfree(elens);
	}
	if (rd.remaining != 0)
		wire_malformed(a->sender, proj ? "A tag reply has entries beyond its tags." : "A psi tag batch carries entries.");
}

/*
 * RR22's third and fourth flights: the VOLE's COT to the owner, its TREES
 * back (the first serve_ot_extend call of the run).
 */
static void
ot_ask_vole(OtAsk *a, const char **params, const uint8 *base, uint32 blen)
{
	size_t		ccap = rr22_cot_bytes(a->m);
	uint8	   *cot = palloc_extended(ccap, MCXT_ALLOC_HUGE);
	size_t		clen;
	mpc_status	st;
	WireBuilder wb;
	bytea	   *reply;
	WireReader	rd;
	const uint8 *trees;
	uint32		tlen;

	progress_phase("asker (rr22): encoding, the VOLE", 0);
	st = rr22_receiver_base(a->rr, base, blen, (size_t) pgpriv_max_run_keys, cot, ccap, &clen);
	if (st == MPC_OUT_OF_RANGE)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode the OKVS of %zu keys for the OT-extension join", a->m),
				 errdetail("Each of the %d tries fails with probability about 2^-40.", RR22_OKVS_TRIES)));
	if (st != MPC_OK)
		ot_status_error(st, a->sender, "base OT");
	wire_builder_init_sized(&wb, WIRE_OT_U, clen + 4);
	wire_builder_add(&wb, cot, (uint32) clen);
	pfree(cot);
	reply = peer_call_bytea(&a->call, "SELECT pgpriv.serve_ot_extend($1, $2, $3, $4)", 3, params,
							wire_builder_finish(&wb));
	wire_reader_init(&rd, reply, WIRE_OT_U, 1, (uint32) rr22_trees_bytes(a->m), a->sender);
	if (!wire_reader_next(&rd, &trees, &tlen))
		wire_malformed(a->sender, "The VOLE reply has no trees.");
	st = rr22_receiver_trees(a->rr, trees, tlen);
	if (st != MPC_OK)
		ot_status_error(st, a->sender, "VOLE trees");
	pfree(reply);
}

void
psi_ot_ask(FunctionCallInfo fcinfo, const char *server, const char *dataset, const char *capability,
		   const KeySet *keys, Projection *proj)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OtAsk		a;
	size_t		n = keys->n;
	uint8	   *items;
	mpc_status	st;
	MemoryContextCallback *cb;
	ReceiverHolder *holder;
	size_t		i;
	size_t		chunks,
				batches,
				c;
	bytea	   *reply;
	WireReader	rd;
	const uint8 *base;
	uint32		blen;
	const char *params[4];
	char		batchbuf[16];
	bool		empty;
	static const char *const extend_sql = "SELECT pgpriv.serve_ot_extend($1, $2, $3, $4)";
	static const char *const tags_sql = "SELECT pgpriv.serve_ot_tags($1, $2, $3, $4::pg_catalog.int4)";

	check_capability(capability);
	memset(&a, 0, sizeof(a));
	/* ot picks the best OT-extension protocol, RR22; kkrt forces KKRT16 */
	a.rr22 = pgpriv_psi_protocol != PSI_PROTOCOL_KKRT;
	a.name = ot_proto_name(a.rr22);
	a.cxt = AllocSetContextCreate(CurrentMemoryContext, "pgpriv OT-extension asker", ALLOCSET_DEFAULT_SIZES);
	holder = MemoryContextAllocZero(a.cxt, sizeof(ReceiverHolder));
	cb = MemoryContextAlloc(a.cxt, sizeof(MemoryContextCallback));
	cb->func = ot_ask_free_receiver;
	cb->arg = holder;
	MemoryContextRegisterResetCallback(a.cxt, cb);

	items = palloc_extended(n * KKRT_ITEM_BYTES, MCXT_ALLOC_HUGE);
	ot_items_of_keys(keys, items, KKRT_ITEM_BYTES);
	if (a.rr22)
	{
		if (n > RR22_MAX_N)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%zu keys are more than the OT-extension join's %u", n, RR22_MAX_N),
					 errhint("Set pgpriv.psi_protocol = table.")));
		a.rr = holder->rr = rr22_receiver_new(items, n, pgpriv_threads_for_batch(), &st);
	}
	else
		a.r = holder->r = kkrt_receiver_new(items, n, &st);
	sodium_memzero(items, n * KKRT_ITEM_BYTES);
	pfree(items);
	if (a.rr22 ? a.rr == NULL : a.r == NULL)
		ereport(ERROR,
				(errcode(st == MPC_NO_MEMORY ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not prepare %zu keys for the OT-extension join (%s): %s", n, a.name,
						mpc_status_reason(st))));
	a.m = a.rr22 ? rr22_receiver_columns(a.rr) : kkrt_receiver_bins(a.r);

	a.run = run_ask_open(&a.call, &a.watch, server, capability, capability, dataset, (int64) n,
						 (int64) a.m);
	a.sender = psprintf("peer \"%s\"", server);
	a.ad = ot_seal_context(dataset, capability, a.run);
	if (proj)
		projection_map(proj, peer_permitted_columns(&a.call, dataset, capability),
					   capability, dataset, server);

	/* Admitted and charged for every bin or column (see the file header). */
	run_ask_admit(&a.call, dataset, capability, a.run, (int64) a.m, NULL);
	params[0] = dataset;
	params[1] = capability;
	params[2] = a.run;

	progress_phase(psprintf("asker (%s): base OTs", a.name), 0);
	{
		uint8		hello[1024];
		size_t		hlen;
		WireBuilder wb;

		StaticAssertStmt(sizeof(hello) >= MPC_MSG_HEADER_BYTES + 16 + 12 + 32, "hello buffer");
		if (a.rr22)
		{
			if (rr22_hello_bytes() > sizeof(hello))
				elog(ERROR, "the RR22 hello is larger than its buffer");
			st = rr22_receiver_hello(a.rr, hello, sizeof(hello), &hlen);
		}
		else
			st = kkrt_receiver_hello(a.r, hello, sizeof(hello), &hlen);
		if (st != MPC_OK)
			ot_status_error(st, a.sender, "hello");
		wire_builder_init(&wb, WIRE_OT_HELLO);
		wire_builder_add(&wb, hello, (uint32) hlen);
		reply = peer_call_bytea(&a.call, "SELECT pgpriv.serve_ot_begin($1, $2, $3, $4)", 3, params,
								wire_builder_finish(&wb));
	}
	wire_reader_init(&rd, reply, WIRE_OT_BASE, 1 + OT_MAX_COLUMNS,
					 (uint32) Max(Max(kkrt_base_bytes(), rr22_base_bytes()), 4096), a.sender);
	if (!wire_reader_next(&rd, &base, &blen))
		wire_malformed(a.sender, "The OT-extension reply has no base message.");
	empty = (blen == 0);
	{
		const uint8 *col;
		uint32		clen;

		while (wire_reader_next(&rd, &col, &clen))
			a.columns = lappend(a.columns, pnstrdup((const char *) col, clen));
	}
	if (proj)
		projection_map(proj, a.columns, capability, dataset, server);
	else if (a.columns != NIL)
		wire_malformed(a.sender, "A psi reply names columns.");

	if (!empty)
	{
		if (a.rr22)
			ot_ask_vole(&a, params, base, blen);
		else
		{
			st = kkrt_receiver_base(a.r, base, blen, (size_t) pgpriv_max_run_keys);
			if (st != MPC_OK)
				ot_status_error(st, a.sender, "base OT");
		}
		pfree(reply);

		/* The extension, pipelined: make group g+1 while the owner reads group g. */
		chunks = a.rr22 ? rr22_receiver_chunks(a.rr) : kkrt_receiver_chunks(a.r);
		progress_phase(psprintf("asker (%s): sending the extension", a.name), (int64) chunks);
		{
			bytea	   *msg = ot_ask_extension(&a, 0, Min(chunks, OT_U_CHUNKS_PER_CALL));

			peer_call_send_bytea(&a.call, extend_sql, 3, params, msg);
			pfree(msg);
		}
		for (c = OT_U_CHUNKS_PER_CALL;; c += OT_U_CHUNKS_PER_CALL)
		{
			bytea	   *msg = c < chunks ? ot_ask_extension(&a, c, Min(chunks - c, OT_U_CHUNKS_PER_CALL)) : NULL;
			bytea	   *ack = peer_call_finish_bytea(&a.call);
			WireReader	ar;

			wire_reader_init(&ar, ack, WIRE_OT_U, 0, 0, a.sender);
			pfree(ack);
			progress_advance((int64) Min(c, chunks), a.call.bytes_in, a.call.bytes_out);
			if (msg == NULL)
				break;
			peer_call_send_bytea(&a.call, extend_sql, 3, params, msg);
			pfree(msg);
		}
		if (!(a.rr22 ? rr22_receiver_outputs_ready(a.rr) : kkrt_receiver_outputs_ready(a.r)))
			elog(ERROR, "OT-extension outputs not ready after every chunk");

		/* The tags, pipelined the same way. */
		batches = a.rr22 ? rr22_receiver_batches(a.rr) : kkrt_receiver_batches(a.r);
		progress_phase(psprintf(proj ? "asker (%s): matching tags, opening rows" : "asker (%s): matching tags",
								a.name), (int64) batches);
		params[3] = batchbuf;
		snprintf(batchbuf, sizeof(batchbuf), "0");
		peer_call_send_bytea(&a.call, tags_sql, 4, params, NULL);
		for (c = 0; c < batches; c += OT_TAG_BATCHES_PER_CALL)
		{
			bytea	   *msg = peer_call_finish_bytea(&a.call);
			size_t		next = c + OT_TAG_BATCHES_PER_CALL;

			if (next < batches)
			{
				snprintf(batchbuf, sizeof(batchbuf), "%zu", next);
				peer_call_send_bytea(&a.call, tags_sql, 4, params, NULL);
			}
			ot_ask_tags(&a, fcinfo, proj, keys, c, Min((size_t) OT_TAG_BATCHES_PER_CALL, batches - c), msg);
			pfree(msg);
			progress_advance((int64) Min(next, batches), a.call.bytes_in, a.call.bytes_out);
		}
		if (!(a.rr22 ? rr22_receiver_done(a.rr) : kkrt_receiver_done(a.r)))
			wire_malformed(a.sender, "Tag batches are missing.");
		if (proj == NULL)
			for (i = 0; i < n; i++)
				if ((a.rr22 ? rr22_receiver_match(a.rr, i) : kkrt_receiver_match(a.r, i)) != SIZE_MAX)
				{
					Datum		v = CStringGetTextDatum(keys->text[i]);
					bool		isnull = false;

					tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
					a.rows_out++;
				}
	}

	run_ask_close(&a.call, &a.watch, a.run, capability, dataset, (int64) a.m, a.rows_out,
				  a.rr22 ?
				  psprintf("run %s, protocol rr22 (%zu keys in %zu OKVS columns)", a.run, n, a.m) :
				  psprintf("run %s, protocol kkrt (%zu keys in %zu bins)", a.run, n, a.m));
	MemoryContextDelete(a.cxt);		/* frees and wipes the receiver */
}
