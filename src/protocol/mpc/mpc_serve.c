/*
 * mpc_serve.c — the owner's side of a run around its protocol, as the
 * serving functions of joint_score, joint_woe, joint_train and secure_sum
 * all do it (mpc_serve.h): a begin's arguments, admission, definer
 * restriction, transcript and permit; a step's arguments, open run,
 * restriction and transcript; a reply into the transcript, and the last
 * reply of a run with its completion.
 *
 * Construction: plain sequencing of the admission (run/admission.h),
 * served-run (run/served_run.h) and catalog calls those functions made
 * each on their own, in the same order, so that one copy says what every
 * such call does before it reads the asker's message.  Security model:
 * the asker is untrusted and reaches these functions over libpq as the
 * session's login role; a call serves only the run admitted in this
 * session (its permit checked, its keys charged at serve_admit), runs with
 * the extension owner's rights under SECURITY_RESTRICTED_OPERATION, and
 * every bytea in and out enters the transcript that both receipts bind
 * (catalog/receipt.h).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "catalog/pgpriv_catalog.h"
#include "catalog/receipt.h"
#include "protocol/mpc/mpc_serve.h"
#include "run/admission.h"
#include "run/progress.h"
#include "run/served_run.h"
#include "wire/message.h"

void
mpc_serve_begin(FunctionCallInfo fcinfo, const char *capability, const char *again,
				MpcServeBegin *b)
{
	b->dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));
	b->run = text_to_cstring(PG_GETARG_TEXT_PP(1));
	b->msg = PG_GETARG_BYTEA_PP(2);
	b->admission = admission_require(b->run, b->dataset, capability);
	catalog_restrict_definer();
	if (again != NULL && served_run_find(capability, b->run) != NULL)
		wire_malformed("the asker", again);
	admission_absorb(b->run, TRANSCRIPT_REQUEST, b->msg);
	permit_require(b->dataset, capability, &b->ds, &b->permit);
}

void *
mpc_serve_step(FunctionCallInfo fcinfo, const char *capability, char **run, bytea **msg)
{
	void	   *open_run;

	*run = text_to_cstring(PG_GETARG_TEXT_PP(0));
	*msg = PG_GETARG_BYTEA_PP(1);
	open_run = served_run_get(capability, *run);
	catalog_restrict_definer();
	admission_absorb(*run, TRANSCRIPT_REQUEST, *msg);
	return open_run;
}

Datum
mpc_serve_reply(const char *run, bytea *reply)
{
	admission_absorb(run, TRANSCRIPT_RESPONSE, reply);
	PG_RETURN_BYTEA_P(reply);
}

Datum
mpc_serve_last_reply(Admission *admission, int64 served, int64 keys_out, const ServedRun *base,
					 const char *run, bytea *reply)
{
	admission_serve(admission, served, base->bytes_in, base->bytes_out);
	admission_complete(admission, keys_out);
	served_run_close();
	progress_end();
	return mpc_serve_reply(run, reply);
}
