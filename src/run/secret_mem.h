/*
 * secret_mem.h — memory for secrets that is wiped whenever it goes back.
 *
 * A secret a run keeps in palloc'd memory (a share, a label, a plaintext
 * sum, model weights) goes back to the allocator unwiped when an error,
 * a cancel or the end of the run resets or deletes its memory context,
 * unless every path out wipes it by hand.  secret_alloc() instead ties the
 * wipe to the context: the chunk is zeroed when the context it lives in is
 * reset or deleted, whichever way that happens (PostgreSQL runs a context's
 * reset callbacks before it frees the memory).  pgsodium keeps its secrets
 * the same way, in memory that is wiped when released.
 *
 * secret_wipe() zeroes a chunk early; the memory itself goes back with its
 * context, never through pfree (the chunk does not start where palloc's
 * did, and its context still holds the callback).  Chunks are for the
 * contexts of a run or a call: each costs a callback registration that
 * lives as long as its context, so a loop reuses one chunk.
 */
#ifndef PGPRIV_RUN_SECRET_MEM_H
#define PGPRIV_RUN_SECRET_MEM_H

#include "postgres.h"

/* len zeroed bytes in cxt (huge sizes allowed), zeroed again when cxt is reset or deleted. */
extern void *secret_alloc(MemoryContext cxt, Size len);

/* The same in CurrentMemoryContext. */
extern void *secret_palloc(Size len);

/* Zero a chunk of secret_alloc's now (NULL: nothing). */
extern void secret_wipe(void *p);

#endif
