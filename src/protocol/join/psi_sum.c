/*
 * psi_sum.c — count and sum of one column over a private intersection
 * (docs/architecture.md, protocol 3), the owner's half and the asker's half.
 *
 * Matching is shuffled ECDH counted by the asker: per run the asker picks a
 * secret scalar a and the owner b; the asker sends a·H(x); the owner returns
 * b·a·H(x) and, for each distinct dataset key y, b·H(y) together with an
 * exponential-ElGamal encryption of that key's total (crypto/elgamal.h), one
 * ciphertext per 16-bit limb, both sets sorted by the masked elements.  The
 * encryption key is joint: PK = PK_asker + PK_owner, the asker's share sent
 * first so that the owner's is chosen after it.  The asker computes
 * a·b·H(y), adds the matched entries' ciphertexts limb by limb,
 * re-randomises the sums, and sends them with the number of matches; the
 * owner returns its one partial decryption per limb for the run (none when
 * nothing matched), after which its share is wiped and the run cannot be
 * decrypted again.  The asker removes its own share, solves each limb sum's
 * small discrete logarithm and puts the total back together exactly.
 *
 * A modified asker can link matches to its keys and have any combination of
 * entries decrypted, so psi_sum enforces no min_group (docs/psi_sum.md).
 * The owner learns how many keys were asked and the number of matches; the
 * asker learns the number of matches, the total, and the dataset's number
 * of distinct keys.  Run state lives in the serving backend's memory (as for
 * psi_count) and is wiped when the run ends, a new one starts, or the
 * session ends.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/elgamal.h"
#include "crypto/oprf.h"
#include "crypto/parallel.h"
#include "crypto/shares.h"
#include "peer/call.h"
#include "catalog/receipt.h"
#include "run/ask.h"
#include "run/admission.h"
#include "run/batch.h"
#include "protocol/join/ecdh.h"
#include "protocol/join/join_ask.h"
#include "run/keys.h"
#include "run/progress.h"
#include "protocol/join/psi_sum.h"
#include "protocol/sum/secure_sum.h"
#include "run/secret_mem.h"
#include "run/served_run.h"
#include "wire/message.h"

#define EL 32								/* ristretto255 element or scalar */
#define CT ELGAMAL_CIPHERTEXT_BYTES			/* 64 */
#define LIMBS ELGAMAL_LIMBS					/* ciphertexts per value (16-bit limbs) */
#define ENTRY (EL + LIMBS * CT)				/* masked key, then its limbs' ciphertexts */
#define TOTAL_BYTES (8 + LIMBS * CT)		/* matched count, then the limb sums */
#define PSUM_SCALE 4						/* fixed point, as secure_sum */
#define SLAB 8192							/* items per parallel call */
#define SUM_CHUNK 512						/* ciphertexts per partial sum */

PG_FUNCTION_INFO_V1(pgpriv_serve_psi_sum_begin);
PG_FUNCTION_INFO_V1(pgpriv_serve_psi_sum_push);
PG_FUNCTION_INFO_V1(pgpriv_serve_psi_sum_finish);
PG_FUNCTION_INFO_V1(pgpriv_serve_psi_sum_pull);
PG_FUNCTION_INFO_V1(pgpriv_serve_psi_sum_decrypt);
PG_FUNCTION_INFO_V1(pgpriv_psi_sum);

/* ----------------------------------------------------------------------
 * Owner's half
 * ----------------------------------------------------------------------
 */

typedef struct PsumRun
{
	ServedRun	base;			/* run id, dataset, memory, bytes each way */
	EcdhAsked	asked;			/* the asker's keys, and the run's ECDH mask b */
	uint8		sk[EL];			/* this run's ElGamal share */
	int64		owner_n;
	uint8	   *entries;		/* b·H(y) ‖ Enc(total of y), sorted */
} PsumRun;

/* The run whose one decryption (or refusal) was given in this session. */
static char psum_spent_run[64];

static PsumRun *
psum_run_get(const char *run)
{
	PsumRun    *r = served_run_find("psi_sum", run);

	if (r != NULL)
		return r;
	if (psum_spent_run[0] != '\0' && strcmp(psum_spent_run, run) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("psi_sum run %s has already had its one decryption", run),
				 errdetail("The owner decrypts one total per run and then forgets its key share."),
				 errhint("Start a new run.")));
	wire_malformed("the asker", psprintf("No psi_sum run \"%s\" is open in this session.", run));
}

/* A value the owner cannot add exactly: names the column, never the value. */
static void pg_attribute_noreturn()
value_refusal(const char *dataset, const char *column, share_status st)
{
	sum_value_refusal("psi_sum", dataset, column, st, PSUM_SCALE,
					  psprintf("Each key's total must fit in a bigint at scale %d.", PSUM_SCALE));
}

/*
 * The dataset's distinct keys and, per key, the total of the column over its
 * rows.  NULL values add nothing; a key whose values are all NULL is still a
 * key (it counts as matched, with 0), as count(DISTINCT key) and sum do.
 */
static void
owner_totals(const DatasetRows *rows, const char *dataset, const char *column, KeySet *keys, int64 **totals)
{
	size_t		n = rows->keys.n;
	size_t	   *order = sum_keys_order(&rows->keys);
	int64	   *t = secret_palloc(sizeof(int64) * Max(n, 1));
	size_t		i;
	size_t		g;

	keys->data = palloc_extended(sizeof(uint8 *) * Max(n, 1), MCXT_ALLOC_HUGE);
	keys->lens = palloc_extended(sizeof(size_t) * Max(n, 1), MCXT_ALLOC_HUGE);
	keys->text = NULL;
	keys->n = 0;
	for (i = 0; i < n; i = g)
	{
		size_t		first = order[i];
		int64		sum = 0;

		for (g = i; g < n; g++)
		{
			size_t		r = order[g];
			const char *text = rows->values[r * rows->ncolumns];
			int64		v;
			share_status st;

			if (g > i && sum_key_compare(rows->keys.data[first], rows->keys.lens[first],
										 rows->keys.data[r], rows->keys.lens[r]) != 0)
				break;
			if ((g & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (text == NULL)
				continue;
			st = share_fixed_parse(text, strlen(text), PSUM_SCALE, &v);
			if (st != SHARE_OK)
				value_refusal(dataset, column, st);
			if (pg_add_s64_overflow(sum, v, &sum))
				value_refusal(dataset, column, SHARE_RANGE);
		}
		keys->data[keys->n] = rows->keys.data[first];
		keys->lens[keys->n] = rows->keys.lens[first];
		t[keys->n] = sum;
		keys->n++;
	}
	pfree(order);
	*totals = t;
}

/* out[i] = Enc(pk, values[i]) on all cores, interruptible between slabs. */
static void
encrypt_totals(size_t n, const uint8 pk[EL], const int64 *values, uint8 *out)
{
	elgamal_encrypt_job job = {0, pk, values, out};
	size_t		failed = 0;
	int			st = batch_slabs(n, elgamal_encrypt_range, &job, &job.base, &failed);

	if (st != 0)
		elog(ERROR, "psi_sum: encryption under a checked joint key failed: %s",
			 elgamal_status_reason((elgamal_status) st));
}

void
psi_sum_admission_check(const char *dataset, const Permit *permit)
{
	if (permit->min_group > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("psi_sum cannot enforce min_group against a modified asker"),
				 errdetail("The psi_sum permit of dataset \"%s\" has min_group %d; the asker chooses which ciphertexts it adds and how many matches it claims, so a run can reveal one key's total.",
						   dataset, permit->min_group),
				 errhint("Grant psi_sum without min_group, or use psi_count for how many keys match, or secure_sum, which enforces min_group, for totals.")));
}

/*
 * pgpriv.serve_psi_sum_begin(dataset, run, value_column, asker_share)
 *   → (batch_limit, owner_keys, owner_share)
 *
 * For a run admitted by serve_admit: checks the column against the permit,
 * draws the owner's key share after the asker's is known, and masks and
 * encrypts the dataset while the asker masks its keys.
 */
Datum
pgpriv_serve_psi_sum_begin(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bytea	   *share_msg = PG_GETARG_BYTEA_PP(3);
	Admission  *admission = admission_require(run, dataset, "psi_sum");
	int64		nkeys = admission->keys;
	uint8		owner_share[EL];
	uint8		joint[EL];
	Dataset		ds;
	Permit		permit;
	PsumRun    *psum_run;
	MemoryContext cxt;
	elgamal_status st;

	catalog_restrict_definer();
	/* Not in the transcript: it comes as a text parameter (a hex bytea literal). */
	permit_require(dataset, "psi_sum", &ds, &permit);
	psi_sum_admission_check(dataset, &permit);
	sum_permit_require_column("psi_sum", dataset, column, &permit);
	if (VARSIZE_ANY_EXHDR(share_msg) != EL)
		wire_malformed("the asker", psprintf("A key share of %zu bytes, expected %d.",
											 (size_t) VARSIZE_ANY_EXHDR(share_msg), EL));

	psum_run = served_run_open("psi_sum", run, dataset, sizeof(PsumRun), NULL);
	cxt = psum_run->base.cxt;
	ecdh_asked_init(&psum_run->asked, cxt, nkeys);
	elgamal_keygen_share(psum_run->sk, owner_share);
	st = elgamal_joint_key(owner_share, (const uint8 *) VARDATA_ANY(share_msg), joint);
	if (st != ELGAMAL_OK)
	{
		served_run_close();
		wire_malformed("the asker", psprintf("Its key share is %s.", elgamal_status_reason(st)));
	}

	progress_begin("psi_sum", session_role_name(), dataset, nkeys);
	progress_phase("owner: masking and encrypting the dataset", 0);
	{
		DatasetRows rows;
		KeySet		keys;
		int64	   *totals;
		int64	   *limbs;
		uint8	   *masked;
		uint8	   *cts;
		MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "pgpriv psi_sum rows",
												   ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(work);
		size_t		i;

		dataset_rows_fetch(&ds, list_make1(pstrdup(column)), &rows);
		owner_totals(&rows, dataset, column, &keys, &totals);
		masked = palloc_extended(Max(keys.n, 1) * EL, MCXT_ALLOC_HUGE);
		cts = palloc_extended(Max(keys.n, 1) * LIMBS * CT, MCXT_ALLOC_HUGE);
		limbs = secret_palloc(Max(keys.n, 1) * LIMBS * sizeof(int64));
		batch_hash_and_mult(&keys, psum_run->asked.b, masked);
		for (i = 0; i < keys.n; i++)
			elgamal_limbs_split(totals[i], limbs + i * LIMBS);
		secret_wipe(totals);
		encrypt_totals(keys.n * LIMBS, joint, limbs, cts);
		secret_wipe(limbs);

		psum_run->owner_n = (int64) keys.n;
		psum_run->entries = MemoryContextAllocExtended(cxt, Max(keys.n, 1) * ENTRY, MCXT_ALLOC_HUGE);
		for (i = 0; i < keys.n; i++)
		{
			memcpy(psum_run->entries + i * ENTRY, masked + i * EL, EL);
			memcpy(psum_run->entries + i * ENTRY + EL, cts + i * LIMBS * CT, LIMBS * CT);
		}
		/* Sorting by the masked key hides which entry is which key. */
		qsort(psum_run->entries, keys.n, ENTRY, ecdh_compare_element);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
	}
	progress_end();

	{
		TupleDesc	tupdesc;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		bytea	   *share = palloc(VARHDRSZ + EL);

		SET_VARSIZE(share, VARHDRSZ + EL);
		memcpy(VARDATA(share), owner_share, EL);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "serve_psi_sum_begin must return a composite type");
		values[0] = Int32GetDatum(pgpriv_batch_size);
		values[1] = Int64GetDatum(psum_run->owner_n);
		values[2] = PointerGetDatum(share);
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
	}
}

/* pgpriv.serve_psi_sum_push(run, batch) → keys received so far */
Datum
pgpriv_serve_psi_sum_push(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *msg = PG_GETARG_BYTEA_PP(1);
	PsumRun    *sr = psum_run_get(run);

	PG_RETURN_INT64(ecdh_serve_push(&sr->base, &sr->asked, msg));
}

/* pgpriv.serve_psi_sum_finish(run) → the number of distinct dataset keys */
Datum
pgpriv_serve_psi_sum_finish(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PsumRun    *sr = psum_run_get(run);

	ecdh_serve_finish(&sr->base, &sr->asked, "psi_sum");
	PG_RETURN_INT64(sr->owner_n);
}

/*
 * pgpriv.serve_psi_sum_pull(run, part, start, count) → bytea
 *
 * Up to count (at most batch_size) items of part ('asker': b·a·H(x);
 * 'owner': b·H(y) with its ciphertext) from position start.
 */
Datum
pgpriv_serve_psi_sum_pull(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *part = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int64		start = PG_GETARG_INT64(2);
	int32		want = PG_GETARG_INT32(3);
	PsumRun    *sr = psum_run_get(run);
	bool		owner_part;
	int64		m = ecdh_pull_range(&sr->asked, part, sr->owner_n, start, want, &owner_part);
	bytea	   *reply;

	catalog_restrict_definer();
	if (owner_part)
		reply = wire_pack_fixed(WIRE_PSUM_ENTRIES, sr->entries + start * ENTRY, (uint32) m, ENTRY);
	else
		reply = wire_pack_fixed(WIRE_OWNER_ELEMENTS, sr->asked.elements + start * EL, (uint32) m, EL);
	PG_RETURN_BYTEA_P(ecdh_serve_reply(&sr->base, reply));
}

/* The run's one decryption is given (or refused): the owner's share goes. */
static void
psum_spend(PsumRun *sr)
{
	sodium_memzero(sr->sk, sizeof(sr->sk));
	strlcpy(psum_spent_run, sr->base.run, sizeof(psum_spent_run));
}

/*
 * The decryption's reply ends the run: counted, the audit row written, the
 * run closed, then the reply absorbed in the transcript of run (its id).
 */
static bytea *
psum_complete(PsumRun *sr, Admission *admission, const char *run, bytea *reply, int64 matched)
{
	sr->base.bytes_out += VARSIZE_ANY_EXHDR(reply);
	admission_serve(admission, sr->asked.received, sr->base.bytes_in, sr->base.bytes_out);
	admission_complete(admission, matched);
	served_run_close();
	admission_absorb(run, TRANSCRIPT_RESPONSE, reply);
	return reply;
}

/*
 * pgpriv.serve_psi_sum_decrypt(run, total) → bytea
 *
 * The run's one partial decryption, of the re-randomised sum the asker
 * sends with its number of matches; none when it says nothing matched.
 * Either way the run ends and the owner's share is wiped: a second call for
 * the run is refused (55000).  The owner cannot check what the asker added
 * (docs/psi_sum.md: what a modified asker learns), hence no min_group.
 */
Datum
pgpriv_serve_psi_sum_decrypt(PG_FUNCTION_ARGS)
{
	char	   *run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *msg = PG_GETARG_BYTEA_PP(1);
	PsumRun    *sr = psum_run_get(run);
	Admission  *admission = admission_require(sr->base.run, sr->base.dataset, "psi_sum");
	uint32		count;
	const uint8 *item;
	uint64		matched;
	uint8		partial[LIMBS * EL];
	elgamal_status st = ELGAMAL_OK;
	int			k;

	catalog_restrict_definer();
	admission_absorb(run, TRANSCRIPT_REQUEST, msg);
	if (!sr->asked.finished)
		wire_malformed("the asker", "A decryption asked before the run's keys were masked.");
	item = wire_unpack_fixed(msg, WIRE_PSUM_TOTAL, TOTAL_BYTES, 1, &count, "the asker");
	if (count != 1)
		wire_malformed("the asker", "Expected one total.");
	memcpy(&matched, item, 8);
	matched = pg_ntoh64(matched);
	if (matched > (uint64) Min(sr->asked.received, sr->owner_n))
		wire_malformed("the asker", psprintf("%llu matches claimed among %lld keys asked and %lld held.",
											 (unsigned long long) matched, (long long) sr->asked.received,
											 (long long) sr->owner_n));
	sr->base.bytes_in += VARSIZE_ANY_EXHDR(msg);

	for (k = 0; k < LIMBS; k++)
	{
		st = elgamal_check_ciphertext(item + 8 + k * CT);
		if (st != ELGAMAL_OK)
			wire_malformed("the asker", psprintf("The total's ciphertext %d holds %s.", k + 1,
												 elgamal_status_reason(st)));
	}
	if (matched == 0)
	{
		/* Nothing matched: nothing to decrypt, and nothing is. */
		psum_spend(sr);
		PG_RETURN_BYTEA_P(psum_complete(sr, admission, run, wire_pack_fixed(WIRE_PSUM_PARTIAL, NULL, 0, EL), 0));
	}
	for (k = 0; k < LIMBS && st == ELGAMAL_OK; k++)
		st = elgamal_partial_decrypt(sr->sk, item + 8 + k * CT, partial + k * EL);
	/* One decryption per run: the share goes now, whatever happens next. */
	psum_spend(sr);
	if (st != ELGAMAL_OK)
	{
		served_run_close();
		wire_malformed("the asker", psprintf("The total's ciphertext holds %s.", elgamal_status_reason(st)));
	}
	PG_RETURN_BYTEA_P(psum_complete(sr, admission, run, wire_pack_fixed(WIRE_PSUM_PARTIAL, partial, LIMBS, EL),
									(int64) matched));
}

/* ----------------------------------------------------------------------
 * Asker's half
 * ----------------------------------------------------------------------
 */

static const char *const psum_pull_sql =
"SELECT pgpriv.serve_psi_sum_pull($1, $2, $3::pg_catalog.int8, $4::pg_catalog.int4)";

/* The sum of the matched entries' ciphertexts of limb k; every one is checked. */
static void
sum_matches(const uint8 *entries, const uint8 *flags, size_t n, int k, uint8 sum[CT], const char *sender)
{
	size_t		nchunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
	uint8	   *partial = palloc_extended(Max(nchunks, 1) * CT, MCXT_ALLOC_HUGE);
	elgamal_sum_job job;
	int			nthreads = pgpriv_threads_for_batch();
	size_t		start;
	size_t		c;

	job.cts = entries + EL + k * CT;
	job.stride = ENTRY;
	job.flags = flags;
	job.n = n;
	job.chunk = SUM_CHUNK;
	job.partial = partial;
	for (start = 0; start < nchunks; start += SLAB / SUM_CHUNK)
	{
		size_t		m = Min((size_t) (SLAB / SUM_CHUNK), nchunks - start);
		size_t		failed = 0;
		elgamal_sum_job slab = job;
		int			st;

		CHECK_FOR_INTERRUPTS();
		/* Shift the job so that chunk 0 of this call is chunk start overall. */
		slab.cts = job.cts + start * SUM_CHUNK * ENTRY;
		slab.flags = job.flags + start * SUM_CHUNK;
		slab.n = n - start * SUM_CHUNK;
		slab.partial = partial + start * CT;
		st = crypto_parallel_for(m, nthreads, elgamal_sum_range, &slab, &failed);
		if (st != 0)
		{
			size_t		lo = (start + failed) * SUM_CHUNK;
			size_t		i;

			for (i = lo; i < Min(n, lo + SUM_CHUNK); i++)
				if (elgamal_check_ciphertext(entries + i * ENTRY + EL + k * CT) != ELGAMAL_OK)
					break;
			wire_malformed(sender, psprintf("Ciphertext %zu: %s.", i + 1,
											elgamal_status_reason((elgamal_status) st)));
		}
	}
	memset(sum, 0, CT);
	for (c = 0; c < nchunks; c++)
		if (elgamal_add(sum, partial + c * CT, sum) != ELGAMAL_OK)
			elog(ERROR, "psi_sum: adding checked ciphertexts failed");
	pfree(partial);
}

static void
dlog_interrupts(void *arg pg_attribute_unused())
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * Solve m[k] = S_k·G for each limb sum S_k within its range over matched
 * values, and put the total back together.  An honest owner's limb sums are
 * always within range (each key's total fits in a bigint), so one outside is
 * the owner's fault (08P01).  One table of baby steps serves all limbs.
 */
static elgamal_int128
solve_limbs(const uint8 m[LIMBS * EL], int64 matched, const char *sender)
{
	elgamal_dlog dlog;
	int64		sums[LIMBS];
	int64		lo;
	int64		hi;
	int64		bound;
	volatile int bad = -1;
	volatile elgamal_status st = ELGAMAL_OK;

	elgamal_limb_range(0, matched, &lo, &bound);
	if (elgamal_dlog_init(&dlog, ELGAMAL_DLOG_MAX_BITS, bound, pgpriv_threads_for_batch()) != ELGAMAL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for the psi_sum decryption table")));
	PG_TRY();
	{
		int			k;

		for (k = 0; k < LIMBS; k++)
		{
			st = elgamal_dlog_solve(&dlog, m + k * EL, dlog_interrupts, NULL, &sums[k]);
			elgamal_limb_range(k, matched, &lo, &hi);
			if (st != ELGAMAL_OK || sums[k] < lo || sums[k] > hi)
			{
				bad = k;
				break;
			}
		}
	}
	PG_FINALLY();
	{
		elgamal_dlog_free(&dlog);
	}
	PG_END_TRY();
	if (bad >= 0)
		wire_malformed(sender, psprintf("Decrypted limb %d is %s for %lld matched values.", bad + 1,
										st == ELGAMAL_OK || st == ELGAMAL_OUT_OF_RANGE ? "out of range" :
										elgamal_status_reason(st), (long long) matched));
	return elgamal_limbs_combine(sums);
}

/* v units of 10^-PSUM_SCALE as a numeric literal. */
static char *
format_units(elgamal_int128 v)
{
	char		digits[48];
	int			n = 0;
	bool		neg = v < 0;
	unsigned __int128 u = neg ? (unsigned __int128) 0 - (unsigned __int128) v : (unsigned __int128) v;
	StringInfoData buf;
	int			i;

	do
	{
		digits[n++] = (char) ('0' + (int) (u % 10));
		u /= 10;
	} while (u != 0 || n <= PSUM_SCALE);
	initStringInfo(&buf);
	if (neg)
		appendStringInfoChar(&buf, '-');
	for (i = n - 1; i >= 0; i--)
	{
		appendStringInfoChar(&buf, digits[i]);
		if (i == PSUM_SCALE)
			appendStringInfoChar(&buf, '.');
	}
	return buf.data;
}

/*
 * pgpriv.psi_sum(peer name, dataset text, value_column text, keys_query text)
 *   → TABLE(matched bigint, total numeric)
 */
Datum
pgpriv_psi_sum(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *server = NameStr(*PG_GETARG_NAME(0));
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *keys_query = text_to_cstring(PG_GETARG_TEXT_PP(3));
	KeySet		keys;
	PeerCall	call;
	AuditWatch	watch;
	char	   *run;
	uint8		a[EL];
	uint8		sk[EL];
	uint8		my_share[EL];
	uint8		joint[EL];
	uint8	   *blinded;
	volatile int64 matched = 0;
	volatile elgamal_int128 total = 0;
	char		share_hex[2 + 2 * EL + 1];
	char	   *sender;

	InitMaterializedSRF(fcinfo, 0);
	keys_collect(keys_query, &keys);
	if (keys.n == 0)
	{
		/* nothing to ask: the peer is not called */
		Datum		values[2] = {Int64GetDatum(0), (Datum) 0};
		bool		nulls[2] = {false, false};

		values[1] = DirectFunctionCall3(numeric_in, CStringGetDatum("0.0000"),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		return (Datum) 0;
	}
	run = run_ask_open(&call, &watch, server, "psi_sum", "psi_sum", dataset, (int64) keys.n,
					   (int64) keys.n);
	sender = psprintf("peer \"%s\"", server);

	oprf_random_scalar(a);
	elgamal_keygen_share(sk, my_share);
	share_hex[0] = '\\';
	share_hex[1] = 'x';
	sodium_bin2hex(share_hex + 2, sizeof(share_hex) - 2, my_share, EL);
	blinded = palloc_extended(Max(keys.n, 1) * EL, MCXT_ALLOC_HUGE);
	PG_TRY();
	{
		const char *begin_params[4] = {dataset, run, column, share_hex};
		const char *run_params[1] = {run};
		PGresult   *res;
		int64		batch;
		int64		owner_n;
		uint8	   *theirs;
		uint8	   *entries;
		uint8	   *owner_elements;
		uint8	   *mine;
		uint8	   *flags;
		uint8		sum[CT];
		int			k;
		uint8		r[EL];
		uint8		msg_item[TOTAL_BYTES];
		uint64		matched_be;
		bytea	   *msg;
		bytea	   *reply;
		uint8		mine_partial[EL];
		uint8		plain[LIMBS * EL];
		elgamal_status st;
		size_t		i;

		/* The owner admits the run (permit, budget, audit) before anything else. */
		run_ask_admit(&call, dataset, "psi_sum", run, (int64) keys.n, NULL);

		/* The owner masks and encrypts its dataset while the asker masks its keys. */
		res = ecdh_ask_begin(&call,
							 "SELECT batch_limit, owner_keys, owner_share FROM pgpriv.serve_psi_sum_begin($1, $2, $3, $4::pg_catalog.bytea)",
							 4, begin_params, &keys, a, blinded, "owner masks and encrypts its dataset");
		if (PQntuples(res) != 1 || PQnfields(res) != 3 || PQgetisnull(res, 0, 2) ||
			PQgetlength(res, 0, 2) != 2 + 2 * EL || strncmp(PQgetvalue(res, 0, 2), "\\x", 2) != 0 ||
			sodium_hex2bin(joint, EL, PQgetvalue(res, 0, 2) + 2, 2 * EL, NULL, NULL, NULL) != 0)
		{
			PQclear(res);
			wire_malformed(sender, "Expected the batch limit, the dataset's key count and a key share.");
		}
		ecdh_parse_begin(res, server, &batch, &owner_n);
		/* joint holds the owner's share until it is added to ours. */
		st = elgamal_joint_key(my_share, joint, joint);
		if (st != ELGAMAL_OK)
			wire_malformed(sender, psprintf("Its key share is %s.", elgamal_status_reason(st)));

		ecdh_push(&call, "SELECT pgpriv.serve_psi_sum_push($1, $2)", run, WIRE_BLINDED, blinded,
				  (int64) keys.n, batch, "asker: sending masked keys", NULL);

		progress_phase("asker: owner masks the asker's keys", 0);
		res = peer_call_text(&call, "SELECT pgpriv.serve_psi_sum_finish($1)", 1, run_params);
		if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0) ||
			ecdh_parse_count(PQgetvalue(res, 0, 0), server) != owner_n)
		{
			PQclear(res);
			wire_malformed(sender, "The dataset's key count changed during the run.");
		}
		PQclear(res);

		progress_phase("asker: receiving masked keys", keys.n);
		theirs = ecdh_pull_part(&call, psum_pull_sql, run, "asker", WIRE_OWNER_ELEMENTS, EL,
								(int64) keys.n, batch, false);
		progress_phase("asker: receiving the dataset's masked keys and ciphertexts", owner_n);
		entries = ecdh_pull_part(&call, psum_pull_sql, run, "owner", WIRE_PSUM_ENTRIES, ENTRY,
								 owner_n, batch, false);

		progress_phase("asker: matching", owner_n);
		owner_elements = palloc_extended(Max(owner_n, 1) * EL, MCXT_ALLOC_HUGE);
		for (i = 0; i < (size_t) owner_n; i++)
			memcpy(owner_elements + i * EL, entries + i * ENTRY, EL);
		mine = palloc_extended(Max(owner_n, 1) * EL, MCXT_ALLOC_HUGE);
		batch_mult((size_t) owner_n, a, owner_elements, mine, sender);
		flags = palloc0(Max(owner_n, 1));
		for (i = 0; i < (size_t) owner_n; i++)
			if (bsearch(mine + i * EL, theirs, keys.n, EL, ecdh_compare_element) != NULL)
			{
				flags[i] = 1;
				matched++;
			}

		progress_phase("asker: adding the matched ciphertexts", owner_n);
		for (k = 0; k < LIMBS; k++)
		{
			sum_matches(entries, flags, (size_t) owner_n, k, sum, sender);
			oprf_random_scalar(r);
			if (elgamal_rerandomise(joint, sum, r, msg_item + 8 + k * CT) != ELGAMAL_OK)
				elog(ERROR, "psi_sum: re-randomising a checked sum failed");
		}
		sodium_memzero(r, sizeof(r));
		matched_be = pg_hton64((uint64) matched);
		memcpy(msg_item, &matched_be, 8);

		progress_phase("asker: owner decrypts its share", 0);
		msg = wire_pack_fixed(WIRE_PSUM_TOTAL, msg_item, 1, TOTAL_BYTES);
		reply = peer_call_bytea(&call, "SELECT pgpriv.serve_psi_sum_decrypt($1, $2)", 1, run_params, msg);
		if (VARSIZE_ANY_EXHDR(reply) >= WIRE_HEADER_BYTES &&
			((const uint8 *) VARDATA_ANY(reply))[1] == WIRE_PSUM_REFUSAL)
		{
			uint32		count;
			uint32		limit;
			const uint8 *item = wire_unpack_fixed(reply, WIRE_PSUM_REFUSAL, 4, 1, &count, sender);

			if (count != 1)
				wire_malformed(sender, "Expected the min_group of its refusal.");
			memcpy(&limit, item, 4);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("peer \"%s\": permission denied: psi_sum on dataset \"%s\" reveals totals over at least %u matching keys, this run has %lld",
							server, dataset, pg_ntoh32(limit), (long long) matched)));
		}
		{
			uint32		count;
			const uint8 *item = wire_unpack_fixed(reply, WIRE_PSUM_PARTIAL, EL, LIMBS, &count, sender);

			if (count != (matched > 0 ? LIMBS : 0))
				wire_malformed(sender, psprintf("%u partial decryptions for %lld matches.", count, (long long) matched));
			for (k = 0; k < (int) count; k++)
			{
				st = elgamal_check_element(item + k * EL);
				if (st != ELGAMAL_OK)
					wire_malformed(sender, psprintf("Its partial decryption is %s.", elgamal_status_reason(st)));
				if (elgamal_partial_decrypt(sk, msg_item + 8 + k * CT, mine_partial) != ELGAMAL_OK ||
					elgamal_combine(msg_item + 8 + k * CT, item + k * EL, mine_partial, plain + k * EL) != ELGAMAL_OK)
					wire_malformed(sender, "Its partial decryption does not combine.");
			}
		}
		sodium_memzero(sk, sizeof(sk));

		if (matched > 0)
		{
			progress_phase("asker: solving the limb sums' discrete logarithms", 0);
			total = solve_limbs(plain, matched, sender);
			sodium_memzero(plain, sizeof(plain));
		}
	}
	PG_FINALLY();
	{
		sodium_memzero(a, sizeof(a));
		sodium_memzero(sk, sizeof(sk));
	}
	PG_END_TRY();

	run_ask_close(&call, &watch, run, "psi_sum", dataset, (int64) keys.n, matched,
				  psprintf("run %s", run));

	{
		Datum		values[2];
		bool		nulls[2] = {false, false};
		char	   *buf = format_units(total);

		values[0] = Int64GetDatum(matched);
		values[1] = DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
