/*
 * progress.h — progress of a long protocol run, visible from other sessions
 * through the view pgpriv.progress.
 *
 * Each backend that runs a protocol keeps one small status file under the
 * data directory (pgpriv_progress/<pid>), rewritten atomically at most a few
 * times a second and removed when the run ends or its transaction aborts.
 * This needs no shared memory, so pgpriv works without
 * shared_preload_libraries.  Nothing secret is ever written there: only the
 * capability, peer, dataset, phase and counters.
 */
#ifndef PGPRIV_PROTOCOL_PROGRESS_H
#define PGPRIV_PROTOCOL_PROGRESS_H

extern void progress_begin(const char *capability, const char *peer, const char *dataset, int64 keys);
extern void progress_phase(const char *phase, int64 total);
extern void progress_advance(int64 done, int64 bytes_in, int64 bytes_out);
extern void progress_end(void);

#endif
