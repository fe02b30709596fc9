/*
 * joint_woe.h — weight of evidence and information value of the owner's
 * columns against the asker's labels (docs/joint_woe.md).
 */
#ifndef PGPRIV_PROTOCOL_JOINT_WOE_H
#define PGPRIV_PROTOCOL_JOINT_WOE_H

#include "catalog/pgpriv_catalog.h"

#define WOE_MAX_BINS		64
#define WOE_MAX_COLUMNS		32

/* serve_admit's check of a train run's terms against the permit (42501, 22023). */
extern void joint_woe_admission_check(const char *dataset, const Permit *permit, bytea *terms);

#endif
