/*
 * primitives.c — the SQL face of the OPRF (RFC 9497, OPRF(ristretto255,
 * SHA-512), mode 0x00) and of the RFC 9380 helpers it is built on.
 *
 * Everything that touches PostgreSQL (argument fetching, arrays, palloc,
 * ereport, interrupts) happens here, in the backend thread.  The crypto
 * itself is in crypto/oprf.c, and the batch forms hand plain C buffers to
 * crypto/parallel.c, whose worker threads must never see a Datum, palloc or
 * ereport.  Every invalid argument is reported as 22023
 * (invalid_parameter_value) with a message naming the SQL argument, and, for
 * arrays, the subscript of the offending element.  No message ever contains
 * the bytes of an argument: keys and blinds are secrets.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pgpriv.h"
#include "crypto/oprf.h"
#include "crypto/oprf_batch.h"
#include "crypto/parallel.h"

PG_FUNCTION_INFO_V1(pgpriv_oprf_derive_key);
PG_FUNCTION_INFO_V1(pgpriv_oprf_public_key);
PG_FUNCTION_INFO_V1(pgpriv_oprf_blind);
PG_FUNCTION_INFO_V1(pgpriv_oprf_evaluate);
PG_FUNCTION_INFO_V1(pgpriv_oprf_finalize);
PG_FUNCTION_INFO_V1(pgpriv_oprf);
PG_FUNCTION_INFO_V1(pgpriv_oprf_random_scalar);
PG_FUNCTION_INFO_V1(pgpriv_hash_to_group);
PG_FUNCTION_INFO_V1(pgpriv_expand_message_xmd);
PG_FUNCTION_INFO_V1(pgpriv_oprf_blind_batch);
PG_FUNCTION_INFO_V1(pgpriv_oprf_evaluate_batch);
PG_FUNCTION_INFO_V1(pgpriv_oprf_finalize_batch);
PG_FUNCTION_INFO_V1(pgpriv_oprf_batch);

/*
 * Elements handed to crypto_parallel_for per call.  Between slabs the
 * backend thread runs CHECK_FOR_INTERRUPTS(), so a cancel waits for at most
 * one slab (8192 scalar multiplications, well under a second on one core).
 */
#define BATCH_SLAB 8192

/* RFC 9380 §5.3.1: ell = ceil(len_in_bytes / 64) must not exceed 255. */
#define XMD_MAX_OUTPUT (255 * 64)

/*
 * Which SQL argument a non-OK oprf_status refers to, for one function.
 * element is NULL where the only element involved is HashToGroup(input),
 * so an element failure is the input's fault (RFC 9497 §3.3.1
 * InvalidInputError).
 */
typedef struct oprf_arg_names
{
	const char *input;
	const char *scalar;
	const char *element;
} oprf_arg_names;

static bool sodium_ready = false;

static void report_bad_length(const char *name, int subscript, bool is_element,
							  size_t got, size_t want) pg_attribute_noreturn();
static void report_oprf_status(oprf_status st, const oprf_arg_names *names,
							   int subscript, bool is_element,
							   size_t input_len) pg_attribute_noreturn();

/*
 * libsodium picks its implementations and seeds its RNG in sodium_init();
 * calling it once per backend before the first crypto call is enough (it is
 * idempotent and thread-safe).
 */
static void
ensure_sodium(void)
{
	if (!sodium_ready)
	{
		if (sodium_init() < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialize libsodium")));
		sodium_ready = true;
	}
}

/* "sk" or "blinds"[3]: how messages name an argument or an array element. */
static char *
arg_label(const char *name, int subscript, bool is_element)
{
	if (is_element)
		return psprintf("\"%s\"[%d]", name, subscript);
	return psprintf("\"%s\"", name);
}

static void
report_bad_length(const char *name, int subscript, bool is_element,
				  size_t got, size_t want)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be %zu bytes, got %zu",
					arg_label(name, subscript, is_element), want, got),
			 errdetail("RFC 9497 §4.1 encodes ristretto255 scalars and elements in exactly 32 bytes.")));
}

/*
 * Turn a failure from crypto/oprf.c into an ERROR naming the argument the
 * status is about.
 */
static void
report_oprf_status(oprf_status st, const oprf_arg_names *names,
				   int subscript, bool is_element, size_t input_len)
{
	const char *name;
	const char *detail;

	switch (st)
	{
		case OPRF_INPUT_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid OPRF argument %s: %zu bytes is too long",
							arg_label(names->input, subscript, is_element),
							input_len),
					 errdetail("RFC 9497 §5.1 limits OPRF inputs to %d bytes, because Finalize encodes the length as I2OSP(len(input), 2).",
							   OPRF_MAX_INPUT_BYTES)));
			break;
		case OPRF_SCALAR_NONCANONICAL:
			name = names->scalar;
			detail = "A scalar must be the 32-byte little-endian encoding of an integer below the ristretto255 group order (RFC 9497 §4.1 DeserializeScalar).";
			break;
		case OPRF_SCALAR_ZERO:
			name = names->scalar;
			detail = "RFC 9497 uses only non-zero scalars as keys and blinds (§3.2, §3.3.1).";
			break;
		case OPRF_ELEMENT_INVALID:
			name = names->element ? names->element : names->input;
			detail = "RFC 9497 §4.1 DeserializeElement accepts only canonical ristretto255 encodings (RFC 9496 §4.3.1 Decode).";
			break;
		case OPRF_ELEMENT_IDENTITY:
			if (names->element == NULL)
			{
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid OPRF argument %s: input maps to the identity element",
								arg_label(names->input, subscript, is_element)),
						 errdetail("RFC 9497 §3.3.1 raises InvalidInputError when HashToGroup(input) is the identity.")));
			}
			name = names->element;
			detail = "RFC 9497 §4.1 DeserializeElement rejects the identity element.";
			break;
		default:
			name = names->scalar ? names->scalar : names->input;
			detail = "The RFC 9497 operation failed on this argument.";
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid OPRF argument %s: %s",
					arg_label(name, subscript, is_element),
					oprf_status_reason(st)),
			 errdetail("%s", detail)));
}

/* Copy a fixed-size bytea argument after checking its length. */
static void
get_fixed_arg(FunctionCallInfo fcinfo, int argno, const char *name,
			  uint8_t *dst, size_t len)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(argno);
	size_t		got = VARSIZE_ANY_EXHDR(b);

	if (got != len)
		report_bad_length(name, 0, false, got, len);
	memcpy(dst, VARDATA_ANY(b), len);
}

/* Copy a secret scalar argument and apply DeserializeScalar's checks. */
static void
get_scalar_arg(FunctionCallInfo fcinfo, int argno, const char *name,
			   uint8_t scalar[OPRF_SCALAR_BYTES])
{
	oprf_status st;
	oprf_arg_names names = {NULL, name, NULL};

	get_fixed_arg(fcinfo, argno, name, scalar, OPRF_SCALAR_BYTES);
	st = oprf_check_scalar(scalar);
	if (st != OPRF_OK)
	{
		sodium_memzero(scalar, OPRF_SCALAR_BYTES);
		report_oprf_status(st, &names, 0, false, 0);
	}
}

static bytea *
make_bytea(const uint8_t *data, size_t len)
{
	bytea	   *result = (bytea *) palloc(VARHDRSZ + len);

	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), data, len);
	return result;
}

/* ------------------------------------------------------------------------
 * Single forms
 * ------------------------------------------------------------------------
 */

/* oprf_derive_key(seed bytea, info bytea) — RFC 9497 §3.2.1 DeriveKeyPair */
Datum
pgpriv_oprf_derive_key(PG_FUNCTION_ARGS)
{
	bytea	   *seed = PG_GETARG_BYTEA_PP(0);
	bytea	   *info = PG_GETARG_BYTEA_PP(1);
	size_t		seed_len = VARSIZE_ANY_EXHDR(seed);
	size_t		info_len = VARSIZE_ANY_EXHDR(info);
	uint8_t		sk[OPRF_SCALAR_BYTES];
	oprf_status st;
	bytea	   *result;

	ensure_sodium();
	if (seed_len != OPRF_SCALAR_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"seed\" must be %d bytes, got %zu",
						OPRF_SCALAR_BYTES, seed_len),
				 errdetail("RFC 9497 §3.2.1 DeriveKeyPair takes a seed of Ns = 32 bytes.")));
	if (info_len > OPRF_MAX_INPUT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid OPRF argument \"info\": %zu bytes is too long", info_len),
				 errdetail("RFC 9497 §3.2.1 encodes the length of info as I2OSP(len(info), 2), so it must be at most %d bytes.",
						   OPRF_MAX_INPUT_BYTES)));

	st = oprf_derive_key_pair((const uint8_t *) VARDATA_ANY(seed), seed_len,
							  (const uint8_t *) VARDATA_ANY(info), info_len,
							  sk, NULL);
	if (st != OPRF_OK)
	{
		sodium_memzero(sk, sizeof(sk));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("DeriveKeyPair failed for this \"seed\" and \"info\": %s",
						oprf_status_reason(st)),
				 errdetail("RFC 9497 §3.2.1 raises DeriveKeyPairError; use another seed.")));
	}
	result = make_bytea(sk, sizeof(sk));
	sodium_memzero(sk, sizeof(sk));
	PG_RETURN_BYTEA_P(result);
}

/* oprf_public_key(sk bytea) — pkS = ScalarMultGen(skS), RFC 9497 §3.2 */
Datum
pgpriv_oprf_public_key(PG_FUNCTION_ARGS)
{
	uint8_t		sk[OPRF_SCALAR_BYTES];
	uint8_t		pk[OPRF_ELEMENT_BYTES];
	int			rc;

	ensure_sodium();
	get_scalar_arg(fcinfo, 0, "sk", sk);
	rc = crypto_scalarmult_ristretto255_base(pk, sk);
	sodium_memzero(sk, sizeof(sk));
	if (rc != 0)				/* only for a zero scalar, excluded above */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid OPRF argument \"sk\": %s",
						oprf_status_reason(OPRF_SCALAR_ZERO))));
	PG_RETURN_BYTEA_P(make_bytea(pk, sizeof(pk)));
}

/* oprf_blind(input bytea, blind bytea) — RFC 9497 §3.3.1 Blind */
Datum
pgpriv_oprf_blind(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"input", "blind", NULL};
	bytea	   *input = PG_GETARG_BYTEA_PP(0);
	size_t		input_len = VARSIZE_ANY_EXHDR(input);
	uint8_t		blind[OPRF_SCALAR_BYTES];
	uint8_t		blinded[OPRF_ELEMENT_BYTES];
	oprf_status st;

	ensure_sodium();
	get_fixed_arg(fcinfo, 1, "blind", blind, sizeof(blind));
	st = oprf_blind((const uint8_t *) VARDATA_ANY(input), input_len,
					blind, blinded);
	sodium_memzero(blind, sizeof(blind));
	if (st != OPRF_OK)
		report_oprf_status(st, &names, 0, false, input_len);
	PG_RETURN_BYTEA_P(make_bytea(blinded, sizeof(blinded)));
}

/* oprf_evaluate(sk bytea, element bytea) — RFC 9497 §3.3.1 BlindEvaluate */
Datum
pgpriv_oprf_evaluate(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {NULL, "sk", "element"};
	uint8_t		sk[OPRF_SCALAR_BYTES];
	uint8_t		element[OPRF_ELEMENT_BYTES];
	uint8_t		evaluated[OPRF_ELEMENT_BYTES];
	oprf_status st;

	ensure_sodium();
	/* the secret last, so that no other argument's error leaves it behind */
	get_fixed_arg(fcinfo, 1, "element", element, sizeof(element));
	get_fixed_arg(fcinfo, 0, "sk", sk, sizeof(sk));
	st = oprf_blind_evaluate(sk, element, evaluated);
	sodium_memzero(sk, sizeof(sk));
	if (st != OPRF_OK)
		report_oprf_status(st, &names, 0, false, 0);
	PG_RETURN_BYTEA_P(make_bytea(evaluated, sizeof(evaluated)));
}

/* oprf_finalize(input bytea, blind bytea, evaluated bytea) — §3.3.1 Finalize */
Datum
pgpriv_oprf_finalize(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"input", "blind", "evaluated"};
	bytea	   *input = PG_GETARG_BYTEA_PP(0);
	size_t		input_len = VARSIZE_ANY_EXHDR(input);
	uint8_t		blind[OPRF_SCALAR_BYTES];
	uint8_t		evaluated[OPRF_ELEMENT_BYTES];
	uint8_t		output[OPRF_OUTPUT_BYTES];
	oprf_status st;

	ensure_sodium();
	/* the secret last, so that no other argument's error leaves it behind */
	get_fixed_arg(fcinfo, 2, "evaluated", evaluated, sizeof(evaluated));
	get_fixed_arg(fcinfo, 1, "blind", blind, sizeof(blind));
	st = oprf_finalize((const uint8_t *) VARDATA_ANY(input), input_len,
					   blind, evaluated, output);
	sodium_memzero(blind, sizeof(blind));
	if (st != OPRF_OK)
		report_oprf_status(st, &names, 0, false, input_len);
	PG_RETURN_BYTEA_P(make_bytea(output, sizeof(output)));
}

/* oprf(sk bytea, input bytea) — RFC 9497 §3.3.1 Evaluate (unblinded) */
Datum
pgpriv_oprf(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"input", "sk", NULL};
	bytea	   *input = PG_GETARG_BYTEA_PP(1);
	size_t		input_len = VARSIZE_ANY_EXHDR(input);
	uint8_t		sk[OPRF_SCALAR_BYTES];
	uint8_t		output[OPRF_OUTPUT_BYTES];
	oprf_status st;

	ensure_sodium();
	get_fixed_arg(fcinfo, 0, "sk", sk, sizeof(sk));
	st = oprf_evaluate(sk, (const uint8_t *) VARDATA_ANY(input), input_len,
					   output);
	sodium_memzero(sk, sizeof(sk));
	if (st != OPRF_OK)
		report_oprf_status(st, &names, 0, false, input_len);
	PG_RETURN_BYTEA_P(make_bytea(output, sizeof(output)));
}

/* oprf_random_scalar() — RandomScalar(), RFC 9497 §2.1 and §4.7 */
Datum
pgpriv_oprf_random_scalar(PG_FUNCTION_ARGS)
{
	uint8_t		scalar[OPRF_SCALAR_BYTES];
	bytea	   *result;

	ensure_sodium();
	oprf_random_scalar(scalar);
	result = make_bytea(scalar, sizeof(scalar));
	sodium_memzero(scalar, sizeof(scalar));
	PG_RETURN_BYTEA_P(result);
}

/* hash_to_group(input bytea) — RFC 9497 §4.1 HashToGroup */
Datum
pgpriv_hash_to_group(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"input", NULL, NULL};
	bytea	   *input = PG_GETARG_BYTEA_PP(0);
	size_t		input_len = VARSIZE_ANY_EXHDR(input);
	uint8_t		element[OPRF_ELEMENT_BYTES];
	oprf_status st;

	ensure_sodium();
	st = oprf_hash_to_group((const uint8_t *) VARDATA_ANY(input), input_len,
							element);
	if (st != OPRF_OK)
		report_oprf_status(st, &names, 0, false, input_len);
	PG_RETURN_BYTEA_P(make_bytea(element, sizeof(element)));
}

/* expand_message_xmd(msg bytea, dst bytea, len_in_bytes int) — RFC 9380 §5.3.1 */
Datum
pgpriv_expand_message_xmd(PG_FUNCTION_ARGS)
{
	bytea	   *msg = PG_GETARG_BYTEA_PP(0);
	bytea	   *dst = PG_GETARG_BYTEA_PP(1);
	int32		len_in_bytes = PG_GETARG_INT32(2);
	size_t		dst_len = VARSIZE_ANY_EXHDR(dst);
	bytea	   *result;
	oprf_status st;

	ensure_sodium();
	if (len_in_bytes < 1 || len_in_bytes > XMD_MAX_OUTPUT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"len_in_bytes\" must be between 1 and %d, got %d",
						XMD_MAX_OUTPUT, len_in_bytes),
				 errdetail("RFC 9380 §5.3.1 requires ell = ceil(len_in_bytes / 64) <= 255 for SHA-512.")));
	if (dst_len < 1 || dst_len > 255)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"dst\" must be between 1 and 255 bytes, got %zu", dst_len),
				 errdetail("RFC 9380 §3.1 requires a non-empty tag and §5.3.1 encodes its length in one byte.")));

	result = (bytea *) palloc(VARHDRSZ + len_in_bytes);
	SET_VARSIZE(result, VARHDRSZ + len_in_bytes);
	st = oprf_expand_message_xmd((const uint8_t *) VARDATA_ANY(msg),
								 VARSIZE_ANY_EXHDR(msg),
								 (const uint8_t *) VARDATA_ANY(dst), dst_len,
								 (uint8_t *) VARDATA(result), len_in_bytes);
	if (st != OPRF_OK)			/* excluded by the checks above */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expand_message_xmd: %s", oprf_status_reason(st))));
	PG_RETURN_BYTEA_P(result);
}

/* ------------------------------------------------------------------------
 * Batch forms
 *
 * The arrays are taken apart here, in the backend thread, into plain C
 * memory: fixed-size scalars and elements are copied into contiguous
 * buffers, variable-length inputs become (pointer, length) pairs into the
 * detoasted array.  The worker threads only read those and write their own
 * slots of the output buffer.  The result array is built afterwards, again
 * in the backend thread.
 * ------------------------------------------------------------------------
 */

/* A bytea[] argument taken apart. */
typedef struct batch_array
{
	const char *name;
	int			count;
	int			lbound;			/* subscript of the first element */
	const uint8_t **data;
	size_t	   *lens;
} batch_array;


static void
get_array_arg(FunctionCallInfo fcinfo, int argno, const char *name,
			  batch_array *arr)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a one-dimensional array", name),
				 errdetail("It has %d dimensions.", ARR_NDIM(a))));
	if (ARR_ELEMTYPE(a) != BYTEAOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("\"%s\" must be an array of bytea", name)));

	deconstruct_array(a, BYTEAOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);

	arr->name = name;
	arr->count = n;
	arr->lbound = ARR_NDIM(a) == 1 ? ARR_LBOUND(a)[0] : 1;
	arr->data = palloc(sizeof(const uint8_t *) * Max(n, 1));
	arr->lens = palloc(sizeof(size_t) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bytea	   *b;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("\"%s\"[%d] must not be NULL", name, arr->lbound + i)));
		b = DatumGetByteaPP(elems[i]);
		arr->data[i] = (const uint8_t *) VARDATA_ANY(b);
		arr->lens[i] = VARSIZE_ANY_EXHDR(b);
	}
}

static void
check_same_length(const batch_array *a, const batch_array *b)
{
	if (a->count != b->count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" and \"%s\" must have the same number of elements",
						a->name, b->name),
				 errdetail("\"%s\" has %d, \"%s\" has %d.",
						   a->name, a->count, b->name, b->count)));
}

/* Copy 32-byte items into one contiguous buffer, checking each length. */
static uint8_t *
copy_fixed_items(const batch_array *arr, size_t item_len)
{
	uint8_t    *buf = palloc_extended(item_len * Max(arr->count, 1),
									  MCXT_ALLOC_HUGE);
	int			i;

	for (i = 0; i < arr->count; i++)
	{
		if (arr->lens[i] != item_len)
		{
			/* the items copied so far may be secret blinds */
			sodium_memzero(buf, item_len * Max(arr->count, 1));
			report_bad_length(arr->name, arr->lbound + i, true,
							  arr->lens[i], item_len);
		}
		memcpy(buf + (size_t) i * item_len, arr->data[i], item_len);
	}
	return buf;
}

static ArrayType *
build_bytea_array(const uint8_t *out, int count, size_t item_len)
{
	Datum	   *datums;
	int			i;

	if (count == 0)
		return construct_empty_array(BYTEAOID);
	datums = palloc(sizeof(Datum) * count);
	for (i = 0; i < count; i++)
		datums[i] = PointerGetDatum(make_bytea(out + (size_t) i * item_len,
											   item_len));
	return construct_array(datums, count, BYTEAOID, -1, false, TYPALIGN_INT);
}

/*
 * Run fn over [0, count) in slabs, checking for interrupts in between
 * (never inside the worker threads).  On failure, reports the lowest failing
 * index through report_oprf_status with the array's own subscript.
 */
static void
run_batch(oprf_batch_job *job, size_t count, crypto_range_fn fn,
		  const oprf_arg_names *names, int lbound)
{
	int			nthreads = pgpriv_threads_for_batch();
	size_t		start;

	for (start = 0; start < count; start += BATCH_SLAB)
	{
		size_t		slab = Min((size_t) BATCH_SLAB, count - start);
		size_t		failed = 0;
		int			st;

		CHECK_FOR_INTERRUPTS();
		job->base = start;
		st = crypto_parallel_for(slab, nthreads, fn, job, &failed);
		if (st != 0)
		{
			size_t		index = start + failed;
			size_t		input_len = job->input_lens ? job->input_lens[index] : 0;

			report_oprf_status((oprf_status) st, names,
							   lbound + (int) index, true, input_len);
		}
	}
}

/* oprf_blind_batch(inputs bytea[], blinds bytea[]) */
Datum
pgpriv_oprf_blind_batch(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"inputs", "blinds", NULL};
	batch_array inputs;
	batch_array blinds;
	oprf_batch_job	job;
	uint8_t    *blind_buf;
	uint8_t    *out;

	ensure_sodium();
	get_array_arg(fcinfo, 0, "inputs", &inputs);
	get_array_arg(fcinfo, 1, "blinds", &blinds);
	check_same_length(&inputs, &blinds);
	blind_buf = copy_fixed_items(&blinds, OPRF_SCALAR_BYTES);
	out = palloc_extended((size_t) OPRF_ELEMENT_BYTES * Max(inputs.count, 1),
						  MCXT_ALLOC_HUGE);

	memset(&job, 0, sizeof(job));
	job.inputs = inputs.data;
	job.input_lens = inputs.lens;
	job.scalars = blind_buf;
	job.out = out;

	/* blinds are the client's secrets: wipe our copy whatever happens */
	PG_TRY();
	{
		run_batch(&job, inputs.count, oprf_batch_blind_range, &names, inputs.lbound);
	}
	PG_FINALLY();
	{
		sodium_memzero(blind_buf, (size_t) OPRF_SCALAR_BYTES * Max(blinds.count, 1));
	}
	PG_END_TRY();

	PG_RETURN_ARRAYTYPE_P(build_bytea_array(out, inputs.count, OPRF_ELEMENT_BYTES));
}

/* oprf_evaluate_batch(sk bytea, elements bytea[]) */
Datum
pgpriv_oprf_evaluate_batch(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {NULL, "sk", "elements"};
	uint8_t		sk[OPRF_SCALAR_BYTES];
	batch_array elements;
	oprf_batch_job	job;
	uint8_t    *element_buf;
	uint8_t    *out;

	ensure_sodium();
	get_array_arg(fcinfo, 1, "elements", &elements);
	element_buf = copy_fixed_items(&elements, OPRF_ELEMENT_BYTES);
	out = palloc_extended((size_t) OPRF_ELEMENT_BYTES * Max(elements.count, 1),
						  MCXT_ALLOC_HUGE);

	/* last, so that no other argument's error can leave the key behind */
	get_scalar_arg(fcinfo, 0, "sk", sk);

	memset(&job, 0, sizeof(job));
	job.sk = sk;
	job.elements = element_buf;
	job.out = out;

	PG_TRY();
	{
		run_batch(&job, elements.count, oprf_batch_evaluate_range, &names,
				  elements.lbound);
	}
	PG_FINALLY();
	{
		sodium_memzero(sk, sizeof(sk));
	}
	PG_END_TRY();

	PG_RETURN_ARRAYTYPE_P(build_bytea_array(out, elements.count, OPRF_ELEMENT_BYTES));
}

/* oprf_finalize_batch(inputs bytea[], blinds bytea[], evaluated bytea[]) */
Datum
pgpriv_oprf_finalize_batch(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"inputs", "blinds", "evaluated"};
	batch_array inputs;
	batch_array blinds;
	batch_array evaluated;
	oprf_batch_job	job;
	uint8_t    *blind_buf;
	uint8_t    *evaluated_buf;
	uint8_t    *out;

	ensure_sodium();
	get_array_arg(fcinfo, 0, "inputs", &inputs);
	get_array_arg(fcinfo, 1, "blinds", &blinds);
	get_array_arg(fcinfo, 2, "evaluated", &evaluated);
	check_same_length(&inputs, &blinds);
	check_same_length(&inputs, &evaluated);
	evaluated_buf = copy_fixed_items(&evaluated, OPRF_ELEMENT_BYTES);
	out = palloc_extended((size_t) OPRF_OUTPUT_BYTES * Max(inputs.count, 1),
						  MCXT_ALLOC_HUGE);
	/* last, so that no other argument's error can leave the blinds behind */
	blind_buf = copy_fixed_items(&blinds, OPRF_SCALAR_BYTES);

	memset(&job, 0, sizeof(job));
	job.inputs = inputs.data;
	job.input_lens = inputs.lens;
	job.scalars = blind_buf;
	job.elements = evaluated_buf;
	job.out = out;

	PG_TRY();
	{
		run_batch(&job, inputs.count, oprf_batch_finalize_range, &names,
				  inputs.lbound);
	}
	PG_FINALLY();
	{
		sodium_memzero(blind_buf, (size_t) OPRF_SCALAR_BYTES * Max(blinds.count, 1));
	}
	PG_END_TRY();

	PG_RETURN_ARRAYTYPE_P(build_bytea_array(out, inputs.count, OPRF_OUTPUT_BYTES));
}

/* oprf_batch(sk bytea, inputs bytea[]) */
Datum
pgpriv_oprf_batch(PG_FUNCTION_ARGS)
{
	static const oprf_arg_names names = {"inputs", "sk", NULL};
	uint8_t		sk[OPRF_SCALAR_BYTES];
	batch_array inputs;
	oprf_batch_job	job;
	uint8_t    *out;

	ensure_sodium();
	get_array_arg(fcinfo, 1, "inputs", &inputs);
	out = palloc_extended((size_t) OPRF_OUTPUT_BYTES * Max(inputs.count, 1),
						  MCXT_ALLOC_HUGE);
	get_scalar_arg(fcinfo, 0, "sk", sk);

	memset(&job, 0, sizeof(job));
	job.sk = sk;
	job.inputs = inputs.data;
	job.input_lens = inputs.lens;
	job.out = out;

	PG_TRY();
	{
		run_batch(&job, inputs.count, oprf_batch_oprf_range, &names, inputs.lbound);
	}
	PG_FINALLY();
	{
		sodium_memzero(sk, sizeof(sk));
	}
	PG_END_TRY();

	PG_RETURN_ARRAYTYPE_P(build_bytea_array(out, inputs.count, OPRF_OUTPUT_BYTES));
}
