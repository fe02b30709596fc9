/*
 * version.h — the version exchange between peers (see version.c).
 */
#ifndef PGPRIV_PEER_VERSION_H
#define PGPRIV_PEER_VERSION_H

#include "libpq-fe.h"

/*
 * Exchange pgpriv versions with the peer behind conn: 0A000 naming the
 * server and both versions unless it speaks this library's protocol
 * (PGPRIV_PROTOCOL), a release without the exchange included.
 */
extern void peer_check_version(PGconn *conn, const char *peer);

/*
 * Owner side: 0A000 unless this session's asker has called serve_version and
 * speaks this library's protocol; the serving routines that open a session's
 * work (serve_hello, serve_admit) call it first.
 */
extern void version_require_agreed(void);

#endif
