/*
 * psi_ot.h — psi and psi_fetch over the OT-extension protocols, RR22
 * (crypto/rr22.h) and KKRT16 (crypto/kkrt.h); docs/psi.md, "protocol
 * choice": the second way the blinded join runs beside the OPRF table of
 * psi_oprf.c.  psi_oprf.c collects the asker's keys, asks psi_ot_chosen
 * whether an OT-extension protocol runs and, if so, hands the run to
 * psi_ot_ask, which runs the one pgpriv.psi_protocol names (ot: RR22).
 */
#ifndef PGPRIV_PROTOCOL_PSI_OT_H
#define PGPRIV_PROTOCOL_PSI_OT_H

#include "fmgr.h"

#include "run/batch.h"
#include "run/projection.h"

/*
 * pgpriv.psi_protocol: ot picks the best OT-extension protocol (RR22 today),
 * kkrt and rr22 force one; auto picks ot or the table (docs/psi.md).
 */
typedef enum PsiProtocol
{
	PSI_PROTOCOL_AUTO,
	PSI_PROTOCOL_TABLE,
	PSI_PROTOCOL_OT,
	PSI_PROTOCOL_KKRT,
	PSI_PROTOCOL_RR22
} PsiProtocol;

extern int	pgpriv_psi_protocol;

/*
 * pgpriv.serve_ot, the owner's choice: off serves psi and psi_fetch over
 * its OPRF table only (the bound on what a modified asker gets is then the
 * table protocol's, per key, rather than per cuckoo bin or OKVS column;
 * docs/security.md).
 * An asker in auto reads it from the owner and keeps to the table.
 */
extern bool pgpriv_serve_ot;

/*
 * Below this many keys auto keeps the table: the run is charged as many keys
 * as today, and the owner's table, once built, serves every later run.
 */
#define PSI_OT_MIN_KEYS		4096

/*
 * With a cached copy of the owner's table, auto keeps the table while the
 * asker's set is at most 1/PSI_OT_TABLE_RATIO of the table's entries: n
 * ristretto255 evaluations then cost less than the OT run's work and bytes
 * over both sets (docs/psi.md, "protocol choice").
 */
#define PSI_OT_TABLE_RATIO	64

/* Whether this run goes over ot (else the table): the rule of docs/psi.md. */
extern bool psi_ot_chosen(const char *server, const char *dataset, const char *capability, size_t nkeys);

/*
 * The asker's whole run over ot for keys (distinct, at least one): psi
 * (proj NULL) puts the matching keys into the materialised result of
 * fcinfo; psi_fetch emits each matching row through proj.
 */
extern void psi_ot_ask(FunctionCallInfo fcinfo, const char *server, const char *dataset,
					   const char *capability, const KeySet *keys, Projection *proj);

#endif
