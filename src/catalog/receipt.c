/*
 * receipt.c — signed receipts of runs (see receipt.h, docs/receipts.md).
 *
 * Canonical encoding of a statement: the line "pgpriv receipt v1", then one
 * line per field in the fixed order of ReceiptField,
 *
 *   name=-                     the field is NULL
 *   name=<length>:<value>      otherwise (length in bytes, decimal)
 *
 * each ending in "\n".  Values are text (at most RECEIPT_MAX_TEXT bytes of
 * valid UTF-8: statements cross between databases), lowercase hex of 32
 * bytes (keys and digests) or decimal integers without sign or leading
 * zeros.  Decoding
 * accepts exactly these forms, so decoding and encoding again gives the
 * same bytes, and the jsonb form (fields by name) turns back into them too.
 * The first line separates what is signed here from anything else this
 * identity key signs (hellos, PIR hints).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "catalog/identity_secret.h"
#include "catalog/catalog_spi.h"
#include "catalog/pgpriv_catalog.h"
#include "catalog/receipt.h"
#include "peer/call.h"
#include "peer/connection.h"
#include "peer/fdw_options.h"

PG_FUNCTION_INFO_V1(pgpriv_receipt_field);
PG_FUNCTION_INFO_V1(pgpriv_receipt_signature_valid);
PG_FUNCTION_INFO_V1(pgpriv_receipt_digest);
PG_FUNCTION_INFO_V1(pgpriv_receipt_json);
PG_FUNCTION_INFO_V1(pgpriv_verify_receipt);

typedef enum FieldKind
{
	FK_TEXT,
	FK_HEX,						/* 32 bytes as 64 lowercase hex digits */
	FK_INT						/* non-negative decimal int64 */
} FieldKind;

static const struct
{
	const char *name;
	FieldKind	kind;
	bool		required;
}			fields[RF_COUNT] = {
	[RF_RUN_ID] = {"run_id", FK_TEXT, true},
	[RF_SIGNER] = {"signer", FK_TEXT, true},
	[RF_ASKER_KEY] = {"asker_key", FK_HEX, false},
	[RF_OWNER_KEY] = {"owner_key", FK_HEX, false},
	[RF_ASKER_ROLE] = {"asker_role", FK_TEXT, false},
	[RF_DATASET] = {"dataset", FK_TEXT, false},
	[RF_CAPABILITY] = {"capability", FK_TEXT, true},
	[RF_KEYS_IN] = {"keys_in", FK_INT, false},
	[RF_KEYS_OUT] = {"keys_out", FK_INT, false},
	[RF_BYTES_IN] = {"bytes_in", FK_INT, false},
	[RF_BYTES_OUT] = {"bytes_out", FK_INT, false},
	[RF_MESSAGES] = {"messages", FK_INT, false},
	[RF_TRANSCRIPT] = {"transcript", FK_HEX, false},
	[RF_OUTCOME] = {"outcome", FK_TEXT, true},
	[RF_AT] = {"at", FK_INT, true},
	[RF_PEER_STATEMENT] = {"peer_statement", FK_HEX, false},
	[RF_DISPUTED] = {"disputed", FK_TEXT, false},
};

/* ---------------------------------------------------------------------------
 * Transcript: h0 = BLAKE2b-256("pgpriv transcript v1"),
 * h_i = BLAKE2b-256(h_{i-1} || tag || length as 8 bytes big-endian || message).
 * A chain of one-shot hashes, so no libsodium state (64-byte aligned) has to
 * live in palloc'd memory.
 * ------------------------------------------------------------------------- */

void
transcript_reset(Transcript *t)
{
	static const char label[] = "pgpriv transcript v1";

	crypto_generichash(t->h, sizeof(t->h), (const uint8 *) label, sizeof(label) - 1, NULL, 0);
	t->messages = 0;
}

void
transcript_absorb(Transcript *t, char tag, const void *data, size_t len)
{
	crypto_generichash_state st;
	uint8		head[9];
	uint64		n = (uint64) len;
	int			i;

	head[0] = (uint8) tag;
	for (i = 0; i < 8; i++)
		head[1 + i] = (uint8) (n >> (56 - 8 * i));
	crypto_generichash_init(&st, NULL, 0, sizeof(t->h));
	crypto_generichash_update(&st, t->h, sizeof(t->h));
	crypto_generichash_update(&st, head, sizeof(head));
	crypto_generichash_update(&st, (const uint8 *) data, len);
	crypto_generichash_final(&st, t->h, sizeof(t->h));
	t->messages++;
}

/* ---------------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------------- */

static bool
value_ok(FieldKind kind, const char *v, size_t len)
{
	size_t		i;

	switch (kind)
	{
		case FK_TEXT:
			return len <= RECEIPT_MAX_TEXT && strlen(v) == len &&
				pg_verify_mbstr(PG_UTF8, v, (int) len, true);
		case FK_HEX:
			if (len != 64)
				return false;
			for (i = 0; i < len; i++)
				if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
					return false;
			return true;
		case FK_INT:
			if (len == 0 || len > 18 || (len > 1 && v[0] == '0'))
				return false;	/* 18 digits: always within int64 */
			for (i = 0; i < len; i++)
				if (v[i] < '0' || v[i] > '9')
					return false;
			return true;
	}
	return false;
}

void
receipt_set_text(Receipt *r, ReceiptField f, const char *value)
{
	r->v[f] = value ? pstrdup(value) : NULL;
}

void
receipt_set_int(Receipt *r, ReceiptField f, int64 value)
{
	r->v[f] = value < 0 ? NULL : psprintf("%lld", (long long) value);
}

void
receipt_set_hex(Receipt *r, ReceiptField f, const uint8 *bytes32)
{
	if (bytes32 == NULL)
		r->v[f] = NULL;
	else
	{
		r->v[f] = palloc(65);
		sodium_bin2hex(r->v[f], 65, bytes32, 32);
	}
}

void
receipt_set_now(Receipt *r)
{
	/* microseconds since 1970-01-01 UTC */
	TimestampTz now = GetCurrentTimestamp();

	receipt_set_int(r, RF_AT, (int64) now +
					(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
}

static bool
receipt_valid(const Receipt *r)
{
	int			f;

	for (f = 0; f < RF_COUNT; f++)
	{
		if (r->v[f] == NULL)
		{
			if (fields[f].required)
				return false;
			continue;
		}
		if (!value_ok(fields[f].kind, r->v[f], strlen(r->v[f])))
			return false;
	}
	return strcmp(r->v[RF_SIGNER], "asker") == 0 || strcmp(r->v[RF_SIGNER], "owner") == 0;
}

bytea *
receipt_encode(const Receipt *r)
{
	StringInfoData buf;
	bytea	   *out;
	int			f;

	if (!receipt_valid(r))
		elog(ERROR, "pgpriv: a receipt statement has a malformed field");
	initStringInfo(&buf);
	appendStringInfoString(&buf, RECEIPT_LABEL "\n");
	for (f = 0; f < RF_COUNT; f++)
	{
		if (r->v[f] == NULL)
			appendStringInfo(&buf, "%s=-\n", fields[f].name);
		else
			appendStringInfo(&buf, "%s=%zu:%s\n", fields[f].name, strlen(r->v[f]), r->v[f]);
	}
	out = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(out, VARHDRSZ + buf.len);
	memcpy(VARDATA(out), buf.data, buf.len);
	pfree(buf.data);
	return out;
}

bool
receipt_decode(const uint8 *data, size_t len, Receipt *r)
{
	const char *p = (const char *) data;
	const char *end = p + len;
	size_t		label = strlen(RECEIPT_LABEL "\n");
	int			f;

	memset(r, 0, sizeof(*r));
	if (len > RECEIPT_MAX_BYTES || len < label || memcmp(p, RECEIPT_LABEL "\n", label) != 0)
		return false;
	p += label;
	for (f = 0; f < RF_COUNT; f++)
	{
		size_t		nlen = strlen(fields[f].name);
		size_t		vlen = 0;
		int			digits = 0;

		if ((size_t) (end - p) < nlen + 2 || memcmp(p, fields[f].name, nlen) != 0 || p[nlen] != '=')
			return false;
		p += nlen + 1;
		if (*p == '-')
		{
			if (end - p < 2 || p[1] != '\n')
				return false;
			p += 2;
			continue;
		}
		/* length: decimal, no leading zeros, then ':' */
		while (p < end && *p >= '0' && *p <= '9' && digits < 6)
		{
			if (digits == 1 && vlen == 0)
				return false;
			vlen = vlen * 10 + (*p - '0');
			p++;
			digits++;
		}
		if (digits == 0 || p >= end || *p != ':')
			return false;
		p++;
		if ((size_t) (end - p) < vlen + 1 || p[vlen] != '\n')
			return false;
		r->v[f] = pnstrdup(p, vlen);
		if (strlen(r->v[f]) != vlen || !value_ok(fields[f].kind, r->v[f], vlen))
			return false;
		p += vlen + 1;
	}
	return p == end && receipt_valid(r);
}

static bool
hex32(const char *hex, uint8 out[32])
{
	size_t		got;

	return hex != NULL && strlen(hex) == 64 &&
		sodium_hex2bin(out, 32, hex, 64, NULL, &got, NULL) == 0 && got == 32;
}

bool
receipt_signer_key(const Receipt *r, uint8 key[32])
{
	const char *hex = strcmp(r->v[RF_SIGNER], "asker") == 0 ? r->v[RF_ASKER_KEY] : r->v[RF_OWNER_KEY];

	return hex32(hex, key);
}

static bool
signature_ok(const uint8 *stmt, size_t len, const uint8 *sig, size_t siglen)
{
	Receipt		r;
	uint8		key[32];

	if (siglen != crypto_sign_BYTES || !receipt_decode(stmt, len, &r) || !receipt_signer_key(&r, key))
		return false;
	return crypto_sign_verify_detached(sig, stmt, len, key) == 0;
}

void
receipt_own_key(uint8 key[32])
{
	uint8		sk[crypto_sign_SECRETKEYBYTES];

	identity_active_signing_key(sk);
	memcpy(key, sk + 32, 32);	/* libsodium's secret key ends with the public key */
	sodium_memzero(sk, sizeof(sk));
}

void
receipt_sign(const bytea *statement, uint8 signature[64])
{
	uint8		sk[crypto_sign_SECRETKEYBYTES];

	identity_active_signing_key(sk);
	crypto_sign_detached(signature, NULL, (const uint8 *) VARDATA_ANY(statement),
						 VARSIZE_ANY_EXHDR(statement), sk);
	sodium_memzero(sk, sizeof(sk));
}

void
receipt_digest_hex(const uint8 *statement, size_t len, const uint8 *sig, size_t siglen, char out[65])
{
	crypto_generichash_state st;
	uint8		h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, statement, len);
	crypto_generichash_update(&st, sig, siglen);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void
receipt_store(const char *run, const char *signer, bool own, const bytea *statement,
			  const uint8 *signature, const char *disputed)
{
	receipt_store_as(NULL, run, signer, own, statement, signature, disputed);
}

void
receipt_store_as(const char *actor, const char *run, const char *signer, bool own,
				 const bytea *statement, const uint8 *signature, const char *disputed)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, BOOLOID, BYTEAOID, BYTEAOID, TEXTOID, TEXTOID};
	Datum		args[7];
	char		nulls[7] = "       ";
	bytea	   *sig = palloc(VARHDRSZ + crypto_sign_BYTES);
	CatalogSession cs;

	SET_VARSIZE(sig, VARHDRSZ + crypto_sign_BYTES);
	memcpy(VARDATA(sig), signature, crypto_sign_BYTES);
	args[0] = CStringGetTextDatum(run);
	args[1] = CStringGetTextDatum(signer);
	args[2] = BoolGetDatum(own);
	args[3] = PointerGetDatum(statement);
	args[4] = PointerGetDatum(sig);
	args[5] = disputed ? CStringGetTextDatum(disputed) : (Datum) 0;
	nulls[5] = disputed ? ' ' : 'n';
	args[6] = actor ? CStringGetTextDatum(actor) : (Datum) 0;
	nulls[6] = actor ? ' ' : 'n';

	catalog_open(&cs, true);
	catalog_exec("SELECT pgpriv._receipt_store(coalesce($7::pg_catalog.name, pgpriv._outer_role()), "
				 "$1, $2, $3, $4, $5, $6)",
				 7, argtypes, args, nulls, false, 1, SPI_OK_SELECT, "keep a receipt");
	catalog_close(&cs);
}

/* ---------------------------------------------------------------------------
 * jsonb
 * ------------------------------------------------------------------------- */

static Jsonb *
receipt_jsonb(const Receipt *r, const uint8 *sig)
{
	StringInfoData buf;
	char		sighex[2 * crypto_sign_BYTES + 1];
	int			f;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (f = 0; f < RF_COUNT; f++)
	{
		escape_json(&buf, fields[f].name);
		appendStringInfoChar(&buf, ':');
		if (r->v[f] == NULL)
			appendStringInfoString(&buf, "null");
		else if (fields[f].kind == FK_INT)
			appendStringInfoString(&buf, r->v[f]);
		else
			escape_json(&buf, r->v[f]);
		appendStringInfoChar(&buf, ',');
	}
	sodium_bin2hex(sighex, sizeof(sighex), sig, crypto_sign_BYTES);
	appendStringInfo(&buf, "\"signature\":\"%s\"}", sighex);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

static JsonbValue *
object_get(JsonbContainer *c, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

/* A statement object back into its canonical bytes and signature; false if malformed. */
static bytea *
statement_from_json(JsonbContainer *c, uint8 sig[64])
{
	Receipt		r;
	JsonbValue *v;
	int			f;
	size_t		got;

	if (!JsonContainerIsObject(c))
		return NULL;
	memset(&r, 0, sizeof(r));
	for (f = 0; f < RF_COUNT; f++)
	{
		v = object_get(c, fields[f].name);
		if (v == NULL)
			return NULL;
		if (v->type == jbvNull)
			continue;
		if (fields[f].kind == FK_INT)
		{
			if (v->type != jbvNumeric)
				return NULL;
			r.v[f] = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		}
		else
		{
			if (v->type != jbvString)
				return NULL;
			r.v[f] = pnstrdup(v->val.string.val, v->val.string.len);
			if (strlen(r.v[f]) != (size_t) v->val.string.len)
				return NULL;
		}
		if (!value_ok(fields[f].kind, r.v[f], strlen(r.v[f])))
			return NULL;
	}
	if (!receipt_valid(&r))
		return NULL;
	v = object_get(c, "signature");
	if (v == NULL || v->type != jbvString || v->val.string.len != 2 * crypto_sign_BYTES ||
		sodium_hex2bin(sig, crypto_sign_BYTES, v->val.string.val, v->val.string.len, NULL, &got, NULL) != 0 ||
		got != crypto_sign_BYTES)
		return NULL;
	return receipt_encode(&r);
}

/* Whether the statement object c is signed, unchanged, by key. */
static bool
statement_verifies(JsonbContainer *c, const uint8 key[32])
{
	uint8		sig[crypto_sign_BYTES];
	bytea	   *stmt = statement_from_json(c, sig);
	Receipt		r;
	uint8		named[32];

	if (stmt == NULL || !receipt_decode((uint8 *) VARDATA(stmt), VARSIZE(stmt) - VARHDRSZ, &r) ||
		!receipt_signer_key(&r, named) || sodium_memcmp(named, key, 32) != 0)
		return false;
	return crypto_sign_verify_detached(sig, (uint8 *) VARDATA(stmt), VARSIZE(stmt) - VARHDRSZ, key) == 0;
}

/* ---------------------------------------------------------------------------
 * SQL functions
 * ------------------------------------------------------------------------- */

/* pgpriv._receipt_field(statement bytea, field text) → text */
Datum
pgpriv_receipt_field(PG_FUNCTION_ARGS)
{
	bytea	   *stmt = PG_GETARG_BYTEA_PP(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Receipt		r;
	int			f;

	if (!receipt_decode((uint8 *) VARDATA_ANY(stmt), VARSIZE_ANY_EXHDR(stmt), &r))
		PG_RETURN_NULL();
	for (f = 0; f < RF_COUNT; f++)
		if (strcmp(fields[f].name, name) == 0 && r.v[f] != NULL)
			PG_RETURN_TEXT_P(cstring_to_text(r.v[f]));
	PG_RETURN_NULL();
}

/* pgpriv._receipt_signature_valid(statement bytea, signature bytea) → boolean */
Datum
pgpriv_receipt_signature_valid(PG_FUNCTION_ARGS)
{
	bytea	   *stmt = PG_GETARG_BYTEA_PP(0);
	bytea	   *sig = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_BOOL(signature_ok((uint8 *) VARDATA_ANY(stmt), VARSIZE_ANY_EXHDR(stmt),
								(uint8 *) VARDATA_ANY(sig), VARSIZE_ANY_EXHDR(sig)));
}

/* pgpriv._receipt_digest(statement bytea, signature bytea) → text */
Datum
pgpriv_receipt_digest(PG_FUNCTION_ARGS)
{
	bytea	   *stmt = PG_GETARG_BYTEA_PP(0);
	bytea	   *sig = PG_GETARG_BYTEA_PP(1);
	char		hex[65];

	receipt_digest_hex((uint8 *) VARDATA_ANY(stmt), VARSIZE_ANY_EXHDR(stmt),
					   (uint8 *) VARDATA_ANY(sig), VARSIZE_ANY_EXHDR(sig), hex);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

/* pgpriv._receipt_json(statement bytea, signature bytea) → jsonb */
Datum
pgpriv_receipt_json(PG_FUNCTION_ARGS)
{
	bytea	   *stmt = PG_GETARG_BYTEA_PP(0);
	bytea	   *sig = PG_GETARG_BYTEA_PP(1);
	Receipt		r;

	if (VARSIZE_ANY_EXHDR(sig) != crypto_sign_BYTES ||
		!receipt_decode((uint8 *) VARDATA_ANY(stmt), VARSIZE_ANY_EXHDR(stmt), &r))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(receipt_jsonb(&r, (uint8 *) VARDATA_ANY(sig)));
}

/*
 * pgpriv.verify_receipt(receipt jsonb, signing_key bytea) → boolean
 *
 * receipt is one statement object (as in pgpriv.receipt()'s "statements"
 * or the pgpriv.receipts view) or pgpriv.receipt()'s whole object; true if
 * it holds a statement whose signer is signing_key and whose signature by
 * that key covers exactly its fields.  Anything malformed (not an object,
 * a field missing or of the wrong type or form, a key that is not 32
 * bytes) is false, never an error; NULL in, NULL out.
 */
Datum
pgpriv_verify_receipt(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	bytea	   *keyb = PG_GETARG_BYTEA_PP(1);
	uint8		key[32];
	JsonbValue *list;

	if (VARSIZE_ANY_EXHDR(keyb) != 32 || !JB_ROOT_IS_OBJECT(jb))
		PG_RETURN_BOOL(false);
	memcpy(key, VARDATA_ANY(keyb), 32);

	list = object_get(&jb->root, "statements");
	if (list == NULL)
		PG_RETURN_BOOL(statement_verifies(&jb->root, key));
	if (list->type == jbvBinary && JsonContainerIsArray(list->val.binary.data))
	{
		JsonbContainer *arr = list->val.binary.data;
		uint32		n = JsonContainerSize(arr);
		uint32		i;

		for (i = 0; i < n; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

			if (e != NULL && e->type == jbvBinary && statement_verifies(e->val.binary.data, key))
				PG_RETURN_BOOL(true);
		}
	}
	PG_RETURN_BOOL(false);
}

/* ---------------------------------------------------------------------------
 * The asker's end of a run
 * ------------------------------------------------------------------------- */

static void pg_attribute_noreturn()
owner_receipt_refused(const char *peer, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed message from peer \"%s\"", peer),
			 errdetail("Its receipt of the run: %s", detail)));
}

static bool
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/*
 * The asker's statement of a run with its peer: the fields both its
 * statements share (a completed run's and a refused one's), signed.
 */
static bytea *
asker_statement(PeerCall *call, const char *run, const char *capability, const char *dataset,
				const uint8 *pinned, int64 keys_in, int64 keys_out, int64 bytes_in, int64 bytes_out,
				const char *outcome, Receipt *mine, uint8 sig[crypto_sign_BYTES])
{
	uint8		own_key[32];
	bytea	   *stmt;

	receipt_own_key(own_key);
	memset(mine, 0, sizeof(*mine));
	receipt_set_text(mine, RF_RUN_ID, run);
	receipt_set_text(mine, RF_SIGNER, "asker");
	receipt_set_hex(mine, RF_ASKER_KEY, own_key);
	receipt_set_hex(mine, RF_OWNER_KEY, pinned);
	receipt_set_text(mine, RF_ASKER_ROLE, peer_remote_user(call->peer));
	receipt_set_text(mine, RF_DATASET, dataset);
	receipt_set_text(mine, RF_CAPABILITY, capability);
	receipt_set_int(mine, RF_KEYS_IN, keys_in);
	receipt_set_int(mine, RF_KEYS_OUT, keys_out);
	receipt_set_int(mine, RF_BYTES_IN, bytes_in);
	receipt_set_int(mine, RF_BYTES_OUT, bytes_out);
	receipt_set_int(mine, RF_MESSAGES, call->transcript.messages);
	receipt_set_hex(mine, RF_TRANSCRIPT, call->transcript.h);
	receipt_set_text(mine, RF_OUTCOME, outcome);
	receipt_set_now(mine);
	stmt = receipt_encode(mine);
	receipt_sign(stmt, sig);
	return stmt;
}

/*
 * One call of pgpriv.serve_receipt, binary both ways: the asker's statement
 * out, the owner's statement and signature back (NULL if the answer is not
 * one statement and a 64-byte signature).
 */
static bytea *
receipt_swap(PeerCall *call, const char *run, const bytea *stmt, const uint8 sig[crypto_sign_BYTES],
			 uint8 owner_sig[crypto_sign_BYTES])
{
	const char *values[3];
	int			lengths[3];
	int			formats[3] = {0, 1, 1};
	Oid			types[3] = {TEXTOID, BYTEAOID, BYTEAOID};
	PGresult   *res;
	size_t		olen;
	bytea	   *owner_stmt;

	values[0] = run;
	lengths[0] = 0;
	values[1] = VARDATA(stmt);
	lengths[1] = VARSIZE(stmt) - VARHDRSZ;
	values[2] = (const char *) sig;
	lengths[2] = crypto_sign_BYTES;
	peer_send_params(call->conn, call->peer,
					 "SELECT r.owner_statement, r.owner_signature FROM pgpriv.serve_receipt($1, $2, $3) AS r",
					 3, types, values, lengths, formats, 1);
	res = peer_get_result(call->conn, call->peer);
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) ||
		PQfformat(res, 0) != 1 || PQfformat(res, 1) != 1 ||
		PQgetlength(res, 0, 1) != crypto_sign_BYTES || PQgetlength(res, 0, 0) > RECEIPT_MAX_BYTES)
	{
		PQclear(res);
		return NULL;
	}
	olen = PQgetlength(res, 0, 0);
	owner_stmt = palloc(VARHDRSZ + olen);
	SET_VARSIZE(owner_stmt, VARHDRSZ + olen);
	memcpy(VARDATA(owner_stmt), PQgetvalue(res, 0, 0), olen);
	memcpy(owner_sig, PQgetvalue(res, 0, 1), crypto_sign_BYTES);
	PQclear(res);
	return owner_stmt;
}

/*
 * Why the owner's statement (owner_stmt, signed owner_sig) cannot be kept as
 * the counterpart of the asker's: NULL when it is of this run (signer,
 * run, capability, dataset), signed by the server's key (pinned, or with
 * none pinned the key it names) and its signature verifies.  For a run
 * that ran, mine and own_digest are the asker's statement and its digest,
 * which the owner's must name (the asker's key, the digest); for a refused
 * run they are NULL and the owner's must state a refusal.  The returned
 * text ends an errdetail.  The statement is decoded into *theirs.
 */
static const char *
owner_statement_fault(const char *run, const char *capability, const char *dataset,
					  const Receipt *mine, const char *own_digest, const uint8 *pinned,
					  const bytea *owner_stmt, const uint8 *owner_sig, Receipt *theirs)
{
	size_t		olen = VARSIZE(owner_stmt) - VARHDRSZ;
	uint8		owner_key[32];

	if (!receipt_decode((const uint8 *) VARDATA(owner_stmt), olen, theirs))
		return "its statement is malformed.";
	if (!streq(theirs->v[RF_SIGNER], "owner") || !streq(theirs->v[RF_RUN_ID], run) ||
		!streq(theirs->v[RF_CAPABILITY], capability) || !streq(theirs->v[RF_DATASET], dataset) ||
		(mine != NULL && !streq(theirs->v[RF_ASKER_KEY], mine->v[RF_ASKER_KEY])))
		return "its statement is of another run.";
	if (mine == NULL &&
		(theirs->v[RF_OUTCOME] == NULL || strncmp(theirs->v[RF_OUTCOME], "refused: ", 9) != 0))
		return "its statement is not of a refusal.";
	if (!receipt_signer_key(theirs, owner_key))
		return "its statement names no signing key.";
	if (pinned != NULL && sodium_memcmp(owner_key, pinned, 32) != 0)
		return "it is signed with a key other than the server's signing_key.";
	if (crypto_sign_verify_detached(owner_sig, (const uint8 *) VARDATA(owner_stmt), olen,
									owner_key) != 0)
		return "its signature does not verify.";
	if (own_digest != NULL && !streq(theirs->v[RF_PEER_STATEMENT], own_digest))
		return "it does not name the asker's statement.";
	return NULL;
}

void
receipt_asker_exchange(PeerCall *call, const char *run, const char *capability, const char *dataset,
					   int64 keys_in, int64 keys_out, int64 bytes_in, int64 bytes_out)
{
	ForeignServer *server = GetForeignServerByName(call->peer, false);
	const char *pinned_text = peer_server_option(server, "signing_key");
	uint8		pinned[32];
	uint8		sig[crypto_sign_BYTES];
	uint8		owner_sig[crypto_sign_BYTES];
	char		own_digest[65];
	Receipt		mine;
	Receipt		theirs;
	bytea	   *stmt;
	bytea	   *owner_stmt;
	const char *fault;
	const char *note = NULL;

	if (pinned_text != NULL && !peer_decode_key(pinned_text, pinned))
		elog(ERROR, "server \"%s\" has a malformed key option", call->peer);	/* the validator refuses these */

	stmt = asker_statement(call, run, capability, dataset, pinned_text ? pinned : NULL, keys_in, keys_out,
						   bytes_in, bytes_out, "ok", &mine, sig);
	receipt_digest_hex((uint8 *) VARDATA(stmt), VARSIZE(stmt) - VARHDRSZ, sig, sizeof(sig), own_digest);

	/* The one extra round trip of a run. */
	owner_stmt = receipt_swap(call, run, stmt, sig, owner_sig);
	if (owner_stmt == NULL)
		owner_receipt_refused(call->peer, "missing or malformed.");

	fault = owner_statement_fault(run, capability, dataset, &mine, own_digest,
								  pinned_text ? pinned : NULL, owner_stmt, owner_sig, &theirs);
	if (fault != NULL)
		owner_receipt_refused(call->peer, fault);
	if (!streq(theirs.v[RF_TRANSCRIPT], mine.v[RF_TRANSCRIPT]) ||
		!streq(theirs.v[RF_MESSAGES], mine.v[RF_MESSAGES]))
		owner_receipt_refused(call->peer, "its transcript digest differs from the asker's.");

	/* What the owner's statement says otherwise is its claim, kept with a note. */
	if (theirs.v[RF_DISPUTED] != NULL)
		note = psprintf("the owner disputes the asker's statement: %s", theirs.v[RF_DISPUTED]);
	else if (!streq(theirs.v[RF_OUTCOME], "ok"))
		note = psprintf("the owner's outcome is \"%s\"", theirs.v[RF_OUTCOME]);
	else if (pinned_text == NULL)
		note = "unpinned: the server has no signing_key option; checked against the key the statement names";

	receipt_store(run, "asker", true, stmt, sig, NULL);
	receipt_store(run, "owner", false, owner_stmt, owner_sig, note);
}

/*
 * The asker's end of a refused run, while the refusal is on its way (see
 * receipt.h): its statement of the run, failed as the failure recorder
 * words it, exchanged for the owner's statement of the refusal; the owner's
 * is kept only if it is signed by the server's key (the pinned
 * signing_key, or with none pinned the key it names, noted), of this run,
 * and a refusal; what else differs (the digest) goes into the note.
 * Errors come back to the caller, which discards them.
 */
void
receipt_asker_refused(PeerCall *call, const char *run, const char *capability, const char *dataset,
					  int64 keys_in, int sqlstate)
{
	ForeignServer *server = GetForeignServerByName(call->peer, false);
	const char *pinned_text = peer_server_option(server, "signing_key");
	uint8		pinned[32];
	uint8		sig[crypto_sign_BYTES];
	uint8		owner_sig[crypto_sign_BYTES];
	char		outcome[64];
	Receipt		mine;
	Receipt		theirs;
	bytea	   *stmt;
	bytea	   *owner_stmt;
	const char *note = NULL;

	if (!audit_failure_can_keep())
		return;
	if (pinned_text != NULL && !peer_decode_key(pinned_text, pinned))
		return;
	stmt = asker_statement(call, run, capability, dataset, pinned_text ? pinned : NULL, keys_in, -1,
						   call->bytes_in, call->bytes_out,
						   audit_failure_outcome(sqlstate, false, outcome, sizeof(outcome)), &mine, sig);
	owner_stmt = receipt_swap(call, run, stmt, sig, owner_sig);
	if (owner_stmt == NULL)
		return;
	if (owner_statement_fault(run, capability, dataset, NULL, NULL, pinned_text ? pinned : NULL,
							  owner_stmt, owner_sig, &theirs) != NULL)
		return;
	if (!streq(theirs.v[RF_TRANSCRIPT], mine.v[RF_TRANSCRIPT]) ||
		!streq(theirs.v[RF_MESSAGES], mine.v[RF_MESSAGES]))
		note = "the owner's transcript digest of the refused run differs from the asker's";
	else if (pinned_text == NULL)
		note = "unpinned: the server has no signing_key option; checked against the key the statement names";
	audit_failure_exchanged(stmt, sig, owner_stmt, owner_sig, note);
}
