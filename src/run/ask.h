/*
 * ask.h — how the asker of every two-party capability opens, admits and
 * closes a run: psi, psi_fetch, psi_count, psi_sum and pir (the join
 * protocols, protocol/join and protocol/pir), joint_score and mpc_selftest
 * (capability mpc), joint_woe and joint_train (capability train).
 *
 * Every run has a fresh id and one connection to the owner (peer/call.h),
 * shows in pgpriv.progress, and is watched from its start (a failure is
 * audited: catalog/pgpriv_catalog.h, AuditWatch).  The owner admits it
 * first (serve_admit: permit, budget, audit) for the keys the run may
 * spend, with the run's terms where the capability has them.  A run that
 * completes exchanges signed receipts with the owner (catalog/receipt.h)
 * and writes the asker's audit row as the extension owner; the row's counts
 * are those the receipts state.  Each protocol's own messages stay in its
 * file.  secure_sum, which asks several owners at once, has its own.
 */
#ifndef PGPRIV_RUN_ASK_H
#define PGPRIV_RUN_ASK_H

#include "catalog/pgpriv_catalog.h"
#include "peer/call.h"

/*
 * A fresh run id (returned), the connection to server opened, the run
 * shown in pgpriv.progress as shown_as over progress_n steps and, unless
 * watch is NULL, watched for capability with keys_in as its keys.
 */
extern char *run_ask_open(PeerCall *call, AuditWatch *watch, const char *server,
						  const char *shown_as, const char *capability, const char *dataset,
						  int64 progress_n, int64 keys_in);

/*
 * CALL pgpriv.serve_admit(dataset, capability, run, keys[, terms]) at the
 * owner; terms (a wire message) only for the capabilities that have them.
 */
extern void run_ask_admit(PeerCall *call, const char *dataset, const char *capability,
						  const char *run, int64 keys, bytea *terms);

/*
 * The run is complete: receipts exchanged for keys_in and keys_out and the
 * bytes each way, the asker's audit row "ok" with note, the progress and
 * (unless NULL) the watch ended.
 */
extern void run_ask_close(PeerCall *call, AuditWatch *watch, const char *run,
						  const char *capability, const char *dataset, int64 keys_in,
						  int64 keys_out, const char *note);

#endif
