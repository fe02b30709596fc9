/*
 * fdw_options.h — what the foreign-data wrapper's options mean.
 */
#ifndef PGPRIV_PEER_FDW_OPTIONS_H
#define PGPRIV_PEER_FDW_OPTIONS_H

/* True if keyword is a libpq connection option accepted on a peer. */
extern bool peer_option_is_libpq(const char *keyword);

/* Decode a 32-byte key written as hex (optionally "\x"-prefixed). */
extern bool peer_decode_key(const char *text, unsigned char out[32]);

#endif
