/*
 * join_serve.h — what every serving step of an admitted join run checks
 * before it does anything: psi and psi_fetch over the OPRF table
 * (psi_oprf.c) or over OT extension (psi_ot.c), and pir (pir_serve.c).
 *
 * A serving step is a SECURITY DEFINER function the asker calls for a run
 * that serve_admit admitted in its session (run/admission.h).  Each step,
 * in this order:
 *   1. runs the rest of the call as a security-restricted operation (42501
 *      unless it really runs as the extension owner);
 *   2. absorbs the asker's binary message, if the step takes one, in the
 *      run's transcript (the receipts' digest: every request, in order, as
 *      the asker absorbs it on its side);
 *   3. checks that the capability is one the protocol serves;
 *   4. finds the run admitted in this session for this dataset and
 *      capability (08P01 otherwise);
 *   5. checks the permit again: it may have been revoked since the run was
 *      admitted (42501).
 * Security model: the asker's arguments are only copied before 1, and no
 * dataset row is read before 5.  The same steps also share what the
 * owner's caches built from a dataset have in common (the OPRF table of
 * psi_oprf.c, the PIR database of pir_serve.c): their change stamp and
 * version.
 */
#ifndef PGPRIV_PROTOCOL_JOIN_SERVE_H
#define PGPRIV_PROTOCOL_JOIN_SERVE_H

#include "fmgr.h"

#include "catalog/pgpriv_catalog.h"
#include "run/admission.h"
#include "run/keys.h"

/* One serving step: its arguments, its run's admission and the permit. */
typedef struct JoinServe
{
	char	   *dataset;
	char	   *capability;
	char	   *run;
	Admission  *admission;
	Dataset		ds;
	Permit		permit;
} JoinServe;

/* Raises an error unless the protocol serves capability (step 3). */
typedef void (*join_capability_check) (const char *capability);

/*
 * 22023 unless capability is psi or psi_fetch, the two that both ways of
 * the blinded join run; by names the way ("the OPRF table").
 */
extern void join_check_psi_capability(const char *capability, const char *by);

/*
 * The step's arguments from fcinfo — (dataset text, capability text, run
 * text, …), or (dataset text, run text, …) when capability is given — then
 * steps 1 to 5 above.  msg: the asker's message (NULL: the step takes
 * none); check: NULL where the capability is fixed.
 */
extern void join_serve_begin(JoinServe *js, FunctionCallInfo fcinfo, const char *capability,
							 const bytea *msg, join_capability_check check);

/*
 * A reply that does not complete the run: its bytes, and bytes_in of the
 * asker's message, counted in the run's admission, and the reply absorbed
 * in the transcript.  Returns reply.
 */
extern bytea *join_serve_reply(JoinServe *js, int64 bytes_in, bytea *reply);

/*
 * For the owner's derived caches of a dataset (the OPRF table, the PIR
 * database), each rebuilt when what it depends on changes.  The stamp's
 * catalog part: the dataset's catalog version (a republish, a key
 * rotation), then each permitted column and a comma.
 */
extern char *join_serve_stamp(const JoinServe *js);

/*
 * The version a cache built from rows now would have: the rows' digest
 * under the OPRF key's generation, the capability and the permitted
 * columns (oprf_table_version).  The key itself is wiped at once.
 */
extern char *join_serve_version(const JoinServe *js, const DatasetRows *rows);

#endif
