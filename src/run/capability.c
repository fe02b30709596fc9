/*
 * capability.c — the capability registry (capability.h).
 */
#include "postgres.h"

#include "run/capability.h"
#include "protocol/join/psi_sum.h"
#include "protocol/mpc/joint_score.h"
#include "protocol/sum/secure_sum.h"
#include "protocol/train/joint_woe.h"

static void
psi_sum_check(const char *dataset, const Permit *permit, bytea *terms pg_attribute_unused())
{
	psi_sum_admission_check(dataset, permit);
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
	{"train", true, joint_woe_admission_check, false, false},
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
