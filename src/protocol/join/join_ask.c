/*
 * join_ask.c — the join askers' pipelined evaluation of blinded keys and
 * the reading of the owner's numeric fields (see join_ask.h).
 */
#include "postgres.h"

#include "crypto/oprf.h"
#include "protocol/join/join_ask.h"
#include "run/batch.h"
#include "run/progress.h"
#include "wire/message.h"

void
join_ask_evaluate(PeerCall *call, const char *dataset, const char *capability, const char *run,
				  const KeySet *keys, const uint8 *blinds, const uint8 *blinded, size_t batch,
				  uint8 *outputs, const char *phase)
{
	size_t		n = keys->n;
	char	   *sender = psprintf("peer \"%s\"", call->peer);
	const char *params[3] = {dataset, capability, run};
	size_t		start;
	static const char *const evaluate_sql = "SELECT pgpriv.serve_oprf($1, $2, $3, $4)";

	if (phase)
		progress_phase(phase, (int64) n);
	if (n > 0)
	{
		bytea	   *msg = wire_pack_fixed(WIRE_BLINDED, blinded, (uint32) Min(batch, n), 32);

		peer_call_send_bytea(call, evaluate_sql, 3, params, msg);
		pfree(msg);
	}
	for (start = 0; start < n; start += batch)
	{
		size_t		m = Min(batch, n - start);
		size_t		next = start + m;
		bytea	   *reply = peer_call_finish_bytea(call);
		uint32		count;
		const uint8 *items = wire_unpack_fixed(reply, WIRE_EVALUATED, 32, (uint32) m, &count, sender);
		KeySet		slice;

		if (count != m)
			wire_malformed(sender, psprintf("%u evaluated elements for %zu blinded ones.", count, m));
		if (next < n)
		{
			bytea	   *msg = wire_pack_fixed(WIRE_BLINDED, blinded + next * 32,
											  (uint32) Min(batch, n - next), 32);

			peer_call_send_bytea(call, evaluate_sql, 3, params, msg);
			pfree(msg);
		}

		slice.n = m;
		slice.data = keys->data + start;
		slice.lens = keys->lens + start;
		slice.text = keys->text + start;
		batch_finalize(&slice, blinds + start * 32, items, outputs + start * OPRF_OUTPUT_BYTES, sender);
		pfree(reply);
		progress_advance((int64) next, call->bytes_in, call->bytes_out);
	}
}

int64
join_ask_parse_int(const char *s, int64 lo, int64 hi, const char *what, const char *peer)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		wire_malformed(psprintf("peer \"%s\"", peer), psprintf("Impossible %s: \"%s\".", what, s));
	return v;
}

