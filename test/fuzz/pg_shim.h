/*
 * pg_shim.h — the few PostgreSQL backend services that pgpriv's decoders
 * use, implemented for standalone fuzzing programs (test/fuzz/pg_shim.c).
 *
 * The decoders under test are the real files from src/, compiled against the
 * server headers; only the backend underneath them is replaced:
 *
 *   - palloc and friends: each chunk is its own malloc block (so that
 *     AddressSanitizer sees every overrun), registered in one arena that
 *     shim_reset() frees after each input, as a memory context reset would.
 *     Memory contexts are tokens; all of them share that arena.
 *   - ereport/elog: messages are formatted (so that bad format arguments
 *     show up), levels below ERROR are dropped, ERROR longjmps to the
 *     innermost PG_TRY like the backend, FATAL and PANIC abort.
 *   - StringInfo, CHECK_FOR_INTERRUPTS (never pending), Assert (aborts).
 *
 * An ERROR is the expected outcome for bad peer input; a crash, a sanitizer
 * report or an abort is a finding.
 */
#ifndef PGPRIV_FUZZ_PG_SHIM_H
#define PGPRIV_FUZZ_PG_SHIM_H

#include "postgres.h"

#include "compat.h"

/* Free everything palloc'd since the last reset and clear the error state. */
extern void shim_reset(void);

/*
 * A bytea holding a copy of data, in a chunk of exactly its size so that a
 * read past its end is caught.  short_header: a 1-byte varlena header, as
 * PG_GETARG_BYTEA_PP may hand over a short value (only when len <= 126).
 */
extern bytea *shim_bytea(const uint8 *data, size_t len, bool short_header);

/* The SQLSTATE and message of the last ERROR caught. */
extern int	shim_last_sqlstate(void);
extern const char *shim_last_message(void);

/*
 * Called on every ERROR caught by SHIM_CATCH: an internal error (XX000,
 * elog) from peer input means a "cannot happen" path was reached, which
 * is a finding under PGPRIV_FUZZ_STRICT=1 and counted otherwise.
 */
extern void shim_error_caught(void);

/*
 * A harness calls the decoder inside PG_TRY(), and in PG_CATCH() calls
 * shim_error_caught() (no re-throw): the ERROR was the decoder's answer.
 */

/*
 * A stand-in for the encoding checks of mbutils.c that some parsers call:
 * strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
 */
extern bool shim_utf8_valid(const char *s, int len);

#endif
