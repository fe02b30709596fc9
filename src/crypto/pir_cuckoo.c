/*
 * pir_cuckoo.c — keyword PIR layout: 2-choice bucketed cuckoo hashing of
 * OPRF-locked records into columns (docs/pir-design.md §4).
 *
 * Why cuckoo hashing: the asker must fetch a fixed, small number of columns
 * per key (here two) whatever the key, or the number of queries would leak.
 * With two choices and b slots per bucket, random-walk insertion fills
 * tables up to a load factor that rises quickly with b (about 0.5 for b = 1,
 * 0.9 for b = 2, 0.98 for b = 4 in the limit of large tables); the sizing
 * below stays well under those thresholds so bounded walks nearly always
 * succeed, and a failure is reported, never hidden, so the caller can retry
 * with more columns.
 *
 * The walk's random choices need not be secret (the owner knows its own data
 * and placement reveals nothing about any query), so they come from a small
 * deterministic generator, which also makes a rebuild reproducible.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/pir_cuckoo.h"

#define EMPTY_SLOT	UINT32_MAX

const char *
pir_cuckoo_status_reason(pir_cuckoo_status st)
{
	switch (st)
	{
		case PIR_CUCKOO_OK:
			return "no error";
		case PIR_CUCKOO_FULL:
			return "cuckoo placement ran out of kicks; retry with more columns";
		case PIR_CUCKOO_BAD_SHAPE:
			return "PIR layout cannot hold the records";
		case PIR_CUCKOO_BAD_ARGUMENT:
			return "cuckoo placement argument is missing or has a zero size";
		case PIR_CUCKOO_NO_MEMORY:
			return "out of memory for cuckoo placement";
	}
	return "unknown cuckoo status";
}

/*
 * Target load factor for b slots per column: a margin below the asymptotic
 * thresholds of 2-choice bucketed cuckoo hashing, since tables here are
 * finite and walks bounded.
 */
static double
target_load(uint64_t slots_per_col)
{
	if (slots_per_col == 1)
		return 0.45;
	if (slots_per_col == 2)
		return 0.80;
	if (slots_per_col == 3)
		return 0.85;
	return 0.90;
}

pir_cuckoo_status
pir_cuckoo_layout(uint64_t n_records, uint32_t slot_bytes, uint32_t attempt,
				  lwe_pir_layout *layout)
{
	lwe_pir_layout dense;
	uint64_t	per_col;
	uint64_t	cols;
	uint64_t	rows;
	double		load;

	if (layout == NULL || n_records == 0 || slot_bytes == 0)
		return PIR_CUCKOO_BAD_ARGUMENT;
	if (attempt > 64)
		return PIR_CUCKOO_BAD_SHAPE;

	/* Shape of a dense table holding n / 0.9 records: sets slots per column. */
	if (lwe_pir_layout_for_records((uint64_t) (n_records / 0.9) + 1, slot_bytes,
								   &dense) != LWE_PIR_OK)
		return PIR_CUCKOO_BAD_SHAPE;
	per_col = dense.slots_per_col;
	for (;;)
	{
		load = target_load(per_col);
		cols = (uint64_t) ((double) n_records / ((double) per_col * load)) + 1;
		cols += cols * attempt / 8;
		if (cols <= LWE_PIR_MAX_COLS)
			break;
		per_col++;				/* past the noise bound: taller columns */
	}
	if (cols < 2)
		cols = 2;				/* two distinct candidates */
	rows = per_col * slot_bytes;
	if (rows > LWE_PIR_MAX_ROWS)
		return PIR_CUCKOO_BAD_SHAPE;

	layout->rows = (uint32_t) rows;
	layout->cols = (uint32_t) cols;
	layout->slot_bytes = slot_bytes;
	layout->slots_per_col = (uint32_t) per_col;
	return PIR_CUCKOO_OK;
}

static uint64_t
personal_hash(const uint8_t output[PIR_CUCKOO_OPRF_BYTES], const char *personal)
{
	uint8_t		h[8];
	uint64_t	v = 0;
	int			i;

	/* 8-byte BLAKE2b cannot fail with these fixed sizes */
	(void) crypto_generichash_blake2b_salt_personal(h, sizeof(h), output,
													PIR_CUCKOO_OPRF_BYTES,
													NULL, 0, NULL,
													(const unsigned char *) personal);
	for (i = 7; i >= 0; i--)
		v = (v << 8) | h[i];
	return v;
}

void
pir_cuckoo_columns(const lwe_pir_layout *layout,
				   const uint8_t oprf_output[PIR_CUCKOO_OPRF_BYTES], uint32_t cols[2])
{
	const uint64_t m = layout->cols;

	/*
	 * 16-byte personalisations, one per choice.  Reducing a 64-bit hash mod
	 * m < 2^20 biases a column by at most m / 2^64.
	 */
	uint64_t	h1 = personal_hash(oprf_output, "pgpriv-pir-col-1");
	uint64_t	h2 = personal_hash(oprf_output, "pgpriv-pir-col-2");

	if (m < 2)
	{
		cols[0] = cols[1] = 0;
		return;
	}
	cols[0] = (uint32_t) (h1 % m);
	cols[1] = (uint32_t) ((cols[0] + 1 + h2 % (m - 1)) % m);
}

/* splitmix64: placement choices only, never secrets */
static uint64_t
walk_next(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* A free slot of bucket col, or −1. */
static long
free_slot(const uint32_t *buckets, uint32_t per_col, uint32_t col)
{
	uint32_t	t;

	for (t = 0; t < per_col; t++)
		if (buckets[(size_t) col * per_col + t] == EMPTY_SLOT)
			return (long) ((size_t) col * per_col + t);
	return -1;
}

pir_cuckoo_status
pir_cuckoo_place(const lwe_pir_layout *layout, size_t n, const uint8_t *oprf_outputs,
				 uint32_t max_kicks, uint32_t *slot_of)
{
	const uint32_t per_col = layout != NULL ? layout->slots_per_col : 0;
	uint32_t   *candidates;
	uint32_t   *buckets;
	size_t		nslots;
	size_t		i;
	uint64_t	walk = UINT64_C(0x70677072697670);	/* fixed: reproducible */
	pir_cuckoo_status st = PIR_CUCKOO_OK;

	if (layout == NULL || (n > 0 && (oprf_outputs == NULL || slot_of == NULL)) ||
		per_col == 0)
		return PIR_CUCKOO_BAD_ARGUMENT;
	nslots = (size_t) layout->cols * per_col;
	if (n > nslots || n >= EMPTY_SLOT)
		return PIR_CUCKOO_BAD_SHAPE;
	if (n == 0)
		return PIR_CUCKOO_OK;

	candidates = malloc(n * 2 * sizeof(uint32_t));
	buckets = malloc(nslots * sizeof(uint32_t));
	if (candidates == NULL || buckets == NULL)
	{
		free(candidates);
		free(buckets);
		return PIR_CUCKOO_NO_MEMORY;
	}
	memset(buckets, 0xff, nslots * sizeof(uint32_t));
	for (i = 0; i < n; i++)
		pir_cuckoo_columns(layout, oprf_outputs + i * PIR_CUCKOO_OPRF_BYTES,
						   &candidates[2 * i]);

	for (i = 0; i < n && st == PIR_CUCKOO_OK; i++)
	{
		uint32_t	item = (uint32_t) i;
		uint32_t	col;
		long		slot = free_slot(buckets, per_col, candidates[2 * i]);
		uint32_t	kicks;

		if (slot < 0)
			slot = free_slot(buckets, per_col, candidates[2 * i + 1]);
		if (slot >= 0)
		{
			buckets[slot] = item;
			continue;
		}

		/* Random walk: evict, move the evicted record to its other column. */
		col = candidates[2 * i + (walk_next(&walk) & 1)];
		for (kicks = 0;; kicks++)
		{
			size_t		victim_slot;
			uint32_t	victim;

			if (kicks >= max_kicks)
			{
				st = PIR_CUCKOO_FULL;
				break;
			}
			victim_slot = (size_t) col * per_col + walk_next(&walk) % per_col;
			victim = buckets[victim_slot];
			buckets[victim_slot] = item;
			item = victim;
			col = candidates[2 * item] == col ? candidates[2 * item + 1]
				: candidates[2 * item];
			slot = free_slot(buckets, per_col, col);
			if (slot >= 0)
			{
				buckets[slot] = item;
				break;
			}
		}
	}

	if (st == PIR_CUCKOO_OK)
	{
		size_t		s;

		for (s = 0; s < nslots; s++)
			if (buckets[s] != EMPTY_SLOT)
				slot_of[buckets[s]] = (uint32_t) s;
	}
	free(candidates);
	free(buckets);
	return st;
}

pir_cuckoo_status
pir_cuckoo_build(const lwe_pir_layout *layout, size_t n, const uint8_t *oprf_outputs,
				 const uint8_t *records, uint32_t max_kicks, uint8_t *db)
{
	uint32_t   *slot_of;
	pir_cuckoo_status st;
	size_t		i;

	if (layout == NULL || db == NULL || (n > 0 && records == NULL) ||
		layout->slots_per_col == 0 ||
		(uint64_t) layout->slots_per_col * layout->slot_bytes > layout->rows)
		return PIR_CUCKOO_BAD_ARGUMENT;
	slot_of = malloc((n > 0 ? n : 1) * sizeof(uint32_t));
	if (slot_of == NULL)
		return PIR_CUCKOO_NO_MEMORY;
	st = pir_cuckoo_place(layout, n, oprf_outputs, max_kicks, slot_of);
	if (st == PIR_CUCKOO_OK)
	{
		memset(db, 0, lwe_pir_db_bytes(layout));
		for (i = 0; i < n; i++)
			(void) lwe_pir_db_put_slot(layout, db,
									   slot_of[i] / layout->slots_per_col,
									   slot_of[i] % layout->slots_per_col,
									   records + i * layout->slot_bytes);
	}
	free(slot_of);
	return st;
}

int
pir_cuckoo_find(const lwe_pir_layout *layout, const uint8_t *column,
				const uint8_t *tag, size_t tag_len)
{
	int			found = -1;
	uint32_t	t;

	if (layout == NULL || column == NULL || tag == NULL || tag_len == 0 ||
		tag_len > layout->slot_bytes)
		return -1;
	for (t = 0; t < layout->slots_per_col; t++)
	{
		int			equal = sodium_memcmp(column + (size_t) t * layout->slot_bytes,
										  tag, tag_len) == 0;

		/* no early exit: the time does not depend on where the tag sits */
		if (equal && found < 0)
			found = (int) t;
	}
	return found;
}
