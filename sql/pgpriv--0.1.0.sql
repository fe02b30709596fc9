/*
 * pgpriv 0.1.0 — install script.
 *
 * Layout: identity, OPRF primitives, catalog (datasets, permits, keys),
 * audit log, foreign-data wrapper.  Conventions (docs/architecture.md,
 * "Conventions"): no CREATE OR REPLACE, every SECURITY DEFINER function
 * pins search_path, dynamic SQL goes through format('%I', '%L'), EXECUTE is
 * revoked from PUBLIC wherever a function is not meant for everyone, and
 * every object has a COMMENT.
 */
\echo Use "CREATE EXTENSION pgpriv" to load this file. \quit

COMMENT ON SCHEMA pgpriv IS
  'pgpriv: joint queries between PostgreSQL databases where raw rows never leave their database';

-- Peers log in to call pgpriv's serving functions, so the schema itself is
-- usable by everyone; every object in it decides its own access below.
GRANT USAGE ON SCHEMA pgpriv TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------

CREATE TABLE pgpriv.identity_keys (
  public_key      bytea PRIMARY KEY CHECK (length(public_key) = 32),
  secret_key      bytea NOT NULL CHECK (length(secret_key) = 32),
  sign_public_key bytea NOT NULL CHECK (length(sign_public_key) = 32),
  sign_secret_key bytea NOT NULL CHECK (length(sign_secret_key) = 64),
  created_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  retired_at      timestamptz
);
REVOKE ALL ON pgpriv.identity_keys FROM PUBLIC;
COMMENT ON TABLE pgpriv.identity_keys IS
  'This party''s identity key pairs (X25519 for key agreement, Ed25519 for signatures). '
  'Secret: readable by the extension owner only. The active pair is the oldest one not retired, '
  'so a restored dump keeps the identity it had.';

CREATE FUNCTION pgpriv._new_identity(
  OUT public_key bytea, OUT secret_key bytea,
  OUT sign_public_key bytea, OUT sign_secret_key bytea)
  RETURNS record
  AS 'MODULE_PATHNAME', 'pgpriv_new_identity'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION pgpriv._new_identity() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._new_identity() IS
  'internal: fresh X25519 and Ed25519 key pairs from libsodium';

CREATE FUNCTION pgpriv._x25519_public_key(secret bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_x25519_public_key'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgpriv._x25519_public_key(bytea) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._x25519_public_key(bytea) IS
  'internal: the X25519 public key of a secret key (consistency checks)';

CREATE FUNCTION pgpriv._signing_public_key(sign_secret bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_signing_public_key'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgpriv._signing_public_key(bytea) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._signing_public_key(bytea) IS
  'internal: the Ed25519 public key of a libsodium secret key (consistency checks)';

CREATE FUNCTION pgpriv._fingerprint(key bytea) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT pg_catalog.string_agg(pg_catalog.substr(h, i, 4), ':' ORDER BY i)
      FROM (SELECT pg_catalog.encode(pg_catalog.sha256(key), 'hex') AS h) s,
           pg_catalog.generate_series(1, 32, 4) AS i
  $$;
COMMENT ON FUNCTION pgpriv._fingerprint(bytea) IS
  'Short form of a public key for humans to compare over the phone: first 16 bytes of its SHA-256, in groups';

CREATE FUNCTION pgpriv.rotate_identity() RETURNS TABLE(public_key bytea, fingerprint text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE pgpriv.identity_keys SET retired_at = pg_catalog.clock_timestamp()
     WHERE retired_at IS NULL;
    INSERT INTO pgpriv.identity_keys (public_key, secret_key, sign_public_key, sign_secret_key)
      SELECT n.public_key, n.secret_key, n.sign_public_key, n.sign_secret_key
        FROM pgpriv._new_identity() AS n;
    PERFORM pgpriv._audit_append('local', NULL, 'rotate_identity', NULL,
                                 NULL, NULL, NULL, NULL, 'ok', NULL);
    RETURN QUERY SELECT i.public_key, i.fingerprint FROM pgpriv.identity() AS i;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.rotate_identity() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.rotate_identity() IS
  'Retire this party''s identity key pairs and make new ones; every peer must then update its public_key option';

CREATE FUNCTION pgpriv.identity() RETURNS TABLE(public_key bytea, fingerprint text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT k.public_key, pgpriv._fingerprint(k.public_key)
      FROM pgpriv.identity_keys AS k
     WHERE k.retired_at IS NULL
     ORDER BY k.created_at, k.public_key
     LIMIT 1
  $$;
COMMENT ON FUNCTION pgpriv.identity() IS
  'This party''s X25519 identity public key and its fingerprint: give both to peers (server option public_key)';

CREATE FUNCTION pgpriv.identity_card()
  RETURNS TABLE(public_key bytea, signing_key bytea, fingerprint text, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT k.public_key, k.sign_public_key, pgpriv._fingerprint(k.public_key), k.created_at
      FROM pgpriv.identity_keys AS k
     WHERE k.retired_at IS NULL
     ORDER BY k.created_at, k.public_key
     LIMIT 1
  $$;
COMMENT ON FUNCTION pgpriv.identity_card() IS
  'Everything a peer needs to declare this party: X25519 public_key, Ed25519 signing_key (server options) and fingerprint';

-- ---------------------------------------------------------------------------
-- OPRF primitives (RFC 9497, OPRF(ristretto255, SHA-512), mode 0x00)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.oprf_derive_key(seed bytea, info bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_derive_key'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_derive_key(bytea, bytea) IS
  'RFC 9497 §3.2.1 DeriveKeyPair: the 32-byte secret scalar derived from seed and info';

CREATE FUNCTION pgpriv.oprf_public_key(sk bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_public_key'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_public_key(bytea) IS
  'The public element sk·G of an OPRF secret scalar (RFC 9497 §3.2)';

CREATE FUNCTION pgpriv.oprf_blind(input bytea, blind bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_blind'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_blind(bytea, bytea) IS
  'RFC 9497 §3.3.1 Blind with a given blind scalar: blind·HashToGroup(input)';

CREATE FUNCTION pgpriv.oprf_evaluate(sk bytea, element bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_evaluate'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_evaluate(bytea, bytea) IS
  'RFC 9497 §3.3.1 BlindEvaluate: sk·element for a blinded element';

CREATE FUNCTION pgpriv.oprf_finalize(input bytea, blind bytea, evaluated bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_finalize'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_finalize(bytea, bytea, bytea) IS
  'RFC 9497 §3.3.1 Finalize: unblind and hash to the 64-byte OPRF output';

CREATE FUNCTION pgpriv.oprf(sk bytea, input bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf(bytea, bytea) IS
  'RFC 9497 §3.3.1 Evaluate: the 64-byte OPRF output computed directly by the key holder';

CREATE FUNCTION pgpriv.oprf_random_scalar() RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_random_scalar'
  LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_random_scalar() IS
  'A uniformly random non-zero ristretto255 scalar (a fresh blind or key)';

CREATE FUNCTION pgpriv.hash_to_group(input bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_hash_to_group'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.hash_to_group(bytea) IS
  'RFC 9497 §4.1 HashToGroup for the ristretto255-SHA512 suite (mode 0x00 context)';

CREATE FUNCTION pgpriv.expand_message_xmd(msg bytea, dst bytea, len_in_bytes integer) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_expand_message_xmd'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.expand_message_xmd(bytea, bytea, integer) IS
  'RFC 9380 §5.3.1 expand_message_xmd with SHA-512';

CREATE FUNCTION pgpriv.oprf_blind_batch(inputs bytea[], blinds bytea[]) RETURNS bytea[]
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_blind_batch'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_blind_batch(bytea[], bytea[]) IS
  'oprf_blind over arrays, on pgpriv.crypto_threads threads; element i equals oprf_blind(inputs[i], blinds[i])';

CREATE FUNCTION pgpriv.oprf_evaluate_batch(sk bytea, elements bytea[]) RETURNS bytea[]
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_evaluate_batch'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_evaluate_batch(bytea, bytea[]) IS
  'oprf_evaluate over an array, on pgpriv.crypto_threads threads';

CREATE FUNCTION pgpriv.oprf_finalize_batch(inputs bytea[], blinds bytea[], evaluated bytea[]) RETURNS bytea[]
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_finalize_batch'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_finalize_batch(bytea[], bytea[], bytea[]) IS
  'oprf_finalize over arrays, on pgpriv.crypto_threads threads';

CREATE FUNCTION pgpriv.oprf_batch(sk bytea, inputs bytea[]) RETURNS bytea[]
  AS 'MODULE_PATHNAME', 'pgpriv_oprf_batch'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.oprf_batch(bytea, bytea[]) IS
  'oprf (unblinded Evaluate) over an array, on pgpriv.crypto_threads threads';

-- ---------------------------------------------------------------------------
-- Audit log: append-only, each row committing to the previous row's hash
-- ---------------------------------------------------------------------------

CREATE TABLE pgpriv.audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  actor       name NOT NULL,
  side        text NOT NULL CHECK (side IN ('asker', 'owner', 'local')),
  peer        text,
  capability  text NOT NULL,
  dataset     text,
  keys_in     bigint,
  keys_out    bigint,
  bytes_in    bigint,
  bytes_out   bigint,
  outcome     text NOT NULL,
  detail      text,
  prev_hash   bytea NOT NULL CHECK (length(prev_hash) = 32),
  row_hash    bytea NOT NULL CHECK (length(row_hash) = 32)
);
REVOKE ALL ON pgpriv.audit_log FROM PUBLIC;
COMMENT ON SEQUENCE pgpriv.audit_log_id_seq IS 'ids of audit rows, in chain order';
COMMENT ON TABLE pgpriv.audit_log IS
  'Append-only record of every pgpriv run and catalog change; row_hash = SHA-256(prev_hash || row), checked by pgpriv.audit_verify()';

CREATE FUNCTION pgpriv._audit_row_hash(
  prev_hash bytea, id bigint, at timestamptz, actor name, side text, peer text,
  capability text, dataset text, keys_in bigint, keys_out bigint,
  bytes_in bigint, bytes_out bigint, outcome text, detail text)
  RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
    -- Timestamps as epoch microseconds and texts as quoted literals: the
    -- encoding is independent of DateStyle and TimeZone and unambiguous.
    SELECT pg_catalog.sha256(prev_hash || pg_catalog.convert_to(pg_catalog.format(
      'pgpriv-audit-v1|%s|%s|%L|%L|%L|%L|%L|%s|%s|%s|%s|%L|%L',
      id, (pg_catalog.extract('epoch', at) * 1000000)::numeric(30,0),
      actor, side, peer, capability, dataset,
      keys_in, keys_out, bytes_in, bytes_out, outcome, detail), 'UTF8'))
  $$;
COMMENT ON FUNCTION pgpriv._audit_row_hash(bytea, bigint, timestamptz, name, text, text, text, text, bigint, bigint, bigint, bigint, text, text) IS
  'internal: the hash chaining one audit row to the previous one';

CREATE FUNCTION pgpriv._audit_append(
  side text, peer text, capability text, dataset text,
  keys_in bigint, keys_out bigint, bytes_in bigint, bytes_out bigint,
  outcome text, detail text)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    prev bytea;
    r pgpriv.audit_log;
  BEGIN
    -- One writer at a time, so ids and the chain agree; held to commit.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgpriv.audit_log'));
    SELECT l.row_hash INTO prev FROM pgpriv.audit_log AS l ORDER BY l.id DESC LIMIT 1;
    prev := coalesce(prev, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'));

    r.id := pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('pgpriv.audit_log', 'id'));
    r.at := pg_catalog.clock_timestamp();
    r.actor := pgpriv._outer_role();
    INSERT INTO pgpriv.audit_log OVERRIDING SYSTEM VALUE
      VALUES (r.id, r.at, r.actor, side, peer, capability, dataset,
              keys_in, keys_out, bytes_in, bytes_out, outcome, detail, prev,
              pgpriv._audit_row_hash(prev, r.id, r.at, r.actor, side, peer, capability,
                                     dataset, keys_in, keys_out, bytes_in, bytes_out,
                                     outcome, detail));
    RETURN r.id;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._audit_append(text, text, text, text, bigint, bigint, bigint, bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._audit_append(text, text, text, text, bigint, bigint, bigint, bigint, text, text) IS
  'internal: append one chained row to the audit log';

CREATE FUNCTION pgpriv._audit_maintenance_allowed() RETURNS boolean
  AS 'MODULE_PATHNAME', 'pgpriv_audit_maintenance_allowed'
  LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgpriv._audit_maintenance_allowed() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._audit_maintenance_allowed() IS
  'internal: true only inside the owner''s explicit audit maintenance (superuser-only setting pgpriv.audit_maintenance)';

CREATE FUNCTION pgpriv._audit_guard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT pgpriv._audit_maintenance_allowed() THEN
      RAISE EXCEPTION 'pgpriv.audit_log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s on the audit log was refused.', TG_OP),
              HINT = 'Old rows can be removed with pgpriv.audit_prune() by the extension owner.';
    END IF;
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
    RETURN NEW;
  END
  $$;
COMMENT ON FUNCTION pgpriv._audit_guard() IS
  'internal: refuses UPDATE, DELETE and TRUNCATE on the audit log outside explicit maintenance';

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON pgpriv.audit_log
  FOR EACH ROW EXECUTE FUNCTION pgpriv._audit_guard();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON pgpriv.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION pgpriv._audit_guard();
COMMENT ON TRIGGER audit_log_append_only ON pgpriv.audit_log IS 'keeps the audit log append-only';
COMMENT ON TRIGGER audit_log_no_truncate ON pgpriv.audit_log IS 'keeps the audit log append-only';

CREATE FUNCTION pgpriv.audit_verify()
  RETURNS TABLE(valid boolean, rows_checked bigint, first_broken_id bigint, reason text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r pgpriv.audit_log;
    prev bytea := NULL;
    n bigint := 0;
  BEGIN
    FOR r IN SELECT * FROM pgpriv.audit_log ORDER BY id LOOP
      n := n + 1;
      -- The first remaining row anchors the chain (older rows may be pruned).
      IF prev IS NOT NULL AND r.prev_hash IS DISTINCT FROM prev THEN
        RETURN QUERY SELECT false, n, r.id,
          'prev_hash does not match the previous row: a row before it was removed or changed';
        RETURN;
      END IF;
      IF r.row_hash IS DISTINCT FROM pgpriv._audit_row_hash(r.prev_hash, r.id, r.at, r.actor,
           r.side, r.peer, r.capability, r.dataset, r.keys_in, r.keys_out, r.bytes_in,
           r.bytes_out, r.outcome, r.detail) THEN
        RETURN QUERY SELECT false, n, r.id, 'row_hash does not match the row''s contents: the row was changed';
        RETURN;
      END IF;
      prev := r.row_hash;
    END LOOP;
    RETURN QUERY SELECT true, n, NULL::bigint, NULL::text;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.audit_verify() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.audit_verify() IS
  'Walk the audit hash chain; report the first row that was changed or whose predecessor was removed';

CREATE FUNCTION pgpriv.audit_prune(older_than interval) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    removed bigint;
  BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
      RAISE EXCEPTION 'older_than must be a non-negative interval'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config('pgpriv.audit_maintenance', 'on', true);
    -- Removing a prefix keeps the chain verifiable from the first kept row.
    DELETE FROM pgpriv.audit_log WHERE at < pg_catalog.now() - older_than;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM pg_catalog.set_config('pgpriv.audit_maintenance', 'off', true);
    PERFORM pgpriv._audit_append('local', NULL, 'audit_prune', NULL,
                                 NULL, removed, NULL, NULL, 'ok',
                                 pg_catalog.format('older than %s', older_than));
    RETURN removed;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.audit_prune(interval) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.audit_prune(interval) IS
  'Owner maintenance: delete audit rows older than the interval (a prefix of the chain); returns how many';

-- ---------------------------------------------------------------------------
-- Catalog: datasets, permits, OPRF keys
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv._outer_role() RETURNS name
  AS 'MODULE_PATHNAME', 'pgpriv_outer_role'
  LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv._outer_role() IS
  'internal: the role the session acts as outside any SECURITY DEFINER function';

CREATE FUNCTION pgpriv._describe_query(query text, as_role name, search_path text)
  RETURNS TABLE(column_name name, type_name text)
  AS 'MODULE_PATHNAME', 'pgpriv_describe_query'
  LANGUAGE C VOLATILE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION pgpriv._describe_query(text, name, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._describe_query(text, name, text) IS
  'internal: the columns a dataset query yields when run (LIMIT 0, read-only) as its publisher';

CREATE FUNCTION pgpriv._may_manage(owner_role name) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce((SELECT pg_catalog.pg_has_role(pgpriv._outer_role(), r.oid, 'USAGE')
                       FROM pg_catalog.pg_roles AS r WHERE r.rolname = owner_role), false)
        OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r
                      WHERE r.rolname = pgpriv._outer_role()), false)
  $$;
COMMENT ON FUNCTION pgpriv._may_manage(name) IS
  'internal: may the calling role manage objects owned by owner_role (member of it, or superuser)';

CREATE TABLE pgpriv.dataset (
  name         text PRIMARY KEY
               CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
  query        text NOT NULL,
  key_column   name NOT NULL,
  columns      name[] NOT NULL,
  column_types text[] NOT NULL,
  owner_role   name NOT NULL,
  search_path  text NOT NULL,
  version      bigint NOT NULL DEFAULT 1,
  published_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  CHECK (pg_catalog.cardinality(columns) = pg_catalog.cardinality(column_types))
);
REVOKE ALL ON pgpriv.dataset FROM PUBLIC;
COMMENT ON TABLE pgpriv.dataset IS
  'Published datasets: a named query run as owner_role when a peer is served. Peers only ever see the name.';
COMMENT ON COLUMN pgpriv.dataset.columns IS 'payload columns (all columns of the query except the key), in query order';
COMMENT ON COLUMN pgpriv.dataset.version IS 'bumped by every republish and key rotation; askers cache per version';

CREATE TABLE pgpriv.permit (
  dataset     text NOT NULL REFERENCES pgpriv.dataset(name) ON DELETE CASCADE,
  peer_role   name NOT NULL,
  capability  text NOT NULL
              CHECK (capability IN ('psi', 'psi_count', 'psi_fetch', 'psi_sum', 'pir', 'secure_sum', 'mpc')),
  columns     name[] NOT NULL DEFAULT '{}',
  max_keys    bigint CHECK (max_keys > 0),
  min_parties integer CHECK (min_parties > 0),
  min_group   integer CHECK (min_group > 0),
  granted_by  name NOT NULL,
  granted_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (dataset, peer_role, capability)
);
REVOKE ALL ON pgpriv.permit FROM PUBLIC;
COMMENT ON TABLE pgpriv.permit IS
  'What each peer role may do with each dataset: capability, permitted columns, and limits';

CREATE TABLE pgpriv.oprf_key (
  dataset     text NOT NULL REFERENCES pgpriv.dataset(name) ON DELETE CASCADE,
  peer_role   name NOT NULL,
  generation  integer NOT NULL DEFAULT 1,
  secret      bytea NOT NULL CHECK (length(secret) = 32),
  created_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (dataset, peer_role)
);
REVOKE ALL ON pgpriv.oprf_key FROM PUBLIC;
COMMENT ON TABLE pgpriv.oprf_key IS
  'Long-term OPRF keys per (dataset, peer role), made on first need. Secret: extension owner only.';

CREATE VIEW pgpriv.datasets WITH (security_barrier) AS
  SELECT d.name AS dataset, d.key_column, d.columns, d.column_types, d.owner_role,
         d.version, d.published_at, d.query
    FROM pgpriv.dataset AS d
   WHERE pgpriv._may_manage(d.owner_role);
GRANT SELECT ON pgpriv.datasets TO PUBLIC;
COMMENT ON VIEW pgpriv.datasets IS
  'Datasets published by roles you belong to (peers see none)';

CREATE VIEW pgpriv.permits WITH (security_barrier) AS
  SELECT p.dataset, p.peer_role, p.capability, p.columns, p.max_keys, p.min_parties,
         p.min_group, p.granted_by, p.granted_at
    FROM pgpriv.permit AS p
    JOIN pgpriv.dataset AS d ON d.name = p.dataset
   WHERE pgpriv._may_manage(d.owner_role)
      OR p.peer_role = pgpriv._outer_role();
GRANT SELECT ON pgpriv.permits TO PUBLIC;
COMMENT ON VIEW pgpriv.permits IS
  'Permits on your datasets, and the permits granted to you as a peer';

CREATE VIEW pgpriv.keys WITH (security_barrier) AS
  SELECT k.dataset, k.peer_role, k.generation, k.created_at,
         pgpriv._fingerprint(pgpriv.oprf_public_key(k.secret)) AS public_fingerprint
    FROM pgpriv.oprf_key AS k
    JOIN pgpriv.dataset AS d ON d.name = k.dataset
   WHERE pgpriv._may_manage(d.owner_role);
GRANT SELECT ON pgpriv.keys TO PUBLIC;
COMMENT ON VIEW pgpriv.keys IS
  'OPRF keys of your datasets: generation and public fingerprint only, never the secret';

CREATE VIEW pgpriv.audit WITH (security_barrier) AS
  SELECT l.id, l.at, l.actor, l.side, l.peer, l.capability, l.dataset,
         l.keys_in, l.keys_out, l.bytes_in, l.bytes_out, l.outcome, l.detail,
         pg_catalog.encode(pg_catalog.substr(l.row_hash, 1, 8), 'hex') AS hash
    FROM pgpriv.audit_log AS l
   WHERE l.actor = pgpriv._outer_role()
      OR pgpriv._may_manage((SELECT c.relowner::regrole::name FROM pg_catalog.pg_class AS c
                              WHERE c.oid = 'pgpriv.audit_log'::regclass));
GRANT SELECT ON pgpriv.audit TO PUBLIC;
COMMENT ON VIEW pgpriv.audit IS
  'The audit log: your own rows, or all rows for the extension owner';

CREATE FUNCTION pgpriv._dataset_for_owner(dataset text) RETURNS pgpriv.dataset
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset;
  BEGIN
    SELECT * INTO d FROM pgpriv.dataset AS x WHERE x.name = dataset;
    IF NOT FOUND OR NOT pgpriv._may_manage(d.owner_role) THEN
      -- Same message whether it is absent or someone else's: names of other
      -- owners' datasets are not disclosed.
      RAISE EXCEPTION 'dataset "%" does not exist', dataset
        USING ERRCODE = 'undefined_object',
              HINT = 'pgpriv.datasets lists the datasets you may manage.';
    END IF;
    RETURN d;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._dataset_for_owner(text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._dataset_for_owner(text) IS
  'internal: the dataset row, if the caller may manage it; otherwise an error naming the dataset';

CREATE FUNCTION pgpriv._publish(dataset text, query text, key_column text, caller_path text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    caller name := pgpriv._outer_role();
    cols name[];
    types text[];
    key_count int;
    old pgpriv.dataset;
    stale text;
  BEGIN
    IF dataset IS NULL OR dataset !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
      RAISE EXCEPTION 'invalid dataset name "%"', dataset
        USING ERRCODE = 'invalid_name',
              HINT = 'A dataset name starts with a letter or underscore and has at most 63 letters, digits, "_", "." or "-".';
    END IF;
    IF query IS NULL OR key_column IS NULL THEN
      RAISE EXCEPTION 'query and key_column must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- The right to publish is EXECUTE on pgpriv.publish, which the DBA grants.
    IF NOT pg_catalog.has_function_privilege(caller, 'pgpriv.publish(text, text, text)', 'EXECUTE') THEN
      RAISE EXCEPTION 'permission denied for function publish'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'The DBA grants the right to publish with GRANT EXECUTE ON FUNCTION pgpriv.publish(text, text, text).';
    END IF;

    SELECT pg_catalog.array_agg(c.column_name ORDER BY c.ord),
           pg_catalog.array_agg(c.type_name ORDER BY c.ord)
      INTO cols, types
      FROM pgpriv._describe_query(query, caller, caller_path) WITH ORDINALITY AS c(column_name, type_name, ord);

    SELECT pg_catalog.count(*) INTO key_count FROM pg_catalog.unnest(cols) AS c WHERE c = key_column;
    IF key_count = 0 THEN
      RAISE EXCEPTION 'dataset query does not yield key column "%"', key_column
        USING ERRCODE = 'undefined_column',
              DETAIL = pg_catalog.format('The query yields: %s.', coalesce(pg_catalog.array_to_string(cols, ', '), 'no columns'));
    ELSIF key_count > 1 OR (SELECT pg_catalog.count(DISTINCT c) <> pg_catalog.cardinality(cols)
                              FROM pg_catalog.unnest(cols) AS c) THEN
      RAISE EXCEPTION 'dataset query yields duplicate column names'
        USING ERRCODE = 'duplicate_column',
              HINT = 'Give every column of the query a distinct name with AS.';
    END IF;

    SELECT * INTO old FROM pgpriv.dataset AS d WHERE d.name = dataset FOR UPDATE;
    IF FOUND THEN
      IF NOT pgpriv._may_manage(old.owner_role) THEN
        RAISE EXCEPTION 'dataset "%" is published by another role', dataset
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      -- Republishing must not silently widen or break an existing permit.
      SELECT pg_catalog.format('role %s, capability %s, column %s', p.peer_role, p.capability, c)
        INTO stale
        FROM pgpriv.permit AS p, pg_catalog.unnest(p.columns) AS c
       WHERE p.dataset = old.name AND (c = key_column OR c <> ALL (cols))
       LIMIT 1;
      IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'republishing dataset "%" would drop a permitted column (%)', dataset, stale
          USING ERRCODE = 'dependent_objects_still_exist',
                HINT = 'Revoke or re-grant that permit first.';
      END IF;
      UPDATE pgpriv.dataset AS d
         SET query = _publish.query, key_column = _publish.key_column,
             columns = pg_catalog.array_remove(cols, _publish.key_column::name),
             column_types = (SELECT pg_catalog.array_agg(t ORDER BY o)
                               FROM ROWS FROM (pg_catalog.unnest(cols), pg_catalog.unnest(types)) WITH ORDINALITY AS u(c, t, o)
                              WHERE c <> _publish.key_column),
             owner_role = caller, search_path = caller_path,
             version = d.version + 1, published_at = pg_catalog.clock_timestamp()
       WHERE d.name = old.name;
    ELSE
      INSERT INTO pgpriv.dataset (name, query, key_column, columns, column_types, owner_role, search_path)
        SELECT _publish.dataset, _publish.query, _publish.key_column,
               pg_catalog.array_remove(cols, _publish.key_column::name),
               coalesce((SELECT pg_catalog.array_agg(t ORDER BY o)
                           FROM ROWS FROM (pg_catalog.unnest(cols), pg_catalog.unnest(types)) WITH ORDINALITY AS u(c, t, o)
                          WHERE c <> _publish.key_column), '{}'),
               caller, caller_path;
    END IF;

    PERFORM pgpriv._audit_append('local', NULL, 'publish', dataset, NULL, NULL, NULL, NULL,
                                 CASE WHEN old.name IS NULL THEN 'ok' ELSE 'ok: replaced' END, NULL);
  END
  $$;
COMMENT ON FUNCTION pgpriv._publish(text, text, text, text) IS
  'internal: publish() with the caller''s search_path made explicit';

-- SECURITY INVOKER on purpose: it reads the caller's own search_path, which
-- the dataset query keeps whenever it runs.  The catalog write happens in
-- _publish, which takes the dataset's owner from the session, never from an
-- argument.
CREATE FUNCTION pgpriv.publish(dataset text, query text, key_column text) RETURNS void
  LANGUAGE sql VOLATILE
  AS $$
    SELECT pgpriv._publish(dataset, query, key_column, pg_catalog.current_setting('search_path'))
  $$;
REVOKE ALL ON FUNCTION pgpriv.publish(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.publish(text, text, text) IS
  'Publish (or replace) a dataset: a SELECT run with your privileges whenever a permitted peer is served';

CREATE FUNCTION pgpriv.unpublish(dataset text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset := pgpriv._dataset_for_owner(dataset);
  BEGIN
    -- Permits and OPRF keys go with it (ON DELETE CASCADE).
    DELETE FROM pgpriv.dataset AS x WHERE x.name = d.name;
    PERFORM pgpriv._audit_append('local', NULL, 'unpublish', d.name, NULL, NULL, NULL, NULL, 'ok', NULL);
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.unpublish(text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.unpublish(text) IS
  'Withdraw a dataset, with all its permits and OPRF keys';

CREATE FUNCTION pgpriv.permit(
  dataset text, peer_role name, capability text, columns text[] DEFAULT '{}',
  max_keys bigint DEFAULT NULL, min_parties integer DEFAULT NULL, min_group integer DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset := pgpriv._dataset_for_owner(dataset);
    bad text;
    cols name[] := coalesce(columns, '{}')::name[];
  BEGIN
    IF capability IS NULL OR capability NOT IN ('psi', 'psi_count', 'psi_fetch', 'psi_sum', 'pir', 'secure_sum', 'mpc') THEN
      RAISE EXCEPTION 'unknown capability "%"', capability
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Capabilities are psi, psi_count, psi_fetch, psi_sum, pir, secure_sum and mpc.';
    END IF;
    IF peer_role IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = peer_role) THEN
      RAISE EXCEPTION 'role "%" does not exist', peer_role
        USING ERRCODE = 'undefined_object',
              HINT = 'The peer role is the role a peer logs in as (its user mapping''s user).';
    END IF;
    SELECT c INTO bad FROM pg_catalog.unnest(cols) AS c
     WHERE c IS NULL OR c <> ALL (d.columns) LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'dataset "%" has no column "%"', d.name, bad
        USING ERRCODE = 'undefined_column',
              DETAIL = pg_catalog.format('Payload columns of "%s": %s.', d.name,
                         coalesce(nullif(pg_catalog.array_to_string(d.columns, ', '), ''), 'none')),
              HINT = CASE WHEN bad = d.key_column THEN 'The key column is never a payload column.'
                          ELSE 'Permit only columns the dataset''s query yields.' END;
    END IF;
    IF (SELECT pg_catalog.count(DISTINCT c) <> pg_catalog.cardinality(cols) FROM pg_catalog.unnest(cols) AS c) THEN
      RAISE EXCEPTION 'permit names a column twice' USING ERRCODE = 'duplicate_column';
    END IF;
    IF capability IN ('psi', 'psi_count') AND pg_catalog.cardinality(cols) > 0 THEN
      RAISE EXCEPTION 'capability "%" reveals no columns; do not list any', capability
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF capability IN ('psi_sum', 'secure_sum', 'mpc') AND pg_catalog.cardinality(cols) = 0 THEN
      RAISE EXCEPTION 'capability "%" needs the column(s) it may %', capability,
        CASE capability WHEN 'mpc' THEN 'compute on' ELSE 'sum' END
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_keys IS NOT NULL AND max_keys <= 0 THEN
      RAISE EXCEPTION 'max_keys must be positive, got %', max_keys USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF min_parties IS NOT NULL AND min_parties <= 0 THEN
      RAISE EXCEPTION 'min_parties must be positive, got %', min_parties USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF min_group IS NOT NULL AND min_group <= 0 THEN
      RAISE EXCEPTION 'min_group must be positive, got %', min_group USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO pgpriv.permit AS p (dataset, peer_role, capability, columns, max_keys,
                                    min_parties, min_group, granted_by)
      VALUES (d.name, permit.peer_role, permit.capability, cols, permit.max_keys,
              permit.min_parties, permit.min_group, pgpriv._outer_role())
      ON CONFLICT ON CONSTRAINT permit_pkey DO UPDATE
        SET columns = EXCLUDED.columns, max_keys = EXCLUDED.max_keys,
            min_parties = EXCLUDED.min_parties, min_group = EXCLUDED.min_group,
            granted_by = EXCLUDED.granted_by, granted_at = pg_catalog.clock_timestamp();

    PERFORM pgpriv._audit_append('local', peer_role, 'permit', d.name, NULL, NULL, NULL, NULL, 'ok',
                                 pg_catalog.format('%s on (%s)', capability, pg_catalog.array_to_string(cols, ', ')));
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.permit(text, name, text, text[], bigint, integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.permit(text, name, text, text[], bigint, integer, integer) IS
  'Let a peer role use a capability on a dataset, over the listed payload columns, within limits (replaces an earlier permit)';

CREATE FUNCTION pgpriv.revoke_permit(dataset text, peer_role name, capability text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset := pgpriv._dataset_for_owner(dataset);
  BEGIN
    DELETE FROM pgpriv.permit AS p
     WHERE p.dataset = d.name AND p.peer_role = revoke_permit.peer_role
       AND p.capability = revoke_permit.capability;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'role "%" has no % permit on dataset "%"', peer_role, capability, d.name
        USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM pgpriv._audit_append('local', peer_role, 'revoke_permit', d.name, NULL, NULL, NULL, NULL, 'ok', capability);
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.revoke_permit(text, name, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.revoke_permit(text, name, text) IS
  'Withdraw one permit';

CREATE FUNCTION pgpriv._oprf_key(dataset text, peer_role name) RETURNS bytea
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    k bytea;
  BEGIN
    SELECT x.secret INTO k FROM pgpriv.oprf_key AS x
     WHERE x.dataset = _oprf_key.dataset AND x.peer_role = _oprf_key.peer_role;
    IF FOUND THEN
      RETURN k;
    END IF;
    INSERT INTO pgpriv.oprf_key (dataset, peer_role, secret)
      VALUES (dataset, peer_role, pgpriv.oprf_random_scalar())
      ON CONFLICT ON CONSTRAINT oprf_key_pkey DO NOTHING;
    SELECT x.secret INTO STRICT k FROM pgpriv.oprf_key AS x
     WHERE x.dataset = _oprf_key.dataset AND x.peer_role = _oprf_key.peer_role;
    RETURN k;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._oprf_key(text, name) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._oprf_key(text, name) IS
  'internal: the OPRF key of (dataset, peer role), made on first need';

CREATE FUNCTION pgpriv.rotate_oprf_key(dataset text, peer_role name) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset := pgpriv._dataset_for_owner(dataset);
    gen integer;
  BEGIN
    INSERT INTO pgpriv.oprf_key AS k (dataset, peer_role, secret)
      VALUES (d.name, peer_role, pgpriv.oprf_random_scalar())
      ON CONFLICT ON CONSTRAINT oprf_key_pkey DO UPDATE
        SET secret = EXCLUDED.secret, generation = k.generation + 1,
            created_at = pg_catalog.clock_timestamp()
      RETURNING k.generation INTO gen;
    -- Askers' cached encrypted tables are keyed by version: force a refresh.
    UPDATE pgpriv.dataset AS x SET version = x.version + 1 WHERE x.name = d.name;
    PERFORM pgpriv._audit_append('local', peer_role, 'rotate_oprf_key', d.name, NULL, NULL, NULL, NULL,
                                 'ok', pg_catalog.format('generation %s', gen));
    RETURN gen;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.rotate_oprf_key(text, name) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.rotate_oprf_key(text, name) IS
  'Replace the OPRF key a peer role is served with for a dataset; returns the new generation';

CREATE TABLE pgpriv.budget (
  dataset     text NOT NULL REFERENCES pgpriv.dataset(name) ON DELETE CASCADE,
  peer_role   name NOT NULL,
  capability  text NOT NULL,
  day         date NOT NULL,
  keys        bigint NOT NULL CHECK (keys >= 0),
  PRIMARY KEY (dataset, peer_role, capability, day)
);
REVOKE ALL ON pgpriv.budget FROM PUBLIC;
COMMENT ON TABLE pgpriv.budget IS
  'Keys each peer role asked per dataset, capability and day, counted against the permit''s max_keys';

CREATE VIEW pgpriv.budgets WITH (security_barrier) AS
  SELECT b.dataset, b.peer_role, b.capability, b.day, b.keys AS keys_used, p.max_keys
    FROM pgpriv.budget AS b
    JOIN pgpriv.dataset AS d ON d.name = b.dataset
    LEFT JOIN pgpriv.permit AS p
      ON p.dataset = b.dataset AND p.peer_role = b.peer_role AND p.capability = b.capability
   WHERE pgpriv._may_manage(d.owner_role) OR b.peer_role = pgpriv._outer_role();
GRANT SELECT ON pgpriv.budgets TO PUBLIC;
COMMENT ON VIEW pgpriv.budgets IS
  'How much of each day''s max_keys budget peers have used (owners see their datasets, peers their own use)';

-- ---------------------------------------------------------------------------
-- Blinded join (psi, psi_fetch by OPRF table; psi_count by shuffled ECDH)
-- ---------------------------------------------------------------------------

CREATE TABLE pgpriv.served_table (
  dataset     text NOT NULL REFERENCES pgpriv.dataset(name) ON DELETE CASCADE,
  peer_role   name NOT NULL,
  capability  text NOT NULL,
  version     text NOT NULL,
  columns     text[] NOT NULL,
  entries     bigint NOT NULL,
  chunk       integer NOT NULL,
  data        bytea NOT NULL,
  built_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (dataset, peer_role, capability, chunk)
);
-- Sealed entries do not compress: store them out of line without trying.
ALTER TABLE pgpriv.served_table ALTER COLUMN data SET STORAGE EXTERNAL;
REVOKE ALL ON pgpriv.served_table FROM PUBLIC;
COMMENT ON TABLE pgpriv.served_table IS
  'Owner side: the encrypted OPRF tables served to each peer role (a derived cache, rebuilt when the data, key or permit changes)';

CREATE TABLE pgpriv.peer_table (
  server      text NOT NULL,
  remote_user text NOT NULL,
  dataset     text NOT NULL,
  capability  text NOT NULL,
  version     text NOT NULL,
  chunk       integer NOT NULL,
  data        bytea NOT NULL,
  fetched_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (server, remote_user, dataset, capability, chunk)
);
ALTER TABLE pgpriv.peer_table ALTER COLUMN data SET STORAGE EXTERNAL;
REVOKE ALL ON pgpriv.peer_table FROM PUBLIC;
COMMENT ON TABLE pgpriv.peer_table IS
  'Asker side: encrypted tables downloaded from peers, reused while their version is unchanged';

-- Not SECURITY DEFINER on purpose: only a procedure run by CALL may commit,
-- and the outcome of an admission (a refusal too) must stay in the audit log.
CREATE PROCEDURE pgpriv.serve_admit(dataset text, capability text, run text, nkeys bigint,
                                    terms bytea DEFAULT NULL)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_admit'
  LANGUAGE C;
COMMENT ON PROCEDURE pgpriv.serve_admit(text, text, text, bigint, bytea) IS
  'Serving (called by a peer): admit a run — check the permit, charge its keys to the day''s budget, audit the outcome';

CREATE FUNCTION pgpriv.serve_psi_table(dataset text, capability text, run text)
  RETURNS TABLE(version text, entries bigint, chunks integer, columns text[], batch_limit integer)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_table'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_table(text, text, text) IS
  'Serving (called by a peer): refresh the encrypted OPRF table for an admitted run and describe it';

CREATE FUNCTION pgpriv.serve_psi_chunk(dataset text, capability text, run text, version text, chunk integer)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_chunk'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_chunk(text, text, text, text, integer) IS
  'Serving (called by a peer): one chunk of the encrypted OPRF table';

CREATE FUNCTION pgpriv.serve_oprf(dataset text, capability text, run text, blinded bytea)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_oprf'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_oprf(text, text, text, bytea) IS
  'Serving (called by a peer): RFC 9497 BlindEvaluate of a batch of blinded keys of an admitted run';

CREATE FUNCTION pgpriv.psi(peer name, dataset text, keys_query text)
  RETURNS TABLE(key text)
  AS 'MODULE_PATHNAME', 'pgpriv_psi'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.psi(name, text, text) IS
  'Which of your keys (first column of keys_query) are in the peer''s dataset; the peer learns only how many keys you asked';

CREATE FUNCTION pgpriv.psi_fetch(peer name, dataset text, keys_query text)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'pgpriv_psi_fetch'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.psi_fetch(name, text, text) IS
  'Permitted columns of the peer''s rows whose keys you hold; AS t(key text, col type, ...) chooses the columns';

CREATE FUNCTION pgpriv.serve_count_begin(dataset text, run text)
  RETURNS TABLE(batch_limit integer, owner_keys bigint)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_count_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_count_begin(text, text) IS
  'Serving (called by a peer): open an admitted psi_count run and mask the dataset''s keys';

CREATE FUNCTION pgpriv.serve_count_push(run text, batch bytea) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_count_push'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_count_push(text, bytea) IS
  'Serving (called by a peer): receive a batch of masked keys of a psi_count run';

CREATE FUNCTION pgpriv.serve_count_finish(run text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_count_finish'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_count_finish(text) IS
  'Serving (called by a peer): mask the asker''s keys of a psi_count run; returns the number of distinct dataset keys';

CREATE FUNCTION pgpriv.serve_count_pull(run text, part text, start bigint, count integer) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_count_pull'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_count_pull(text, text, bigint, integer) IS
  'Serving (called by a peer): a batch of the masked, sorted results of a psi_count run';

CREATE FUNCTION pgpriv.psi_count(peer name, dataset text, keys_query text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_psi_count'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.psi_count(name, text, text) IS
  'How many of your keys are in the peer''s dataset, and nothing about which (shuffled ECDH)';

CREATE FUNCTION pgpriv._progress_rows()
  RETURNS TABLE(pid integer, role name, capability text, peer text, dataset text, phase text,
                keys bigint, done bigint, total bigint, bytes_in bigint, bytes_out bigint,
                started timestamptz)
  AS 'MODULE_PATHNAME', 'pgpriv_progress_rows'
  LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv._progress_rows() IS
  'internal: progress records of the runs the caller may see (its own roles'' runs; all for pg_read_all_stats)';

CREATE VIEW pgpriv.progress AS
  SELECT r.pid, r.role, r.capability, r.peer, r.dataset, r.phase, r.keys, r.done, r.total,
         CASE WHEN r.total > 0 THEN round(100.0 * r.done / r.total, 1) END AS percent,
         r.bytes_in, r.bytes_out, r.started,
         pg_catalog.clock_timestamp() - r.started AS elapsed
    FROM pgpriv._progress_rows() AS r
    JOIN pg_catalog.pg_stat_activity AS a ON a.pid = r.pid;
GRANT SELECT ON pgpriv.progress TO PUBLIC;
COMMENT ON VIEW pgpriv.progress IS
  'Protocol runs in progress (phase, elements done of total, bytes each way), like pg_stat_progress_*';

-- ---------------------------------------------------------------------------
-- Secret sharing (secure_sum: docs/architecture.md protocol 5; docs/secure_sum.md)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.serve_sum_begin(dataset text, run text, value_column text, participants bytea)
  RETURNS integer
  AS 'MODULE_PATHNAME', 'pgpriv_serve_sum_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_sum_begin(text, text, text, bytea) IS
  'Serving (called by a peer): open an admitted secure_sum run — check its participants against the permit and this party''s peers, derive the pair seeds, sum the column per key';

CREATE FUNCTION pgpriv.serve_sum_batch(run text, keys bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_sum_batch'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_sum_batch(text, bytea) IS
  'Serving (called by a peer): the masked value and presence of each key of a batch of a secure_sum run';

CREATE FUNCTION pgpriv.secure_sum(peers name[], dataset text, value_column text, keys_query text)
  RETURNS TABLE(key text, total numeric, contributors integer)
  AS 'MODULE_PATHNAME', 'pgpriv_secure_sum'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.secure_sum(name[], text, text, text) IS
  'Per key of keys_query: the total of a column over the listed peers (and your own dataset of that name, if you publish one) and how many hold the key; no party''s own figure is revealed';

CREATE FUNCTION pgpriv.share_split(value numeric, parties integer, scale integer DEFAULT 4)
  RETURNS bigint[]
  AS 'MODULE_PATHNAME', 'pgpriv_share_split'
  LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.share_split(numeric, integer, integer) IS
  'Split value·10^scale into parties random additive shares over Z_2^64 (bigint two''s complement); any parties-1 of them reveal nothing';

CREATE FUNCTION pgpriv.share_open(shares bigint[], scale integer DEFAULT 4) RETURNS numeric
  AS 'MODULE_PATHNAME', 'pgpriv_share_open'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.share_open(bigint[], integer) IS
  'Add shares mod 2^64, read the sum as a signed bigint and divide by 10^scale';

-- ---------------------------------------------------------------------------
-- Two-party engine (joint_score: docs/architecture.md protocol 6; docs/joint_score.md)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.serve_mpc_begin(dataset text, run text, msg bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_mpc_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_mpc_begin(text, text, bytea) IS
  'Serving (called by a peer): open an admitted two-party run — check its columns against the permit, read the features of the asked keys, say which keys have a usable row';

CREATE FUNCTION pgpriv.serve_mpc_flight(run text, msg bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_mpc_flight'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_mpc_flight(text, bytea) IS
  'Serving (called by a peer): one flight of a two-party run (oblivious transfers, triples, shares); the owner''s messages in return';

CREATE FUNCTION pgpriv.joint_score(peer name, dataset text, keys_query text, weights jsonb,
                                   threshold numeric DEFAULT NULL)
  RETURNS TABLE(key text, score numeric, flag boolean)
  AS 'MODULE_PATHNAME', 'pgpriv_joint_score'
  LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.joint_score(name, text, text, jsonb, numeric) IS
  'Per row of keys_query: Σ weight·feature over the peer''s permitted columns and your own (keys_query''s further columns), computed on secret shares — your weights and the peer''s features stay secret; with a threshold only the flag score >= threshold is returned';

CREATE FUNCTION pgpriv.risk_flag(peer name, dataset text, keys_query text, weights jsonb,
                                 threshold numeric)
  RETURNS TABLE(key text, flag boolean)
  LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
  AS $$
BEGIN
  -- keys_query runs with the caller's search_path, as in joint_score itself.
  IF threshold IS NULL THEN
    RAISE EXCEPTION 'risk_flag needs a threshold'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For the scores themselves, call pgpriv.joint_score without a threshold.';
  END IF;
  RETURN QUERY
    SELECT j.key, j.flag FROM pgpriv.joint_score(peer, dataset, keys_query, weights, threshold) AS j;
END
$$;
COMMENT ON FUNCTION pgpriv.risk_flag(name, text, text, jsonb, numeric) IS
  'Per row of keys_query: only whether Σ weight·feature (joint_score over the peer''s permitted columns and your own) reaches the threshold; no score is revealed to either side';

CREATE FUNCTION pgpriv.mpc_selftest(peer name, dataset text, triples integer DEFAULT 100000,
                                    comparisons integer DEFAULT 10000)
  RETURNS TABLE(part text, items bigint, failures bigint, seconds numeric, bytes bigint,
                per_second numeric, bytes_per_item numeric)
  AS 'MODULE_PATHNAME', 'pgpriv_mpc_selftest'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.mpc_selftest(name, text, integer, integer) IS
  'Check the two-party engine with a peer (needs an mpc permit): make Beaver triples, multiply and compare random shared values, open and verify everything; rates and bytes per item';

-- ---------------------------------------------------------------------------
-- psi_sum (docs/architecture.md protocol 3; docs/psi_sum.md)
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.serve_psi_sum_begin(dataset text, run text, value_column text, asker_share bytea)
  RETURNS TABLE(batch_limit integer, owner_keys bigint, owner_share bytea)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_sum_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_sum_begin(text, text, text, bytea) IS
  'Serving (called by a peer): open an admitted psi_sum run — check the column against the permit, draw this party''s ElGamal key share, mask the dataset''s keys and encrypt each key''s total under the joint key';

CREATE FUNCTION pgpriv.serve_psi_sum_push(run text, batch bytea) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_sum_push'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_sum_push(text, bytea) IS
  'Serving (called by a peer): receive a batch of masked keys of a psi_sum run';

CREATE FUNCTION pgpriv.serve_psi_sum_finish(run text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_sum_finish'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_sum_finish(text) IS
  'Serving (called by a peer): mask the asker''s keys of a psi_sum run; returns the number of distinct dataset keys';

CREATE FUNCTION pgpriv.serve_psi_sum_pull(run text, part text, start bigint, count integer) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_sum_pull'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_sum_pull(text, text, bigint, integer) IS
  'Serving (called by a peer): a batch of the masked, sorted results of a psi_sum run (the dataset''s part with its ciphertexts)';

CREATE FUNCTION pgpriv.serve_psi_sum_decrypt(run text, total bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_psi_sum_decrypt'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_psi_sum_decrypt(text, bytea) IS
  'Serving (called by a peer): the one partial decryption of a psi_sum run''s re-randomised total, refused below the permit''s min_group; ends the run';

CREATE FUNCTION pgpriv.psi_sum(peer name, dataset text, value_column text, keys_query text)
  RETURNS TABLE(matched bigint, total numeric)
  AS 'MODULE_PATHNAME', 'pgpriv_psi_sum'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.psi_sum(name, text, text, text) IS
  'How many of your keys are in the peer''s dataset and the total of one permitted column over them (scale 4, |total| < 2^42 units of 10^-4); nothing about which keys matched';

-- ---------------------------------------------------------------------------
-- Private lookup (pir: LWE PIR over OPRF-locked records, protocol 4)
-- ---------------------------------------------------------------------------

CREATE TABLE pgpriv.served_pir (
  dataset       text NOT NULL REFERENCES pgpriv.dataset(name) ON DELETE CASCADE,
  peer_role     name NOT NULL,
  version       text NOT NULL,
  epoch         bigint NOT NULL CHECK (epoch > 0),
  seed          bytea NOT NULL CHECK (length(seed) = 16),
  rows          integer NOT NULL,
  cols          integer NOT NULL,
  slot_bytes    integer NOT NULL,
  slots_per_col integer NOT NULL,
  columns       text[] NOT NULL,
  hint_hash     bytea NOT NULL CHECK (length(hint_hash) = 32),
  signature     bytea NOT NULL CHECK (length(signature) = 64),
  built_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  stamp         text NOT NULL DEFAULT '',
  checked_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (dataset, peer_role)
);
COMMENT ON COLUMN pgpriv.served_pir.stamp IS 'dataset catalog version and permitted columns the epoch was last checked against';
COMMENT ON COLUMN pgpriv.served_pir.checked_at IS 'when the dataset''s rows were last compared with the epoch (see pgpriv.pir_refresh_seconds)';
REVOKE ALL ON pgpriv.served_pir FROM PUBLIC;
COMMENT ON TABLE pgpriv.served_pir IS
  'Owner side: the current PIR epoch per (dataset, peer role); D and the hint are in a derived cache file pgpriv_pir/<hash>.<epoch> under the data directory';

CREATE TABLE pgpriv.peer_pir (
  server      text NOT NULL,
  remote_user text NOT NULL,
  dataset     text NOT NULL,
  epoch       bigint NOT NULL,
  hint_hash   bytea NOT NULL CHECK (length(hint_hash) = 32),
  hint        bytea NOT NULL,
  fetched_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (server, remote_user, dataset)
);
ALTER TABLE pgpriv.peer_pir ALTER COLUMN hint SET STORAGE EXTERNAL;
REVOKE ALL ON pgpriv.peer_pir FROM PUBLIC;
COMMENT ON TABLE pgpriv.peer_pir IS
  'Asker side: PIR hints downloaded from peers (hash and signature checked), reused while their epoch is current';

CREATE FUNCTION pgpriv.serve_pir_setup(dataset text, run text)
  RETURNS TABLE(epoch bigint, seed bytea, rows integer, cols integer, slot_bytes integer,
                slots_per_col integer, hint_chunks integer, hint_hash bytea, signature bytea,
                columns text[], batch_limit integer)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_pir_setup'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_pir_setup(text, text) IS
  'Serving (called by a peer): rebuild the PIR database and hint of an admitted pir run if the data changed, and describe the current epoch (signed hint hash)';

CREATE FUNCTION pgpriv.serve_pir_hint(dataset text, run text, epoch bigint, chunk integer)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_pir_hint'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_pir_hint(text, text, bigint, integer) IS
  'Serving (called by a peer): one 8 MiB chunk of the PIR hint of the current epoch';

CREATE FUNCTION pgpriv.serve_pir_answer(dataset text, run text, epoch bigint, queries bytea)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_pir_answer'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_pir_answer(text, text, bigint, bytea) IS
  'Serving (called by a peer): answer a batch of LWE PIR queries in one pass over the database (at most two per admitted key)';

CREATE FUNCTION pgpriv.pir(peer name, dataset text, key text)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'pgpriv_pir_key'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.pir(name, text, text) IS
  'Private lookup: permitted columns of the peer''s rows with this key, the peer not learning which key; AS t(key text, col type, ...) chooses the columns';

CREATE FUNCTION pgpriv.pir(peer name, dataset text, keys text[])
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'pgpriv_pir_keys'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.pir(name, text, text[]) IS
  'Private lookup of several keys in one answer pass; the peer learns how many keys, not which';

CREATE FUNCTION pgpriv.pir_sync(peer name, dataset text)
  RETURNS void
  AS 'MODULE_PATHNAME', 'pgpriv_pir_sync'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.pir_sync(name, text) IS
  'Fetch or refresh the PIR hint of a peer''s dataset (a lookup does this by itself when needed)';

-- pg_dump keeps configuration: datasets, permits, keys, identity, audit.
SELECT pg_catalog.pg_extension_config_dump('pgpriv.identity_keys', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.dataset', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.permit', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.oprf_key', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.audit_log_id_seq', '');

-- ---------------------------------------------------------------------------
-- Foreign-data wrapper: peers are foreign servers
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.fdw_validator(text[], oid) RETURNS void
  AS 'MODULE_PATHNAME', 'pgpriv_fdw_validator'
  LANGUAGE C STRICT;
COMMENT ON FUNCTION pgpriv.fdw_validator(text[], oid) IS
  'Checks the options of pgpriv peers (servers) and their user mappings';

CREATE FOREIGN DATA WRAPPER pgpriv VALIDATOR pgpriv.fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER pgpriv IS
  'pgpriv peers: CREATE SERVER name FOREIGN DATA WRAPPER pgpriv OPTIONS (host, port, dbname, public_key)';

CREATE FUNCTION pgpriv.peer_identity(peer name)
  RETURNS TABLE(public_key bytea, fingerprint text, matches boolean)
  AS 'MODULE_PATHNAME', 'pgpriv_peer_identity'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.peer_identity(name) IS
  'Connect to a peer, read its identity, and say whether it matches the server''s public_key option (NULL if none is pinned)';

-- ---------------------------------------------------------------------------
-- This party's identity, made at install
-- ---------------------------------------------------------------------------

INSERT INTO pgpriv.identity_keys (public_key, secret_key, sign_public_key, sign_secret_key)
  SELECT n.public_key, n.secret_key, n.sign_public_key, n.sign_secret_key
    FROM pgpriv._new_identity() AS n;
