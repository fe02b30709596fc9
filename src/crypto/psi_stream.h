/*
 * psi_stream.h — the streamed flights the two OT-based PSIs share
 * (kkrt.h: KKRT16; rr22.h: RR22).
 *
 * Both protocols end the same way.  A large middle flight travels in chunks
 * that the parties may make and take on several threads, in any order, each
 * exactly once (psi_chunks).  Then the sender sends, in batches, a short tag
 * of each of its items' PRF outputs (one per hash function: three for KKRT,
 * one for RR22), and the receiver looks every tag up among its own outputs
 * (psi_tags).  A tag is min(16, ⌈(40 + log2 n_r + log2 n_s) / 8⌉) bytes: a
 * false match between any receiver output and any sender tag then has
 * probability ≤ 2^-40 (the statistical security of the KKRT16 and RR22
 * papers).
 *
 * Everything the peer sends is checked here before it is used: sequence
 * numbers against the count of chunks or batches, each frame's item count
 * against the one that sequence number must carry, its length against that
 * count, and a second copy of a chunk or batch is refused.  Memory is sized
 * only by the local party's own set and the peer's set size, which the
 * protocols bound (max_peer_n) before these are set up.
 *
 * Pure crypto-side code: malloc/free, statuses, no PostgreSQL.
 */
#ifndef PGPRIV_CRYPTO_PSI_STREAM_H
#define PGPRIV_CRYPTO_PSI_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ot.h"

/* Tag length for sets of n_r and n_s items (see above). */
extern size_t psi_tag_bytes(size_t n_r, size_t n_s);

/* Items in part `part` of `total` items cut into parts of `per`. */
extern size_t psi_part_items(size_t total, size_t per, size_t part);

/* ------------------------------------------------------------- chunks */

typedef struct psi_chunks
{
	size_t		total,			/* items over all chunks */
				per,			/* items per chunk (the last may have fewer) */
				count;			/* chunks */
	size_t		(*frame_bytes) (size_t items);	/* a chunk frame's exact length */
	_Atomic uint8_t *state;		/* count: to do, being done, done */
	atomic_size_t done;
} psi_chunks;

/* Sets c up for total items; MPC_NO_MEMORY leaves nothing to free. */
extern mpc_status psi_chunks_init(psi_chunks *c, size_t total, size_t per,
								  size_t (*frame_bytes) (size_t items));
extern void psi_chunks_free(psi_chunks *c);
extern size_t psi_chunks_items(const psi_chunks *c, size_t chunk);

/* Claims a chunk to make locally: false if made already or being made. */
extern bool psi_chunks_claim(psi_chunks *c, size_t chunk);

/*
 * Claims the chunk a peer's frame (header seq and count, total length len)
 * carries: MPC_OUT_OF_ORDER for a sequence number out of range or a chunk
 * taken already, MPC_BAD_COUNT or MPC_BAD_LENGTH for a frame that is not
 * that chunk's.
 */
extern mpc_status psi_chunks_accept(psi_chunks *c, uint32_t seq, uint32_t count, size_t len);

/*
 * A claimed chunk's work ended with st: done and counted, or back to be
 * done again (a failed chunk changes nothing a retry cannot redo).
 * Returns st.
 */
extern mpc_status psi_chunks_finish(psi_chunks *c, size_t chunk, mpc_status st);
extern bool psi_chunks_complete(const psi_chunks *c);

/* --------------------------------------------------------------- tags */

/* How the sender's items are cut into tag batches; both parties hold one. */
typedef struct psi_batches
{
	size_t		items,			/* sender items */
				per,			/* items per batch */
				count,			/* batches */
				hashes,			/* tags per item */
				tag_bytes,
				item_bytes;		/* bytes of one sender item (its input) */
} psi_batches;

extern void psi_batches_init(psi_batches *b, size_t items, size_t per, size_t hashes,
							 size_t tag_bytes, size_t item_bytes);
/* A tag batch frame's length: items × hashes tags of tag_bytes each. */
extern size_t psi_tags_frame_bytes(size_t items, size_t hashes, size_t tag_bytes);

/*
 * The sender's tags for items [first, first + n) into tags
 * (n × hashes × tag_bytes, item-major): the protocol's PRF evaluation.
 */
typedef mpc_status (*psi_tags_fn) (const void *sender, const uint8_t *ys, size_t n,
								   uint8_t *tags);

/*
 * Frames batch `batch` of the sender's items ys (items × item_bytes) as a
 * message of type `type`.
 */
extern mpc_status psi_tags_send(const psi_batches *b, uint8_t type, psi_tags_fn tags,
								const void *sender, const uint8_t *ys, size_t batch,
								uint8_t *msg, size_t cap, size_t *len);

/* The receiver's side: its outputs, a lookup table over them, the matches. */
typedef struct psi_tags
{
	psi_batches batches;
	size_t		n;				/* receiver outputs */
	const uint8_t *outs;		/* n outputs, out_stride bytes apart */
	size_t		out_stride;
	const uint8_t *hash_of;		/* n: the hash function of each output, or NULL */
	uint32_t   *table;			/* output + 1, 0 empty; built at the first batch */
	uint64_t   *table_key;		/* the first (up to) 8 tag bytes of that output */
	size_t		mask;
	size_t	   *match;			/* n: the sender item that matched, or SIZE_MAX */
	uint8_t    *seen;			/* batches received */
	size_t		seen_count;
} psi_tags;

/*
 * Sets t up over the receiver's n outputs (not copied: they must outlive
 * t).  hash_of, if given, says which of the sender's `hashes` tags per item
 * each output can match (KKRT's cuckoo bin choice).
 */
extern void psi_tags_init(psi_tags *t, const psi_batches *b, const uint8_t *outs, size_t n,
						  size_t out_stride, const uint8_t *hash_of);
extern void psi_tags_free(psi_tags *t);

/*
 * Takes one batch frame (header seq and count already read, msg and len the
 * whole frame): MPC_OUT_OF_ORDER for a batch out of range or seen already,
 * MPC_BAD_COUNT / MPC_BAD_LENGTH for a frame that is not that batch's,
 * MPC_NO_MEMORY if the table cannot be built (nothing changed then).
 */
extern mpc_status psi_tags_take(psi_tags *t, uint32_t seq, uint32_t count,
								const uint8_t *msg, size_t len);
extern bool psi_tags_done(const psi_tags *t);

/* The sender item output i matched, or SIZE_MAX. */
extern size_t psi_tags_match(const psi_tags *t, size_t i);
extern size_t psi_tags_memory(const psi_tags *t);

#endif
