/*
 * pir_cuckoo.h — keyword PIR layout: 2-choice bucketed cuckoo hashing of
 * OPRF-locked records into the columns of an LWE PIR database
 * (docs/architecture.md, protocol 4; docs/pir-design.md §4).
 *
 * A record is tag ‖ sealed payload in a fixed-size slot; a column of D is a
 * bucket of slots_per_col slots.  Each record may sit in either of two
 * candidate columns derived from its 64-byte OPRF output, which the asker
 * recomputes after its blinded OPRF evaluation: it queries both columns
 * (one answer pass serves both), decodes them, and looks for its tag.
 *
 * Pure C over libsodium; no PostgreSQL calls.  Scratch from malloc.
 */
#ifndef PGPRIV_CRYPTO_PIR_CUCKOO_H
#define PGPRIV_CRYPTO_PIR_CUCKOO_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/lwe_pir.h"

#define PIR_CUCKOO_OPRF_BYTES	64		/* RFC 9497 Nh for SHA-512 */
#define PIR_CUCKOO_MAX_KICKS	1000	/* a sensible bound for max_kicks */

typedef enum pir_cuckoo_status
{
	PIR_CUCKOO_OK = 0,
	PIR_CUCKOO_FULL,			/* a record found no slot within max_kicks:
								 * retry with the next attempt's layout */
	PIR_CUCKOO_BAD_SHAPE,		/* the layout cannot hold the records at all */
	PIR_CUCKOO_BAD_ARGUMENT,	/* null pointer, zero sizes */
	PIR_CUCKOO_NO_MEMORY
} pir_cuckoo_status;

extern const char *pir_cuckoo_status_reason(pir_cuckoo_status st);

/*
 * The layout for n_records slots of slot_bytes each.  attempt 0 sizes the
 * table for the load factor bucketed cuckoo hashing reaches comfortably with
 * that many slots per column; each further attempt adds 1/8 more columns
 * (the caller's retry after PIR_CUCKOO_FULL).  rows ≈ cols/4 as in
 * lwe_pir_layout_for_records, within LWE_PIR_MAX_COLS.
 */
extern pir_cuckoo_status pir_cuckoo_layout(uint64_t n_records, uint32_t slot_bytes,
										   uint32_t attempt, lwe_pir_layout *layout);

/*
 * The two candidate columns of the record whose OPRF output is given:
 *     h_i  = BLAKE2b-64(output; personal = "pgpriv-pir-col-i"), little-endian
 *     col0 = h_1 mod m
 *     col1 = (col0 + 1 + h_2 mod (m − 1)) mod m         (m ≥ 2; else 0)
 * so the two differ whenever m ≥ 2.  Owner and asker both call this.
 */
extern void pir_cuckoo_columns(const lwe_pir_layout *layout,
							   const uint8_t oprf_output[PIR_CUCKOO_OPRF_BYTES],
							   uint32_t cols[2]);

/*
 * Places n records (OPRF outputs n × 64 bytes) into the layout's slots:
 * slot_of[i] = column · slots_per_col + slot.  A record that finds both
 * columns full evicts a random occupant, which moves to its other column,
 * and so on up to max_kicks moves; then PIR_CUCKOO_FULL.
 */
extern pir_cuckoo_status pir_cuckoo_place(const lwe_pir_layout *layout, size_t n,
										  const uint8_t *oprf_outputs,
										  uint32_t max_kicks, uint32_t *slot_of);

/*
 * pir_cuckoo_place, then writes record i (records + i·slot_bytes) into its
 * slot of db (rows × cols bytes, row-major); unused slots are zero bytes.
 */
extern pir_cuckoo_status pir_cuckoo_build(const lwe_pir_layout *layout, size_t n,
										  const uint8_t *oprf_outputs,
										  const uint8_t *records, uint32_t max_kicks,
										  uint8_t *db);

/*
 * The asker's side: in a decoded column (rows bytes), the slot whose first
 * tag_len bytes equal tag, or −1.  Every slot is compared in constant time.
 */
extern int	pir_cuckoo_find(const lwe_pir_layout *layout, const uint8_t *column,
							const uint8_t *tag, size_t tag_len);

#endif
