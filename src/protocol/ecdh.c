/*
 * ecdh.c — shuffled ECDH helpers shared by psi_count and psi_sum (see
 * ecdh.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "utils/memutils.h"

#include "protocol/batch.h"
#include "protocol/ecdh.h"
#include "protocol/progress.h"

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

uint8 *
ecdh_mask_sorted(MemoryContext cxt, uint8 b[ECDH_EL], const uint8 *elements, int64 n)
{
	uint8	   *masked = MemoryContextAllocExtended(cxt, Max(n, 1) * ECDH_EL, MCXT_ALLOC_HUGE);

	batch_mult((size_t) n, b, elements, masked, "the asker");
	qsort(masked, (size_t) n, ECDH_EL, ecdh_compare_element);
	sodium_memzero(b, ECDH_EL);
	return masked;
}

int64
ecdh_parse_count(const char *s, const char *peer)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from peer \"%s\"", peer),
				 errdetail("Expected a count, got \"%s\".", s)));
	return v;
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
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("malformed message from %s", sender),
					 errdetail("%u items where %lld were due.", count, (long long) want)));
		memcpy(out + got * item_size, items, (size_t) count * item_size);
		got += count;
		pfree(reply);
		progress_advance(got, call->bytes_in, call->bytes_out);
		if (n == 0)
			break;
	}
	if (!ecdh_strictly_ascending(out, (size_t) n, item_size))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from %s", sender),
				 errdetail("Masked elements are not distinct and sorted.")));
	return out;
}
