/*
 * call.h — calling a peer's pgpriv serving functions.
 *
 * Metadata travels as text; protocol messages travel as binary bytea
 * parameters and results, one message per call, never one round trip per
 * row.  Every byte sent and received is counted for the audit log and the
 * progress view.
 */
#ifndef PGPRIV_PEER_CALL_H
#define PGPRIV_PEER_CALL_H

#include "libpq-fe.h"
#include "nodes/pg_list.h"

#include "catalog/receipt.h"

typedef struct PeerCall
{
	PGconn	   *conn;
	const char *peer;			/* server name, for errors */
	int64		bytes_out;
	int64		bytes_in;
	/*
	 * The run's binary messages (bytea parameters sent, bytea results
	 * received), from its CALL pgpriv.serve_admit on: the transcript digest
	 * of its receipts (catalog/receipt.h).
	 */
	Transcript	transcript;
	/*
	 * While a CALL pgpriv.serve_admit is under way: its dataset, capability,
	 * run id and keys, for the receipt exchange of a refusal.
	 */
	bool		admitting;
	char	   *admit_dataset;
	char	   *admit_capability;
	char	   *admit_run;
	int64		admit_keys;
} PeerCall;

/* Open (or reuse) the connection to the named pgpriv server. */
extern void peer_call_open(PeerCall *call, const char *server);

/* Call sql with text parameters; text results (caller PQclears). */
extern PGresult *peer_call_text(PeerCall *call, const char *sql, int nparams, const char *const *params);

/*
 * Call sql whose last parameter is the bytea msg (or no bytea if msg is
 * NULL) and whose result is a single bytea; returns it (palloc'd).  A NULL
 * or missing result is a protocol violation.
 */
extern bytea *peer_call_bytea(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
							  const bytea *msg);

/* Like peer_call_bytea, but text results (caller PQclears). */
extern PGresult *peer_call_msg(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
							   const bytea *msg);

/* Two-step forms: send now, compute, then collect the result. */
extern void peer_call_send_text(PeerCall *call, const char *sql, int nparams, const char *const *params);
extern PGresult *peer_call_finish_text(PeerCall *call);
extern void peer_call_send_bytea(PeerCall *call, const char *sql, int ntext, const char *const *text_params,
								 const bytea *msg);
extern bytea *peer_call_finish_bytea(PeerCall *call);

/* The role this session logs in as on the peer (the user mapping's user). */
extern char *peer_remote_user(const char *server);

/* A text[] literal from a peer as a List of C strings; 08P01 if malformed. */
extern List *peer_parse_text_array(const char *lit, const char *peer);

/*
 * The columns the peer permits this session's role for capability on
 * dataset (pgpriv.serve_columns): asked before a run is admitted, so that
 * a column definition list that asks for more costs no budget.
 */
extern List *peer_permitted_columns(PeerCall *call, const char *dataset, const char *capability);

/* A fresh random run id (32 hex digits) tying an asker's calls together. */
extern char *peer_new_run_id(void);

#endif
