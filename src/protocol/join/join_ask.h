/*
 * join_ask.h — what the askers of the join protocols (psi and psi_fetch over
 * the OPRF table, psi_oprf.c, and pir) share beyond the run's opening,
 * admission and closing (run/ask.h): the owner's evaluation of the blinded
 * keys, pipelined with the asker's finalizing, and the owner's numeric
 * fields read.
 */
#ifndef PGPRIV_PROTOCOL_JOIN_ASK_H
#define PGPRIV_PROTOCOL_JOIN_ASK_H

#include "catalog/pgpriv_catalog.h"
#include "peer/call.h"
#include "run/keys.h"

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
