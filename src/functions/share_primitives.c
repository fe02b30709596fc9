/*
 * share_primitives.c — the SQL face of additive secret sharing over Z_2^64
 * (src/crypto/shares.c; docs/secure_sum.md, "Shares by hand").
 *
 * A value v at scale s is the integer v·10^s; share_split returns n bigints
 * (two's complement residues mod 2^64) that add up to it, any n-1 of them
 * uniformly random; share_open adds shares mod 2^64 and reads the sum back
 * at the scale.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "crypto/shares.h"

#define SHARE_MAX_PARTIES 1024

PG_FUNCTION_INFO_V1(pgpriv_share_split);
PG_FUNCTION_INFO_V1(pgpriv_share_open);

static void
check_scale(int32 scale)
{
	if (scale < 0 || scale > SHARE_MAX_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale must be between 0 and %d, got %d", SHARE_MAX_SCALE, scale)));
}

/* pgpriv.share_split(value numeric, parties int, scale int) → bigint[] */
Datum
pgpriv_share_split(PG_FUNCTION_ARGS)
{
	Numeric		value = PG_GETARG_NUMERIC(0);
	int32		parties = PG_GETARG_INT32(1);
	int32		scale = PG_GETARG_INT32(2);
	char	   *text;
	int64		fixed;
	share_status st;
	uint64	   *shares;
	Datum	   *elems;
	int			i;

	check_scale(scale);
	if (parties < 1 || parties > SHARE_MAX_PARTIES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parties must be between 1 and %d, got %d", SHARE_MAX_PARTIES, parties)));
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value)));
	st = share_fixed_parse(text, strlen(text), scale, &fixed);
	if (st == SHARE_NOT_FINITE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot share a value that is not finite")));
	if (st == SHARE_INEXACT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value has more than %d decimal places", scale),
				 errhint("Round it, or share it at a larger scale.")));
	if (st != SHARE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value is out of range for shares at scale %d", scale),
				 errdetail("value·10^%d must fit in a bigint.", scale)));

	shares = palloc(sizeof(uint64) * parties);
	share_split(fixed, parties, shares);
	elems = palloc(sizeof(Datum) * parties);
	for (i = 0; i < parties; i++)
	{
		int64		s;

		memcpy(&s, &shares[i], sizeof(s));
		elems[i] = Int64GetDatum(s);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, parties, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/* pgpriv.share_open(shares bigint[], scale int) → numeric */
Datum
pgpriv_share_open(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32		scale = PG_GETARG_INT32(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	uint64	   *shares;
	char		buf[32];
	int			i;

	check_scale(scale);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("shares must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	shares = palloc(sizeof(uint64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		int64		s;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("share %d is NULL", i + 1)));
		s = DatumGetInt64(elems[i]);
		memcpy(&shares[i], &s, sizeof(s));
	}
	share_fixed_format(share_open(shares, (size_t) n), scale, buf);
	PG_RETURN_DATUM(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}
