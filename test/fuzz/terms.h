/*
 * terms.h — the static parsers of secure_sum.c and joint_score.c, exposed
 * to fuzz_terms.c by the files that #include them.
 */
#ifndef PGPRIV_FUZZ_TERMS_H
#define PGPRIV_FUZZ_TERMS_H

#include "postgres.h"

#include "wire/message.h"

/* participants_decode; kinds of the first max participants; returns how many. */
extern int	fuzz_participants_decode(bytea *msg, uint8 *session, int *kinds, int max);

/* terms_read on a message of this type; returns the items after the terms. */
extern int	fuzz_terms_read(bytea *msg, WireType type, int *mode, int *k);

/* joint_train's terms_read on a WIRE_TRAIN_TERMS message; returns the items after the terms. */
extern int	fuzz_train_terms_read(bytea *msg, int *kb, int *ka);

#endif
