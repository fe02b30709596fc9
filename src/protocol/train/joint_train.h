/*
 * joint_train.h — vertical logistic regression between the asker's labels
 * (and own features) and the owner's columns on the two-party engine
 * (docs/joint_train.md).
 */
#ifndef PGPRIV_PROTOCOL_JOINT_TRAIN_H
#define PGPRIV_PROTOCOL_JOINT_TRAIN_H

#include "catalog/pgpriv_catalog.h"

#define TRAIN_MAX_FEATURES	31		/* both parties' together; + the intercept = joint_score's 32 */
#define TRAIN_MAX_OTS		((size_t) 1 << 26)	/* stored OT rows per party and direction (1 GiB) */

/* serve_admit's check of a joint_train run's terms against the permit (42501, 08P01). */
extern void joint_train_admission_check(const char *dataset, const Permit *permit, bytea *terms);

#endif
