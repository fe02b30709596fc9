/*
 * mpc_terms.h — reading the terms of a two-party run (joint_score and
 * mpc_selftest, joint_woe, joint_train), as the owner does in serve_admit
 * and again in the run's begin: what the three terms formats share.
 * mpc_terms.c; each format's own fields stay with its protocol.
 */
#ifndef PGPRIV_PROTOCOL_MPC_TERMS_H
#define PGPRIV_PROTOCOL_MPC_TERMS_H

#include "postgres.h"

#include "wire/message.h"

/*
 * The terms a run is admitted with, opened for reading as a message of
 * type (at most max_count items of max_item bytes); terms NULL is 08P01
 * from the asker with detail none.
 */
extern void mpc_terms_open(WireReader *r, bytea *terms, WireType type, uint32 max_count,
						   uint32 max_item, const char *none);

/*
 * The next item of r as the name of the run's column j: 1 to NAMEDATALEN − 1
 * bytes without a NUL (else 08P01 from the asker with detail missing), none
 * of columns[0 … j) (else detail twice).  Returns it palloc'd.
 */
extern char *mpc_terms_column(WireReader *r, char *const *columns, int j, const char *missing,
							  const char *twice);

#endif
