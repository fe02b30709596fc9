/*
 * pgpriv_catalog.h — what the protocols read from and write to pgpriv's catalog:
 * datasets, permits, budgets, OPRF keys and the audit log.
 *
 * All of these run SPI against tables only the extension owner may touch.
 * Owner-side callers are SECURITY DEFINER functions, so they already act as
 * the extension owner; asker-side callers wrap the calls in
 * catalog_enter_owner()/catalog_leave_owner().
 */
#ifndef PGPRIV_CATALOG_CATALOG_H
#define PGPRIV_CATALOG_CATALOG_H

#include "nodes/pg_list.h"

typedef struct Dataset
{
	char	   *name;
	char	   *query;
	char	   *key_column;
	List	   *columns;		/* payload column names (char *) */
	char	   *owner_role;
	char	   *search_path;
	int64		version;

	/*
	 * Applicant consent, from the permit the dataset was looked up under
	 * (permit_lookup): the permit's authorised_by query, run as the
	 * publisher with $1 = the peer role and $2 = the capability, returns the
	 * keys that may be served.  NULL: the permit has none, or the dataset is
	 * this party's own (secure_sum's contribution), and every row is read.
	 */
	char	   *consent_query;
	char	   *consent_role;
	char	   *consent_capability;
} Dataset;

typedef struct Permit
{
	List	   *columns;		/* permitted payload columns (char *), in dataset order */
	int64		max_keys;		/* -1: no limit */
	int32		min_parties;	/* -1: none */
	int32		min_group;		/* -1: none */
} Permit;

typedef struct OwnerContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_nestlevel;
} OwnerContext;

/*
 * 0A000 unless the extension's catalog in this database is at this
 * library's version (PGPRIV_VERSION): a new library before ALTER EXTENSION
 * pgpriv UPDATE runs nothing.  catalog_enter_owner and
 * catalog_restrict_definer check it too.
 */
extern void catalog_require_current(void);

/*
 * Act as the extension owner (for catalog access from non-definer code):
 * the one way into the owner's rights from code that does not already run
 * as a SECURITY DEFINER function.  Inside, search_path is pinned to
 * "pg_catalog, pg_temp" (pg_temp last, so no temporary object of the
 * caller's can shadow anything) and the code runs as a security-restricted
 * operation, as REFRESH MATERIALIZED VIEW runs a view's query.  An error
 * inside restores both with the (sub)transaction.
 */
extern void catalog_enter_owner(OwnerContext *ctx);
extern void catalog_leave_owner(OwnerContext *ctx);

/*
 * For the body of a SECURITY DEFINER function a peer calls (the SQL
 * declaration pins its search_path): the rest of the call runs as a
 * security-restricted operation.  fmgr's security-definer hook restores the
 * caller's context when the function returns or fails.  Errors with 42501
 * unless the function really runs as the extension owner.
 */
extern void catalog_restrict_definer(void);

/*
 * The permit of the session's login role (the peer) for capability on
 * dataset: permit_lookup fills *ds and *permit and says whether there is
 * one; permit_refusal raises the 42501 that names both; permit_require does
 * the two.
 */
extern bool permit_lookup(const char *dataset, const char *capability, Dataset *ds, Permit *permit);
extern void permit_refusal(const char *dataset, const char *capability) pg_attribute_noreturn();
extern void permit_require(const char *dataset, const char *capability, Dataset *ds, Permit *permit);
/* Every one of columns[0..k) among the permit's, or 42501 naming the first that is not. */
extern void permit_require_columns(const char *dataset, const char *capability, const Permit *permit,
								   char *const *columns, int k);

/*
 * Charge n keys to today's max_keys budget if they fit (true), else charge
 * nothing (false); *used_before is what was already used today.
 * budget_refusal raises the 54000 that names the limit.
 */
extern bool budget_try_charge(const char *dataset, const char *capability, int64 n,
							  const Permit *permit, int64 *used_before);
extern void budget_refusal(const char *dataset, const char *capability, int64 n, int64 used_before,
						   const Permit *permit) pg_attribute_noreturn();

/*
 * The OPRF key for (dataset, session's login role, capability): derived per
 * capability from the stored key of (dataset, role), so each budget pays
 * only for what its capability serves; *generation set if not NULL.
 */
extern void oprf_key_for_peer(const char *dataset, const char *capability, uint8 sk[32],
							  int32 *generation);

/*
 * The asker's audit row for a failed run (audit_failure.c): between
 * audit_watch_begin and audit_watch_end (a stack frame's error context
 * callback), an error is noted; if the transaction then aborts, a
 * background worker writes the row in a transaction of its own.  End the
 * watch on every normal return of the function that began it.
 */
typedef struct AuditWatch
{
	ErrorContextCallback cb;
	const char *capability;
	const char *peer;
	const char *dataset;
	int64		keys;
	struct PeerCall *calls;		/* bytes so far (NULL: not counted) */
	int			ncalls;
	const char *run;			/* the run id, once there is one (audit_watch_run) */
} AuditWatch;

extern void audit_watch_begin(AuditWatch *w, const char *capability, const char *peer,
							  const char *dataset, int64 keys, struct PeerCall *calls, int ncalls);
extern void audit_watch_run(AuditWatch *w, const char *run);
extern void audit_watch_end(AuditWatch *w);

/* The outcome text of an asker's failed run ("failed: refused (42501)"). */
extern const char *audit_failure_outcome(int sqlstate, bool timed_out, char *buf, size_t len);

/*
 * A refused run's statements, exchanged while its error is on its way: true
 * if the failure recorder can keep them (a one-peer run under watch), and
 * the hand-over (the recorder stores them instead of signing its own).
 */
extern bool audit_failure_can_keep(void);
extern void audit_failure_exchanged(const bytea *own, const uint8 own_sig[64], const bytea *owner,
									const uint8 owner_sig[64], const char *note);

/* Append a row to the audit log (through pgpriv._audit_append). */
extern void audit_append(const char *side, const char *peer, const char *capability,
						 const char *dataset, int64 keys_in, int64 keys_out,
						 int64 bytes_in, int64 bytes_out, const char *outcome,
						 const char *detail);

/* The same for a row of a run: run_id is the id both sides record. */
extern void audit_append_run(const char *side, const char *peer, const char *capability,
							 const char *dataset, int64 keys_in, int64 keys_out,
							 int64 bytes_in, int64 bytes_out, const char *outcome,
							 const char *detail, const char *run_id);

/* Name of the session's login role (the peer, on the owner's side). */
extern char *session_role_name(void);

#endif
