/*
 * joint_score.h — what the rest of pgpriv needs from joint_score.c.
 */
#ifndef PGPRIV_PROTOCOL_JOINT_SCORE_H
#define PGPRIV_PROTOCOL_JOINT_SCORE_H

#include "catalog/pgpriv_catalog.h"

/*
 * Check a two-party run's terms (mode, the owner's columns) against the
 * permit; raises 42501 for a column that is not permitted, 08P01 for terms
 * that do not parse (terms may be NULL: refused).
 */
extern void joint_score_admission_check(const char *dataset, const Permit *permit, bytea *terms);

#endif
