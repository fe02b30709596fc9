/*
 * mpc_serve.h — the opening and the reply of the owner's serving calls
 * that joint_score (joint_score_serve.c), joint_woe, joint_train and
 * secure_sum (secure_sum_serve.c) make alike: every call runs restricted
 * to the extension owner and puts the asker's message and its own reply
 * into the run's transcript (run/admission.h) in order.  mpc_serve.c.
 */
#ifndef PGPRIV_PROTOCOL_MPC_SERVE_H
#define PGPRIV_PROTOCOL_MPC_SERVE_H

#include "postgres.h"

#include "fmgr.h"

#include "catalog/pgpriv_catalog.h"
#include "run/admission.h"
#include "run/served_run.h"

/* What a run's begin, serve_X_begin(dataset, run, msg), starts from. */
typedef struct MpcServeBegin
{
	char	   *dataset;
	char	   *run;
	bytea	   *msg;			/* the asker's begin message */
	Admission  *admission;		/* the run's, in this session */
	Dataset		ds;
	Permit		permit;			/* the session role's, for capability */
} MpcServeBegin;

/*
 * A run's begin: the arguments, the run admitted for capability in this
 * session (08P01 if not), the call restricted to the extension owner, then
 * (again not NULL: unless a run of this id is open already, 08P01 with
 * detail again) msg absorbed into the transcript and the permit required
 * (42501 without one).
 */
extern void mpc_serve_begin(FunctionCallInfo fcinfo, const char *capability, const char *again,
							MpcServeBegin *b);

/*
 * A step of the run open in this session, serve_X_step(run, msg): the
 * arguments, the open run of capability with that id (08P01 if none), the
 * call restricted to the extension owner and msg absorbed.  Returns the run.
 */
extern void *mpc_serve_step(FunctionCallInfo fcinfo, const char *capability, char **run,
							bytea **msg);

/* The call's bytea reply, absorbed into the run's transcript first. */
extern Datum mpc_serve_reply(const char *run, bytea *reply);

/*
 * The reply that ends the open run (base): served more of the admission's
 * keys counted with base's bytes each way, the run completed with keys_out
 * (its audit row), the served run closed and the progress ended; then the
 * reply as mpc_serve_reply.
 */
extern Datum mpc_serve_last_reply(Admission *admission, int64 served, int64 keys_out,
								  const ServedRun *base, const char *run, bytea *reply);

#endif
