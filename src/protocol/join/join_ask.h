/*
 * join_ask.h — how the asker opens, admits and closes a run of the join
 * protocols: psi and psi_fetch (over the OPRF table, psi_oprf.c, or over
 * OT extension, psi_ot.c), psi_count, psi_sum and pir.
 *
 * Every run has a fresh id and one connection to the owner (peer/call.h),
 * shows in pgpriv.progress, and is watched from its start (a failure is
 * audited: catalog/pgpriv_catalog.h, AuditWatch).  The owner admits it first
 * (serve_admit: permit, budget, audit) for the keys the run may spend.  A
 * run that completes exchanges signed receipts with the owner
 * (catalog/receipt.h) and writes the asker's audit row, as the extension
 * owner; the row's counts are those the receipts state.
 */
#ifndef PGPRIV_PROTOCOL_JOIN_ASK_H
#define PGPRIV_PROTOCOL_JOIN_ASK_H

#include "catalog/pgpriv_catalog.h"
#include "peer/call.h"
#include "run/keys.h"

/*
 * A fresh run id (returned), the connection to server opened, the run
 * shown in pgpriv.progress over progress_n steps and, unless watch is
 * NULL, watched with keys_in as its keys.
 */
extern char *join_ask_open(PeerCall *call, AuditWatch *watch, const char *server,
						   const char *capability, const char *dataset, int64 progress_n,
						   int64 keys_in);

/* CALL pgpriv.serve_admit(dataset, capability, run, keys) at the owner. */
extern void join_ask_admit(PeerCall *call, const char *dataset, const char *capability, const char *run,
						   int64 keys);

/*
 * The run is complete: receipts exchanged for keys_in and keys_out and the
 * bytes each way, the asker's audit row "ok" with detail, the progress and
 * (unless NULL) the watch ended.
 */
extern void join_ask_close(PeerCall *call, AuditWatch *watch, const char *run, const char *capability,
						   const char *dataset, int64 keys_in, int64 keys_out, const char *detail);

/*
 * The owner evaluates the asker's blinded keys (RFC 9497 BlindEvaluate,
 * what max_keys counts), batch keys a call of serve_oprf(dataset,
 * capability, run, blinded); while it works on batch i+1 the asker
 * finalizes batch i into outputs (OPRF_OUTPUT_BYTES a key) with the blinds
 * that made blinded (32 bytes a key each).  phase: what pgpriv.progress
 * shows meanwhile (NULL: the phase is left as it is).
 */
extern void join_ask_evaluate(PeerCall *call, const char *dataset, const char *capability, const char *run,
							  const KeySet *keys, const uint8 *blinds, const uint8 *blinded, size_t batch,
							  uint8 *outputs, const char *phase);

/*
 * A number the owner sent as text (a field of its reply): 08P01 "Impossible
 * <what>" unless it is an integer within lo .. hi.
 */
extern int64 join_ask_parse_int(const char *s, int64 lo, int64 hi, const char *what, const char *peer);

#endif
