/*
 * connection.h — cached, interruptible libpq connections to peers.
 */
#ifndef PGPRIV_PEER_CONNECTION_H
#define PGPRIV_PEER_CONNECTION_H

#include "foreign/foreign.h"
#include "libpq-fe.h"

/* The connection for the current user's mapping to the named pgpriv server. */
extern PGconn *peer_connection_by_name(const char *servername);
extern PGconn *peer_get_connection(ForeignServer *server, UserMapping *mapping);

/*
 * The same; authenticate = false skips the peer's proof of its pinned keys
 * (peer_identity only: it sends nothing but reads the peer's identity to
 * show it to the DBA).
 */
extern PGconn *peer_connection_by_name_ext(const char *servername, bool authenticate);
extern PGconn *peer_get_connection_ext(ForeignServer *server, UserMapping *mapping, bool authenticate);

/* Run one command and return its result; errors are raised, never returned. */
extern PGresult *peer_exec(PGconn *conn, const char *peer, const char *command,
						   int nparams, const char *const *values);
extern PGresult *peer_exec_params(PGconn *conn, const char *peer, const char *command,
								  int nparams, const Oid *types, const char *const *values,
								  const int *lengths, const int *formats, int result_format);

/* The same in two steps, to compute while the peer works. */
extern void peer_send_params(PGconn *conn, const char *peer, const char *command,
							 int nparams, const Oid *types, const char *const *values,
							 const int *lengths, const int *formats, int result_format);
extern PGresult *peer_get_result(PGconn *conn, const char *peer);

extern void peer_report_lost(PGconn *conn, const char *peer) pg_attribute_noreturn();

/*
 * Between slabs of long local work: a peer this transaction uses that has
 * gone is 08006 now, not at the next call (cheap; at most every 200 ms).
 */
extern void peer_check_alive(void);
extern void peer_report_result_error(PGconn *conn, PGresult *res, const char *peer) pg_attribute_noreturn();

#endif
