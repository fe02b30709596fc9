/*
 * ecdh.c — shuffled ECDH helpers shared by psi_count and psi_sum (see
 * ecdh.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "utils/memutils.h"

#include "compat.h"
#include "pgpriv.h"
#include "catalog/pgpriv_catalog.h"
#include "crypto/oprf.h"
#include "run/admission.h"
#include "run/batch.h"
#include "run/keys.h"
#include "protocol/join/ecdh.h"
#include "run/progress.h"

int
ecdh_compare_element(const void *a, const void *b)
{
	return memcmp(a, b, ECDH_EL);
}

bool
ecdh_strictly_ascending(const uint8 *items, size_t n, size_t item_size)
{
	size_t		i;

	for (i = 1; i < n; i++)
		if (memcmp(items + (i - 1) * item_size, items + i * item_size, ECDH_EL) >= 0)
			return false;
	return true;
}

void
ecdh_asked_init(EcdhAsked *a, MemoryContext cxt, int64 n)
{
	oprf_random_scalar(a->b);
	a->expected = n;
	a->received = 0;
	a->finished = false;
	a->capacity = Min(Max(n, 1), 1024);
	a->elements = MemoryContextAllocExtended(cxt, a->capacity * ECDH_EL, MCXT_ALLOC_HUGE);
}

int64
ecdh_asked_push(EcdhAsked *a, bytea *msg)
{
	uint32		count;
	const uint8 *items;

	if (a->finished)
		wire_malformed("the asker", "Keys sent after the run was finished.");
	items = wire_unpack_fixed(msg, WIRE_BLINDED, ECDH_EL, (uint32) pgpriv_batch_size, &count,
							  "the asker");
	if (a->received + count > a->expected)
		wire_malformed("the asker", psprintf("More keys than the %lld announced.", (long long) a->expected));
	if (a->received + count > a->capacity)
	{
		/* double, never beyond what was admitted: memory follows what arrived */
		a->capacity = Min(Max(a->capacity * 2, a->received + count), a->expected);
		a->elements = repalloc_huge(a->elements, a->capacity * ECDH_EL);
	}
	memcpy(a->elements + a->received * ECDH_EL, items, (size_t) count * ECDH_EL);
	a->received += count;
	return a->received;
}

int64
ecdh_serve_push(ServedRun *run, EcdhAsked *a, bytea *msg)
{
	int64		received;

	catalog_restrict_definer();
	received = ecdh_asked_push(a, msg);
	admission_absorb(run->run, TRANSCRIPT_REQUEST, msg);
	run->bytes_in += VARSIZE_ANY_EXHDR(msg);
	return received;
}

void
ecdh_serve_finish(ServedRun *run, EcdhAsked *a, const char *capability)
{
	catalog_restrict_definer();
	ecdh_asked_finish(a, run->cxt, capability, run->dataset);
}

void
ecdh_asked_finish(EcdhAsked *a, MemoryContext cxt, const char *capability, const char *dataset)
{
	uint8	   *masked;

	if (a->finished || a->received != a->expected)
		wire_malformed("the asker", psprintf("%lld of %lld announced keys were sent.",
											 (long long) a->received, (long long) a->expected));
	progress_begin(capability, session_role_name(), dataset, a->received);
	progress_phase("owner: masking the asker's keys", a->received);
	masked = MemoryContextAllocExtended(cxt, Max(a->received, 1) * ECDH_EL, MCXT_ALLOC_HUGE);
	batch_mult((size_t) a->received, a->b, a->elements, masked, "the asker");
	qsort(masked, (size_t) a->received, ECDH_EL, ecdh_compare_element);
	sodium_memzero(a->b, ECDH_EL);
	pfree(a->elements);
	a->elements = masked;
	a->finished = true;
	progress_end();
}

int64
ecdh_pull_range(const EcdhAsked *a, const char *part, int64 owner_n, int64 start, int32 want,
				bool *owner_part)
{
	int64		n;

	*owner_part = strcmp(part, "owner") == 0;
	if (!a->finished || (!*owner_part && strcmp(part, "asker") != 0))
		wire_malformed("the asker", psprintf("Results of part \"%s\" are not available.", part));
	n = *owner_part ? owner_n : a->received;
	if (start < 0 || start > n)
		wire_malformed("the asker", psprintf("Position %lld is outside the %lld results.",
											 (long long) start, (long long) n));
	ecdh_check_want(want);
	return Min((int64) want, n - start);
}

void
ecdh_check_want(int32 want)
{
	if (want < 0 || want > pgpriv_batch_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a batch may carry at most %d elements (pgpriv.batch_size), not %d",
						pgpriv_batch_size, want)));
}

bytea *
ecdh_serve_reply(ServedRun *run, bytea *reply)
{
	run->bytes_out += VARSIZE_ANY_EXHDR(reply);
	admission_absorb(run->run, TRANSCRIPT_RESPONSE, reply);
	return reply;
}

int64
ecdh_parse_count(const char *s, const char *peer)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 0)
		wire_malformed(psprintf("peer \"%s\"", peer), psprintf("Expected a count, got \"%s\".", s));
	return v;
}

PGresult *
ecdh_ask_begin(PeerCall *call, const char *begin_sql, int nparams, const char *const *params,
			   const KeySet *keys, const uint8 a[ECDH_EL], uint8 *blinded, const char *owner_work)
{
	peer_call_send_text(call, begin_sql, nparams, params);
	progress_phase(psprintf("asker: masking keys (%s)", owner_work), (int64) keys->n);
	batch_hash_and_mult(keys, a, blinded);

	progress_phase(psprintf("asker: %s", owner_work), 0);
	return peer_call_finish_text(call);
}

int64
ecdh_reply_count(PGresult *res, const char *peer)
{
	char	   *end;
	long long	v;

	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
		goto bad;
	errno = 0;
	v = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		goto bad;
	PQclear(res);
	return v;
bad:
	PQclear(res);
	wire_malformed(psprintf("peer \"%s\"", peer), "Expected a count.");
}

void
ecdh_parse_begin(PGresult *res, const char *server, int64 *batch, int64 *owner_n)
{
	*batch = ecdh_parse_count(PQgetvalue(res, 0, 0), server);
	*owner_n = ecdh_parse_count(PQgetvalue(res, 0, 1), server);
	PQclear(res);
	*batch = Max(Min(*batch, (int64) pgpriv_batch_size), 1);
	if (*owner_n > (int64) pgpriv_max_run_keys)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("peer \"%s\" announces %lld keys, more than pgpriv.max_run_keys (%d)",
						server, (long long) *owner_n, pgpriv_max_run_keys)));
}

void
ecdh_push(PeerCall *call, const char *push_sql, const char *run, WireType type, const uint8 *elements,
		  int64 n, int64 batch, const char *phase, const char *ack)
{
	const char *params[1] = {run};
	int64		start;

	progress_phase(phase, n);
	for (start = 0; start < n; start += batch)
	{
		int64		m = Min(batch, n - start);
		bytea	   *msg = wire_pack_fixed(type, elements + start * ECDH_EL, (uint32) m, ECDH_EL);
		PGresult   *res = peer_call_msg(call, push_sql, 1, params, msg);

		if (ack == NULL)
			PQclear(res);
		else if (ecdh_reply_count(res, call->peer) != start + m)
			wire_malformed(psprintf("peer \"%s\"", call->peer), ack);
		pfree(msg);
		progress_advance(start + m, call->bytes_in, call->bytes_out);
	}
}

uint8 *
ecdh_pull_part(PeerCall *call, const char *pull_sql, const char *run, const char *part,
			   WireType type, size_t item_size, int64 n, int64 batch, bool at_least_once)
{
	uint8	   *out = palloc_extended(Max(n, 1) * item_size, MCXT_ALLOC_HUGE);
	int64		got = 0;
	char	   *sender = psprintf("peer \"%s\"", call->peer);

	while (got < n || (at_least_once && got == 0 && n == 0))
	{
		char		startbuf[32];
		char		countbuf[32];
		const char *params[4] = {run, part, startbuf, countbuf};
		bytea	   *reply;
		uint32		count;
		const uint8 *items;
		int64		want = Min(batch, n - got);

		snprintf(startbuf, sizeof(startbuf), INT64_FORMAT, got);
		snprintf(countbuf, sizeof(countbuf), INT64_FORMAT, want);
		reply = peer_call_bytea(call, pull_sql, 4, params, NULL);
		items = wire_unpack_fixed(reply, type, (uint32) item_size, (uint32) want, &count, sender);
		if ((int64) count != want)
			wire_malformed(sender, psprintf("%u items where %lld were due.", count, (long long) want));
		memcpy(out + got * item_size, items, (size_t) count * item_size);
		got += count;
		pfree(reply);
		progress_advance(got, call->bytes_in, call->bytes_out);
		if (n == 0)
			break;
	}
	if (!ecdh_strictly_ascending(out, (size_t) n, item_size))
		wire_malformed(sender, "Masked elements are not distinct and sorted.");
	return out;
}
