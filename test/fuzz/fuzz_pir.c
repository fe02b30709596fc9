/*
 * fuzz_pir.c — libFuzzer harness for the LWE PIR layer on peer input
 * (src/crypto/lwe_pir.c, pir_cuckoo.c; pure C, no backend shim).
 *
 * Two roles, chosen by the first input byte:
 *
 *   owner  serve_pir_answer: the asker's query words, as many whole queries
 *          as the message holds (pir_serve.c refuses a length that is not a
 *          multiple of the query size; so does the harness), go to
 *          lwe_pir_answer_batch over a fixed database of one of a few
 *          shapes.  Each answer is checked against lwe_pir_answer of the
 *          same query alone.
 *   asker  pir_setup, pir_lookup: a layout as the owner announces it (rows,
 *          columns, slot size and count, the seed of A), checked the way
 *          pir_setup checks it (the ranges it parses them in,
 *          lwe_pir_layout_for_shape and slot count × slot size ≤ rows: the
 *          same conditions, restated here because pir_setup itself reads a
 *          libpq result); then queries
 *          for the candidate columns of a few OPRF outputs
 *          (pir_cuckoo_columns, lwe_pir_query_batch with the owner's seed),
 *          the owner's answers and hint from the input, lwe_pir_decode_batch
 *          (checked against lwe_pir_decode one by one), and the tag search
 *          of every slot of every decoded column (pir_cuckoo_find and the
 *          slot walk of pir_lookup).
 *
 * The hint is rows × 1024 words; to keep inputs small it is expanded from
 * 8 input bytes (its values are arbitrary to the decoder anyway: only the
 * sizes decide what is read).  Layouts are kept small enough for thousands
 * of runs a second.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): real queries for every owner shape, and
 * real answers to the asker's queries for a few accepted layouts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/lwe_pir.h"
#include "crypto/pir_cuckoo.h"

#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"

#define TAG_BYTES		16		/* protocol/join/oprf_table.h */
#define MAX_QUERIES		4
#define MAX_ASKER_ROWS	256
#define MAX_ASKER_CELLS 16384	/* rows × cols */
/* pir.c parses the slot size within these (protocol/pir/pir.h) */
#define RECORD_OVERHEAD (16 + 24 + 16 + 4)
#define MAX_PAYLOAD		(16 * 1024)

/* The owner's databases: a few shapes, from degenerate to several slots. */
static const uint32_t shapes[][2] = {{1, 1}, {1, 7}, {5, 3}, {16, 64}, {61, 29}, {128, 2}};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

static lwe_pir_layout owner_layout[NSHAPES];
static uint8_t *owner_db[NSHAPES];

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_pir: %s\n", what);
	abort();
}

static void
generate(const char *dir)
{
	static const uint8_t seed[LWE_PIR_SEED_BYTES] = "fuzz_pir seed..";
	static const uint32_t asked[][4] = {{60, 3, 60, 1}, {128, 40, 64, 2}, {200, 9, 66, 3}};
	lwe_pir_secret *secret = malloc(sizeof(lwe_pir_secret));
	char		name[64];

	for (size_t i = 0; i < NSHAPES; i++)
	{
		uint8_t		head[2] = {0, (uint8_t) i};
		uint32_t   *q = xmalloc(lwe_pir_query_bytes(&owner_layout[i]));

		if (lwe_pir_query(&owner_layout[i], seed, (uint32_t) (i % owner_layout[i].cols), q,
						  secret, 1) != LWE_PIR_OK)
			abort();
		snprintf(name, sizeof(name), "owner-shape%zu", i);
		fuzz_seed_write(dir, name, head, 2, q, lwe_pir_query_bytes(&owner_layout[i]));
		free(q);
	}
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++)
	{
		lwe_pir_layout L = {asked[i][0], asked[i][1], asked[i][2], asked[i][3]};
		uint8_t		head[1 + 16 + LWE_PIR_SEED_BYTES + randombytes_SEEDBYTES + 1];
		size_t		nq = 2;
		uint8_t    *db = xmalloc(lwe_pir_db_bytes(&L));
		uint32_t   *q = xmalloc(nq * lwe_pir_query_bytes(&L));
		uint32_t   *a = xmalloc(nq * lwe_pir_answer_bytes(&L));

		head[0] = 1;
		memcpy(head + 1, asked[i], 16);
		memcpy(head + 17, seed, LWE_PIR_SEED_BYTES);
		memset(head + 17 + LWE_PIR_SEED_BYTES, (int) i, randombytes_SEEDBYTES);
		head[sizeof(head) - 1] = 0;		/* one key: two queries */
		randombytes_buf(db, lwe_pir_db_bytes(&L));
		for (size_t k = 0; k < nq; k++)
			if (lwe_pir_query(&L, seed, (uint32_t) (k % L.cols), q + k * L.cols, secret, 1) != LWE_PIR_OK)
				abort();
		if (lwe_pir_answer_batch(&L, db, nq, q, a, 1) != LWE_PIR_OK)
			abort();
		snprintf(name, sizeof(name), "asker-layout%zu", i);
		fuzz_seed_write(dir, name, head, sizeof(head), a, nq * lwe_pir_answer_bytes(&L));
		free(db);
		free(q);
		free(a);
	}
	free(secret);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_rng_install();
	if (lwe_pir_init() != LWE_PIR_OK)
		abort();
	for (size_t i = 0; i < NSHAPES; i++)
	{
		if (lwe_pir_layout_for_shape(shapes[i][0], shapes[i][1], &owner_layout[i]) != LWE_PIR_OK)
			abort();
		owner_db[i] = xmalloc(lwe_pir_db_bytes(&owner_layout[i]));
		randombytes_buf(owner_db[i], lwe_pir_db_bytes(&owner_layout[i]));
	}
	fuzz_seed_generate(generate);
	return 0;
}

static void
fuzz_owner(FuzzInput *in)
{
	size_t		shape = fuzz_byte(in) % NSHAPES;
	const lwe_pir_layout *L = &owner_layout[shape];
	size_t		qbytes = lwe_pir_query_bytes(L);
	size_t		abytes = lwe_pir_answer_bytes(L);
	size_t		len;
	const uint8_t *msg = fuzz_rest(in, &len);
	size_t		count;
	uint32_t   *queries;
	uint32_t   *answers;
	uint32_t   *one;

	/* pir_serve.c: an empty message or a partial query is refused first. */
	if (len == 0 || len % qbytes != 0)
		return;
	count = len / qbytes;
	if (count > MAX_QUERIES * 4)
		return;
	queries = xmalloc(len);
	memcpy(queries, msg, len);
	answers = xmalloc(count * abytes);
	one = xmalloc(abytes);
	if (lwe_pir_answer_batch(L, owner_db[shape], count, queries, answers, 1) != LWE_PIR_OK)
		fail("lwe_pir_answer_batch refused well-formed queries");
	for (size_t q = 0; q < count; q++)
	{
		if (lwe_pir_answer(L, owner_db[shape], queries + q * L->cols, one, 1) != LWE_PIR_OK)
			fail("lwe_pir_answer refused a well-formed query");
		if (memcmp(one, answers + q * L->rows, abytes) != 0)
			fail("a batched answer differs from the same query answered alone");
	}
	free(queries);
	free(answers);
	free(one);
}

static void
fuzz_asker(FuzzInput *in)
{
	lwe_pir_layout L;
	lwe_pir_layout checked;
	const uint8_t *seed;
	const uint8_t *hint_seed;
	size_t		nkeys;
	size_t		nq;
	uint32_t	cols[2 * MAX_QUERIES];
	uint32_t   *hint;
	uint32_t   *queries;
	uint32_t   *answers;
	uint8_t    *columns;
	uint8_t    *one;
	lwe_pir_secret *secrets;
	uint8_t		outputs[MAX_QUERIES][PIR_CUCKOO_OPRF_BYTES];

	L.rows = fuzz_u32(in);
	L.cols = fuzz_u32(in);
	L.slot_bytes = fuzz_u32(in);
	L.slots_per_col = fuzz_u32(in);
	seed = fuzz_take(in, LWE_PIR_SEED_BYTES);
	hint_seed = fuzz_take(in, randombytes_SEEDBYTES);
	nkeys = fuzz_byte(in) % MAX_QUERIES + 1;
	if (seed == NULL || hint_seed == NULL)
		return;

	/* pir_setup's checks of the announced layout. */
	if (L.slot_bytes < RECORD_OVERHEAD || L.slot_bytes > RECORD_OVERHEAD + MAX_PAYLOAD ||
		L.slots_per_col < 1 || L.slots_per_col > LWE_PIR_MAX_ROWS)
		return;
	if (lwe_pir_layout_for_shape(L.rows, L.cols, &checked) != LWE_PIR_OK ||
		(uint64_t) L.slots_per_col * L.slot_bytes > L.rows)
		return;
	/* The sizes of any accepted layout, which the asker allocates by. */
	if (lwe_pir_hint_bytes(&L) / ((size_t) LWE_PIR_N * 4) != L.rows ||
		lwe_pir_query_bytes(&L) / 4 != L.cols || lwe_pir_answer_bytes(&L) / 4 != L.rows)
		fail("a layout's sizes overflow");
	if (L.rows > MAX_ASKER_ROWS || (uint64_t) L.rows * L.cols > MAX_ASKER_CELLS)
		return;

	/* Two candidate columns per key; the OPRF outputs are the asker's own. */
	for (size_t k = 0; k < nkeys; k++)
	{
		randombytes_buf(outputs[k], sizeof(outputs[k]));
		pir_cuckoo_columns(&L, outputs[k], cols + 2 * k);
		if (cols[2 * k] >= L.cols || cols[2 * k + 1] >= L.cols)
			fail("pir_cuckoo_columns gave a column outside the layout");
	}
	nq = 2 * nkeys;
	queries = xmalloc(nq * lwe_pir_query_bytes(&L));
	secrets = xmalloc(nq * sizeof(lwe_pir_secret));
	if (lwe_pir_query_batch(&L, seed, nq, cols, queries, secrets, 1) != LWE_PIR_OK)
		fail("lwe_pir_query_batch failed on an accepted layout");

	/* The owner's hint and answers. */
	hint = xmalloc(lwe_pir_hint_bytes(&L));
	randombytes_buf_deterministic(hint, lwe_pir_hint_bytes(&L), hint_seed);
	answers = xmalloc(nq * lwe_pir_answer_bytes(&L));
	memset(answers, 0, nq * lwe_pir_answer_bytes(&L));
	{
		size_t		len;
		const uint8_t *p = fuzz_rest(in, &len);

		memcpy(answers, p, len < nq * lwe_pir_answer_bytes(&L) ? len : nq * lwe_pir_answer_bytes(&L));
	}
	columns = xmalloc(nq * L.rows);
	one = xmalloc(L.rows);
	if (lwe_pir_decode_batch(&L, hint, nq, secrets, answers, columns, 1) != LWE_PIR_OK)
		fail("lwe_pir_decode_batch refused answers of the right size");
	for (size_t q = 0; q < nq; q++)
	{
		const uint8_t *column = columns + q * L.rows;

		if (lwe_pir_decode(&L, hint, &secrets[q], answers + q * L.rows, one) != LWE_PIR_OK ||
			memcmp(one, column, L.rows) != 0)
			fail("a batched decode differs from the same answer decoded alone");
		(void) pir_cuckoo_find(&L, column, outputs[q / 2], TAG_BYTES);
		/* pir_lookup's walk: every slot, the tag at its start. */
		for (uint32_t t = 0; t < L.slots_per_col; t++)
		{
			const uint8_t *rec = column + (size_t) t * L.slot_bytes;

			(void) sodium_memcmp(rec, outputs[q / 2], TAG_BYTES);
		}
		lwe_pir_secret_wipe(&secrets[q]);
	}
	free(queries);
	free(secrets);
	free(hint);
	free(answers);
	free(columns);
	free(one);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};

	fuzz_rng_seed(size);
	if (fuzz_byte(&in) & 1)
		fuzz_asker(&in);
	else
		fuzz_owner(&in);
	return 0;
}
