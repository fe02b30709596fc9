/*
 * ask.c — the asker's opening, admission and closing of a two-party run
 * (see ask.h).
 */
#include "postgres.h"

#include "catalog/receipt.h"
#include "run/ask.h"
#include "run/progress.h"

char *
run_ask_open(PeerCall *call, AuditWatch *watch, const char *server, const char *shown_as,
			 const char *capability, const char *dataset, int64 progress_n, int64 keys_in)
{
	char	   *run = peer_new_run_id();

	peer_call_open(call, server);
	progress_begin(shown_as, server, dataset, progress_n);
	if (watch != NULL)
	{
		audit_watch_begin(watch, capability, server, dataset, keys_in, call, 1);
		audit_watch_run(watch, run);
	}
	return run;
}

void
run_ask_admit(PeerCall *call, const char *dataset, const char *capability, const char *run,
			  int64 keys, bytea *terms)
{
	char		nbuf[32];
	const char *params[4] = {dataset, capability, run, nbuf};

	snprintf(nbuf, sizeof(nbuf), INT64_FORMAT, keys);
	if (terms == NULL)
		PQclear(peer_call_text(call, "CALL pgpriv.serve_admit($1, $2, $3, $4::pg_catalog.int8)",
							   4, params));
	else
		PQclear(peer_call_msg(call, "CALL pgpriv.serve_admit($1, $2, $3, $4::pg_catalog.int8, $5)",
							  4, params, terms));
}

void
run_ask_close(PeerCall *call, AuditWatch *watch, const char *run, const char *capability,
			  const char *dataset, int64 keys_in, int64 keys_out, const char *note)
{
	OwnerContext owner;

	receipt_asker_exchange(call, run, capability, dataset, keys_in, keys_out,
						   call->bytes_in, call->bytes_out);
	catalog_enter_owner(&owner);
	audit_append_run("asker", call->peer, capability, dataset, keys_in, keys_out,
					 call->bytes_in, call->bytes_out, "ok", note, run);
	catalog_leave_owner(&owner);
	progress_end();
	if (watch != NULL)
		audit_watch_end(watch);
}
