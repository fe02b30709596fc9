/*
 * served_run.c — the owner's state of the run it is serving (see
 * served_run.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "storage/ipc.h"
#include "utils/memutils.h"

#include "run/served_run.h"

static ServedRun *open_run = NULL;
static bool hooks_registered = false;

/*
 * When the serving backend ends (the asker disconnected, or was killed,
 * between two calls of a run), the open run's secrets are wiped before the
 * process exits, as when the run is closed.
 */
static void
served_run_at_exit(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	served_run_close();
}

/*
 * An error ends the run it interrupts: whatever a serving call had done to
 * the run's state when it failed is not something a next call may carry on
 * from.  The run is closed (and wiped) when the transaction, or the
 * subtransaction a peer may have wrapped the call in to catch its error,
 * aborts; no serving function needs a PG_CATCH of its own for it.
 */
static void
served_run_at_abort(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		served_run_close();
}

static void
served_run_at_subabort(SubXactEvent event, SubTransactionId mySubid pg_attribute_unused(),
					   SubTransactionId parentSubid pg_attribute_unused(),
					   void *arg pg_attribute_unused())
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		served_run_close();
}

void *
served_run_open(const char *capability, const char *run, const char *dataset, Size size,
				served_run_wipe_fn wipe)
{
	MemoryContext cxt;
	ServedRun  *r;

	Assert(size >= sizeof(ServedRun));
	if (strlen(run) >= sizeof(r->run) || strlen(dataset) >= sizeof(r->dataset))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("Run id or dataset name too long.")));
	served_run_close();
	if (!hooks_registered)
	{
		on_proc_exit(served_run_at_exit, (Datum) 0);
		RegisterXactCallback(served_run_at_abort, NULL);
		RegisterSubXactCallback(served_run_at_subabort, NULL);
		hooks_registered = true;
	}
	cxt = AllocSetContextCreate(TopMemoryContext, "pgpriv served run", ALLOCSET_DEFAULT_SIZES);
	r = MemoryContextAllocZero(cxt, size);
	r->cxt = cxt;
	strlcpy(r->run, run, sizeof(r->run));
	strlcpy(r->dataset, dataset, sizeof(r->dataset));
	r->capability = capability;
	r->size = size;
	r->wipe = wipe;
	open_run = r;
	return r;
}

void *
served_run_find(const char *capability, const char *run)
{
	if (open_run != NULL && strcmp(open_run->capability, capability) == 0 &&
		strcmp(open_run->run, run) == 0)
		return open_run;
	return NULL;
}

void *
served_run_get(const char *capability, const char *run)
{
	void	   *r = served_run_find(capability, run);

	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed message from the asker"),
				 errdetail("No %s run \"%s\" is open in this session.", capability, run)));
	return r;
}

void
served_run_close(void)
{
	ServedRun  *r = open_run;
	MemoryContext cxt;

	if (r == NULL)
		return;
	open_run = NULL;
	if (r->wipe)
		r->wipe(r);
	cxt = r->cxt;
	sodium_memzero(r, r->size);
	MemoryContextDelete(cxt);
}
