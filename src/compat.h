/*
 * compat.h — the server API differences between the PostgreSQL major
 * versions pgpriv builds against (15 and 17), in one place.
 *
 * Code is written against 15's API where it still exists and against a
 * pgpriv_ name below where it does not; each shim says in which version the
 * server changed.  Include it after postgres.h.
 */
#ifndef PGPRIV_COMPAT_H
#define PGPRIV_COMPAT_H

#include "utils/acl.h"

#if PG_VERSION_NUM >= 160000
/*
 * 16 moved the varlena macros (VARDATA, VARSIZE_ANY_EXHDR, SET_VARSIZE, ...)
 * out of postgres.h into varatt.h; many server headers include it, but a
 * file that needs nothing else from the server gets them only from here.
 */
#include "varatt.h"
#include "catalog/pg_foreign_server.h"
#endif

/*
 * USAGE on a foreign server.  16 replaced the per-class pg_*_aclcheck
 * functions with object_aclcheck(class, object, role, mode).
 */
static inline AclResult
pgpriv_foreign_server_aclcheck(Oid serverid, Oid roleid, AclMode mode)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(ForeignServerRelationId, serverid, roleid, mode);
#else
	return pg_foreign_server_aclcheck(serverid, roleid, mode);
#endif
}

/*
 * Backend functions that test/fuzz/pg_shim.c defines itself, so that the
 * fuzz harnesses run the real decoders without a server: their definitions
 * must match the server's declarations.  16 dropped ExceptionalCondition's
 * errorType argument (every failed Assert is a "FailedAssertion" now) and
 * made appendBinaryStringInfo's data a const void *.
 */
#if PG_VERSION_NUM >= 160000
#define PGPRIV_EXCEPTIONAL_CONDITION_ARGS \
	const char *conditionName, const char *fileName, int lineNumber
#define PGPRIV_EXCEPTIONAL_CONDITION_TYPE "FailedAssertion"
typedef const void *pgpriv_binary_data;
#else
#define PGPRIV_EXCEPTIONAL_CONDITION_ARGS \
	const char *conditionName, const char *errorType, const char *fileName, int lineNumber
#define PGPRIV_EXCEPTIONAL_CONDITION_TYPE errorType
typedef const char *pgpriv_binary_data;
#endif

#endif							/* PGPRIV_COMPAT_H */
