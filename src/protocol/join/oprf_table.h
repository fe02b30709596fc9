/*
 * oprf_table.h — the encrypted OPRF table of psi and psi_fetch
 * (docs/architecture.md, protocol 1): how the owner builds, versions and stores
 * it, and how the asker caches, indexes and opens it.  The run logic that
 * uses it is in psi_oprf.c.
 *
 * An entry is tag ‖ nonce ‖ sealed payload (psi_fetch) or the tag alone
 * (psi), where F = OPRF(k, key), tag = F[0..16) and the payload is sealed
 * with XChaCha20-Poly1305 under F[32..64).  Entries are sorted by tag.
 */
#ifndef PGPRIV_PROTOCOL_OPRF_TABLE_H
#define PGPRIV_PROTOCOL_OPRF_TABLE_H

#include <sodium.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "catalog/pgpriv_catalog.h"
#include "run/keys.h"

#define TAG_BYTES		16
#define NONCE_BYTES		crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_KEY_OFFSET 32		/* F[32..64) seals the payload; F[0..16) is the tag */
#define MAX_ENTRY_BYTES (1024 * 1024)
#define MAX_CHUNK_ENTRIES (1 << 22)
#define CHUNK_TARGET_BYTES (8 * 1024 * 1024)

/* One entry inside a chunk message (not copied). */
typedef struct EntryRef
{
	const uint8 *bytes;
	uint32		len;
} EntryRef;

/* The downloaded table, entries in tag order. */
typedef struct Table
{
	size_t		n;
	EntryRef   *entries;
} Table;

/* Additional data binding a sealed payload to its dataset and capability. */
/*
 * The owner's record of its last read of a dataset for a cache of (dataset,
 * peer role, capability) in pgpriv.served_check: the change stamp (catalog
 * prefix, then the change check's stamp) and how often the rows were read.
 * served_check_known: the stamp's change part if its prefix is prefix, or NULL.
 */
extern char *served_check_known(const char *dataset, const char *peer, const char *capability,
								const char *prefix);
extern void served_check_record(const char *dataset, const char *peer, const char *capability,
								const char *prefix, const ChangeCheck *check);

extern char *oprf_table_seal_context(const char *dataset, const char *capability);

/* Owner: one row's permitted values as the sealed payload (u32 length or ~0 for NULL, bytes). */
extern void oprf_table_payload_serialise(StringInfo buf, char **values, int ncol);

/* Owner: the version a table built from these rows would have (order-independent digest). */
extern char *oprf_table_version(const DatasetRows *rows, int32 key_generation, const char *capability,
								List *columns);

/* Owner: the version stored for (dataset, peer, capability), or NULL; sets its size. */
extern char *oprf_table_stored_version(const char *dataset, const char *peer, const char *capability,
									   int64 *entries, int32 *chunks);

/*
 * Owner: the permitted columns as a text[] datum, as the served table and
 * the PIR database record them and their descriptions return them.
 */
extern Datum oprf_table_columns_datum(List *columns);

/* Owner: build the encrypted table from the rows and replace the stored one. */
extern void oprf_table_build(const Dataset *ds, const char *peer, const char *capability, List *columns,
							 const DatasetRows *rows, const char *version, int64 *entries_out,
							 int32 *chunks_out);

/* Asker: the cached chunks of a table at this version, or NIL. */
extern List *oprf_table_cache_load(const char *server, const char *remote_user, const char *dataset,
								   const char *capability, const char *version);
extern void oprf_table_cache_store(const char *server, const char *remote_user, const char *dataset,
								   const char *capability, const char *version, List *chunks);

/* Asker: index the entries of the chunks, checking framing, sizes and tag order (08P01). */
extern void oprf_table_index(List *chunks, int64 expected, const char *peer, bool sealed, Table *table);

/* Asker: first entry whose tag is >= tag. */
extern size_t oprf_table_lower_bound(const Table *t, const uint8 *tag);

/* Asker: open a sealed entry with the OPRF output F; false if it does not open. */
extern bool oprf_table_entry_open(const EntryRef *e, const uint8 *F, const char *ad, StringInfo plain);

/* Asker: split an opened payload into ncol values (NULL for SQL NULL); 08P01 if malformed. */
extern void oprf_table_payload_split(StringInfo plain, int ncol, char **values, const char *peer);

/*
 * Asker, psi_fetch over ot (psi_ot.c): the opened entry of one owner key —
 * a u32 row count, then per row a u32 length and that row's payload — split
 * into each row's ncol values, emit(arg, values) per row; returns the rows.
 * 08P01 if malformed.
 */
typedef void (*oprf_table_row_fn) (void *arg, char **values);
extern int64 oprf_table_rows_split(const uint8 *p, size_t len, int ncol, const char *peer,
								   oprf_table_row_fn emit, void *arg);

#endif
