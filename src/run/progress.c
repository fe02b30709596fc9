/*
 * progress.c — per-backend progress files and the function behind the view
 * pgpriv.progress (see progress.h).
 */
#include "postgres.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "run/progress.h"

#define PROGRESS_DIR "pgpriv_progress"
#define MIN_INTERVAL_US 200000	/* rewrite at most five times a second */

typedef struct Progress
{
	bool		active;
	char		capability[64];
	char		peer[NAMEDATALEN];
	char		dataset[128];
	char		role[NAMEDATALEN];
	char		phase[96];
	int64		keys;
	int64		done;
	int64		total;
	int64		bytes_in;
	int64		bytes_out;
	TimestampTz started;
	TimestampTz last_write;
} Progress;

static Progress progress;
static bool callback_registered = false;

static char *
progress_path(int pid)
{
	return psprintf("%s/%d", PROGRESS_DIR, pid);
}

static void
progress_remove(void)
{
	if (progress.active)
		(void) unlink(progress_path(MyProcPid));
	progress.active = false;
}

static void
progress_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		progress_remove();
}

/* Single-line, no separators inside fields. */
static void
sanitize(char *s)
{
	for (; *s; s++)
		if (*s == '\t' || *s == '\n' || *s == '\r')
			*s = ' ';
}

static void
progress_write(bool force)
{
	TimestampTz now = GetCurrentTimestamp();
	char	   *path;
	char	   *tmp;
	FILE	   *f;

	if (!progress.active)
		return;
	if (!force && !TimestampDifferenceExceeds(progress.last_write, now, MIN_INTERVAL_US / 1000))
		return;
	progress.last_write = now;

	/* Best effort: progress is informational and must never fail a run. */
	(void) MakePGDirectory(PROGRESS_DIR);
	path = progress_path(MyProcPid);
	tmp = psprintf("%s.tmp", path);
	f = AllocateFile(tmp, PG_BINARY_W);
	if (f == NULL)
		return;
	fprintf(f, "%s\t%s\t%s\t%s\t%s\t" INT64_FORMAT "\t" INT64_FORMAT "\t" INT64_FORMAT "\t"
			INT64_FORMAT "\t" INT64_FORMAT "\t" INT64_FORMAT "\n",
			progress.role, progress.capability, progress.peer, progress.dataset, progress.phase,
			progress.keys, progress.done, progress.total, progress.bytes_in, progress.bytes_out,
			(int64) progress.started);
	if (FreeFile(f) == 0)
		(void) rename(tmp, path);
	else
		(void) unlink(tmp);
}

void
progress_begin(const char *capability, const char *peer, const char *dataset, int64 keys)
{
	if (!callback_registered)
	{
		RegisterXactCallback(progress_xact_callback, NULL);
		callback_registered = true;
	}
	memset(&progress, 0, sizeof(progress));
	progress.active = true;
	strlcpy(progress.capability, capability, sizeof(progress.capability));
	strlcpy(progress.peer, peer ? peer : "", sizeof(progress.peer));
	strlcpy(progress.dataset, dataset ? dataset : "", sizeof(progress.dataset));
	strlcpy(progress.role, GetUserNameFromId(GetOuterUserId(), false), sizeof(progress.role));
	strlcpy(progress.phase, "starting", sizeof(progress.phase));
	sanitize(progress.peer);
	sanitize(progress.dataset);
	progress.keys = keys;
	progress.started = GetCurrentTimestamp();
	progress_write(true);
}

void
progress_phase(const char *phase, int64 total)
{
	if (!progress.active)
		return;
	strlcpy(progress.phase, phase, sizeof(progress.phase));
	progress.done = 0;
	progress.total = total;
	progress_write(true);
}

void
progress_advance(int64 done, int64 bytes_in, int64 bytes_out)
{
	if (!progress.active)
		return;
	progress.done = done;
	if (bytes_in > 0)
		progress.bytes_in = bytes_in;
	if (bytes_out > 0)
		progress.bytes_out = bytes_out;
	progress_write(false);
}

void
progress_end(void)
{
	progress_remove();
}

PG_FUNCTION_INFO_V1(pgpriv_progress_rows);

/*
 * pgpriv._progress_rows() → the raw progress records of all backends; the
 * view pgpriv.progress joins them with pg_stat_activity to keep live ones.
 */
Datum
pgpriv_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DIR		   *dir;
	struct dirent *de;

	InitMaterializedSRF(fcinfo, 0);
	dir = AllocateDir(PROGRESS_DIR);
	if (dir == NULL)
		return (Datum) 0;
	while ((de = ReadDirExtended(dir, PROGRESS_DIR, LOG)) != NULL)
	{
		char		line[1024];
		char	   *fields[11];
		char	   *path;
		FILE	   *f;
		int			nf = 0;
		char	   *p;
		char	   *save;
		Datum		values[12];
		bool		nulls[12] = {0};
		int			pid = atoi(de->d_name);

		if (pid <= 0 || strchr(de->d_name, '.') != NULL)
			continue;
		path = psprintf("%s/%s", PROGRESS_DIR, de->d_name);
		f = AllocateFile(path, PG_BINARY_R);
		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) == NULL)
		{
			FreeFile(f);
			continue;
		}
		FreeFile(f);
		line[strcspn(line, "\n")] = '\0';
		for (p = strtok_r(line, "\t", &save); p && nf < 11; p = strtok_r(NULL, "\t", &save))
			fields[nf++] = p;
		if (nf != 11)
			continue;

		/*
		 * As pg_stat_activity: a run is visible to its own role, roles that
		 * have its privileges, and pg_read_all_stats.  Banks must not see
		 * each other's activity.
		 */
		{
			Oid			runner = get_role_oid(fields[0], true);

			if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) &&
				!(OidIsValid(runner) && has_privs_of_role(GetUserId(), runner)))
				continue;
		}
		values[0] = Int32GetDatum(pid);
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(fields[0]));
		values[2] = CStringGetTextDatum(fields[1]);
		values[3] = CStringGetTextDatum(fields[2]);
		values[4] = CStringGetTextDatum(fields[3]);
		values[5] = CStringGetTextDatum(fields[4]);
		values[6] = Int64GetDatum(strtoll(fields[5], NULL, 10));
		values[7] = Int64GetDatum(strtoll(fields[6], NULL, 10));
		values[8] = Int64GetDatum(strtoll(fields[7], NULL, 10));
		values[9] = Int64GetDatum(strtoll(fields[8], NULL, 10));
		values[10] = Int64GetDatum(strtoll(fields[9], NULL, 10));
		values[11] = TimestampTzGetDatum((TimestampTz) strtoll(fields[10], NULL, 10));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	FreeDir(dir);
	return (Datum) 0;
}
