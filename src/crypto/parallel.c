/*
 * parallel.c — run pure crypto over a batch on a few threads.
 *
 * A PostgreSQL backend is single-threaded by design: its signal handlers,
 * memory contexts and error machinery all assume one thread.  So the worker
 * threads here only ever run the pure-crypto callback, they are created with
 * every signal blocked (a signal aimed at the process is then always taken by
 * the backend thread, whose handlers expect to run there), and they are all
 * joined before crypto_parallel_for returns.  Nothing allocates through
 * PostgreSQL; the per-thread bookkeeping lives on the caller's stack.
 */
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* sched_getaffinity, CPU_COUNT */
#endif
#include <sched.h>
#endif

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "crypto/parallel.h"

/*
 * More threads than this buy nothing for 32-byte scalar multiplications and
 * would only make the on-stack bookkeeping large.
 */
#define PARALLEL_MAX_THREADS 64

typedef struct parallel_slice
{
	crypto_range_fn fn;
	void	   *arg;
	size_t		begin;
	size_t		end;
	size_t		failed_index;
	int			status;
	int			started;		/* a pthread runs this slice */
	pthread_t	thread;
} parallel_slice;

static void
run_slice(parallel_slice *slice)
{
	slice->failed_index = slice->begin;
	slice->status = slice->fn(slice->arg, slice->begin, slice->end,
							  &slice->failed_index);
}

static void *
slice_thread_main(void *p)
{
	run_slice((parallel_slice *) p);
	return NULL;
}

int
crypto_cpu_count(void)
{
	long		n;

#ifdef __linux__
	{
		cpu_set_t	set;

		/* Respect a CPU affinity mask (taskset, cgroup cpusets). */
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
		{
			int			c = CPU_COUNT(&set);

			if (c > PARALLEL_MAX_THREADS)
				return PARALLEL_MAX_THREADS;
			if (c > 0)
				return c;
		}
	}
#endif
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	if (n > PARALLEL_MAX_THREADS)
		return PARALLEL_MAX_THREADS;
	return (int) n;
}

int
crypto_parallel_for(size_t n, int nthreads, crypto_range_fn fn, void *arg,
					size_t *failed_index)
{
	parallel_slice slices[PARALLEL_MAX_THREADS];
	sigset_t	all_signals;
	sigset_t	saved_mask;
	int			nslices;
	int			mask_set;
	int			i;

	if (n == 0)
		return 0;

	if (nthreads <= 0)
		nthreads = crypto_cpu_count();
	if (nthreads > PARALLEL_MAX_THREADS)
		nthreads = PARALLEL_MAX_THREADS;
	if ((size_t) nthreads > n)
		nthreads = (int) n;
	nslices = nthreads;

	/*
	 * Contiguous slices of nearly equal size: slice k covers [n*k/T,
	 * n*(k+1)/T).  Contiguity makes "lowest failing index" simply the first
	 * failing slice's own first failure.
	 */
	for (i = 0; i < nslices; i++)
	{
		slices[i].fn = fn;
		slices[i].arg = arg;
		slices[i].begin = (size_t) ((unsigned long long) n * i / nslices);
		slices[i].end = (size_t) ((unsigned long long) n * (i + 1) / nslices);
		slices[i].failed_index = slices[i].begin;
		slices[i].status = 0;
		slices[i].started = 0;
	}

	if (nslices > 1)
	{
		/*
		 * New threads inherit the creating thread's signal mask, so block
		 * everything just for the duration of the pthread_create calls.
		 */
		sigfillset(&all_signals);
		mask_set = (pthread_sigmask(SIG_SETMASK, &all_signals, &saved_mask) == 0);

		for (i = 1; i < nslices; i++)
		{
			/*
			 * If the signal mask could not be set, starting a thread would
			 * expose it to PostgreSQL's handlers: run everything here then.
			 */
			if (!mask_set)
				break;
			if (pthread_create(&slices[i].thread, NULL, slice_thread_main,
							   &slices[i]) == 0)
				slices[i].started = 1;
		}

		if (mask_set)
			pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	}

	/* The caller's thread takes slice 0, then any slice no thread took. */
	run_slice(&slices[0]);
	for (i = 1; i < nslices; i++)
		if (!slices[i].started)
			run_slice(&slices[i]);

	for (i = 1; i < nslices; i++)
		if (slices[i].started)
			pthread_join(slices[i].thread, NULL);

	for (i = 0; i < nslices; i++)
	{
		if (slices[i].status != 0)
		{
			if (failed_index != NULL)
				*failed_index = slices[i].failed_index;
			return slices[i].status;
		}
	}
	return 0;
}
