/*
 * psi_stream.c — chunked flights and tag batches of the OT-based PSIs
 * (see psi_stream.h).
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/bytes.h"
#include "crypto/psi_stream.h"

#define STAT_SEC		40

enum
{
	CHUNK_TODO = 0,
	CHUNK_BUSY = 1,
	CHUNK_DONE = 2
};

size_t
psi_tag_bytes(size_t n_r, size_t n_s)
{
	size_t		bits = STAT_SEC + crypto_ceil_log2(n_r) + crypto_ceil_log2(n_s);
	size_t		t = (bits + 7) / 8;

	return t > 16 ? 16 : t;
}

size_t
psi_part_items(size_t total, size_t per, size_t part)
{
	size_t		first = part * per;

	return total - first < per ? total - first : per;
}

/* ------------------------------------------------------------- chunks */

mpc_status
psi_chunks_init(psi_chunks *c, size_t total, size_t per, size_t (*frame_bytes) (size_t items))
{
	c->total = total;
	c->per = per;
	c->count = (total + per - 1) / per;
	c->frame_bytes = frame_bytes;
	atomic_init(&c->done, 0);
	c->state = crypto_zalloc(c->count);
	return c->state == NULL ? MPC_NO_MEMORY : MPC_OK;
}

void
psi_chunks_free(psi_chunks *c)
{
	free((void *) c->state);
	memset(c, 0, sizeof(*c));
}

size_t
psi_chunks_items(const psi_chunks *c, size_t chunk)
{
	return psi_part_items(c->total, c->per, chunk);
}

bool
psi_chunks_claim(psi_chunks *c, size_t chunk)
{
	uint8_t		expect = CHUNK_TODO;

	return atomic_compare_exchange_strong(&c->state[chunk], &expect, CHUNK_BUSY);
}

mpc_status
psi_chunks_accept(psi_chunks *c, uint32_t seq, uint32_t count, size_t len)
{
	if (seq >= c->count)
		return MPC_OUT_OF_ORDER;
	if (count != psi_chunks_items(c, seq))
		return MPC_BAD_COUNT;
	if (len != c->frame_bytes(count))
		return MPC_BAD_LENGTH;
	if (!psi_chunks_claim(c, seq))
		return MPC_OUT_OF_ORDER;
	return MPC_OK;
}

mpc_status
psi_chunks_finish(psi_chunks *c, size_t chunk, mpc_status st)
{
	if (st == MPC_OK)
	{
		atomic_store(&c->state[chunk], CHUNK_DONE);
		atomic_fetch_add(&c->done, 1);
	}
	else
		atomic_store(&c->state[chunk], CHUNK_TODO);
	return st;
}

bool
psi_chunks_complete(const psi_chunks *c)
{
	return atomic_load(&((psi_chunks *) c)->done) == c->count;
}

/* --------------------------------------------------------------- tags */

void
psi_batches_init(psi_batches *b, size_t items, size_t per, size_t hashes,
				 size_t tag_bytes, size_t item_bytes)
{
	b->items = items;
	b->per = per;
	b->count = (items + per - 1) / per;
	b->hashes = hashes;
	b->tag_bytes = tag_bytes;
	b->item_bytes = item_bytes;
}

size_t
psi_tags_frame_bytes(size_t items, size_t hashes, size_t tag_bytes)
{
	return MPC_MSG_HEADER_BYTES + items * hashes * tag_bytes;
}

static size_t
psi_batches_frame_bytes(const psi_batches *b, size_t items)
{
	return psi_tags_frame_bytes(items, b->hashes, b->tag_bytes);
}

mpc_status
psi_tags_send(const psi_batches *b, uint8_t type, psi_tags_fn tags, const void *sender,
			  const uint8_t *ys, size_t batch, uint8_t *msg, size_t cap, size_t *len)
{
	size_t		cnt;
	mpc_status	st;

	if (ys == NULL || batch >= b->count)
		return MPC_BAD_COUNT;
	cnt = psi_part_items(b->items, b->per, batch);
	if (cap < psi_batches_frame_bytes(b, cnt))
		return MPC_BUFFER_TOO_SMALL;
	st = tags(sender, ys + batch * b->per * b->item_bytes, cnt, msg + MPC_MSG_HEADER_BYTES);
	if (st != MPC_OK)
		return st;
	mpc_msg_put_header(msg, type, (uint32_t) batch, (uint32_t) cnt);
	*len = psi_batches_frame_bytes(b, cnt);
	return MPC_OK;
}

void
psi_tags_init(psi_tags *t, const psi_batches *b, const uint8_t *outs, size_t n,
			  size_t out_stride, const uint8_t *hash_of)
{
	memset(t, 0, sizeof(*t));
	t->batches = *b;
	t->n = n;
	t->outs = outs;
	t->out_stride = out_stride;
	t->hash_of = hash_of;
}

void
psi_tags_free(psi_tags *t)
{
	free(t->table);
	free(t->table_key);
	free(t->match);
	free(t->seen);
	t->table = NULL;
	t->table_key = NULL;
	t->match = NULL;
	t->seen = NULL;
}

static uint64_t
tag_key(const uint8_t *tag, size_t tag_bytes)
{
	uint64_t	k = 0;

	memcpy(&k, tag, tag_bytes < 8 ? tag_bytes : 8);
	return k;
}

/* The lookup table of the receiver's outputs, built at the first batch. */
static mpc_status
build_table(psi_tags *t)
{
	size_t		size = 1;

	while (size < 2 * t->n)
		size <<= 1;
	t->table = crypto_zalloc(size * sizeof(uint32_t));
	t->table_key = crypto_zalloc(size * sizeof(uint64_t));
	t->match = malloc(t->n * sizeof(size_t));
	t->seen = crypto_zalloc(t->batches.count);
	if (t->table == NULL || t->table_key == NULL || t->match == NULL || t->seen == NULL)
	{
		psi_tags_free(t);
		return MPC_NO_MEMORY;
	}
	t->mask = size - 1;
	for (size_t i = 0; i < t->n; i++)
	{
		uint64_t	key = tag_key(t->outs + i * t->out_stride, t->batches.tag_bytes);
		size_t		pos = (size_t) key & t->mask;

		while (t->table[pos] != 0)
			pos = (pos + 1) & t->mask;
		t->table[pos] = (uint32_t) i + 1;
		t->table_key[pos] = key;
		t->match[i] = SIZE_MAX;
	}
	return MPC_OK;
}

mpc_status
psi_tags_take(psi_tags *t, uint32_t seq, uint32_t count, const uint8_t *msg, size_t len)
{
	const psi_batches *b = &t->batches;
	size_t		tb = b->tag_bytes;
	mpc_status	st;
	const uint8_t *p;

	if (seq >= b->count)
		return MPC_OUT_OF_ORDER;
	if (count != psi_part_items(b->items, b->per, seq))
		return MPC_BAD_COUNT;
	if (len != psi_batches_frame_bytes(b, count))
		return MPC_BAD_LENGTH;
	if (t->table == NULL && (st = build_table(t)) != MPC_OK)
		return st;
	if (t->seen[seq])
		return MPC_OUT_OF_ORDER;

	p = msg + MPC_MSG_HEADER_BYTES;
	for (size_t k = 0; k < count; k++)
		for (size_t h = 0; h < b->hashes; h++, p += tb)
		{
			uint64_t	key = tag_key(p, tb);
			size_t		pos = (size_t) key & t->mask;

			while (t->table[pos] != 0)
			{
				size_t		i = t->table[pos] - 1;

				/* the stored key first: most probes meet another output */
				if (t->table_key[pos] == key &&
					(t->hash_of == NULL || t->hash_of[i] == h) &&
					memcmp(t->outs + i * t->out_stride, p, tb) == 0)
					t->match[i] = (size_t) seq * b->per + k;
				pos = (pos + 1) & t->mask;
			}
		}
	t->seen[seq] = 1;
	t->seen_count++;
	return MPC_OK;
}

bool
psi_tags_done(const psi_tags *t)
{
	return t->table != NULL && t->seen_count == t->batches.count;
}

size_t
psi_tags_match(const psi_tags *t, size_t i)
{
	if (t->match == NULL || i >= t->n)
		return SIZE_MAX;
	return t->match[i];
}

size_t
psi_tags_memory(const psi_tags *t)
{
	if (t->table == NULL)
		return 0;
	return (t->mask + 1) * (sizeof(uint32_t) + sizeof(uint64_t)) +
		t->n * sizeof(size_t) + t->batches.count;
}
