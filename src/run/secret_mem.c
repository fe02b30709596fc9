/*
 * secret_mem.c — memory for secrets that is wiped whenever it goes back
 * (see secret_mem.h).
 *
 * One palloc holds a header — the context callback and the chunk's
 * length — and, MAXALIGNed after it, the caller's bytes.  The callback,
 * registered on the chunk's context, zeroes the bytes when the context is
 * reset or deleted.  A magic number in the header lets secret_wipe() refuse
 * a pointer that secret_alloc() did not return.
 */
#include "postgres.h"

#include <sodium.h>

#include "fmgr.h"
#include "run/secret_mem.h"
#include "utils/memutils.h"

#define SECRET_MAGIC	UINT64CONST(0x7067707269767365)	/* "pgprivse" */

typedef struct SecretHeader
{
	MemoryContextCallback cb;
	Size		len;
	uint64		magic;
} SecretHeader;

#define SECRET_HEADER_SIZE	MAXALIGN(sizeof(SecretHeader))

static void
secret_reset_callback(void *arg)
{
	SecretHeader *h = (SecretHeader *) arg;

	sodium_memzero((char *) h + SECRET_HEADER_SIZE, h->len);
	h->magic = 0;
}

void *
secret_alloc(MemoryContext cxt, Size len)
{
	SecretHeader *h;

	if (len > MaxAllocHugeSize - SECRET_HEADER_SIZE)
		elog(ERROR, "secret allocation of %zu bytes is too large", len);
	h = MemoryContextAllocExtended(cxt, SECRET_HEADER_SIZE + len, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	h->len = len;
	h->magic = SECRET_MAGIC;
	h->cb.func = secret_reset_callback;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(cxt, &h->cb);
	return (char *) h + SECRET_HEADER_SIZE;
}

void *
secret_palloc(Size len)
{
	return secret_alloc(CurrentMemoryContext, len);
}

void
secret_wipe(void *p)
{
	SecretHeader *h;

	if (p == NULL)
		return;
	h = (SecretHeader *) ((char *) p - SECRET_HEADER_SIZE);
	if (h->magic != SECRET_MAGIC)
		elog(ERROR, "secret_wipe: not a chunk of secret_alloc");
	sodium_memzero(p, h->len);
}

/*
 * pgpriv._secret_mem_selftest() → boolean: true when chunks of secret_alloc
 * are zero by the time their context's other reset callbacks run, after
 * secret_wipe, a reset and a delete.  A probe callback registered before the
 * chunks runs after theirs (callbacks run newest first) while the memory is
 * still allocated, and looks.
 */
typedef struct SecretProbe
{
	MemoryContextCallback cb;
	unsigned char *chunk[3];
	Size		len[3];
	bool		zero;
} SecretProbe;

static void
secret_probe_callback(void *arg)
{
	SecretProbe *probe = (SecretProbe *) arg;
	int			i;

	probe->zero = true;
	for (i = 0; i < 3; i++)
		if (!sodium_is_zero(probe->chunk[i], probe->len[i]))
			probe->zero = false;
}

static void
secret_probe_fill(MemoryContext cxt, SecretProbe *probe)
{
	static const Size sizes[3] = {32, 4096, 70000};
	int			i;

	probe->cb.func = secret_probe_callback;
	probe->cb.arg = probe;
	probe->zero = false;
	MemoryContextRegisterResetCallback(cxt, &probe->cb);
	for (i = 0; i < 3; i++)
	{
		probe->len[i] = sizes[i];
		probe->chunk[i] = secret_alloc(cxt, sizes[i]);
		memset(probe->chunk[i], 0xA5, sizes[i]);
	}
}

PG_FUNCTION_INFO_V1(pgpriv_secret_mem_selftest);

Datum
pgpriv_secret_mem_selftest(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pgpriv secret self-test",
											  ALLOCSET_SMALL_SIZES);
	SecretProbe after_reset;
	SecretProbe after_delete;
	bool		wiped_early;

	secret_probe_fill(cxt, &after_reset);
	secret_wipe(after_reset.chunk[1]);
	wiped_early = sodium_is_zero(after_reset.chunk[1], after_reset.len[1]) &&
		!sodium_is_zero(after_reset.chunk[0], after_reset.len[0]);
	memset(after_reset.chunk[1], 0x5A, after_reset.len[1]);
	MemoryContextReset(cxt);

	secret_probe_fill(cxt, &after_delete);
	MemoryContextDelete(cxt);

	PG_RETURN_BOOL(wiped_early && after_reset.zero && after_delete.zero);
}
