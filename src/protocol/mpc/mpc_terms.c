/*
 * mpc_terms.c — what the owner's readers of the two-party runs' terms
 * share (mpc_terms.h): opening the terms a run is admitted with, and
 * reading the owner's column names one by one.  Used by score_terms_read
 * (joint_score.c), joint_woe.c's and joint_train.c's terms_read and their
 * admission checks.
 *
 * Construction: the terms are a wire message (wire/message.h) from the
 * asker; every column name is checked before it is kept (length, no NUL,
 * not named before), so no later step sees an impossible name.  Security
 * model: the terms come from the peer and are untrusted; a violation is a
 * protocol error (08P01) naming the asker, and the permit check of the
 * names (permit_require_columns) comes after, in the callers.  Linked into
 * fuzz_terms (test/fuzz) with the parsers that call it.
 */
#include "postgres.h"

#include "protocol/mpc/mpc_terms.h"
#include "wire/message.h"

void
mpc_terms_open(WireReader *r, bytea *terms, WireType type, uint32 max_count, uint32 max_item,
			   const char *none)
{
	if (terms == NULL)
		wire_malformed("the asker", none);
	wire_reader_init(r, terms, type, max_count, max_item, "the asker");
}

char *
mpc_terms_column(WireReader *r, char *const *columns, int j, const char *missing, const char *twice)
{
	const uint8 *item;
	uint32		len;
	char	   *name;

	if (!wire_reader_next(r, &item, &len) || len == 0 || len >= NAMEDATALEN ||
		memchr(item, '\0', len) != NULL)
		wire_malformed("the asker", missing);
	name = pnstrdup((const char *) item, len);
	for (int i = 0; i < j; i++)
		if (strcmp(columns[i], name) == 0)
			wire_malformed("the asker", twice);
	return name;
}
