/*
 * secure_sum.h — what the rest of pgpriv needs from secure_sum.c.
 */
#ifndef PGPRIV_PROTOCOL_SECURE_SUM_H
#define PGPRIV_PROTOCOL_SECURE_SUM_H

#include "catalog/pgpriv_catalog.h"

/*
 * Check a secure_sum run's terms (value column, participants) against the
 * permit and this party's peer definitions; raises 42501 or 08P01.
 */
extern void secure_sum_admission_check(const char *dataset, const Permit *permit, bytea *terms);

#endif
