/*
 * capability.c — the capability registry (capability.h).
 */
#include "postgres.h"

#include "run/capability.h"
#include "protocol/join/psi_sum.h"
#include "protocol/mpc/joint_score.h"
#include "protocol/sum/secure_sum.h"
#include "protocol/train/joint_train.h"
#include "protocol/train/joint_woe.h"
#include "wire/message.h"

static void
psi_sum_check(const char *dataset, const Permit *permit, bytea *terms pg_attribute_unused())
{
	psi_sum_admission_check(dataset, permit);
}

/* A train run is joint_woe's or joint_train's: its terms' wire type says which. */
static void
train_check(const char *dataset, const Permit *permit, bytea *terms)
{
	if (terms != NULL && VARSIZE_ANY_EXHDR(terms) >= 2 &&
		((const uint8 *) VARDATA_ANY(terms))[1] == WIRE_TRAIN_TERMS)
		joint_train_admission_check(dataset, permit, terms);
	else
		joint_woe_admission_check(dataset, permit, terms);
}

static const Capability capabilities[] = {
	{"psi", true, NULL, false, false},
	{"psi_count", true, NULL, false, false},
	{"psi_fetch", true, NULL, false, true},
	/* min_group is refused for psi_sum (it cannot be enforced). */
	{"psi_sum", true, psi_sum_check, false, false},
	/* A pir run may be a sync alone, asking no key. */
	{"pir", false, NULL, false, true},
	/* secure_sum's terms (value column, participants) when the asker sends them. */
	{"secure_sum", true, secure_sum_admission_check, true, false},
	/* mpc_selftest asks no key. */
	{"mpc", false, joint_score_admission_check, false, false},
	{"train", true, train_check, false, false},
};

const Capability *
capability_lookup(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < lengthof(capabilities); i++)
		if (strcmp(capabilities[i].name, name) == 0)
			return &capabilities[i];
	return NULL;
}

const Capability *
capability_nth(int i)
{
	return i >= 0 && (size_t) i < lengthof(capabilities) ? &capabilities[i] : NULL;
}
