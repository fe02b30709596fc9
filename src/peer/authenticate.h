/*
 * authenticate.h — a peer proves it holds the secrets of the keys its
 * server pins, on every new connection (see authenticate.c).
 */
#ifndef PGPRIV_PEER_AUTHENTICATE_H
#define PGPRIV_PEER_AUTHENTICATE_H

#include "foreign/foreign.h"
#include "libpq-fe.h"

/*
 * Challenge the peer behind conn; 28000 naming the server unless it proves
 * it holds the secret of the pinned public_key and signing_key (whichever
 * the server pins; at least one must be pinned).
 */
extern void peer_authenticate(PGconn *conn, ForeignServer *server);

#endif
