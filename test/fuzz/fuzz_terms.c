/*
 * fuzz_terms.c — libFuzzer harness for the parsers of the serve_* arguments
 * and of the owner's table entries (the real src/ files, with the backend
 * shim).
 *
 * The first input byte chooses the parser; the rest is the peer's bytes:
 *
 *   participants  participants_decode (secure_sum.c, static: reached through
 *                 terms_secure_sum.c, which #includes the file): the
 *                 session id and participant items of serve_sum_begin
 *   terms         score_terms_read (joint_score.c, through terms_joint_score.c):
 *                 the two-party terms of serve_admit / serve_mpc_begin, as a
 *                 WIRE_MPC_TERMS or WIRE_MPC_BEGIN message
 *   table         oprf_table_index (oprf_table.c): the owner's table chunks
 *                 (split from the input at 0xff 0xfe 0xfd 0xfc), sealed or
 *                 not, then oprf_table_lower_bound on every entry's tag
 *   record        oprf_table_entry_open on a record sealed by the harness
 *                 around the input (a malicious owner knows F, so it can
 *                 seal anything), then what psi_fetch does (the payload
 *                 split), what pir_lookup does (the u32 length prefix,
 *                 restated here, then the split) or what psi_fetch over
 *                 ot does with an opened entry (oprf_table_rows_split)
 *   train         terms_read (joint_train.c, through terms_joint_train.c):
 *                 joint_train's terms and keys of serve_admit / serve_train_begin
 *   ecdh          ecdh_asked_push of the asker's batches (ecdh.c), then
 *                 ecdh_asked_finish (batch_mult validates every element),
 *                 ecdh_pull_range with the asker's part, start and count,
 *                 and ecdh_parse_count on the peer's text
 *
 * The backend functions the included files call elsewhere resolve to
 * generated stubs (stubs.sh) that abort if ever reached.  Encoding checks
 * use the shim's strict UTF-8 validator in place of mbutils.c.
 */
#include "postgres.h"

#include <sodium.h>

#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "port/pg_bswap.h"

#include "pgpriv.h"
#include "crypto/oprf.h"
#include "protocol/join/ecdh.h"
#include "protocol/join/oprf_table.h"
#include "run/progress.h"
#include "wire/message.h"

#include "fuzz_input.h"
#include "fuzz_rng.h"
#include "fuzz_seed.h"
#include "pg_shim.h"
#include "terms.h"

/* ----------------------------------------------------------------------
 * What the linked files expect of the rest of the extension
 * ----------------------------------------------------------------------
 */

int			pgpriv_crypto_threads = 1;
int			pgpriv_batch_size = 64;		/* small, so that limits are within reach */
int			pgpriv_max_table_mb = 16;
int			pgpriv_max_run_keys = 1024;
int			pgpriv_pir_refresh_seconds = 0;

int
pgpriv_threads_for_batch(void)
{
	return 1;
}

char *
session_role_name(void)
{
	return pstrdup("fuzz");
}

void
progress_begin(const char *capability, const char *peer, const char *dataset, int64 keys)
{
}

void
progress_phase(const char *phase, int64 total)
{
}

void
progress_advance(int64 done, int64 bytes_in, int64 bytes_out)
{
}

void
progress_end(void)
{
}

/* The server encoding is UTF-8: no conversion, only validation. */
char *
pg_any_to_server(const char *s, int len, int encoding)
{
	if (len <= 0)
		return unconstify(char *, s);
	(void) pg_verify_mbstr(PG_UTF8, s, len, false);
	return unconstify(char *, s);
}

/* ----------------------------------------------------------------------
 * The parsers
 * ----------------------------------------------------------------------
 */

enum
{
	OP_PARTICIPANTS,
	OP_TERMS,
	OP_TABLE,
	OP_RECORD,
	OP_ECDH,
	OP_TRAIN,
	OP_COUNT
};

static const uint8 chunk_separator[4] = {0xff, 0xfe, 0xfd, 0xfc};
static uint8 record_F[64];

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_terms: %s\n", what);
	abort();
}

/* A List of the given pointers (lappend lives in the backend's list.c). */
static List *
make_list(void **items, int n)
{
	List	   *l;

	if (n == 0)
		return NIL;
	l = palloc(offsetof(List, initial_elements) + sizeof(ListCell) * n);
	l->type = T_List;
	l->length = n;
	l->max_length = n;
	l->elements = l->initial_elements;
	for (int i = 0; i < n; i++)
		l->elements[i].ptr_value = items[i];
	return l;
}

static void
op_table(FuzzInput *in)
{
	bool		sealed = fuzz_byte(in) & 1;
	int64		expected = fuzz_byte(in);
	size_t		len;
	const uint8 *p = fuzz_rest(in, &len);
	void	   *chunks[16];
	int			n = 0;
	Table		t;

	/* Split the rest into up to 16 chunk messages. */
	while (n < 16)
	{
		const uint8 *sep = NULL;

		for (size_t i = 0; i + 4 <= len; i++)
			if (memcmp(p + i, chunk_separator, 4) == 0)
			{
				sep = p + i;
				break;
			}
		if (sep == NULL || n == 15)
		{
			chunks[n++] = shim_bytea(p, len, false);
			break;
		}
		chunks[n++] = shim_bytea(p, sep - p, false);
		len -= sep - p + 4;
		p = sep + 4;
	}
	oprf_table_index(make_list(chunks, n), expected, "fuzz", sealed, &t);
	if ((int64) t.n != expected)
		fail("oprf_table_index accepted another count than announced");
	for (size_t i = 0; i < t.n; i++)
	{
		size_t		lb = oprf_table_lower_bound(&t, t.entries[i].bytes);

		if (lb > i || memcmp(t.entries[lb].bytes, t.entries[i].bytes, TAG_BYTES) != 0)
			fail("oprf_table_lower_bound missed an entry's own tag");
	}
}

static void
count_row(void *arg, char **values)
{
	(*(int64 *) arg)++;
	(void) values;
}

static void
op_record(FuzzInput *in)
{
	int			kind = fuzz_byte(in) % 3;	/* psi_fetch, pir, psi_fetch over ot */
	bool		pir = kind == 1;
	int			ncol = fuzz_byte(in) % 8;
	size_t		len;
	const uint8 *plain = fuzz_rest(in, &len);
	const char *ad = "pgpriv fuzz dataset";
	size_t		elen = TAG_BYTES + NONCE_BYTES + len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	uint8	   *entry = palloc(elen);
	unsigned long long clen;
	EntryRef	e;
	StringInfoData out;
	char	   *values[8];

	/* The owner's side of a record: tag, nonce, sealed payload. */
	memcpy(entry, record_F, TAG_BYTES);
	randombytes_buf(entry + TAG_BYTES, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(entry + TAG_BYTES + NONCE_BYTES, &clen, plain, len,
											   (const uint8 *) ad, strlen(ad), NULL,
											   entry + TAG_BYTES, record_F + SEAL_KEY_OFFSET);
	e.bytes = entry;
	e.len = (uint32) elen;
	initStringInfo(&out);
	if (!oprf_table_entry_open(&e, record_F, ad, &out))
		fail("a record sealed with F does not open with F");
	if ((size_t) out.len != len || memcmp(out.data, plain, len) != 0)
		fail("an opened record differs from what was sealed");
	if (kind == 2)
	{
		int64		emitted = 0;
		int64		rows = oprf_table_rows_split((const uint8 *) out.data, (size_t) out.len, ncol, "fuzz",
												 count_row, &emitted);

		if (rows != emitted)
			fail("oprf_table_rows_split emitted another number of rows than it returned");
		return;
	}
	if (pir)
	{
		uint32		n;

		/* pir_lookup: a u32 length, then that many payload bytes (padding follows). */
		if (out.len < 4)
			return;
		memcpy(&n, out.data, 4);
		n = pg_ntoh32(n);
		if (n > (uint32) out.len - 4)
			return;
		memmove(out.data, out.data + 4, n);
		out.len = (int) n;
	}
	oprf_table_payload_split(&out, ncol, values, "fuzz");
	for (int c = 0; c < ncol; c++)
		if (values[c] != NULL)
			(void) strlen(values[c]);
}

static void
op_ecdh(FuzzInput *in)
{
	EcdhAsked	a;
	int64		n = fuzz_byte(in) % 80;
	int			batches = fuzz_byte(in) % 4;
	bool		finish = fuzz_byte(in) & 1;
	bool		owner_part;
	int64		start;
	int32		want;
	size_t		len;
	const uint8 *p;
	char	   *text;

	ecdh_asked_init(&a, CurrentMemoryContext, n);
	for (int b = 0; b < batches; b++)
	{
		p = fuzz_field(in, &len);
		if (p == NULL)
			break;
		(void) ecdh_asked_push(&a, shim_bytea(p, len, false));
		if (a.received > a.expected)
			fail("more elements received than announced");
	}
	if (finish)
	{
		ecdh_asked_finish(&a, CurrentMemoryContext, "psi_count", "fuzz");
		if (!ecdh_strictly_ascending(a.elements, (size_t) a.received, ECDH_EL) && a.received > 1)
		{
			/* Equal masked elements only if the asker sent an element twice. */
			for (int64 i = 1; i < a.received; i++)
				if (memcmp(a.elements + (i - 1) * ECDH_EL, a.elements + i * ECDH_EL, ECDH_EL) > 0)
					fail("finished elements are not sorted");
		}
	}
	start = (int64) (int32) fuzz_u32(in);
	want = (int32) fuzz_u32(in);
	p = fuzz_field(in, &len);
	text = pnstrdup(p ? (const char *) p : "", p ? len : 0);
	{
		int64		m = ecdh_pull_range(&a, text, 5, start, want, &owner_part);

		if (m < 0 || m > want || start + m > (owner_part ? 5 : a.received))
			fail("ecdh_pull_range gave a range outside the results");
	}
	p = fuzz_rest(in, &len);
	(void) ecdh_parse_count(pnstrdup((const char *) p, len), "fuzz");
}

static void
run(FuzzInput *in, uint8 op)
{
	size_t		len;
	const uint8 *p;

	switch (op)
	{
		case OP_PARTICIPANTS:
			{
				uint8		session[32];
				int			kinds[65];

				p = fuzz_rest(in, &len);
				if (fuzz_participants_decode(shim_bytea(p, len, len % 2), session, kinds, 65) > 64)
					fail("more participants than the limit");
				break;
			}
		case OP_TERMS:
			{
				WireType	type = (fuzz_byte(in) & 1) ? WIRE_MPC_BEGIN : WIRE_MPC_TERMS;
				int			mode,
							k;

				p = fuzz_rest(in, &len);
				(void) fuzz_terms_read(shim_bytea(p, len, false), type, &mode, &k);
				if (k < 0 || k > 32)
					fail("terms with an impossible column count");
				break;
			}
		case OP_TABLE:
			op_table(in);
			break;
		case OP_RECORD:
			op_record(in);
			break;
		case OP_ECDH:
			op_ecdh(in);
			break;
		case OP_TRAIN:
			{
				int			kb,
							ka;

				p = fuzz_rest(in, &len);
				(void) fuzz_train_terms_read(shim_bytea(p, len, false), &kb, &ka);
				if (kb < 1 || ka < 0 || kb + ka > 31)
					fail("joint_train terms with an impossible column count");
				break;
			}
	}
}

/* ----------------------------------------------------------------------
 * Seeds
 * ----------------------------------------------------------------------
 */

static void
seed_msg(const char *dir, const char *name, const uint8 *head, size_t hlen, bytea *msg)
{
	fuzz_seed_write(dir, name, head, hlen, VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg));
}

static void
generate(const char *dir)
{
	WireBuilder b;
	uint8		item[1 + 32 + 8];
	uint8		head[12] = {1, 2};	/* MPC_MODE_SCORE, two columns */
	uint8		entries[3][TAG_BYTES];
	uint8		el[32];

	/* participants: session id, the asker, one peer named "bank" */
	wire_builder_init(&b, WIRE_SUM_PARTICIPANTS);
	randombytes_buf(item, 32);
	wire_builder_add(&b, item, 32);
	for (int i = 0; i < 2; i++)
	{
		item[0] = (uint8) i;
		randombytes_buf(item + 1, 32);
		memcpy(item + 33, "bank", 4);
		wire_builder_add(&b, item, i == 0 ? 33 : 37);
	}
	seed_msg(dir, "participants", (const uint8[]) {OP_PARTICIPANTS}, 1, wire_builder_finish(&b));

	/* terms: score mode over two columns, then a key */
	wire_builder_init(&b, WIRE_MPC_BEGIN);
	wire_builder_add(&b, head, sizeof(head));
	wire_builder_add(&b, (const uint8 *) "income", 6);
	wire_builder_add(&b, (const uint8 *) "age", 3);
	wire_builder_add(&b, (const uint8 *) "key-1", 5);
	seed_msg(dir, "terms", (const uint8[]) {OP_TERMS, 1}, 2, wire_builder_finish(&b));

	/* train: 2 owner columns, 1 own feature, 8 bits, 10 epochs, batch and slice 64, then a key */
	{
		uint8		th[48] = {0};
		uint64		lr;
		double		half = 0.5;

		wire_put_u32(th, 2);
		wire_put_u32(th + 4, 1);
		wire_put_u32(th + 8, 8);
		wire_put_u32(th + 12, 10);
		wire_put_u32(th + 16, 64);
		wire_put_u32(th + 20, 64);
		memcpy(&lr, &half, 8);
		lr = pg_hton64(lr);
		memcpy(th + 24, &lr, 8);
		wire_builder_init(&b, WIRE_TRAIN_TERMS);
		wire_builder_add(&b, th, sizeof(th));
		wire_builder_add(&b, (const uint8 *) "income", 6);
		wire_builder_add(&b, (const uint8 *) "age", 3);
		wire_builder_add(&b, (const uint8 *) "key-1", 5);
		seed_msg(dir, "train", (const uint8[]) {OP_TRAIN}, 1, wire_builder_finish(&b));
	}

	/* table: three unsealed entries in tag order */
	memset(entries, 0, sizeof(entries));
	for (int i = 0; i < 3; i++)
		entries[i][0] = (uint8) (i * 40);
	wire_builder_init(&b, WIRE_TABLE_CHUNK);
	for (int i = 0; i < 3; i++)
		wire_builder_add(&b, entries[i], TAG_BYTES);
	seed_msg(dir, "table", (const uint8[]) {OP_TABLE, 0, 3}, 3, wire_builder_finish(&b));

	/* record: two columns, one NULL; the PIR form with its length prefix */
	fuzz_seed_write(dir, "record", (const uint8[]) {OP_RECORD, 0, 2}, 3,
					"\0\0\0\3abc\377\377\377\377", 11);
	fuzz_seed_write(dir, "record-pir", (const uint8[]) {OP_RECORD, 1, 2}, 3,
					"\0\0\0\13\0\0\0\3abc\377\377\377\377\0\0\0", 19);
	/* the same row twice, as one owner key's entry of psi_fetch over ot */
	fuzz_seed_write(dir, "record-ot", (const uint8[]) {OP_RECORD, 2, 2}, 3,
					"\0\0\0\2\0\0\0\13\0\0\0\3abc\377\377\377\377\0\0\0\13\0\0\0\3abc\377\377\377\377", 34);

	/* ecdh: two valid elements in one batch, finished, pulled */
	{
		uint8		sk[32];
		uint8		two[64];
		bytea	   *msg;
		uint8		ehead[5] = {OP_ECDH, 2, 1, 1};

		oprf_random_scalar(sk);
		for (int i = 0; i < 2; i++)
		{
			randombytes_buf(el, 32);
			(void) oprf_hash_to_group(el, 32, two + 32 * i);
		}
		msg = wire_pack_fixed(WIRE_BLINDED, two, 2, 32);
		ehead[4] = 0;
		{
			StringInfoData s;
			uint16		l = (uint16) VARSIZE_ANY_EXHDR(msg);

			initStringInfo(&s);
			appendBinaryStringInfo(&s, (const char *) &l, 2);
			appendBinaryStringInfo(&s, VARDATA_ANY(msg), l);
			appendBinaryStringInfo(&s, "\0\0\0\0\2\0\0\0\5\0asker12", 17);
			fuzz_seed_write(dir, "ecdh", ehead, 4, s.data, s.len);
		}
	}
	shim_reset();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_rng_install();
	randombytes_buf(record_F, sizeof(record_F));
	fuzz_seed_generate(generate);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	uint8		op = fuzz_byte(&in) % OP_COUNT;

	fuzz_rng_seed(1);
	PG_TRY();
	{
		run(&in, op);
	}
	PG_CATCH();
	{
		shim_error_caught();
	}
	PG_END_TRY();
	shim_reset();
	return 0;
}
