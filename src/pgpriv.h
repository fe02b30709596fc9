/*
 * pgpriv.h — module-wide settings shared by the SQL-facing C files.
 */
#ifndef PGPRIV_H
#define PGPRIV_H

/*
 * The version of this library: pgpriv.control's default_version, which the
 * catalog must be at (ALTER EXTENSION pgpriv UPDATE) before anything runs.
 */
#define PGPRIV_VERSION "0.2.0"

/*
 * The protocol between peers: what they send each other, in which calls.
 * Peers interoperate only when they speak the same one (docs/upgrading.md);
 * it changes with every release that changes a message or a serving
 * function.  Release 0.1.0 spoke protocol 1 and had no way to say so.
 */
#define PGPRIV_PROTOCOL 2

/* GUC pgpriv.crypto_threads: threads for batch crypto; 0 = all online cores. */
extern int	pgpriv_crypto_threads;

/* GUC pgpriv.batch_size: elements per protocol message (sent, and accepted). */
extern int	pgpriv_batch_size;

/* GUC pgpriv.max_table_mb: the largest encrypted table an asker accepts. */
extern int	pgpriv_max_table_mb;

/* GUC pgpriv.max_run_keys: most keys one run may carry (memory bound). */
extern int	pgpriv_max_run_keys;

/* GUC pgpriv.pir_refresh_seconds: how long a PIR epoch of a 'reread' dataset is served unchecked. */
extern int	pgpriv_pir_refresh_seconds;

/* Threads to use for one batch, resolving 0 to the core count. */
extern int	pgpriv_threads_for_batch(void);

#endif
