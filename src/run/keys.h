/*
 * keys.h — the two sets a protocol joins: the asker's keys (from its
 * keys_query, run with the caller's rights) and the owner's rows (from the
 * dataset's query, run with the publisher's rights).
 *
 * Keys are compared as the exact bytes of their text form in UTF-8, so two
 * databases in different encodings still agree.  NULL keys are ignored.
 */
#ifndef PGPRIV_PROTOCOL_KEYS_H
#define PGPRIV_PROTOCOL_KEYS_H

#include "executor/spi.h"

#include "catalog/change_check.h"
#include "catalog/pgpriv_catalog.h"
#include "run/batch.h"

/* Grow-by-doubling arrays of a KeySet under construction. */
typedef struct KeyBuilder
{
	KeySet	   *set;
	size_t		cap;
} KeyBuilder;

/* Start an empty key set; add one key given as text in the database encoding. */
extern void key_builder_init(KeyBuilder *b, KeySet *set);
extern void key_builder_add(KeyBuilder *b, const char *text);

/*
 * Refuse (42809) anything but one SELECT that returns rows, before it runs;
 * returns that statement's text without a trailing semicolon.
 */
extern char *keys_query_check(const char *keys_query);

/*
 * keys_query wrapped as "SELECT <select_list> FROM (<statement>) AS
 * k(pgpriv_key)", run with the caller's rights.  Errors while it is
 * prepared and opened point into the user's text, not the wrapper's.
 */
typedef struct KeysQuery
{
	const char *user;			/* keys_query as given */
	char	   *wrapped;
	int			prefix_chars;	/* characters of the wrapper before the statement */
	int			stmt_chars;
	int			lead_chars;		/* characters of keys_query before the statement */
	SPIPlanPtr	plan;
} KeysQuery;

extern void keys_query_prepare(KeysQuery *kq, const char *keys_query, const char *select_list);
/* Prepare and open a cursor (inside SPI_connect); errors are the user's. */
extern Portal keys_query_open(KeysQuery *kq);

/*
 * SPI connected, the query of keys_query_prepare run and all its rows in
 * SPI_tuptable: a run's rows, so at most pgpriv.max_run_keys (54000).  The
 * caller reads them and ends with SPI_finish().  Returns the row count.
 */
extern uint64 keys_query_fetch_all(KeysQuery *kq);

/* Run keys_query; its first column, as text, is the key.  Duplicates count once. */
extern void keys_collect(const char *keys_query, KeySet *keys);

/* Sort a key set and drop duplicates, in place. */
extern void keys_unique(KeySet *keys);

/* The owner's rows: key and permitted payload columns as text (NULL kept). */
typedef struct DatasetRows
{
	KeySet		keys;			/* one per row; duplicates kept (several rows may share a key) */
	int			ncolumns;
	char	  **values;			/* nrows × ncolumns, NULL for SQL NULL (UTF-8) */
} DatasetRows;

/* Run the dataset's query as its publisher and read key + columns. */
extern void dataset_rows_fetch(const Dataset *ds, List *columns, DatasetRows *rows);

/*
 * The same with the change check (catalog/change_check.h): false, reading
 * no row, if the check is exact and its stamp equals known (which may be
 * NULL); the check's outcome and stamp are left in *check.  With
 * progress_what, progress_begin(progress_what, progress_peer, ...) just
 * before rows are read (the caller ends it).
 */
extern bool dataset_rows_fetch_checked(const Dataset *ds, List *columns, const char *known,
									   DatasetRows *rows, ChangeCheck *check,
									   const char *progress_what, const char *progress_peer);

/*
 * The rows sorted by key, to find the one row of an asked key (joint_score,
 * joint_woe and joint_train answer only for keys with exactly one row).
 */
typedef struct RowRef
{
	const uint8 *key;
	size_t		len;
	size_t		row;
} RowRef;

typedef struct RowIndex
{
	RowRef	   *refs;
	size_t		n;
} RowIndex;

extern void row_index_build(const DatasetRows *rows, RowIndex *index);

/* The number of the one row with this key; -1 if there is none, or several. */
extern int64 row_index_unique(const RowIndex *index, const uint8 *key, size_t len);

/*
 * A dataset value as a number: the text of a number (trailing blanks, as
 * char(n) prints them, allowed) or of a boolean (true = 1).  False for
 * anything else, NaN and the infinities included.
 */
extern bool dataset_value_number(const char *text, double *out);

/*
 * A label of the asker's keys_query (joint_woe, joint_train): a boolean or
 * 0/1; anything else is an error naming the column (22023).
 */
extern int	keys_query_label(const char *text, const char *label);

#endif
