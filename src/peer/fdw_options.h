/*
 * fdw_options.h — what the foreign-data wrapper's options mean.
 */
#ifndef PGPRIV_PEER_FDW_OPTIONS_H
#define PGPRIV_PEER_FDW_OPTIONS_H

#include "foreign/foreign.h"

/* True if keyword is a libpq connection option accepted on a peer. */
extern bool peer_option_is_libpq(const char *keyword);

/* The value of a server's option, or NULL if it has none. */
extern const char *peer_server_option(ForeignServer *server, const char *name);

/* Decode a 32-byte key written as hex (optionally "\x"-prefixed). */
extern bool peer_decode_key(const char *text, unsigned char out[32]);

#endif
