/*
 * join_serve.c — the owner's side of the join protocols, what their serving
 * steps share: the checks each makes first (see join_serve.h for the order
 * and why), the count and transcript of a reply, the capability check of
 * psi and psi_fetch, and the change stamp and version of the caches built
 * from a dataset (the OPRF table, the PIR database).
 */
#include "postgres.h"

#include <sodium.h>

#include "utils/builtins.h"

#include "compat.h"
#include "catalog/receipt.h"
#include "protocol/join/join_serve.h"
#include "protocol/join/oprf_table.h"

void
join_check_psi_capability(const char *capability, const char *by)
{
	if (strcmp(capability, "psi") != 0 && strcmp(capability, "psi_fetch") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s serves psi and psi_fetch, not \"%s\"", by, capability)));
}

void
join_serve_begin(JoinServe *js, FunctionCallInfo fcinfo, const char *capability,
				 const bytea *msg, join_capability_check check)
{
	int			arg = 0;

	js->dataset = text_to_cstring(PG_GETARG_TEXT_PP(arg++));
	js->capability = capability ? pstrdup(capability) : text_to_cstring(PG_GETARG_TEXT_PP(arg++));
	js->run = text_to_cstring(PG_GETARG_TEXT_PP(arg));

	catalog_restrict_definer();
	if (msg)
		admission_absorb(js->run, TRANSCRIPT_REQUEST, msg);
	if (check)
		check(js->capability);
	js->admission = admission_require(js->run, js->dataset, js->capability);
	permit_require(js->dataset, js->capability, &js->ds, &js->permit);
}

bytea *
join_serve_reply(JoinServe *js, int64 bytes_in, bytea *reply)
{
	admission_serve(js->admission, 0, bytes_in, VARSIZE_ANY_EXHDR(reply));
	admission_absorb(js->run, TRANSCRIPT_RESPONSE, reply);
	return reply;
}

char *
join_serve_stamp(const JoinServe *js)
{
	char	   *stamp = psprintf("%lld|", (long long) js->ds.version);
	ListCell   *lc;

	foreach(lc, js->permit.columns)
		stamp = psprintf("%s%s,", stamp, (char *) lfirst(lc));
	return stamp;
}

char *
join_serve_version(const JoinServe *js, const DatasetRows *rows)
{
	uint8		sk[32];
	int32		generation;

	oprf_key_for_peer(js->dataset, js->capability, sk, &generation);
	sodium_memzero(sk, sizeof(sk));
	return oprf_table_version(rows, generation, js->capability, js->permit.columns);
}
