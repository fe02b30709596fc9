/*
 * joint_score.h — joint_score's two halves (joint_score.c: the asker's, and
 * what both use; joint_score_serve.c: the owner's), and what the rest of
 * pgpriv needs from them.
 */
#ifndef PGPRIV_PROTOCOL_JOINT_SCORE_H
#define PGPRIV_PROTOCOL_JOINT_SCORE_H

#include "catalog/pgpriv_catalog.h"
#include "wire/message.h"

/*
 * Check a two-party run's terms (mode, the owner's columns) against the
 * permit; raises 42501 for a column that is not permitted, 08P01 for terms
 * that do not parse (terms may be NULL: refused).
 */
extern void joint_score_admission_check(const char *dataset, const Permit *permit, bytea *terms);

/* ---- shared by the two halves ---- */

/* Terms: what a run is, as both parties see it. */
typedef struct MpcTerms
{
	int			mode;
	int			k;
	char	  **columns;		/* the owner's columns, k of them */
	int64		triples;		/* self-test */
	int64		comparisons;	/* self-test */
} MpcTerms;

/* Read the terms from the start of r (TERMS or BEGIN message); 08P01 if malformed. */
extern void score_terms_read(WireReader *r, MpcTerms *t);

/* Encode a feature for the engine; the errors name the column, never the value. */
extern int64 score_encode_feature(const char *text, const char *column, const char *whose);

#endif
