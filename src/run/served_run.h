/*
 * served_run.h — the owner's state of the run it is serving in this
 * session, kept in the serving backend's memory between the asker's calls
 * (psi_count, psi_sum, secure_sum, joint_score, psi and psi_fetch over ot).
 *
 * The asker's calls of a run come over one connection, one after the other,
 * so a serving session has at most one run open: opening a run closes the
 * previous one.  A run's struct starts with a ServedRun and lives, with
 * everything else of the run, in the run's own memory context; closing the
 * run calls its wipe hook (for secrets kept elsewhere), zeroes the struct
 * (secret scalars and keys kept in it) and deletes the context.  An error
 * in a serving call ends the run: it is closed when the (sub)transaction
 * aborts (transaction callbacks), so serving functions need no PG_CATCH to
 * close it.  A run still open when the serving backend exits is closed then
 * (an exit hook).
 */
#ifndef PGPRIV_PROTOCOL_SERVED_RUN_H
#define PGPRIV_PROTOCOL_SERVED_RUN_H

#include "postgres.h"

typedef struct ServedRun ServedRun;

typedef void (*served_run_wipe_fn) (ServedRun *run);

struct ServedRun
{
	MemoryContext cxt;			/* the run's memory */
	char		run[64];
	char		dataset[NAMEDATALEN * 2];
	const char *capability;
	Size		size;			/* of the whole struct this one begins */
	served_run_wipe_fn wipe;	/* NULL: nothing outside the struct to wipe */
	int64		bytes_in;
	int64		bytes_out;
};

/*
 * Open a run of capability (a string constant): closes any open run, then
 * returns a zeroed struct of size bytes whose first member is a ServedRun,
 * filled in.  A run id or dataset name too long to keep is a protocol
 * violation.
 */
extern void *served_run_open(const char *capability, const char *run, const char *dataset,
							 Size size, served_run_wipe_fn wipe);

/* The open run, if it is this capability's run with this id; else NULL. */
extern void *served_run_find(const char *capability, const char *run);

/* The same, or a protocol violation naming what is not open. */
extern void *served_run_get(const char *capability, const char *run);

/* Close the open run, if any (wipe hook, zeroed struct, context deleted). */
extern void served_run_close(void);

#endif
