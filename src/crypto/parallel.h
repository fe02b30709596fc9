/*
 * parallel.h — run pure crypto over a batch on a few threads.
 *
 * The worker threads only ever run the callback given here, which must be
 * pure crypto: no palloc, no ereport, no PostgreSQL API of any kind.  Signals
 * are blocked in the workers so PostgreSQL's handlers only run in the backend
 * thread.  Results are identical to a one-thread run: each index is computed
 * independently and written to its own slot.
 */
#ifndef PGPRIV_CRYPTO_PARALLEL_H
#define PGPRIV_CRYPTO_PARALLEL_H

#include <stddef.h>

/* Computes items [begin, end); returns 0 or the first failing status. */
typedef int (*crypto_range_fn) (void *arg, size_t begin, size_t end, size_t *failed_index);

/*
 * Run fn over [0, n) on up to nthreads threads (the caller's thread is one of
 * them).  Returns 0, or the status of the lowest failing index (stored in
 * *failed_index).  Never allocates through PostgreSQL.
 */
extern int	crypto_parallel_for(size_t n, int nthreads, crypto_range_fn fn, void *arg,
								size_t *failed_index);

/* Online CPU count, at least 1. */
extern int	crypto_cpu_count(void);

#endif
