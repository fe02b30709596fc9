/*
 * admission.h — the owner admits a run before serving it.
 *
 * Every run starts with CALL pgpriv.serve_admit(dataset, capability, run,
 * nkeys): the owner checks the peer's permit and charges the run's keys to
 * the day's budget, and writes the outcome to its audit log in a transaction
 * of its own, so that a refused run is on record too.  The serving functions
 * then serve only runs admitted in this session, and no more keys than were
 * admitted; the last batch writes the run's completion row.
 */
#ifndef PGPRIV_PROTOCOL_ADMISSION_H
#define PGPRIV_PROTOCOL_ADMISSION_H

typedef struct Admission
{
	char		run[64];
	char		dataset[2 * NAMEDATALEN];
	char		capability[16];
	int64		keys;			/* admitted (and charged) */
	int64		served;			/* evaluated so far */
	int64		bytes_in;
	int64		bytes_out;
	int64		keys_out;		/* as admission_complete recorded it (-1: none) */
	bool		completed;
	bool		receipted;		/* this side's signed statement of it is kept */
} Admission;

/* The run admitted in this session, for this dataset and capability; else 08P01. */
extern Admission *admission_require(const char *run, const char *dataset, const char *capability);

/* Count n more keys served (08P01 beyond the admitted count) and the bytes. */
extern void admission_serve(Admission *a, int64 n, int64 bytes_in, int64 bytes_out);

/* The run is done: one audit row with what crossed. */
extern void admission_complete(Admission *a, int64 keys_out);
/* The same with a note for the audit row's detail (e.g. which protocol ran). */
extern void admission_complete_note(Admission *a, int64 keys_out, const char *note);

/*
 * The run's binary messages, for its receipts' transcript digest
 * (catalog/receipt.h): every serving function of a run absorbs each bytea
 * the asker sends it as a binary parameter (TRANSCRIPT_REQUEST) and each
 * bytea it returns (TRANSCRIPT_RESPONSE), in order, as the asker does on its
 * side (peer/call.c); bytea sent as text literals are in neither.  A run
 * other than the one admitted in this session absorbs nothing.
 */
extern void admission_absorb(const char *run, char tag, const bytea *msg);

#endif
