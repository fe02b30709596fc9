/*
 * fuzz_wire.c — libFuzzer harness for the wire framing (src/wire/message.c).
 *
 * Every protocol message between parties is decoded first by
 * wire_unpack_fixed (fixed-size items) or wire_reader_init/next
 * (length-prefixed items), so these are the first code any peer byte meets.
 * The real message.c is linked with the backend shim (pg_shim.c).
 *
 * Input: a 10-byte configuration, then the message itself:
 *   byte 0      bit 0: variable-size items (reader) instead of fixed;
 *               bit 1: hand the message over with a 1-byte varlena header
 *   byte 1      the message type the caller expects
 *   bytes 2..5  fixed: the item size; variable: the largest item allowed
 *   bytes 6..9  the largest item count allowed
 *   bytes 10..  the message (the bytea's payload)
 * The limits come from the input so that every caller's combination is
 * covered (see the callers' wire_unpack_fixed / wire_reader_init).
 *
 * Checks beyond "no crash": an accepted message's items lie inside it, and
 * re-encoding them with the builders gives back exactly the same bytes (the
 * decoder accepts nothing that is not canonical: no slack, no trailing
 * bytes).  A message refused with an ERROR is the expected outcome.
 *
 * Seeds (PGPRIV_FUZZ_GENERATE): messages from wire_pack_fixed and the
 * builder, with the limits their callers use.
 */
#include "postgres.h"

#include "wire/message.h"

#include "fuzz_seed.h"
#include "pg_shim.h"

#define CONFIG_BYTES 10

static void
differ(const char *what)
{
	fprintf(stderr, "fuzz_wire: %s\n", what);
	abort();
}

static void
check_same(bytea *a, const uint8 *msg, size_t len, const char *what)
{
	if (VARSIZE_ANY_EXHDR(a) != len || memcmp(VARDATA_ANY(a), msg, len) != 0)
		differ(what);
}

static void
fuzz_fixed(bytea *b, const uint8 *msg, size_t len, WireType type, uint32 item_size,
		   uint32 max_count)
{
	uint32		count;
	const uint8 *items;

	items = wire_unpack_fixed(b, type, item_size, max_count, &count, "the fuzzer");
	if (count > max_count)
		differ("more items than allowed");
	if (items != (const uint8 *) VARDATA_ANY(b) + WIRE_HEADER_BYTES ||
		(uint64) count * item_size != len - WIRE_HEADER_BYTES)
		differ("items outside the message");
	/* Touch every item byte: ASan checks they are inside the chunk. */
	check_same(wire_pack_fixed(type, items, count, item_size), msg, len,
			   "fixed message does not re-encode to itself");
}

static void
fuzz_variable(bytea *b, const uint8 *msg, size_t len, WireType type, uint32 max_item,
			  uint32 max_count)
{
	WireReader	r;
	WireBuilder w;
	const uint8 *item;
	uint32		ilen;
	uint32		n = 0;
	const uint8 *start = (const uint8 *) VARDATA_ANY(b);
	const uint8 *end = start + VARSIZE_ANY_EXHDR(b);

	wire_reader_init(&r, b, type, max_count, max_item, "the fuzzer");
	wire_builder_init(&w, type);
	while (wire_reader_next(&r, &item, &ilen))
	{
		if (ilen > max_item || item < start + WIRE_HEADER_BYTES || item > end ||
			(size_t) (end - item) < ilen)
			differ("item outside the message or over the limit");
		/* Both ways of adding an item, so both are checked. */
		if (n % 2 == 0)
			wire_builder_add(&w, item, ilen);
		else
		{
			uint8	   *p = wire_builder_reserve(&w, ilen);

			memcpy(p, item, ilen);
			wire_builder_commit(&w, ilen);
		}
		n++;
	}
	if (n > max_count)
		differ("more items than allowed");
	check_same(wire_builder_finish(&w), msg, len,
			   "variable message does not re-encode to itself");
}

static void
seed(const char *dir, const char *name, bool variable, WireType type, uint32 limit,
	 uint32 max_count, bytea *msg)
{
	uint8		config[CONFIG_BYTES];

	config[0] = variable ? 1 : 0;
	config[1] = (uint8) type;
	wire_put_u32(config + 2, limit);
	wire_put_u32(config + 6, max_count);
	fuzz_seed_write(dir, name, config, CONFIG_BYTES, VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg));
}

static void
generate(const char *dir)
{
	uint8		items[3 * 64];
	WireBuilder b;

	for (size_t i = 0; i < sizeof(items); i++)
		items[i] = (uint8) (i * 37);
	seed(dir, "blinded", false, WIRE_BLINDED, 32, 1000, wire_pack_fixed(WIRE_BLINDED, items, 3, 32));
	seed(dir, "ready", false, WIRE_MPC_READY, 1, PG_UINT32_MAX, wire_pack_fixed(WIRE_MPC_READY, items, 5, 1));
	seed(dir, "refusal", false, WIRE_PSUM_REFUSAL, 4, 1, wire_pack_fixed(WIRE_PSUM_REFUSAL, items, 1, 4));
	seed(dir, "empty", false, WIRE_EVALUATED, 32, 10, wire_pack_fixed(WIRE_EVALUATED, items, 0, 32));
	wire_builder_init(&b, WIRE_MPC_FLIGHT);
	wire_builder_add(&b, items, 8);
	wire_builder_add(&b, items, 0);
	wire_builder_add(&b, items + 8, 100);
	seed(dir, "flight", true, WIRE_MPC_FLIGHT, PG_UINT32_MAX, 4, wire_builder_finish(&b));
	wire_builder_init(&b, WIRE_SUM_PARTICIPANTS);
	wire_builder_add(&b, items, 32);
	wire_builder_add(&b, items, 40);
	seed(dir, "participants", true, WIRE_SUM_PARTICIPANTS, 96, 65, wire_builder_finish(&b));
	shim_reset();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_seed_generate(generate);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < CONFIG_BYTES)
		return 0;

	PG_TRY();
	{
		bool		variable = (data[0] & 1) != 0;
		bool		short_header = (data[0] & 2) != 0;
		WireType	type = (WireType) data[1];
		uint32		limit = wire_get_u32(data + 2);
		uint32		max_count = wire_get_u32(data + 6);
		const uint8 *msg = data + CONFIG_BYTES;
		size_t		len = size - CONFIG_BYTES;
		bytea	   *b = shim_bytea(msg, len, short_header);

		if (variable)
			fuzz_variable(b, msg, len, type, limit, max_count);
		else
			fuzz_fixed(b, msg, len, type, limit, max_count);
	}
	PG_CATCH();
	{
		shim_error_caught();
	}
	PG_END_TRY();
	shim_reset();
	return 0;
}
