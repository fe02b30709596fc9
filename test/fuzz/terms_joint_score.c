/*
 * terms_joint_score.c — src/protocol/mpc/joint_score.c compiled into
 * fuzz_terms, for its score_terms_read (the parser of the two-party terms
 * in serve_admit, serve_mpc_begin and WIRE_MPC_TERMS / WIRE_MPC_BEGIN).
 *
 * The file is #included whole so that the real parser is what is fuzzed;
 * the backend functions the rest of the file calls are never reached from
 * here and resolve to fuzz_stubs.c.
 */
#include "../../src/protocol/mpc/joint_score.c"

#include "terms.h"

int
fuzz_terms_read(bytea *msg, WireType type, int *mode, int *k)
{
	WireReader	r;
	MpcTerms	t;
	int			rest = 0;
	const uint8 *item;
	uint32		len;

	/* As serve_mpc_begin reads it: the terms first, then whatever follows. */
	wire_reader_init(&r, msg, type, PG_UINT32_MAX, PG_UINT32_MAX, "the asker");
	score_terms_read(&r, &t);
	for (int j = 0; j < t.k; j++)
		if (strlen(t.columns[j]) == 0 || strlen(t.columns[j]) >= NAMEDATALEN)
			elog(PANIC, "score_terms_read kept an impossible column name");
	while (wire_reader_next(&r, &item, &len))
		rest++;
	*mode = t.mode;
	*k = t.k;
	return rest;
}
