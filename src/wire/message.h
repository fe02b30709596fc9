/*
 * message.h — pgpriv wire messages: framing with a version byte and strict
 * lengths.
 *
 * Every protocol message that crosses between parties is a bytea:
 *
 *   byte 0      version (WIRE_VERSION)
 *   byte 1      message type (WireType)
 *   bytes 2..5  count of items, uint32 big-endian
 *   bytes 6..9  item size in bytes, uint32 big-endian (0 = variable-size items)
 *   bytes 10..  the items: fixed-size items back to back; variable-size items
 *               each prefixed by their length, uint32 big-endian
 *
 * Decoding checks all of it before anything is used: version, type, the
 * count against the caller's limit, the item size, and that the lengths add
 * up to exactly the message's size.  A message that fails is a protocol
 * violation (SQLSTATE 08P01) naming the sender.
 */
#ifndef PGPRIV_WIRE_MESSAGE_H
#define PGPRIV_WIRE_MESSAGE_H

#include "postgres.h"

#include "lib/stringinfo.h"

#define WIRE_VERSION		1
#define WIRE_HEADER_BYTES	10

typedef enum WireType
{
	WIRE_BLINDED = 1,			/* blinded elements, asker → owner */
	WIRE_EVALUATED = 2,			/* evaluated elements, owner → asker */
	WIRE_TABLE_CHUNK = 3,		/* encrypted table entries, owner → asker */
	WIRE_OWNER_ELEMENTS = 4,	/* owner's own masked elements (psi_count) */
	WIRE_ASKER_ELEMENTS = 5,	/* the owner's elements masked again by the asker, shuffled (psi_count) */
	/* secure_sum (docs/secure_sum.md) */
	WIRE_SUM_PARTICIPANTS = 16, /* session id, then the participants, asker → owner */
	WIRE_SUM_KEYS = 17,			/* the keys of a batch, ascending, asker → owner */
	WIRE_SUM_SHARES = 18,		/* masked value and presence per key, owner → asker */
	/* psi_sum (docs/psi_sum.md) */
	WIRE_PSUM_ENTRIES = 19,		/* owner's masked key and ciphertext, sorted, owner → asker */
	WIRE_PSUM_TOTAL = 20,		/* matched count and re-randomised sum, asker → owner */
	WIRE_PSUM_PARTIAL = 21,		/* the owner's one partial decryption, owner → asker */
	WIRE_PSUM_REFUSAL = 22,		/* below min_group: no decryption (carries min_group) */
	/* joint_score and mpc_selftest (docs/joint_score.md) */
	WIRE_MPC_TERMS = 23,		/* mode and the owner's columns, with serve_admit */
	WIRE_MPC_BEGIN = 24,		/* the terms again, then the keys, asker → owner */
	WIRE_MPC_READY = 25,		/* which keys the owner has a usable row for, owner → asker */
	WIRE_MPC_FLIGHT = 26,		/* first step, step count, the asker's messages */
	WIRE_MPC_REPLY = 27,		/* the owner's messages for those steps */
	/* joint_woe */
	WIRE_WOE_TERMS = 28,		/* bins, the owner's columns, then the asker's key (begin) */
	WIRE_WOE_ROWS = 29,			/* per row: label ciphertext, its proof, the key */
	WIRE_WOE_RESULT = 30,		/* per column and bin: rows and the label sum's ciphertext */
	/* joint_train (docs/joint_train.md) */
	WIRE_TRAIN_TERMS = 31,		/* the run's parameters and the owner's columns (then the keys, begin) */
	WIRE_TRAIN_READY = 32,		/* usable keys, the columns' means and sds, a base-OT message */
	WIRE_TRAIN_FLIGHT = 33,		/* one step: its head and the asker's two messages */
	WIRE_TRAIN_REPLY = 34,		/* the owner's message for that step; at the end its weight shares */
	/* psi and psi_fetch over the OT-extension OPRF (protocol/join/psi_ot.c) */
	WIRE_OT_HELLO = 35,			/* the KKRT hello (cuckoo seed, base-OT A), asker → owner */
	WIRE_OT_BASE = 36,			/* the KKRT base-OT reply, then the permitted columns, owner → asker */
	WIRE_OT_U = 37,				/* KKRT extension chunks, asker → owner (empty: the owner's ack) */
	WIRE_OT_TAGS = 38			/* one batch of tags, then (psi_fetch) its sealed entries, owner → asker */
} WireType;

/* A uint32 in the wire's byte order (big-endian), for fields inside items. */
/* 08P01 "malformed message from <sender>" with what is wrong as DETAIL. */
extern void wire_malformed(const char *sender, const char *what) pg_attribute_noreturn();

extern void wire_put_u32(uint8 *p, uint32 v);
extern uint32 wire_get_u32(const uint8 *p);

/* Fixed-size items: encode count items of item_size bytes. */
extern bytea *wire_pack_fixed(WireType type, const uint8 *items, uint32 count, uint32 item_size);

/*
 * Decode a fixed-size message; returns a pointer to the first item inside
 * msg.  sender names the party in errors.
 */
extern const uint8 *wire_unpack_fixed(bytea *msg, WireType type, uint32 item_size,
									  uint32 max_count, uint32 *count, const char *sender);

/* Variable-size items, built incrementally. */
typedef struct WireBuilder
{
	StringInfoData buf;
	uint32		count;
	WireType	type;
} WireBuilder;

extern void wire_builder_init(WireBuilder *b, WireType type);

/* The same, with room for `bytes` of items (and their length prefixes) up front. */
extern void wire_builder_init_sized(WireBuilder *b, WireType type, size_t bytes);
extern void wire_builder_add(WireBuilder *b, const uint8 *item, uint32 len);

/*
 * Add an item written in place: reserve room for up to cap bytes, write
 * them at the returned pointer, then commit the item's actual length (no
 * other call on the builder in between).
 */
extern uint8 *wire_builder_reserve(WireBuilder *b, size_t cap);
extern void wire_builder_commit(WireBuilder *b, uint32 len);
extern bytea *wire_builder_finish(WireBuilder *b);

/* Iterate over variable-size items; validates the whole message first. */
typedef struct WireReader
{
	const uint8 *pos;
	const uint8 *end;
	uint32		remaining;
} WireReader;

extern void wire_reader_init(WireReader *r, bytea *msg, WireType type, uint32 max_count,
							 uint32 max_item, const char *sender);
extern bool wire_reader_next(WireReader *r, const uint8 **item, uint32 *len);

#endif
