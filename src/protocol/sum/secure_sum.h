/*
 * secure_sum.h — secure_sum's two halves (secure_sum.c: the asker's, and
 * what both use; secure_sum_serve.c: the owner's), and what the rest of
 * pgpriv needs from them.
 */
#ifndef PGPRIV_PROTOCOL_SECURE_SUM_H
#define PGPRIV_PROTOCOL_SECURE_SUM_H

#include "catalog/pgpriv_catalog.h"
#include "crypto/shares.h"
#include "run/keys.h"

/*
 * Check a secure_sum run's terms (value column, participants) against the
 * permit and this party's peer definitions; raises 42501 or 08P01.
 */
extern void secure_sum_admission_check(const char *dataset, const Permit *permit, bytea *terms);

/* ---- shared by the two halves ---- */

#define SUM_SCALE				4	/* values are summed as integers of 10^-4 */
#define SUM_MAX_PARTICIPANTS	64
#define SUM_MAX_KEY_BYTES		65535
#define SUM_MAX_MESSAGE_BYTES	(64 * 1024 * 1024)
#define SUM_SHARE_BYTES			16	/* value share, presence share: uint64 each */
#define SUM_KIND_ASKER			0
#define SUM_KIND_PEER			1
#define SUM_PARALLEL_MIN		2048	/* fewer keys than this: one thread */

typedef struct Participant
{
	int			kind;			/* SUM_KIND_ASKER or SUM_KIND_PEER */
	uint8		key[SHARE_KEY_BYTES];
	char		name[NAMEDATALEN];	/* the asker's server name, UTF-8; "" for the asker */
} Participant;

/* One party's figures for its keys: per distinct key, the sum at SUM_SCALE. */
typedef struct SumTable
{
	size_t		n;
	const uint8 **keys;			/* ascending, UTF-8 bytes */
	size_t	   *lens;
	int64	   *values;
	size_t		cursor;			/* lookups come in ascending order */
} SumTable;

/*
 * A value a party cannot add up (share_status st, at scale): an error that
 * names the dataset and column, never the key or the value.
 */
extern void sum_value_refusal(const char *capability, const char *dataset, const char *column,
							  share_status st, int scale, const char *range_detail)
			pg_attribute_noreturn();

/*
 * 42501 unless permit (the session role's, for capability: secure_sum or
 * psi_sum) names column among those it may sum; the hint shows the owner
 * the permit call that would.
 */
extern void sum_permit_require_column(const char *capability, const char *dataset,
									  const char *column, const Permit *permit);

/* The order keys.c sorts keys in: bytes, then length. */
extern int	sum_key_compare(const uint8 *a, size_t alen, const uint8 *b, size_t blen);

/* The indexes 0 .. keys->n − 1 sorted by their keys (sum_key_compare), palloc'd. */
extern size_t *sum_keys_order(const KeySet *keys);

/*
 * Sum one party's rows per key (value column first in rows); a value it
 * cannot contribute raises an error naming dataset and column only.
 */
extern void sum_table_build(const DatasetRows *rows, const char *dataset, const char *column,
							int parties, SumTable *t);

/* The party's figure for key, if it holds it; keys must come in ascending order. */
extern bool sum_table_lookup(SumTable *t, const uint8 *key, size_t len, int64 *value);

/* Pair seeds of party self with every other participant and their signs; the count. */
extern int	sum_pair_seeds_derive(const Participant *parts, int n, int self,
								  const uint8 secret[SHARE_KEY_BYTES],
								  const uint8 session[SHARE_KEY_BYTES], const char *dataset,
								  const char *column, uint8 *seeds, int *signs, const char *sender);

/* value[i], presence[i] += Σ ± masks for keys [0, n). */
extern void sum_masks_add(size_t n, const uint8 *const *keys, const size_t *lens, int npairs,
						  const uint8 *seeds, const int *signs, uint64 *value, uint64 *presence);

#endif
