/*
 * psi_sum.h — what admission needs of psi_sum (docs/psi_sum.md).
 */
#ifndef PGPRIV_PROTOCOL_PSI_SUM_H
#define PGPRIV_PROTOCOL_PSI_SUM_H

#include "catalog/pgpriv_catalog.h"

/*
 * Refuse (0A000) a psi_sum permit with min_group > 1: a modified asker
 * chooses which ciphertexts it adds and how many matches it claims, so the
 * owner cannot enforce it.  Such a permit may exist from before
 * pgpriv.permit refused it.
 */
extern void psi_sum_admission_check(const char *dataset, const Permit *permit);

#endif
