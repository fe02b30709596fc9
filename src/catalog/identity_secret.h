/*
 * identity_secret.h — this party's active X25519 identity key pair, for the
 * protocols that agree pairwise keys with it (secure_sum, docs/architecture.md
 * protocol 5).
 */
#ifndef PGPRIV_CATALOG_IDENTITY_SECRET_H
#define PGPRIV_CATALOG_IDENTITY_SECRET_H

/*
 * Read the active pair (the oldest one not retired, as pgpriv.identity()
 * shows) as the extension owner.  The caller wipes secret_key when done.
 */
extern void identity_active_keypair(uint8 public_key[32], uint8 secret_key[32]);

/*
 * The Ed25519 secret key (libsodium's 64-byte form) of the active identity,
 * for signing what this party publishes (PIR hints, protocol 4).  The caller
 * wipes it when done.
 */
extern void identity_active_signing_key(uint8 secret_key[64]);

#endif
