/*
 * pg_shim.c — a minimal PostgreSQL backend for the fuzzing harnesses (see
 * pg_shim.h for what it provides and why).
 *
 * Only what pgpriv's decoders call is here, and each function keeps the
 * backend's contract that matters to its callers: palloc never returns NULL
 * (it raises ERROR), requests over MaxAllocSize are refused unless huge,
 * enlargeStringInfo refuses to grow past MaxAllocSize, and ERROR never
 * returns.  Everything else is deliberately simpler than the real thing.
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <sanitizer/asan_interface.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/memnodes.h"
#include "utils/memutils.h"

#include "pg_shim.h"

/* The server headers route the printf family to src/port; the shim uses libc's. */
#undef vsnprintf
#undef snprintf
#undef vsprintf
#undef sprintf
#undef vfprintf
#undef fprintf
#undef vprintf
#undef printf

/* ----------------------------------------------------------------------
 * Globals the backend defines and the decoders (or the headers' inline
 * functions and macros) refer to
 * ----------------------------------------------------------------------
 */

static MemoryContextData shim_context = {.type = T_AllocSetContext, .name = "fuzz"};

MemoryContext CurrentMemoryContext = &shim_context;
MemoryContext TopMemoryContext = &shim_context;
MemoryContext ErrorContext = &shim_context;
MemoryContext CacheMemoryContext = &shim_context;
MemoryContext MessageContext = &shim_context;
MemoryContext TopTransactionContext = &shim_context;
MemoryContext CurTransactionContext = &shim_context;
MemoryContext PortalContext = &shim_context;

volatile sig_atomic_t InterruptPending = false;
volatile sig_atomic_t QueryCancelPending = false;
volatile sig_atomic_t ProcDiePending = false;
volatile uint32 InterruptHoldoffCount = 0;
volatile uint32 QueryCancelHoldoffCount = 0;
volatile uint32 CritSectionCount = 0;

sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

/* Interrupts are never pending in a fuzzing run. */
void
ProcessInterrupts(void)
{
}

/* Nor are there peers to watch (peer/connection.c, called between slabs). */
extern void peer_check_alive(void);
void
peer_check_alive(void)
{
}

void
ExceptionalCondition(PGPRIV_EXCEPTIONAL_CONDITION_ARGS)
{
	fprintf(stderr, "TRAP: %s(\"%s\", File: \"%s\", Line: %d)\n",
			PGPRIV_EXCEPTIONAL_CONDITION_TYPE, conditionName, fileName, lineNumber);
	abort();
}

/* ----------------------------------------------------------------------
 * Memory: one arena of individually malloc'd chunks
 * ----------------------------------------------------------------------
 */

typedef struct ShimChunk
{
	struct ShimChunk *prev;
	struct ShimChunk *next;
	size_t		size;
	size_t		magic;
} ShimChunk;

#define SHIM_MAGIC	((size_t) 0x70677072697666ULL)

StaticAssertDecl(sizeof(ShimChunk) % MAXIMUM_ALIGNOF == 0, "chunk header keeps MAXALIGN");

static ShimChunk *arena = NULL;

/*
 * The header is poisoned while the chunk is in use, so that a write just
 * before a chunk is reported by AddressSanitizer instead of silently
 * corrupting the arena.
 */
static void
chunk_unpoison(ShimChunk *c)
{
	ASAN_UNPOISON_MEMORY_REGION(c, sizeof(ShimChunk));
}

static void
chunk_poison(ShimChunk *c)
{
	ASAN_POISON_MEMORY_REGION(c, sizeof(ShimChunk));
}

static void
arena_link(ShimChunk *c)
{
	c->prev = NULL;
	c->next = arena;
	if (arena)
	{
		chunk_unpoison(arena);
		arena->prev = c;
		chunk_poison(arena);
	}
	arena = c;
}

static void
arena_unlink(ShimChunk *c)
{
	if (c->prev)
	{
		chunk_unpoison(c->prev);
		c->prev->next = c->next;
		chunk_poison(c->prev);
	}
	else
		arena = c->next;
	if (c->next)
	{
		chunk_unpoison(c->next);
		c->next->prev = c->prev;
		chunk_poison(c->next);
	}
}

static ShimChunk *
chunk_of(void *p)
{
	ShimChunk  *c = (ShimChunk *) ((char *) p - sizeof(ShimChunk));

	chunk_unpoison(c);
	if (c->magic != SHIM_MAGIC)
	{
		fprintf(stderr, "pg_shim: pfree or repalloc of a pointer palloc did not return\n");
		abort();
	}
	return c;
}

static void *
shim_alloc(Size size, int flags)
{
	ShimChunk  *c;

	if ((flags & MCXT_ALLOC_HUGE) ? !AllocHugeSizeIsValid(size) : !AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = malloc(sizeof(ShimChunk) + Max(size, 1));
	if (c == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", size)));
	}
	c->size = size;
	c->magic = SHIM_MAGIC;
	arena_link(c);
	chunk_poison(c);
	if (flags & MCXT_ALLOC_ZERO)
		memset(c + 1, 0, size);
	return c + 1;
}

void
pfree(void *pointer)
{
	ShimChunk  *c = chunk_of(pointer);

	arena_unlink(c);
	c->magic = 0;
	free(c);
}

static void *
shim_realloc(void *pointer, Size size, int flags)
{
	ShimChunk  *c = chunk_of(pointer);
	void	   *p;
	Size		old = c->size;

	chunk_poison(c);
	p = shim_alloc(size, flags);
	if (p == NULL)
		return NULL;
	memcpy(p, pointer, Min(old, size));
	pfree(pointer);
	return p;
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return shim_alloc(size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return shim_alloc(size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return shim_alloc(size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return shim_alloc(size, flags);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return shim_alloc(size, MCXT_ALLOC_HUGE);
}

void *
palloc(Size size)
{
	return shim_alloc(size, 0);
}

void *
palloc0(Size size)
{
	return shim_alloc(size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return shim_alloc(size, flags);
}

void *
repalloc(void *pointer, Size size)
{
	return shim_realloc(pointer, size, 0);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return shim_realloc(pointer, size, MCXT_ALLOC_HUGE);
}

Size
add_size(Size s1, Size s2)
{
	Size		result = s1 + s2;

	if (result < s1 || result < s2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("requested shared memory size overflows size_t")));
	return result;
}

Size
mul_size(Size s1, Size s2)
{
	Size		result;

	if (s1 == 0 || s2 == 0)
		return 0;
	result = s1 * s2;
	if (result / s2 != s1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("requested shared memory size overflows size_t")));
	return result;
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	size_t		len = strlen(string) + 1;
	char	   *p = shim_alloc(len, 0);

	memcpy(p, string, len);
	return p;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *p;

	len = strnlen(in, len);
	p = shim_alloc(len + 1, 0);
	memcpy(p, in, len);
	p[len] = '\0';
	return p;
}

size_t
pvsnprintf(char *buf, size_t len, const char *fmt, va_list args)
{
	int			n = vsnprintf(buf, len, fmt, args);

	if (n < 0)
		elog(ERROR, "vsnprintf failed with format \"%s\"", fmt);
	if ((size_t) n >= len)
		return (size_t) n + 1;
	return (size_t) n;
}

char *
psprintf(const char *fmt,...)
{
	va_list		ap;
	int			n;
	char	   *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		elog(ERROR, "vsnprintf failed with format \"%s\"", fmt);
	p = shim_alloc((size_t) n + 1, 0);
	va_start(ap, fmt);
	vsnprintf(p, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/*
 * Contexts are tokens: the arena is reset per input anyway, and the
 * decoders never depend on a context being freed before that.
 */
MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name, Size minContextSize,
							  Size initBlockSize, Size maxBlockSize)
{
	MemoryContext c = shim_alloc(sizeof(MemoryContextData), MCXT_ALLOC_ZERO);

	c->type = T_AllocSetContext;
	c->name = name;
	c->parent = parent;
	return c;
}

void
MemoryContextDelete(MemoryContext context)
{
}

void
MemoryContextReset(MemoryContext context)
{
}

void
MemoryContextResetOnly(MemoryContext context)
{
}

/* ----------------------------------------------------------------------
 * The printf family of src/port, which the server headers name
 * ----------------------------------------------------------------------
 */

int
pg_vsnprintf(char *str, size_t count, const char *fmt, va_list args)
{
	return vsnprintf(str, count, fmt, args);
}

int
pg_snprintf(char *str, size_t count, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(str, count, fmt, ap);
	va_end(ap);
	return n;
}

int
pg_vsprintf(char *str, const char *fmt, va_list args)
{
	return vsprintf(str, fmt, args);
}

int
pg_sprintf(char *str, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsprintf(str, fmt, ap);
	va_end(ap);
	return n;
}

int
pg_vfprintf(FILE *stream, const char *fmt, va_list args)
{
	return vfprintf(stream, fmt, args);
}

int
pg_fprintf(FILE *stream, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vfprintf(stream, fmt, ap);
	va_end(ap);
	return n;
}

int
pg_printf(const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

/* src/port's qsort, which the server headers substitute for libc's. */
#undef qsort
void
pg_qsort(void *base, size_t nel, size_t elsize, int (*cmp) (const void *, const void *))
{
	qsort(base, nel, elsize, cmp);
}

/* ----------------------------------------------------------------------
 * Errors
 * ----------------------------------------------------------------------
 */

#define SHIM_TEXT	1024

static struct
{
	int			elevel;
	int			sqlerrcode;
	const char *filename;
	int			lineno;
	const char *funcname;
	char		message[SHIM_TEXT];
	char		detail[SHIM_TEXT];
	char		hint[SHIM_TEXT];
	bool		active;
} cur;

static int	last_sqlstate;
static char last_message[SHIM_TEXT];

bool
errstart(int elevel, const char *domain)
{
	/*
	 * Every level is formatted (a bad argument to a WARNING is as much a bug),
	 * but only ERROR and above change control flow.
	 */
	memset(&cur, 0, sizeof(cur));
	cur.active = true;
	cur.elevel = elevel;
	cur.sqlerrcode = elevel >= ERROR ? ERRCODE_INTERNAL_ERROR :
		elevel >= WARNING ? ERRCODE_WARNING : ERRCODE_SUCCESSFUL_COMPLETION;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	cur.filename = filename;
	cur.lineno = lineno;
	cur.funcname = funcname;
	cur.active = false;
	if (cur.elevel < ERROR)
		return;
	last_sqlstate = cur.sqlerrcode;
	memcpy(last_message, cur.message, sizeof(last_message));
	if (cur.elevel >= FATAL || PG_exception_stack == NULL)
	{
		fprintf(stderr, "pg_shim: %s at %s:%d (%s): %s\n",
				cur.elevel >= FATAL ? "FATAL" : "uncaught ERROR",
				filename, lineno, funcname, cur.message);
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
	{
		fprintf(stderr, "pg_shim: uncaught re-thrown ERROR: %s\n", cur.message);
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

int
errcode(int sqlerrcode)
{
	cur.sqlerrcode = sqlerrcode;
	return 0;
}

int
errcode_for_file_access(void)
{
	cur.sqlerrcode = ERRCODE_IO_ERROR;
	return 0;
}

#define SHIM_FORMAT(field, fmt) \
	do { \
		va_list		ap; \
		va_start(ap, fmt); \
		vsnprintf(cur.field, sizeof(cur.field), fmt, ap); \
		va_end(ap); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	SHIM_FORMAT(message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	SHIM_FORMAT(message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	SHIM_FORMAT(detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	SHIM_FORMAT(detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	SHIM_FORMAT(hint, fmt);
	return 0;
}

ErrorData *
CopyErrorData(void)
{
	ErrorData  *e = palloc0(sizeof(ErrorData));

	e->elevel = ERROR;
	e->sqlerrcode = last_sqlstate;
	e->message = pstrdup(last_message);
	e->detail = pstrdup(cur.detail);
	e->hint = pstrdup(cur.hint);
	return e;
}

void
FreeErrorData(ErrorData *edata)
{
	pfree(edata->message);
	pfree(edata->detail);
	pfree(edata->hint);
	pfree(edata);
}

void
FlushErrorState(void)
{
	memset(&cur, 0, sizeof(cur));
}

int
shim_last_sqlstate(void)
{
	return last_sqlstate;
}

const char *
shim_last_message(void)
{
	return last_message;
}

/* Caught errors by SQLSTATE, printed at exit with PGPRIV_FUZZ_STATS=1. */
#define SHIM_MAX_STATES 64

static struct
{
	int			sqlstate;
	long		count;
	char		example[160];
} caught[SHIM_MAX_STATES];
static int	ncaught;
static bool strict;
static bool stats;

static void
sqlstate_text(int code, char out[6])
{
	for (int i = 0; i < 5; i++)
	{
		out[i] = PGUNSIXBIT(code);
		code >>= 6;
	}
	out[5] = '\0';
}

static void
print_stats(void)
{
	char		s[6];

	for (int i = 0; i < ncaught; i++)
	{
		sqlstate_text(caught[i].sqlstate, s);
		fprintf(stderr, "pg_shim: %ld × %s, e.g. \"%s\"\n", caught[i].count, s, caught[i].example);
	}
}

void
shim_error_caught(void)
{
	static bool configured;
	int			i;

	if (!configured)
	{
		const char *v = getenv("PGPRIV_FUZZ_STRICT");

		strict = v != NULL && strcmp(v, "1") == 0;
		v = getenv("PGPRIV_FUZZ_STATS");
		stats = v != NULL && strcmp(v, "1") == 0;
		if (stats)
			atexit(print_stats);
		configured = true;
	}
	if (strict && last_sqlstate == ERRCODE_INTERNAL_ERROR)
	{
		fprintf(stderr, "pg_shim: internal error from peer input (PGPRIV_FUZZ_STRICT): %s\n",
				last_message);
		abort();
	}
	FlushErrorState();
	if (!stats)
		return;
	for (i = 0; i < ncaught; i++)
		if (caught[i].sqlstate == last_sqlstate)
			break;
	if (i == ncaught)
	{
		if (ncaught == SHIM_MAX_STATES)
			return;
		caught[i].sqlstate = last_sqlstate;
		snprintf(caught[i].example, sizeof(caught[i].example), "%s", last_message);
		ncaught++;
	}
	caught[i].count++;
}

/* ----------------------------------------------------------------------
 * StringInfo (as in src/common/stringinfo.c, over the arena)
 * ----------------------------------------------------------------------
 */

StringInfo
makeStringInfo(void)
{
	StringInfo	s = palloc(sizeof(StringInfoData));

	initStringInfo(s);
	return s;
}

void
initStringInfo(StringInfo str)
{
	int			size = 1024;

	str->data = palloc(size);
	str->maxlen = size;
	resetStringInfo(str);
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen;

	if (needed < 0)
		elog(ERROR, "invalid string enlargement request size: %d", needed);
	if (((Size) needed) >= (MaxAllocSize - (Size) str->len))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("out of memory"),
				 errdetail("Cannot enlarge string buffer containing %d bytes by %d more bytes.",
						   str->len, needed)));
	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	newlen = 2 * str->maxlen;
	while (needed > newlen)
		newlen = 2 * newlen;
	if (newlen > (int) MaxAllocSize)
		newlen = (int) MaxAllocSize;
	str->data = repalloc(str->data, newlen);
	str->maxlen = newlen;
}

int
appendStringInfoVA(StringInfo str, const char *fmt, va_list args)
{
	int			avail = str->maxlen - str->len;
	int			n = vsnprintf(str->data + str->len, (size_t) avail, fmt, args);

	if (n < 0)
		elog(ERROR, "vsnprintf failed with format \"%s\"", fmt);
	if (n < avail)
	{
		str->len += n;
		return 0;
	}
	str->data[str->len] = '\0';
	return n + 1;
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	for (;;)
	{
		va_list		ap;
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(str, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(str, needed);
	}
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	if (str->len + 1 >= str->maxlen)
		enlargeStringInfo(str, 1);
	str->data[str->len] = ch;
	str->len++;
	str->data[str->len] = '\0';
}

void
appendStringInfoSpaces(StringInfo str, int count)
{
	if (count > 0)
	{
		enlargeStringInfo(str, count);
		memset(&str->data[str->len], ' ', count);
		str->len += count;
		str->data[str->len] = '\0';
	}
}

void
appendBinaryStringInfo(StringInfo str, pgpriv_binary_data data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendBinaryStringInfoNT(StringInfo str, pgpriv_binary_data data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
}

/* ----------------------------------------------------------------------
 * Encodings: UTF-8 only
 * ----------------------------------------------------------------------
 */

bool
shim_utf8_valid(const char *s, int len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		unsigned char c = *p;
		int			n;
		uint32		cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (end - p <= n)
			return false;
		for (int i = 1; i <= n; i++)
		{
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
			(cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

bool
pg_verify_mbstr(int encoding, const char *mbstr, int len, bool noError)
{
	if (encoding != PG_UTF8)
		elog(ERROR, "pg_shim: only UTF-8 is supported, not encoding %d", encoding);
	if (shim_utf8_valid(mbstr, len))
		return true;
	if (noError)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("invalid byte sequence for encoding \"UTF8\"")));
}

/* ----------------------------------------------------------------------
 * The harness's helpers
 * ----------------------------------------------------------------------
 */

void
shim_reset(void)
{
	while (arena != NULL)
	{
		ShimChunk  *c = arena;

		chunk_unpoison(c);
		arena = c->next;
		c->magic = 0;
		free(c);
	}
	FlushErrorState();
	PG_exception_stack = NULL;
	error_context_stack = NULL;
	CurrentMemoryContext = &shim_context;
}

bytea *
shim_bytea(const uint8 *data, size_t len, bool short_header)
{
	bytea	   *b;

	if (short_header && len + 1 <= VARATT_SHORT_MAX)
	{
		b = palloc(len + 1);
		SET_VARSIZE_SHORT(b, len + 1);
		memcpy((char *) b + 1, data, len);
		return b;
	}
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}
