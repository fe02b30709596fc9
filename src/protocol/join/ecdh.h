/*
 * ecdh.h — what psi_count and psi_sum share: shuffled ECDH over
 * ristretto255 (docs/architecture.md, protocols 2 and 3).
 *
 * Both mask the asker's keys twice (a·H(x), then b·a·H(x)) and the owner's
 * once per side (b·H(y), then a·b·H(y)), and exchange the masked sets sorted
 * by value, which from the other side's view is a random order.
 */
#ifndef PGPRIV_PROTOCOL_ECDH_H
#define PGPRIV_PROTOCOL_ECDH_H

#include "peer/call.h"
#include "run/keys.h"
#include "run/served_run.h"
#include "wire/message.h"

#define ECDH_EL 32				/* bytes per ristretto255 element */

/* Order of items by their first 32 bytes (the masked element). */
extern int	ecdh_compare_element(const void *a, const void *b);

/* True if n items of item_size bytes are strictly ascending in their first 32 bytes. */
extern bool ecdh_strictly_ascending(const uint8 *items, size_t n, size_t item_size);

/*
 * Owner: the asker's side of a run — its masked keys a·H(x), received in
 * batches, then masked with the run's secret b and sorted.
 */
typedef struct EcdhAsked
{
	uint8		b[ECDH_EL];		/* the run's secret scalar, wiped once used */
	int64		expected;		/* keys admitted (and charged) */
	int64		received;
	uint8	   *elements;		/* a·H(x) as received; b·a·H(x) sorted once finished */
	int64		capacity;		/* elements there is room for (grows as they arrive) */
	bool		finished;
} EcdhAsked;

/*
 * A fresh secret b, and a run of n admitted elements kept in cxt; the room
 * grows as elements arrive, so an admission alone allocates nothing large.
 */
extern void ecdh_asked_init(EcdhAsked *a, MemoryContext cxt, int64 n);

/*
 * One batch of elements (WIRE_BLINDED, at most pgpriv.batch_size); returns
 * the count received so far.  More than admitted, or after finishing: 08P01.
 */
extern int64 ecdh_asked_push(EcdhAsked *a, bytea *msg);

/*
 * All elements received: b·elements, sorted, on all cores; b is wiped (the
 * run's last use of it).  Shown in pgpriv.progress under capability.
 */
extern void ecdh_asked_finish(EcdhAsked *a, MemoryContext cxt, const char *capability,
							  const char *dataset);

/*
 * Owner: serve_count_push and serve_psi_sum_push, for the run whose keys are
 * in a: the batch taken (as ecdh_asked_push), absorbed in the transcript and
 * counted in the run's bytes.  Returns the count received so far.
 */
extern int64 ecdh_serve_push(ServedRun *run, EcdhAsked *a, bytea *msg);

/* Owner: serve_count_finish and serve_psi_sum_finish (ecdh_asked_finish). */
extern void ecdh_serve_finish(ServedRun *run, EcdhAsked *a, const char *capability);

/* Owner: 54000 unless a pull's count want is within 0 .. pgpriv.batch_size. */
extern void ecdh_check_want(int32 want);

/*
 * Owner: a reply of the run (a pull, a decryption): its bytes counted in
 * the run's, the reply absorbed in the transcript.  Returns reply.
 */
extern bytea *ecdh_serve_reply(ServedRun *run, bytea *reply);

/*
 * Owner: check a pull of part ('asker': the finished elements; 'owner': its
 * own owner_n items) from position start, at most want items; returns how
 * many to send and sets *owner_part.  08P01 for a part not available or a
 * position outside it, 54000 for want over pgpriv.batch_size.
 */
extern int64 ecdh_pull_range(const EcdhAsked *a, const char *part, int64 owner_n,
							 int64 start, int32 want, bool *owner_part);

/* Asker: a count sent by the peer as text (08P01 if it is not one). */
extern int64 ecdh_parse_count(const char *s, const char *peer);

/*
 * Asker: begin_sql(params) sent to the owner, which prepares its dataset
 * (owner_work, for pgpriv.progress) while the asker masks its keys with a
 * into blinded (a·H(x)); returns the owner's reply.
 */
extern PGresult *ecdh_ask_begin(PeerCall *call, const char *begin_sql, int nparams, const char *const *params,
								const KeySet *keys, const uint8 a[ECDH_EL], uint8 *blinded,
								const char *owner_work);

/* Asker: the one count a reply holds (08P01 "Expected a count." otherwise); res is cleared. */
extern int64 ecdh_reply_count(PGresult *res, const char *peer);

/*
 * Asker: fields 0 and 1 of the owner's reply to serve_count_begin or
 * serve_psi_sum_begin (res, cleared here): *batch, the owner's batch limit
 * brought within 1 .. pgpriv.batch_size, and *owner_n, the dataset's
 * distinct keys.  08P01 if either is not a count, 54000 if the owner
 * announces more keys than pgpriv.max_run_keys.
 */
extern void ecdh_parse_begin(PGresult *res, const char *server, int64 *batch, int64 *owner_n);

/*
 * Asker: n elements of type to push_sql(run, batch), batch elements a call,
 * shown in pgpriv.progress as phase.  With ack (the detail of its 08P01),
 * each reply must be the count received so far; without, it is not read.
 */
extern void ecdh_push(PeerCall *call, const char *push_sql, const char *run, WireType type,
					  const uint8 *elements, int64 n, int64 batch, const char *phase, const char *ack);

/*
 * Asker: pull n items (item_size bytes each, message type type) of part
 * ('asker' or 'owner') with pull_sql(run, part, start, count), batch items
 * per call; checks counts and that the items are distinct and sorted.  With
 * at_least_once, one call is made even when n is 0 (the owner ends the run
 * on the last pull).
 */
extern uint8 *ecdh_pull_part(PeerCall *call, const char *pull_sql, const char *run, const char *part,
							 WireType type, size_t item_size, int64 n, int64 batch, bool at_least_once);

#endif
