/*
 * dataset.h — running a dataset's query with its publisher's rights.
 */
#ifndef PGPRIV_CATALOG_DATASET_H
#define PGPRIV_CATALOG_DATASET_H

typedef struct DatasetRoleContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_nestlevel;
} DatasetRoleContext;

/* Act as role (restricted) with the given search_path until dataset_leave_role. */
extern void dataset_enter_role(const char *role, const char *search_path, DatasetRoleContext *ctx);
extern void dataset_leave_role(DatasetRoleContext *ctx);

/* One SELECT (42809 naming what otherwise); its text without a trailing ';'. */
extern char *single_select_text(const char *query, const char *what, const char *hint);

#endif
