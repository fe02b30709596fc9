/*
 * fdw_validator.c — options of the pgpriv foreign-data wrapper.
 *
 * Peers are declared as foreign servers, the way postgres_fdw declares them:
 *   CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
 *     OPTIONS (host '…', port '…', dbname '…', public_key '\x…');
 *   CREATE USER MAPPING FOR analyst SERVER gov OPTIONS (user '…', password '…');
 * Server options are libpq connection options plus pgpriv's own (the peer's
 * identity keys); user-mapping options are the credentials.  Unknown options
 * are refused here, at CREATE/ALTER time, rather than at first connection.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/builtins.h"

#include "peer/fdw_options.h"

typedef struct PeerOption
{
	const char *keyword;
	Oid			context;		/* catalog the option belongs to */
	bool		is_libpq;		/* passed through to libpq */
} PeerOption;

static PeerOption *peer_options = NULL;

/*
 * libpq options that a peer definition must not carry: debugging knobs,
 * settings pgpriv controls itself, and ones that would let a mapping
 * redirect the connection.
 */
static bool
libpq_option_refused(const PQconninfoOption *opt)
{
	if (strchr(opt->dispchar, 'D'))
		return true;
	return strcmp(opt->keyword, "client_encoding") == 0 ||
		strcmp(opt->keyword, "fallback_application_name") == 0 ||
		strcmp(opt->keyword, "replication") == 0 ||
		strcmp(opt->keyword, "service") == 0 ||
		strcmp(opt->keyword, "passfile") == 0;
}

/* Credentials belong to the user mapping; everything else to the server. */
static bool
libpq_option_is_credential(const char *keyword)
{
	return strcmp(keyword, "user") == 0 ||
		strcmp(keyword, "password") == 0 ||
		strcmp(keyword, "sslpassword") == 0 ||
		strcmp(keyword, "sslcert") == 0 ||
		strcmp(keyword, "sslkey") == 0;
}

static void
init_peer_options(void)
{
	PQconninfoOption *defaults;
	PQconninfoOption *lopt;
	int			n = 0;
	int			i = 0;
	static const PeerOption own[] = {
		{"public_key", ForeignServerRelationId, false},
		{"signing_key", ForeignServerRelationId, false},
		{"password_required", UserMappingRelationId, false},
		{NULL, InvalidOid, false}
	};
	const PeerOption *o;

	if (peer_options)
		return;

	defaults = PQconndefaults();
	if (!defaults)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not get libpq's default connection options.")));

	for (lopt = defaults; lopt->keyword; lopt++)
		n++;

	peer_options = (PeerOption *)
		MemoryContextAllocZero(TopMemoryContext,
							   sizeof(PeerOption) * (n + lengthof(own)));

	for (lopt = defaults; lopt->keyword; lopt++)
	{
		if (libpq_option_refused(lopt))
			continue;
		peer_options[i].keyword = MemoryContextStrdup(TopMemoryContext, lopt->keyword);
		peer_options[i].context = libpq_option_is_credential(lopt->keyword)
			? UserMappingRelationId : ForeignServerRelationId;
		peer_options[i].is_libpq = true;
		i++;
	}
	for (o = own; o->keyword; o++)
		peer_options[i++] = *o;
	peer_options[i].keyword = NULL;

	PQconninfoFree(defaults);
}

static bool
option_allowed(const char *keyword, Oid context)
{
	PeerOption *opt;

	for (opt = peer_options; opt->keyword; opt++)
		if (opt->context == context && strcmp(opt->keyword, keyword) == 0)
			return true;
	return false;
}

bool
peer_option_is_libpq(const char *keyword)
{
	PeerOption *opt;

	init_peer_options();
	for (opt = peer_options; opt->keyword; opt++)
		if (opt->is_libpq && strcmp(opt->keyword, keyword) == 0)
			return true;
	return false;
}

static int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/*
 * Decode a 32-byte key given as hex, with or without bytea's "\x" prefix.
 * Returns false if the text is not exactly that.
 */
const char *
peer_server_option(ForeignServer *server, const char *name)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

bool
peer_decode_key(const char *text, unsigned char out[32])
{
	size_t		len;
	int			i;

	if (text[0] == '\\' && (text[1] == 'x' || text[1] == 'X'))
		text += 2;
	len = strlen(text);
	if (len != 64)
		return false;
	for (i = 0; i < 32; i++)
	{
		char		hi = text[2 * i];
		char		lo = text[2 * i + 1];

		if (!isxdigit((unsigned char) hi) || !isxdigit((unsigned char) lo))
			return false;
		out[i] = (unsigned char) ((hex_digit_value(hi) << 4) | hex_digit_value(lo));
	}
	return true;
}

static const char *
context_name(Oid context)
{
	if (context == ForeignServerRelationId)
		return "server";
	if (context == UserMappingRelationId)
		return "user mapping";
	return "foreign-data wrapper";
}

static void
list_valid_options(Oid context, StringInfo buf)
{
	PeerOption *opt;

	for (opt = peer_options; opt->keyword; opt++)
	{
		if (opt->context != context)
			continue;
		if (buf->len > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, opt->keyword);
	}
}

PG_FUNCTION_INFO_V1(pgpriv_fdw_validator);

/*
 * pgpriv.fdw_validator(options text[], catalog oid): called by CREATE/ALTER
 * SERVER and USER MAPPING with the complete resulting option list.
 */
Datum
pgpriv_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;

	init_peer_options();

	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		char	   *value = defGetString(def);

		if (!option_allowed(def->defname, catalog))
		{
			StringInfoData valid;

			initStringInfo(&valid);
			list_valid_options(catalog, &valid);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for a pgpriv %s",
							def->defname, context_name(catalog)),
					 valid.len > 0
					 ? errhint("Valid options in this context are: %s", valid.data)
					 : errhint("There are no valid options in this context.")));
		}

		if (strcmp(def->defname, "public_key") == 0 ||
			strcmp(def->defname, "signing_key") == 0)
		{
			unsigned char key[32];

			if (!peer_decode_key(value, key))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\"", def->defname),
						 errdetail("A peer key is 32 bytes written as 64 hexadecimal digits, optionally prefixed by \\x."),
						 errhint("Copy it from pgpriv.identity() on the peer.")));
		}
		else if (strcmp(def->defname, "port") == 0)
		{
			char	   *end;
			long		port = strtol(value, &end, 10);

			if (*value == '\0' || *end != '\0' || port < 1 || port > 65535)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"port\": \"%s\"", value),
						 errdetail("A port is an integer from 1 to 65535.")));
		}
		else if (strcmp(def->defname, "password_required") == 0)
		{
			bool		required = defGetBoolean(def);

			/* As in postgres_fdw: only a superuser may waive the password. */
			if (!required && !superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("password_required=false is superuser-only"),
						 errhint("User mappings with password_required=false may only be created or modified by a superuser.")));
		}
		else if (strcmp(def->defname, "sslcert") == 0 ||
				 strcmp(def->defname, "sslkey") == 0)
		{
			/*
			 * A non-superuser must not point the backend at files on the
			 * server's disk that belong to someone else (postgres_fdw rule).
			 */
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only a superuser may set option \"%s\" on a pgpriv user mapping",
								def->defname)));
		}
	}

	PG_RETURN_VOID();
}
