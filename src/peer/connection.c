/*
 * connection.c — libpq connections from this backend to peers.
 *
 * The postgres_fdw pattern: one cached connection per user mapping; every
 * wait (connecting, sending, reading) goes through the latch so query
 * cancel, statement_timeout and pg_terminate_backend interrupt it; a
 * connection that was busy when a transaction aborted is dropped, since its
 * state is unknown.  Peers are only ever called through schema-qualified
 * pgpriv functions, with the peer session's search_path pinned.
 */
#include "postgres.h"

#include <poll.h>

#include "access/xact.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog/pgpriv_catalog.h"
#include "compat.h"
#include "peer/authenticate.h"
#include "peer/connection.h"
#include "peer/fdw_options.h"
#include "peer/version.h"

typedef struct PeerConnEntry
{
	Oid			umid;			/* hash key: user mapping OID */
	PGconn	   *conn;
	bool		busy;			/* a command is in flight */
	SubTransactionId busy_subid;	/* the subtransaction that sent it */
	bool		invalidated;	/* options changed: reconnect on next use */
	bool		authenticated;	/* the peer proved its pinned keys (authenticate.c) */
	bool		in_xact;		/* used by this transaction: watched by peer_check_alive */
	Oid			serverid;
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
} PeerConnEntry;

static HTAB *peer_connections = NULL;

static void peer_xact_callback(XactEvent event, void *arg);
static void peer_inval_callback(Datum arg, int cacheid, uint32 hashvalue);
static void peer_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

static void
peer_disconnect(PeerConnEntry *entry)
{
	if (entry->conn)
	{
		/*
		 * A command still running on the peer (we were cancelled or failed
		 * mid-call) is cancelled there too, so the peer does not go on
		 * computing for nobody.  Best effort: this runs during abort.
		 */
		if (entry->busy && PQtransactionStatus(entry->conn) == PQTRANS_ACTIVE)
		{
			PGcancel   *cancel = PQgetCancel(entry->conn);
			char		errbuf[256];

			if (cancel)
			{
				(void) PQcancel(cancel, errbuf, sizeof(errbuf));
				PQfreeCancel(cancel);
			}
		}
		PQfinish(entry->conn);
		entry->conn = NULL;
	}
	entry->busy = false;
}

/* Wait for the socket (or the latch) while honouring interrupts. */
static void
peer_wait(PGconn *conn, int events, const char *peer pg_attribute_unused())
{
	int			rc;

	rc = WaitLatchOrSocket(MyLatch,
						   WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | events,
						   PQsocket(conn), -1L, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Build the libpq keyword/value arrays from server and mapping options. */
static void
peer_conninfo(ForeignServer *server, UserMapping *mapping,
			  const char ***keywords_out, const char ***values_out)
{
	List	   *options = list_concat(list_copy(server->options), mapping->options);
	int			n = list_length(options) + 3;
	const char **keywords = palloc0(sizeof(char *) * n);
	const char **values = palloc0(sizeof(char *) * n);
	ListCell   *lc;
	int			i = 0;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (!peer_option_is_libpq(def->defname))
			continue;
		keywords[i] = def->defname;
		values[i] = defGetString(def);
		i++;
	}
	keywords[i] = "fallback_application_name";
	values[i] = "pgpriv";
	i++;
	/* The peer must speak our encoding: protocol messages carry text keys. */
	keywords[i] = "client_encoding";
	values[i] = GetDatabaseEncodingName();
	i++;
	keywords[i] = NULL;
	values[i] = NULL;

	*keywords_out = keywords;
	*values_out = values;
}

static bool
mapping_password_required(UserMapping *mapping)
{
	ListCell   *lc;

	foreach(lc, mapping->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "password_required") == 0)
			return defGetBoolean(def);
	}
	return true;
}

static bool
mapping_has_password(UserMapping *mapping)
{
	ListCell   *lc;

	foreach(lc, mapping->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "password") == 0)
			return true;
	}
	return false;
}

/*
 * Whether an idle cached connection is no longer usable, found without a
 * round trip.  Between runs the peer has nothing to say: a socket with
 * something to read is a peer that went away (a restart sends FATAL, then
 * closes) or one that speaks out of turn, and either way the connection
 * is dropped and the call gets a fresh one — the way postgres_fdw
 * reconnects at the start of a transaction since PostgreSQL 14.  A run
 * already under way is never retried: its loss stays an error.
 */
static bool
peer_idle_socket_stale(PGconn *conn)
{
	struct pollfd pfd;
	int			rc;

	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return true;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0)
		return true;
	do
		rc = poll(&pfd, 1, 0);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return true;
	return rc > 0;
}

static PGconn *
peer_connect(ForeignServer *server, UserMapping *mapping)
{
	const char **keywords;
	const char **values;
	PGconn	   *volatile conn;
	bool		superuser_mapping = superuser_arg(mapping->userid);

	/*
	 * postgres_fdw's rule: a non-superuser must authenticate with a password
	 * of their own, so that the backend's own credentials (peer auth, a
	 * service file, the server's certificate) are never lent to them.
	 */
	if (!superuser_mapping && mapping_password_required(mapping) && !mapping_has_password(mapping))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required to reach peer \"%s\"", server->servername),
				 errdetail("Non-superusers must give a password in the user mapping.")));

	peer_conninfo(server, mapping, &keywords, &values);

	conn = PQconnectStartParams(keywords, values, false);
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to peer \"%s\": out of memory", server->servername)));

	PG_TRY();
	{
		PostgresPollingStatusType status = PGRES_POLLING_WRITING;

		if (PQstatus(conn) == CONNECTION_BAD)
			status = PGRES_POLLING_FAILED;
		while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
		{
			peer_wait(conn, status == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
					  server->servername);
			status = PQconnectPoll(conn);
		}
		if (status == PGRES_POLLING_FAILED)
		{
			char	   *msg = pchomp(PQerrorMessage(conn));

			ereport(ERROR,
					(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
					 errmsg("could not connect to peer \"%s\"", server->servername),
					 errdetail_internal("%s", msg)));
		}

		if (!superuser_mapping && mapping_password_required(mapping) &&
			!PQconnectionUsedPassword(conn))
			ereport(ERROR,
					(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
					 errmsg("peer \"%s\" did not ask for the password", server->servername),
					 errdetail("Non-superusers may only reach peers that authenticate them by password."),
					 errhint("Ask the peer's DBA to require password (scram-sha-256) authentication in pg_hba.conf.")));
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();

	pfree(keywords);
	pfree(values);
	return conn;
}

static void
peer_configure_session(PeerConnEntry *entry, const char *peer)
{
	PGresult   *res;

	/*
	 * Only pgpriv's own schema-qualified functions are called, but pin the
	 * session anyway so nothing on the peer resolves through a search_path
	 * its users could influence, and text forms are stable.  Generic plans:
	 * a custom plan would fold each message (tens of megabytes) into the
	 * plan as a constant and copy it several times over.
	 */
	res = peer_exec(entry->conn, peer,
					"SELECT pg_catalog.set_config('search_path', 'pg_catalog', false), "
					"pg_catalog.set_config('datestyle', 'ISO', false), "
					"pg_catalog.set_config('intervalstyle', 'postgres', false), "
					"pg_catalog.set_config('extra_float_digits', '3', false), "
					"pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', false)", 0, NULL);
	PQclear(res);
}

PGconn *
peer_get_connection(ForeignServer *server, UserMapping *mapping)
{
	return peer_get_connection_ext(server, mapping, true);
}

PGconn *
peer_get_connection_ext(ForeignServer *server, UserMapping *mapping, bool authenticate)
{
	PeerConnEntry *entry;
	bool		found;

	if (peer_connections == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PeerConnEntry);
		peer_connections = hash_create("pgpriv peer connections", 8, &ctl,
									   HASH_ELEM | HASH_BLOBS);
		RegisterXactCallback(peer_xact_callback, NULL);
		RegisterSubXactCallback(peer_subxact_callback, NULL);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, peer_inval_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, peer_inval_callback, (Datum) 0);
	}

	entry = hash_search(peer_connections, &mapping->umid, HASH_ENTER, &found);
	if (!found)
	{
		entry->conn = NULL;
		entry->busy = false;
		entry->invalidated = false;
		entry->authenticated = false;
		entry->in_xact = false;
	}

	if (entry->conn && (entry->invalidated || PQstatus(entry->conn) != CONNECTION_OK ||
						(!entry->busy && peer_idle_socket_stale(entry->conn))))
		peer_disconnect(entry);

	if (entry->conn == NULL)
	{
		entry->invalidated = false;
		entry->serverid = server->serverid;
		entry->server_hashvalue = GetSysCacheHashValue1(FOREIGNSERVEROID,
														ObjectIdGetDatum(server->serverid));
		entry->mapping_hashvalue = GetSysCacheHashValue1(USERMAPPINGOID,
														 ObjectIdGetDatum(mapping->umid));
		entry->authenticated = false;
		entry->conn = peer_connect(server, mapping);
		entry->busy = true;
		entry->busy_subid = GetCurrentSubTransactionId();
		peer_configure_session(entry, server->servername);
		entry->busy = false;
	}

	/*
	 * Nothing of a run goes to a peer that has not proved, on this
	 * connection, that it holds the secrets of the keys its server pins.
	 */
	if (authenticate && !entry->authenticated)
	{
		/* First which pgpriv it runs: a release speaking another protocol stops here. */
		peer_check_version(entry->conn, server->servername);
		peer_authenticate(entry->conn, server);
		entry->authenticated = true;
	}
	entry->in_xact = true;
	return entry->conn;
}

PGconn *
peer_connection_by_name(const char *servername)
{
	return peer_connection_by_name_ext(servername, true);
}

PGconn *
peer_connection_by_name_ext(const char *servername, bool authenticate)
{
	ForeignServer *server;
	UserMapping *mapping;
	ForeignDataWrapper *fdw;

	/* A library of another version than this database's catalog talks to no peer. */
	if (authenticate)
		catalog_require_current();
	server = GetForeignServerByName(servername, false);
	fdw = GetForeignDataWrapper(server->fdwid);

	if (strcmp(fdw->fdwname, "pgpriv") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a pgpriv peer", servername),
				 errdetail("It uses the foreign-data wrapper \"%s\".", fdw->fdwname)));

	/* As for foreign tables: USAGE on the server is needed to use it. */
	{
		AclResult	aclresult = pgpriv_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);

		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	}

	mapping = GetUserMapping(GetUserId(), server->serverid);
	return peer_get_connection_ext(server, mapping, authenticate);
}

static PeerConnEntry *
entry_for_conn(PGconn *conn)
{
	HASH_SEQ_STATUS scan;
	PeerConnEntry *entry;

	if (peer_connections == NULL)
		return NULL;
	hash_seq_init(&scan, peer_connections);
	while ((entry = hash_seq_search(&scan)))
	{
		if (entry->conn == conn)
		{
			hash_seq_term(&scan);
			return entry;
		}
	}
	return NULL;
}

/*
 * Send a command without waiting for its result, so the caller can compute
 * while the peer works; peer_get_result collects it.  Until then the
 * connection is busy: an abort in between cancels the command on the peer
 * and drops the connection.
 */
void
peer_send_params(PGconn *conn, const char *peer, const char *command,
				 int nparams, const Oid *types, const char *const *values,
				 const int *lengths, const int *formats, int result_format)
{
	PeerConnEntry *entry = entry_for_conn(conn);

	if (entry)
	{
		entry->busy = true;
		entry->busy_subid = GetCurrentSubTransactionId();
	}
	if (!PQsendQueryParams(conn, command, nparams, types, values, lengths, formats, result_format))
		peer_report_lost(conn, peer);
}

/*
 * Wait for the result of the command sent last.  A lost peer is SQLSTATE
 * class 08 naming the peer; an error raised by the peer keeps the peer's
 * SQLSTATE and message (e.g. 42501 for a missing permit), prefixed with the
 * peer's name.
 */
PGresult *
peer_get_result(PGconn *conn, const char *peer)
{
	PeerConnEntry *volatile entry = entry_for_conn(conn);
	PGresult   *volatile last = NULL;

	PG_TRY();
	{
		for (;;)
		{
			PGresult   *res;

			while (PQisBusy(conn))
			{
				peer_wait(conn, WL_SOCKET_READABLE, peer);
				if (!PQconsumeInput(conn))
					peer_report_lost(conn, peer);
			}
			res = PQgetResult(conn);
			if (res == NULL)
				break;
			PQclear(last);
			last = res;
			if (PQstatus(conn) == CONNECTION_BAD)
				break;
		}
	}
	PG_CATCH();
	{
		PQclear(last);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (entry)
		entry->busy = false;

	if (last == NULL)
		peer_report_lost(conn, peer);
	if (PQresultStatus(last) != PGRES_TUPLES_OK && PQresultStatus(last) != PGRES_COMMAND_OK)
		peer_report_result_error(conn, last, peer);
	return last;
}

/* Send a command and wait for its single result; errors are raised. */
PGresult *
peer_exec_params(PGconn *conn, const char *peer, const char *command,
				 int nparams, const Oid *types, const char *const *values,
				 const int *lengths, const int *formats, int result_format)
{
	peer_send_params(conn, peer, command, nparams, types, values, lengths, formats, result_format);
	return peer_get_result(conn, peer);
}

PGresult *
peer_exec(PGconn *conn, const char *peer, const char *command,
		  int nparams, const char *const *values)
{
	return peer_exec_params(conn, peer, command, nparams, NULL, values, NULL, NULL, 0);
}

void
peer_report_lost(PGconn *conn, const char *peer)
{
	char	   *msg = pchomp(PQerrorMessage(conn));
	PeerConnEntry *entry = entry_for_conn(conn);

	if (entry)
		peer_disconnect(entry);
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("lost connection to peer \"%s\"", peer),
			 errdetail_internal("%s", msg)));
}

void
peer_report_result_error(PGconn *conn, PGresult *res, const char *peer)
{
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char	   *primary = pstrdup(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
								  ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
								  : pchomp(PQerrorMessage(conn)));
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	char	   *detail_copy = detail ? pstrdup(detail) : NULL;
	char	   *hint_copy = hint ? pstrdup(hint) : NULL;
	int			code = ERRCODE_CONNECTION_FAILURE;

	if (sqlstate && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]);
	else if (PQstatus(conn) == CONNECTION_BAD)
	{
		PQclear(res);
		peer_report_lost(conn, peer);
	}
	PQclear(res);

	/* Administrator shutdown / terminated backend on the peer: it is gone. */
	if (code == ERRCODE_ADMIN_SHUTDOWN || code == ERRCODE_CRASH_SHUTDOWN)
		code = ERRCODE_CONNECTION_FAILURE;

	ereport(ERROR,
			(errcode(code),
			 errmsg("peer \"%s\": %s", peer, primary),
			 detail_copy ? errdetail_internal("%s", detail_copy) : 0,
			 hint_copy ? errhint("%s", hint_copy) : 0));
}

/*
 * A connection that was in the middle of a command when the transaction
 * aborted (cancel, timeout, error) is in an unknown state: drop it.
 */
static void
peer_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	HASH_SEQ_STATUS scan;
	PeerConnEntry *entry;
	bool		aborting = (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT);

	if (!aborting && event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT)
		return;
	hash_seq_init(&scan, peer_connections);
	while ((entry = hash_seq_search(&scan)))
	{
		entry->in_xact = false;
		if (aborting && entry->conn && entry->busy)
			peer_disconnect(entry);
	}
}

/*
 * The same for a subtransaction: a run that failed inside one the caller
 * catches (PL/pgSQL's EXCEPTION) leaves its connection mid-command, and the
 * transaction goes on; the next run must not find a command in progress.
 * The peer's calls are not transactional (each commits on its own), so
 * there is nothing to roll back there, as there is for postgres_fdw: the
 * connection is dropped, its command cancelled, and the next call
 * reconnects.
 */
static void
peer_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid pg_attribute_unused(), void *arg pg_attribute_unused())
{
	HASH_SEQ_STATUS scan;
	PeerConnEntry *entry;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/*
	 * Only a command sent inside the aborting subtransaction (ids grow within
	 * a transaction): one an enclosing level has in flight (a run reading
	 * its keys_query, whose own PL/pgSQL catches an error) carries on.
	 */
	hash_seq_init(&scan, peer_connections);
	while ((entry = hash_seq_search(&scan)))
		if (entry->conn && entry->busy && entry->busy_subid >= mySubid)
			peer_disconnect(entry);
}

/*
 * During the asker's long local phases (reading a million keys, blinding
 * them, matching), the peer of the run may die; without a look at the
 * socket that is found only at the next call, possibly minutes later.
 * Called between slabs of local work, at most every 200 ms, it looks at
 * each connection this transaction uses without blocking: a command in
 * flight may have its reply arriving (read into libpq's buffer, used
 * later), but a closed socket is the peer gone, and between calls the
 * peer has nothing to say at all.  Either way: 08006 naming the peer now.
 */
void
peer_check_alive(void)
{
	static TimestampTz last = 0;
	TimestampTz now;
	HASH_SEQ_STATUS scan;
	PeerConnEntry *entry;

	if (peer_connections == NULL)
		return;
	now = GetCurrentTimestamp();
	if (!TimestampDifferenceExceeds(last, now, 200))
		return;
	last = now;
	hash_seq_init(&scan, peer_connections);
	while ((entry = hash_seq_search(&scan)))
	{
		struct pollfd pfd;
		int			rc;
		const char *peer;

		if (!entry->in_xact || entry->conn == NULL)
			continue;
		pfd.fd = PQsocket(entry->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0)
			continue;
		rc = poll(&pfd, 1, 0);
		if (rc <= 0)
			continue;
		if (entry->busy && PQconsumeInput(entry->conn) && PQstatus(entry->conn) == CONNECTION_OK &&
			!(pfd.revents & (POLLHUP | POLLERR)))
			continue;			/* the reply, arriving */
		{
			ForeignServer *server = GetForeignServer(entry->serverid);

			peer = server ? server->servername : "?";
		}
		hash_seq_term(&scan);
		peer_report_lost(entry->conn, peer);
	}
}

/* Server or user mapping options changed: reconnect at next use. */
static void
peer_inval_callback(Datum arg pg_attribute_unused(), int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	PeerConnEntry *entry;

	hash_seq_init(&scan, peer_connections);
	while ((entry = hash_seq_search(&scan)))
	{
		if (entry->conn == NULL)
			continue;
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && entry->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && entry->mapping_hashvalue == hashvalue))
			entry->invalidated = true;
	}
}
