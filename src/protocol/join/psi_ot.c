/*
 * psi_ot.c — psi and psi_fetch over the KKRT16 OT-extension OPRF
 * (crypto/kkrt.h; docs/psi.md, "protocol choice"), the owner's half and the
 * asker's half.
 *
 * Why a second protocol.  The OPRF table of psi_oprf.c costs the owner one
 * ristretto255 evaluation per row whenever its table is rebuilt, and the
 * asker one blind, one evaluation (at the owner) and one finalize per key.
 * For two large fresh sets that is minutes of curve arithmetic; KKRT16 does
 * the same join with 448 base OTs and then only AES and BLAKE2b per element.
 *
 * The run (asker = KKRT receiver R, owner = sender S):
 *   1. CALL serve_admit(dataset, capability, run, m): m = the cuckoo table
 *      size for the asker's n keys (crypto/cuckoo.h), because each bin is
 *      one OPRF evaluation a modified asker could spend on a key of its
 *      choice: the budget and max_keys are charged for m, never for less.
 *   2. serve_ot_begin(…, HELLO) → BASE ‖ the permitted columns: the owner
 *      checks that HELLO's n gives exactly the admitted m before anything is
 *      allocated, reads its rows, hashes each distinct key to a 16-byte item
 *      and shuffles the items (their order is the order of its tags).
 *   3. serve_ot_extend(…, U chunks) × ⌈chunks / OT_U_CHUNKS_PER_CALL⌉:
 *      the OT-extension columns, pipelined (the asker makes the next group
 *      while the owner reads the last).
 *   4. serve_ot_tags(…, batch) for every batch of KKRT_TAG_BATCH owner items,
 *      pipelined: the truncated tags (τ bytes, 2^-40 false matches over all
 *      n·n' comparisons) and, for psi_fetch, per item three wrapped keys and
 *      the item's rows sealed under the unwrapped key.  The last batch
 *      completes the run on the owner's side (its audit row).
 *
 * psi_fetch's sealing.  Owner item y has outputs F_0, F_1, F_2 (one per
 * hash function); the asker has F_i for its x = y at its hash index i, and
 * nothing for any other y.  Bytes 16..31 of an output are never sent
 * (kkrt.h), so the owner draws a fresh 16-byte seed s_y, seals the rows of y
 * under K_y = BLAKE2b-256(key = s_y, seal context) (XChaCha20-Poly1305,
 * nonce zero: each key seals one message) and sends w_i = s_y ⊕
 * BLAKE2b-128(key = F_i[16..32), seal context) for i = 0, 1, 2: 48 bytes
 * per item besides the ciphertext.  The seal context names the dataset,
 * capability and run.
 *
 * Memory.  The owner holds its rows (as the table build does), the items,
 * and KKRT's 56·m bytes, in one context that lives from begin to the last
 * batch, or until another run opens in the session (run/served_run.h);
 * the asker holds its keys, the receiver (its own outputs, 32 bytes per key)
 * and one batch of the owner's tags at a time.  Neither side's allocation is
 * sized by the peer beyond pgpriv.max_run_keys and the admitted m.
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
#include "peer/call.h"
#include "protocol/join/oprf_table.h"
#include "protocol/join/psi_ot.h"
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

static const char *const ot_phase_owner_tags = "owner (ot): sending tags";

/* ----------------------------------------------------------------------
 * Shared by both halves
 * ----------------------------------------------------------------------
 */

static void
check_capability(const char *capability)
{
	if (strcmp(capability, "psi") != 0 && strcmp(capability, "psi_fetch") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the OT-extension join serves psi and psi_fetch, not \"%s\"", capability)));
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
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed message from %s", sender),
			 errdetail("The %s message: %s.", what, mpc_status_reason(st))));
}

static uint32
get_u32le(const uint8 *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
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
	kkrt_sender *sender;		/* malloc'd; freed by the context's callback */
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

	if (s == NULL || s->sender == NULL || kkrt_sender_ready(s->sender) != want_ready)
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
	{
		ot_item_of_key(s->rows.keys.data[i], s->rows.keys.lens[i], rh[i].h);
		rh[i].row = (uint32) i;
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	qsort(rh, nrows, sizeof(RowHash), compare_row_hash);
	for (i = 0; i < nrows; i++)
		if (i == 0 || memcmp(rh[i].h, rh[i - 1].h, KKRT_ITEM_BYTES) != 0)
			gstart[g++] = (uint32) i;
	gstart[g] = (uint32) nrows;
	s->n = g;

	/* Fisher–Yates over the groups with libsodium's uniform randomness. */
	perm = palloc_extended(Max(g, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (i = 0; i < g; i++)
		perm[i] = (uint32) i;
	for (i = g; i > 1; i--)
	{
		uint32		j = randombytes_uniform((uint32) i);
		uint32		t = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = t;
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
 * Reply: WIRE_OT_BASE, item 0 the KKRT BASE message (empty if the dataset
 * has no key: the run is then complete), then the permitted columns.
 */
Datum
pgpriv_serve_ot_begin(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *capability = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	Admission  *admission;
	Dataset		ds;
	Permit		permit;
	WireReader	rd;
	const uint8 *hello;
	uint32		hlen;
	uint32		n_r;
	size_t		m;
	OtServe    *s;
	MemoryContext old;
	WireBuilder wb;
	bytea	   *reply;
	ListCell   *lc;
	bool		sealed = strcmp(capability, "psi_fetch") == 0;

	catalog_restrict_definer();
	if (!pgpriv_serve_ot)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this server serves psi and psi_fetch over its OPRF table only (pgpriv.serve_ot is off)"),
				 errhint("The asker can set pgpriv.psi_protocol = table, or auto, which reads this setting.")));
	admission_absorb(run, TRANSCRIPT_REQUEST, msg);
	check_capability(capability);
	admission = admission_require(run, dataset, capability);
	permit_require(dataset, capability, &ds, &permit);

	wire_reader_init(&rd, msg, WIRE_OT_HELLO, 1, (uint32) kkrt_hello_bytes(), "the asker");
	if (!wire_reader_next(&rd, &hello, &hlen) || hlen != kkrt_hello_bytes())
		wire_malformed("the asker", "The OT-extension hello is missing or of the wrong size.");
	/* The asker's set size decides the owner's memory: bound it first. */
	n_r = get_u32le(hello + 8);
	if (n_r == 0 || n_r > (uint32) pgpriv_max_run_keys || n_r > KKRT_MAX_N)
		wire_malformed("the asker", psprintf("An OT-extension run of %u keys (pgpriv.max_run_keys is %d).",
											 n_r, pgpriv_max_run_keys));
	m = cuckoo_bins(n_r);
	/* Each bin is one evaluation: never more than were admitted and charged. */
	admission_serve(admission, (int64) m, VARSIZE_ANY_EXHDR(msg), 0);

	s = served_run_open(ot_run_kind(capability), run, dataset, sizeof(OtServe), ot_serve_wipe);
	s->sealed = sealed;

	old = MemoryContextSwitchTo(s->base.cxt);
	s->ad = ot_seal_context(dataset, capability, run);
	progress_begin(capability, session_role_name(), dataset, (int64) n_r);
	progress_phase("owner (ot): reading the dataset", 0);
	dataset_rows_fetch(&ds, s->sealed ? permit.columns : NIL, &s->rows);
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
		uint8	   *base;

		if (s->n > KKRT_MAX_N)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("dataset \"%s\" has %zu distinct keys, more than the OT-extension join's %u",
							dataset, s->n, KKRT_MAX_N),
					 errhint("The asker can set pgpriv.psi_protocol = table.")));
		s->sender = kkrt_sender_new(s->n, &st);
		if (s->sender == NULL)
			ot_status_error(st, "the asker", "sender setup");
		progress_phase("owner (ot): base OTs", 0);
		base = wire_builder_reserve(&wb, kkrt_base_bytes());
		st = kkrt_sender_hello(s->sender, hello, hlen, n_r, base, kkrt_base_bytes(), &blen);
		if (st != MPC_OK)
		{
			served_run_close();
			ot_status_error(st, "the asker", "OT-extension hello");
		}
		wire_builder_commit(&wb, (uint32) blen);
		s->batches = kkrt_sender_batches(s->sender);
		s->batch_sent = MemoryContextAllocZero(s->base.cxt, Max(s->batches, 1) * sizeof(bool));
		progress_phase("owner (ot): reading the extension", (int64) kkrt_sender_chunks(s->sender));
	}
	if (sealed)
		foreach(lc, permit.columns)
			wire_builder_add(&wb, (const uint8 *) lfirst(lc), (uint32) strlen(lfirst(lc)));
	reply = wire_builder_finish(&wb);
	admission_serve(admission, 0, 0, VARSIZE_ANY_EXHDR(reply));
	if (s == NULL)
	{
		/* No owner key: nothing can match; the run is complete. */
		admission_complete_note(admission, 0, "protocol ot, the dataset has no key");
		progress_end();
	}
	admission_absorb(run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}

typedef struct ExtendJob
{
	kkrt_sender *sender;
	const uint8 **items;
	uint32	   *lens;
} ExtendJob;

/* Worker threads: pure crypto only (crypto/parallel.h). */
static int
extend_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	ExtendJob  *job = (ExtendJob *) arg;
	size_t		k;

	for (k = begin; k < end; k++)
	{
		mpc_status	st = kkrt_sender_chunk(job->sender, job->items[k], job->lens[k]);

		if (st != MPC_OK)
		{
			*failed = k;
			return (int) st;
		}
	}
	return 0;
}

/* pgpriv.serve_ot_extend(dataset, capability, run, chunks bytea) → bytea (an empty WIRE_OT_U) */
Datum
pgpriv_serve_ot_extend(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *capability = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bytea	   *msg = PG_GETARG_BYTEA_PP(3);
	Admission  *admission;
	Dataset		ds;
	Permit		permit;
	OtServe    *s;
	WireReader	rd;
	ExtendJob	job;
	const uint8 *items[OT_U_CHUNKS_PER_CALL];
	uint32		lens[OT_U_CHUNKS_PER_CALL];
	size_t		count = 0;
	size_t		failed = 0;
	int			st;
	WireBuilder wb;
	bytea	   *reply;

	catalog_restrict_definer();
	admission_absorb(run, TRANSCRIPT_REQUEST, msg);
	check_capability(capability);
	admission = admission_require(run, dataset, capability);
	permit_require(dataset, capability, &ds, &permit);
	s = ot_serve_require(capability, run, false);

	wire_reader_init(&rd, msg, WIRE_OT_U, OT_U_CHUNKS_PER_CALL,
					 (uint32) kkrt_u_bytes(KKRT_CHUNK_BINS), "the asker");
	while (wire_reader_next(&rd, &items[count], &lens[count]))
		count++;
	if (count == 0)
		wire_malformed("the asker", "An OT-extension message without chunks.");
	job.sender = s->sender;
	job.items = items;
	job.lens = lens;
	st = crypto_parallel_for(count, pgpriv_threads_for_batch(), extend_range, &job, &failed);
	if (st != 0)
		ot_status_error((mpc_status) st, "the asker", "OT-extension chunk");
	s->chunks_read += count;
	progress_advance((int64) s->chunks_read, admission->bytes_in, admission->bytes_out);
	if (kkrt_sender_ready(s->sender))
		progress_phase(ot_phase_owner_tags, (int64) s->batches);

	wire_builder_init(&wb, WIRE_OT_U);
	reply = wire_builder_finish(&wb);
	admission_serve(admission, 0, VARSIZE_ANY_EXHDR(msg), VARSIZE_ANY_EXHDR(reply));
	admission_absorb(run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}

typedef struct EvalJob
{
	const kkrt_sender *sender;
	const uint8 *ys;
	uint8	   *out;
} EvalJob;

static int
eval_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	EvalJob    *job = (EvalJob *) arg;
	mpc_status	st = kkrt_sender_eval_batch(job->sender, job->ys + begin * KKRT_ITEM_BYTES, end - begin,
											job->out + begin * KKRT_HASHES * KKRT_OUT_BYTES);

	if (st != MPC_OK)
	{
		*failed = begin;
		return (int) st;
	}
	return 0;
}

/* psi_fetch: the entry of item j — its wrapped keys, then its rows sealed. */
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
	const uint8 *ys;
	size_t		first;			/* batch number of buffer 0 */
	uint8	  **bufs;
	size_t	   *lens;
} TagsJob;

/* Worker threads: one TAGS message per index (kkrt_sender_tags is thread-safe). */
static int
tags_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	TagsJob    *job = (TagsJob *) arg;
	size_t		k;

	for (k = begin; k < end; k++)
	{
		mpc_status	st = kkrt_sender_tags(job->sender, job->ys, job->first + k, job->bufs[k],
										  job->lens[k], &job->lens[k]);

		if (st != MPC_OK)
		{
			*failed = k;
			return (int) st;
		}
	}
	return 0;
}

/*
 * pgpriv.serve_ot_tags(dataset, capability, run, batch integer) → bytea
 *
 * WIRE_OT_TAGS for the batches batch .. batch + OT_TAG_BATCHES_PER_CALL − 1
 * (fewer at the end) of the owner's items, computed on all cores: per batch
 * its KKRT TAGS message, then for psi_fetch one entry per item in the same
 * order.
 */
Datum
pgpriv_serve_ot_tags(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *capability = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int32		batch = PG_GETARG_INT32(3);
	Admission  *admission;
	Dataset		ds;
	Permit		permit;
	OtServe    *s;
	size_t		k,
				nb;
	uint8	   *bufs[OT_TAG_BATCHES_PER_CALL];
	size_t		lens[OT_TAG_BATCHES_PER_CALL];
	size_t		total = 0;
	TagsJob		tjob;
	size_t		failed = 0;
	int			rc;
	WireBuilder wb;
	bytea	   *reply;

	catalog_restrict_definer();
	check_capability(capability);
	admission = admission_require(run, dataset, capability);
	permit_require(dataset, capability, &ds, &permit);
	s = ot_serve_require(capability, run, true);
	if (batch < 0 || (size_t) batch >= s->batches)
		wire_malformed("the asker", psprintf("Tag batch %d of %zu.", batch, s->batches));
	nb = Min((size_t) OT_TAG_BATCHES_PER_CALL, s->batches - (size_t) batch);
	for (k = 0; k < nb; k++)
		if (s->batch_sent[batch + k])
			wire_malformed("the asker", psprintf("Tag batch %zu asked again.", batch + k));

	for (k = 0; k < nb; k++)
	{
		size_t		cnt = Min((size_t) KKRT_TAG_BATCH, s->n - (batch + k) * KKRT_TAG_BATCH);

		lens[k] = kkrt_tags_bytes(cnt, kkrt_sender_tag_bytes(s->sender));
		bufs[k] = palloc(lens[k]);
		total += lens[k] + 4;
	}
	tjob.sender = s->sender;
	tjob.ys = s->ys;
	tjob.first = (size_t) batch;
	tjob.bufs = bufs;
	tjob.lens = lens;
	rc = crypto_parallel_for(nb, pgpriv_threads_for_batch(), tags_range, &tjob, &failed);
	if (rc != 0)
		ot_status_error((mpc_status) rc, "the asker", "tag batch");

	wire_builder_init_sized(&wb, WIRE_OT_TAGS, total);
	for (k = 0; k < nb; k++)
	{
		size_t		start = (batch + k) * KKRT_TAG_BATCH;
		size_t		cnt = Min((size_t) KKRT_TAG_BATCH, s->n - start);

		wire_builder_add(&wb, bufs[k], (uint32) lens[k]);
		pfree(bufs[k]);
		if (s->sealed)
		{
			uint8	   *outs = palloc_extended(cnt * KKRT_HASHES * KKRT_OUT_BYTES, MCXT_ALLOC_HUGE);
			EvalJob		job;
			size_t		j;
			StringInfoData plain,
						row;

			job.sender = s->sender;
			job.ys = s->ys + start * KKRT_ITEM_BYTES;
			job.out = outs;
			rc = crypto_parallel_for(cnt, pgpriv_threads_for_batch(), eval_range, &job, &failed);
			if (rc != 0)
				ot_status_error((mpc_status) rc, "the asker", "evaluation");
			initStringInfo(&plain);
			initStringInfo(&row);
			for (j = 0; j < cnt; j++)
			{
				ot_serve_seal_item(s, start + j, outs + j * KKRT_HASHES * KKRT_OUT_BYTES, &wb, &plain, &row,
								   dataset);
				if ((j & 0x3ff) == 0)
					CHECK_FOR_INTERRUPTS();
			}
			sodium_memzero(outs, cnt * KKRT_HASHES * KKRT_OUT_BYTES);
			pfree(outs);
			pfree(plain.data);
			pfree(row.data);
		}
	}
	reply = wire_builder_finish(&wb);
	for (k = 0; k < nb; k++)
		s->batch_sent[batch + k] = true;
	s->batches_sent += nb;
	admission_serve(admission, 0, 0, VARSIZE_ANY_EXHDR(reply));
	progress_advance((int64) s->batches_sent, admission->bytes_in, admission->bytes_out);
	if (s->batches_sent == s->batches)
	{
		admission_complete_note(admission, admission->served,
								psprintf("protocol ot, %zu owner keys", s->n));
		progress_end();
		served_run_close();
	}
	admission_absorb(run, TRANSCRIPT_RESPONSE, reply);
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
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	int64		entries = -1;
	uint64		i;

	args[0] = CStringGetTextDatum(server);
	args[1] = CStringGetTextDatum(peer_remote_user(server));
	args[2] = CStringGetTextDatum(dataset);
	args[3] = CStringGetTextDatum(capability);
	catalog_open(&cs, true);
	catalog_exec("SELECT pg_catalog.substring(data, 1, 10) FROM pgpriv.peer_table "
				 "WHERE server = $1 AND remote_user = $2 AND dataset = $3 AND capability = $4",
				 4, types, args, NULL, true, 0, SPI_OK_SELECT, "read pgpriv.peer_table");
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
	if (pgpriv_psi_protocol == PSI_PROTOCOL_OT)
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
	kkrt_receiver *r;			/* malloc'd; freed by cxt's callback */
	MemoryContext cxt;
	size_t		m;				/* bins: what was admitted */
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
} ReceiverHolder;

static void
ot_ask_free_receiver(void *arg)
{
	ReceiverHolder *h = (ReceiverHolder *) arg;

	if (h->r)
		kkrt_receiver_free(h->r);
	h->r = NULL;
}

typedef struct ChunkJob
{
	kkrt_receiver *r;
	size_t		first;
	uint8	  **bufs;
	size_t	   *lens;
} ChunkJob;

static int
chunk_range(void *arg, size_t begin, size_t end, size_t *failed)
{
	ChunkJob   *job = (ChunkJob *) arg;
	size_t		k;

	for (k = begin; k < end; k++)
	{
		size_t		c = job->first + k;
		mpc_status	st = kkrt_receiver_chunk(job->r, c, job->bufs[k],
											 kkrt_receiver_chunk_bytes(job->r, c), &job->lens[k]);

		if (st != MPC_OK)
		{
			*failed = k;
			return (int) st;
		}
	}
	return 0;
}

/* The U chunks [first, first + count) as one WIRE_OT_U message. */
static bytea *
ot_ask_extension(OtAsk *a, size_t first, size_t count)
{
	uint8	   *bufs[OT_U_CHUNKS_PER_CALL];
	size_t		lens[OT_U_CHUNKS_PER_CALL];
	ChunkJob	job;
	size_t		failed = 0;
	size_t		k;
	int			st;
	WireBuilder wb;
	size_t		total = 0;

	for (k = 0; k < count; k++)
	{
		bufs[k] = palloc(kkrt_receiver_chunk_bytes(a->r, first + k));
		total += kkrt_receiver_chunk_bytes(a->r, first + k) + 4;
	}
	job.r = a->r;
	job.first = first;
	job.bufs = bufs;
	job.lens = lens;
	st = crypto_parallel_for(count, pgpriv_threads_for_batch(), chunk_range, &job, &failed);
	if (st != 0)
		ot_status_error((mpc_status) st, a->sender, "OT-extension chunk");
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
	int			hidx;
	const uint8 *F = kkrt_receiver_output(a->r, i, &hidx);
	uint8		pad[OT_SEED_BYTES];
	uint8		seed[OT_SEED_BYTES];
	uint8		K[32];
	uint8		nonce[NONCE_BYTES];
	StringInfoData plain;
	unsigned long long plen;
	EmitRow		emit;
	int			k;

	if (F == NULL || hidx < 0 || hidx >= KKRT_HASHES || elen < OT_WRAP_BYTES + OT_SEAL_ABYTES)
		wire_malformed(a->sender, "A matching entry is too short.");
	ot_wrap_pad(F, a->ad, pad);
	for (k = 0; k < OT_SEED_BYTES; k++)
		seed[k] = entry[hidx * OT_SEED_BYTES + k] ^ pad[k];
	ot_seal_key(seed, a->ad, K);
	sodium_memzero(seed, sizeof(seed));
	memset(nonce, 0, sizeof(nonce));
	initStringInfo(&plain);
	enlargeStringInfo(&plain, elen - OT_WRAP_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8 *) plain.data, &plen, NULL,
												   entry + OT_WRAP_BYTES, elen - OT_WRAP_BYTES,
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

	wire_reader_init(&rd, reply, WIRE_OT_TAGS, (uint32) (nb * (KKRT_TAG_BATCH + 1)),
					 (uint32) Max(kkrt_tags_bytes(KKRT_TAG_BATCH, 16), MAX_ENTRY_BYTES + OT_WRAP_BYTES + OT_SEAL_ABYTES),
					 a->sender);
	for (b = first; b < first + nb; b++)
	{
		const uint8 *tags;
		uint32		tlen;
		uint32		cnt;
		mpc_status	st;
		const uint8 **entries = NULL;
		uint32	   *elens = NULL;
		size_t		start = b * KKRT_TAG_BATCH;
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
		st = kkrt_receiver_tags(a->r, tags, tlen);
		if (st != MPC_OK)
			ot_status_error(st, a->sender, "tag batch");
		if (proj == NULL)
			continue;
		for (i = 0; i < keys->n; i++)
		{
			size_t		j = kkrt_receiver_match(a->r, i);

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
	a.cxt = AllocSetContextCreate(CurrentMemoryContext, "pgpriv OT-extension asker", ALLOCSET_DEFAULT_SIZES);
	holder = MemoryContextAllocZero(a.cxt, sizeof(ReceiverHolder));
	cb = MemoryContextAlloc(a.cxt, sizeof(MemoryContextCallback));
	cb->func = ot_ask_free_receiver;
	cb->arg = holder;
	MemoryContextRegisterResetCallback(a.cxt, cb);

	items = palloc_extended(n * KKRT_ITEM_BYTES, MCXT_ALLOC_HUGE);
	for (i = 0; i < n; i++)
	{
		ot_item_of_key(keys->data[i], keys->lens[i], items + i * KKRT_ITEM_BYTES);
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	a.r = holder->r = kkrt_receiver_new(items, n, &st);
	sodium_memzero(items, n * KKRT_ITEM_BYTES);
	pfree(items);
	if (a.r == NULL)
		ereport(ERROR,
				(errcode(st == MPC_NO_MEMORY ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not cuckoo-hash %zu keys for the OT-extension join: %s", n, mpc_status_reason(st))));
	a.m = kkrt_receiver_bins(a.r);

	a.run = peer_new_run_id();
	a.sender = psprintf("peer \"%s\"", server);
	a.ad = ot_seal_context(dataset, capability, a.run);
	peer_call_open(&a.call, server);
	progress_begin(capability, server, dataset, (int64) n);
	audit_watch_begin(&a.watch, capability, server, dataset, (int64) a.m, &a.call, 1);
	audit_watch_run(&a.watch, a.run);
	if (proj)
		projection_map(proj, peer_permitted_columns(&a.call, dataset, capability),
					   capability, dataset, server);

	/* Admitted and charged for every bin (see the file header). */
	params[0] = dataset;
	params[1] = capability;
	params[2] = a.run;
	params[3] = psprintf("%zu", a.m);
	PQclear(peer_call_text(&a.call, "CALL pgpriv.serve_admit($1, $2, $3, $4::pg_catalog.int8)", 4, params));

	progress_phase("asker (ot): base OTs", 0);
	{
		uint8		hello[256];
		size_t		hlen;
		WireBuilder wb;

		st = kkrt_receiver_hello(a.r, hello, sizeof(hello), &hlen);
		if (st != MPC_OK)
			ot_status_error(st, a.sender, "hello");
		wire_builder_init(&wb, WIRE_OT_HELLO);
		wire_builder_add(&wb, hello, (uint32) hlen);
		reply = peer_call_bytea(&a.call, "SELECT pgpriv.serve_ot_begin($1, $2, $3, $4)", 3, params,
								wire_builder_finish(&wb));
	}
	wire_reader_init(&rd, reply, WIRE_OT_BASE, 1 + OT_MAX_COLUMNS, (uint32) Max(kkrt_base_bytes(), 4096), a.sender);
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
		st = kkrt_receiver_base(a.r, base, blen, (size_t) pgpriv_max_run_keys);
		if (st != MPC_OK)
			ot_status_error(st, a.sender, "base OT");
		pfree(reply);

		/* The extension, pipelined: make group g+1 while the owner reads group g. */
		chunks = kkrt_receiver_chunks(a.r);
		progress_phase("asker (ot): sending the extension", (int64) chunks);
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
		if (!kkrt_receiver_outputs_ready(a.r))
			elog(ERROR, "OT-extension outputs not ready after every chunk");

		/* The tags, pipelined the same way. */
		batches = kkrt_receiver_batches(a.r);
		progress_phase(proj ? "asker (ot): matching tags, opening rows" : "asker (ot): matching tags",
					   (int64) batches);
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
		if (!kkrt_receiver_done(a.r))
			wire_malformed(a.sender, "Tag batches are missing.");
		if (proj == NULL)
			for (i = 0; i < n; i++)
				if (kkrt_receiver_match(a.r, i) != SIZE_MAX)
				{
					Datum		v = CStringGetTextDatum(keys->text[i]);
					bool		isnull = false;

					tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
					a.rows_out++;
				}
	}

	{
		OwnerContext owner;

		receipt_asker_exchange(&a.call, a.run, capability, dataset, (int64) a.m, a.rows_out,
							   a.call.bytes_in, a.call.bytes_out);
		catalog_enter_owner(&owner);
		audit_append_run("asker", a.call.peer, capability, dataset, (int64) a.m, a.rows_out,
						 a.call.bytes_in, a.call.bytes_out, "ok",
						 psprintf("run %s, protocol ot (%zu keys in %zu bins)", a.run, n, a.m), a.run);
		catalog_leave_owner(&owner);
	}
	progress_end();
	audit_watch_end(&a.watch);
	MemoryContextDelete(a.cxt);		/* frees and wipes the receiver */
}
