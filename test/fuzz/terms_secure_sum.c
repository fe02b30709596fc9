/*
 * terms_secure_sum.c — src/protocol/sum/secure_sum_serve.c (and secure_sum.c,
 * whose shared functions it calls) compiled into fuzz_terms, for the owner's
 * static participants_decode (the parser of the participants message of
 * serve_sum_begin and of secure_sum's serve_admit terms).
 *
 * The files are #included whole so that the real parser is what is fuzzed;
 * the backend functions the rest of the file calls (SPI, libpq, the
 * catalog) are never reached from here and resolve to fuzz_stubs.c.
 */
#include "../../src/protocol/sum/secure_sum.c"
#include "../../src/protocol/sum/secure_sum_serve.c"

#include "terms.h"

int
fuzz_participants_decode(bytea *msg, uint8 *session, int *kinds, int max)
{
	Participant *parts = palloc0(sizeof(Participant) * SUM_MAX_PARTICIPANTS);
	int			n = participants_decode(msg, session, parts);

	for (int i = 0; i < n && i < max; i++)
	{
		kinds[i] = parts[i].kind;
		/* The name is NUL-terminated inside its NAMEDATALEN. */
		if (strnlen(parts[i].name, NAMEDATALEN) >= NAMEDATALEN)
			elog(PANIC, "participant name not terminated");
	}
	return n;
}
