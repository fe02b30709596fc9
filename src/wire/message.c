/*
 * message.c — encode and decode pgpriv wire messages (see message.h).
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

#include "compat.h"
#include "wire/message.h"

void
wire_put_u32(uint8 *p, uint32 v)
{
	v = pg_hton32(v);
	memcpy(p, &v, 4);
}

uint32
wire_get_u32(const uint8 *p)
{
	uint32		v;

	memcpy(&v, p, 4);
	return pg_ntoh32(v);
}

void
wire_malformed(const char *sender, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed message from %s", sender),
			 errdetail("%s", what)));
}

static void
write_header(uint8 *p, WireType type, uint32 count, uint32 item_size)
{
	p[0] = WIRE_VERSION;
	p[1] = (uint8) type;
	wire_put_u32(p + 2, count);
	wire_put_u32(p + 6, item_size);
}

/* Checks common to both shapes; returns the item size field. */
static uint32
check_header(bytea *msg, WireType type, uint32 max_count, uint32 *count, const char *sender)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(msg);
	size_t		len = VARSIZE_ANY_EXHDR(msg);

	if (len < WIRE_HEADER_BYTES)
		wire_malformed(sender, psprintf("The message has %zu bytes, less than a header.", len));
	if (p[0] != WIRE_VERSION)
		wire_malformed(sender, psprintf("Wire version %u, expected %u.", p[0], WIRE_VERSION));
	if (p[1] != (uint8) type)
		wire_malformed(sender, psprintf("Message type %u, expected %u.", p[1], (unsigned) type));
	*count = wire_get_u32(p + 2);
	if (*count > max_count)
		wire_malformed(sender, psprintf("The message carries %u items, more than the %u allowed.",
								   *count, max_count));
	return wire_get_u32(p + 6);
}

bytea *
wire_pack_fixed(WireType type, const uint8 *items, uint32 count, uint32 item_size)
{
	Size		payload = mul_size((Size) count, (Size) item_size);
	Size		total = add_size(add_size(payload, WIRE_HEADER_BYTES), VARHDRSZ);
	bytea	   *msg;

	if (!AllocSizeIsValid(total))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a message of %u items of %u bytes is too large", count, item_size),
				 errhint("Lower pgpriv.batch_size.")));
	msg = (bytea *) palloc(total);
	SET_VARSIZE(msg, total);
	write_header((uint8 *) VARDATA(msg), type, count, item_size);
	if (payload > 0)
		memcpy((uint8 *) VARDATA(msg) + WIRE_HEADER_BYTES, items, payload);
	return msg;
}

const uint8 *
wire_unpack_fixed(bytea *msg, WireType type, uint32 item_size, uint32 max_count,
				  uint32 *count, const char *sender)
{
	uint32		size = check_header(msg, type, max_count, count, sender);
	size_t		len = VARSIZE_ANY_EXHDR(msg);

	if (size != item_size)
		wire_malformed(sender, psprintf("Items of %u bytes, expected %u.", size, item_size));
	/* count <= max_count and item_size are small: this cannot overflow Size. */
	if (len - WIRE_HEADER_BYTES != (Size) *count * item_size)
		wire_malformed(sender, psprintf("%zu bytes of items for %u items of %u bytes.",
								   len - WIRE_HEADER_BYTES, *count, item_size));
	return (const uint8 *) VARDATA_ANY(msg) + WIRE_HEADER_BYTES;
}

void
wire_builder_init(WireBuilder *b, WireType type)
{
	initStringInfo(&b->buf);
	/* Room for the varlena header and the message header, filled at finish. */
	appendStringInfoSpaces(&b->buf, VARHDRSZ + WIRE_HEADER_BYTES);
	b->count = 0;
	b->type = type;
}

void
wire_builder_init_sized(WireBuilder *b, WireType type, size_t bytes)
{
	wire_builder_init(b, type);
	if (bytes > 0)
		enlargeStringInfo(&b->buf, (int) Min(bytes, (size_t) MaxAllocSize - 1024));
}

void
wire_builder_add(WireBuilder *b, const uint8 *item, uint32 len)
{
	uint8		lenbuf[4];

	wire_put_u32(lenbuf, len);
	appendBinaryStringInfo(&b->buf, (const char *) lenbuf, 4);
	appendBinaryStringInfo(&b->buf, (const char *) item, len);
	b->count++;
}

uint8 *
wire_builder_reserve(WireBuilder *b, size_t cap)
{
	if (cap > (size_t) PG_UINT32_MAX || cap > (size_t) MaxAllocSize - 4)
		elog(ERROR, "a message item of %zu bytes is too large", cap);
	enlargeStringInfo(&b->buf, (int) (4 + cap));
	return (uint8 *) b->buf.data + b->buf.len + 4;
}

void
wire_builder_commit(WireBuilder *b, uint32 len)
{
	wire_put_u32((uint8 *) b->buf.data + b->buf.len, len);
	b->buf.len += 4 + (int) len;
	b->buf.data[b->buf.len] = '\0';
	b->count++;
}

bytea *
wire_builder_finish(WireBuilder *b)
{
	bytea	   *msg = (bytea *) b->buf.data;

	SET_VARSIZE(msg, b->buf.len);
	write_header((uint8 *) VARDATA(msg), b->type, b->count, 0);
	return msg;
}

void
wire_reader_init(WireReader *r, bytea *msg, WireType type, uint32 max_count,
				 uint32 max_item, const char *sender)
{
	uint32		count;
	uint32		size = check_header(msg, type, max_count, &count, sender);
	const uint8 *p = (const uint8 *) VARDATA_ANY(msg) + WIRE_HEADER_BYTES;
	const uint8 *end = (const uint8 *) VARDATA_ANY(msg) + VARSIZE_ANY_EXHDR(msg);
	uint32		i;

	if (size != 0)
		wire_malformed(sender, "Expected variable-size items.");

	/* Walk once to prove every length fits before anyone reads an item. */
	r->pos = p;
	for (i = 0; i < count; i++)
	{
		uint32		len;

		if (end - p < 4)
			wire_malformed(sender, psprintf("Item %u of %u is truncated.", i + 1, count));
		len = wire_get_u32(p);
		p += 4;
		if (len > max_item || (size_t) (end - p) < len)
			wire_malformed(sender, psprintf("Item %u of %u has an impossible length.", i + 1, count));
		p += len;
	}
	if (p != end)
		wire_malformed(sender, psprintf("%zu bytes after the last item.", (size_t) (end - p)));
	r->end = end;
	r->remaining = count;
}

bool
wire_reader_next(WireReader *r, const uint8 **item, uint32 *len)
{
	if (r->remaining == 0)
		return false;
	*len = wire_get_u32(r->pos);
	*item = r->pos + 4;
	r->pos += 4 + *len;
	r->remaining--;
	return true;
}
