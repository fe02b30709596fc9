/*
 * test/asan/canary.c — two deliberate bugs for test/asan/run to call in a
 * backend before the suite: a heap overflow (AddressSanitizer) and a signed
 * integer overflow (UndefinedBehaviorSanitizer).  Each must leave a report in
 * the sanitizer log directory; if one does not, reports from pgpriv inside
 * the server could be lost too, and the sanitized suite fails.
 */
#include "postgres.h"
#include "fmgr.h"

#include <stdlib.h>

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(asan_canary_heap);
Datum
asan_canary_heap(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	volatile char *p = malloc(n);

	p[n] = 1;					/* one past the end */
	free((void *) p);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(asan_canary_ubsan);
Datum
asan_canary_ubsan(PG_FUNCTION_ARGS)
{
	int32		a = PG_GETARG_INT32(0);

	PG_RETURN_INT32(a + 1);		/* overflows for 2147483647 */
}
