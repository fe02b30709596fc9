/*
 * terms_joint_train.c — src/protocol/train/joint_train.c compiled into
 * fuzz_terms, for its terms_read (the parser of joint_train's terms in
 * serve_admit and serve_train_begin, WIRE_TRAIN_TERMS).
 *
 * The file is #included whole so that the real parser is what is fuzzed;
 * the backend and engine functions the rest of the file calls are never
 * reached from here and resolve to fuzz_stubs.c.
 */
#include "../../src/protocol/train/joint_train.c"

#include "terms.h"

int
fuzz_train_terms_read(bytea *msg, int *kb, int *ka)
{
	WireReader	r;
	TrainTerms	t;
	int			rest = 0;
	const uint8 *item;
	uint32		len;

	/* As serve_train_begin reads it: the terms first, then the keys. */
	wire_reader_init(&r, msg, WIRE_TRAIN_TERMS, PG_UINT32_MAX, PG_UINT32_MAX, "the asker");
	terms_read(&r, &t);
	for (int j = 0; j < t.kb; j++)
		if (strlen(t.columns[j]) == 0 || strlen(t.columns[j]) >= NAMEDATALEN)
			elog(PANIC, "terms_read kept an impossible column name");
	if ((size_t) t.slice * Max(t.kb, t.ka) * t.bits > FIXPROD_MAX_SLICE_OTS || !(t.lr > 0) || !(t.l2 >= 0))
		elog(PANIC, "terms_read kept parameters out of range");
	while (wire_reader_next(&r, &item, &len))
		rest++;
	*kb = t.kb;
	*ka = t.ka;
	return rest;
}
