/*
 * pgpriv 0.1.0 -> 0.2.0 (ALTER EXTENSION pgpriv UPDATE; docs/upgrading.md).
 *
 * Takes a 0.1.0 install to exactly what a fresh 0.2.0 install is (test/t/
 * 014_upgrade.pl compares the two dumps): the new and changed functions,
 * the audit chain's head, grants, comments and config-dump registrations,
 * then the stored rows whose meaning changed.  Definitions are copied from
 * sql/pgpriv.sql as they are there; CREATE OR REPLACE keeps each replaced
 * function's privileges.  Until the update commits, other sessions see the
 * catalog at 0.1.0, and the 0.2.0 library refuses to run protocols there
 * (0A000, src/catalog/pgpriv_catalog.c).
 */
\echo Use "ALTER EXTENSION pgpriv UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Identity: the card's fingerprint covers both keys; peers prove their keys
-- on every new connection (pgpriv.serve_hello), after saying which pgpriv
-- and protocol they run (pgpriv.serve_version).
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION pgpriv.identity_card()
  RETURNS TABLE(public_key bytea, signing_key bytea, fingerprint text, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT k.public_key, k.sign_public_key,
           pgpriv._fingerprint(k.public_key OPERATOR(pg_catalog.||) k.sign_public_key), k.created_at
      FROM pgpriv.identity_keys AS k
     WHERE k.retired_at IS NULL
     ORDER BY k.created_at, k.public_key
     LIMIT 1
  $$;
COMMENT ON FUNCTION pgpriv.identity_card() IS
  'Everything a peer needs to declare this party: X25519 public_key, Ed25519 signing_key (server options) and a fingerprint of both';

CREATE FUNCTION pgpriv.serve_hello(hello bytea)
  RETURNS TABLE(public_key bytea, signing_key bytea, proof bytea, signature bytea)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_hello'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_hello(bytea) IS
  'Serving (called by a peer on each new connection): prove this party holds its identity secrets, over the peer''s fresh challenge';

CREATE FUNCTION pgpriv.serve_version(asker_version text, asker_protocol integer)
  RETURNS TABLE(version text, protocol integer)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_version'
  LANGUAGE C STABLE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_version(text, integer) IS
  'Serving (called by a peer on each new connection, before the hello): the asker''s pgpriv version and protocol in, this server''s out; refused unless both speak the same protocol';

-- ---------------------------------------------------------------------------
-- Audit: the chain's head.  The head starts at the log's newest row, so the
-- chain as it stands verifies; "appended" counts the rows the log holds and
-- those audit_prune reports having removed (what the log itself can tell).
-- ---------------------------------------------------------------------------

-- The chain's head: the newest row's id and hash, written with every row, so
-- removing the newest rows shows (audit_verify compares the log's end with it).
CREATE TABLE pgpriv.audit_head (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_id     bigint NOT NULL,
  last_hash   bytea NOT NULL CHECK (length(last_hash) = 32),
  appended    bigint NOT NULL
);
REVOKE ALL ON pgpriv.audit_head FROM PUBLIC;
COMMENT ON TABLE pgpriv.audit_head IS
  'The audit chain''s head (newest id and hash, rows ever appended): a removed tail shows in pgpriv.audit_verify()';

INSERT INTO pgpriv.audit_head (singleton, last_id, last_hash, appended)
  SELECT true, l.id, l.row_hash,
         (SELECT pg_catalog.count(*) OPERATOR(pg_catalog.+)
                 coalesce(pg_catalog.sum(a.keys_out) FILTER (WHERE a.side OPERATOR(pg_catalog.=) 'local'
                          AND a.capability OPERATOR(pg_catalog.=) 'audit_prune'), 0)
            FROM pgpriv.audit_log AS a)::pg_catalog.int8
    FROM pgpriv.audit_log AS l
   ORDER BY l.id DESC
   LIMIT 1;

-- Runs have an id both sides record (docs/receipts.md): a column of the
-- log, covered by the row hash when set (rows written before have none and
-- hash as they did).
ALTER TABLE pgpriv.audit_log ADD COLUMN run_id text;
COMMENT ON COLUMN pgpriv.audit_log.run_id IS
  'The run''s id, the same in the asker''s and the owner''s rows of a run (NULL for catalog changes and rows written before 0.2.0)';

DROP FUNCTION pgpriv._audit_row_hash(bytea, bigint, timestamptz, name, text, text, text, text, bigint, bigint, bigint, bigint, text, text);
CREATE FUNCTION pgpriv._audit_row_hash(
  prev_hash bytea, id bigint, at timestamptz, actor name, side text, peer text,
  capability text, dataset text, keys_in bigint, keys_out bigint,
  bytes_in bigint, bytes_out bigint, outcome text, detail text, run_id text)
  RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
    -- Timestamps as epoch microseconds and texts as quoted literals: the
    -- encoding is independent of DateStyle and TimeZone and unambiguous.
    -- A row without a run id hashes as before (v1), so rows written before
    -- run ids existed still verify; a row with one hashes it too (v2).
    SELECT pg_catalog.sha256(prev_hash || pg_catalog.convert_to(
      CASE WHEN run_id IS NULL THEN pg_catalog.format(
        'pgpriv-audit-v1|%s|%s|%L|%L|%L|%L|%L|%s|%s|%s|%s|%L|%L',
        id, (pg_catalog.extract('epoch', at) * 1000000)::numeric(30,0),
        actor, side, peer, capability, dataset,
        keys_in, keys_out, bytes_in, bytes_out, outcome, detail)
      ELSE pg_catalog.format(
        'pgpriv-audit-v2|%s|%s|%L|%L|%L|%L|%L|%s|%s|%s|%s|%L|%L|%L',
        id, (pg_catalog.extract('epoch', at) * 1000000)::numeric(30,0),
        actor, side, peer, capability, dataset,
        keys_in, keys_out, bytes_in, bytes_out, outcome, detail, run_id) END, 'UTF8'))
  $$;
COMMENT ON FUNCTION pgpriv._audit_row_hash(bytea, bigint, timestamptz, name, text, text, text, text, bigint, bigint, bigint, bigint, text, text, text) IS
  'internal: the hash chaining one audit row to the previous one (covers the run id when there is one)';

CREATE FUNCTION pgpriv._audit_append_as(
  actor name, side text, peer text, capability text, dataset text,
  keys_in bigint, keys_out bigint, bytes_in bigint, bytes_out bigint,
  outcome text, detail text, run_id text)
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
    r.actor := actor;
    INSERT INTO pgpriv.audit_log OVERRIDING SYSTEM VALUE
      VALUES (r.id, r.at, r.actor, side, peer, capability, dataset,
              keys_in, keys_out, bytes_in, bytes_out, outcome, detail, prev,
              pgpriv._audit_row_hash(prev, r.id, r.at, r.actor, side, peer, capability,
                                     dataset, keys_in, keys_out, bytes_in, bytes_out,
                                     outcome, detail, run_id),
              run_id);
    INSERT INTO pgpriv.audit_head AS h (singleton, last_id, last_hash, appended)
      VALUES (true, r.id, (SELECT l.row_hash FROM pgpriv.audit_log AS l WHERE l.id = r.id), 1)
      ON CONFLICT (singleton) DO UPDATE
        SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash,
            appended = h.appended OPERATOR(pg_catalog.+) 1;
    RETURN r.id;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._audit_append_as(name, text, text, text, text, bigint, bigint, bigint, bigint, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._audit_append_as(name, text, text, text, text, bigint, bigint, bigint, bigint, text, text, text) IS
  'internal: append a chained audit row for the given actor (the asker''s failure recorder writes rows for the analyst whose run failed)';

CREATE OR REPLACE FUNCTION pgpriv._audit_append(
  side text, peer text, capability text, dataset text,
  keys_in bigint, keys_out bigint, bytes_in bigint, bytes_out bigint,
  outcome text, detail text)
  RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT pgpriv._audit_append_as(pgpriv._outer_role(), side, peer, capability, dataset,
                                   keys_in, keys_out, bytes_in, bytes_out, outcome, detail,
                                   NULL::pg_catalog.text)
  $$;
REVOKE ALL ON FUNCTION pgpriv._audit_append(text, text, text, text, bigint, bigint, bigint, bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._audit_append(text, text, text, text, bigint, bigint, bigint, bigint, text, text) IS
  'internal: append one chained row to the audit log';

CREATE FUNCTION pgpriv._audit_append(
  side text, peer text, capability text, dataset text,
  keys_in bigint, keys_out bigint, bytes_in bigint, bytes_out bigint,
  outcome text, detail text, run_id text)
  RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT pgpriv._audit_append_as(pgpriv._outer_role(), side, peer, capability, dataset,
                                   keys_in, keys_out, bytes_in, bytes_out, outcome, detail, run_id)
  $$;
REVOKE ALL ON FUNCTION pgpriv._audit_append(text, text, text, text, bigint, bigint, bigint, bigint, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._audit_append(text, text, text, text, bigint, bigint, bigint, bigint, text, text, text) IS
  'internal: append one chained row of a run to the audit log (run_id: the id both sides of the run record)';

CREATE OR REPLACE FUNCTION pgpriv.audit_verify()
  RETURNS TABLE(valid boolean, rows_checked bigint, first_broken_id bigint, reason text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r pgpriv.audit_log;
    h pgpriv.audit_head;
    rc record;
    prev bytea := NULL;
    last bigint := NULL;
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
           r.bytes_out, r.outcome, r.detail, r.run_id) THEN
        RETURN QUERY SELECT false, n, r.id, 'row_hash does not match the row''s contents: the row was changed';
        RETURN;
      END IF;
      prev := r.row_hash;
      last := r.id;
    END LOOP;
    -- The log must end where its head says: else its newest rows were removed.
    SELECT * INTO h FROM pgpriv.audit_head;
    IF FOUND AND (last IS DISTINCT FROM h.last_id OR prev IS DISTINCT FROM h.last_hash) THEN
      RETURN QUERY SELECT false, n, h.last_id,
        pg_catalog.format('the log ends at row %s but its head records row %s: the newest rows were removed or replaced',
                          coalesce(last::pg_catalog.text, 'none'), h.last_id);
      RETURN;
    END IF;
    -- Signed receipts (docs/receipts.md): each statement must be what its
    -- signer signed; this party's own ones signed by one of its identity
    -- keys.  A peer's statement whose signature does not verify passes only
    -- if this party's own signed statement of the run names it (its digest)
    -- as disputed: then it is on record as the peer's forgery.
    FOR rc IN SELECT * FROM pgpriv.receipt_log ORDER BY id LOOP
      IF pgpriv._receipt_field(rc.statement, 'run_id') IS DISTINCT FROM rc.run_id
         OR pgpriv._receipt_field(rc.statement, 'signer') IS DISTINCT FROM rc.signer THEN
        RETURN QUERY SELECT false, n, NULL::pg_catalog.int8,
          pg_catalog.format('receipt %s does not match its statement: it was changed', rc.id);
        RETURN;
      END IF;
      IF rc.own THEN
        IF NOT pgpriv._receipt_signature_valid(rc.statement, rc.signature)
           OR NOT EXISTS (SELECT FROM pgpriv.identity_keys AS k
                           WHERE pg_catalog.encode(k.sign_public_key, 'hex') OPERATOR(pg_catalog.=)
                                 pgpriv._receipt_field(rc.statement, rc.signer || '_key')) THEN
          RETURN QUERY SELECT false, n, NULL::pg_catalog.int8,
            pg_catalog.format('receipt %s (this party''s own statement of run %s) is not signed by this party: it was changed',
                              rc.id, rc.run_id);
          RETURN;
        END IF;
      ELSIF NOT pgpriv._receipt_signature_valid(rc.statement, rc.signature)
            AND NOT EXISTS (SELECT FROM pgpriv.receipt_log AS o
                             WHERE o.own AND o.run_id OPERATOR(pg_catalog.=) rc.run_id
                               AND pgpriv._receipt_field(o.statement, 'peer_statement') OPERATOR(pg_catalog.=)
                                   pgpriv._receipt_digest(rc.statement, rc.signature)
                               AND pgpriv._receipt_field(o.statement, 'disputed') IS NOT NULL
                               AND pgpriv._receipt_signature_valid(o.statement, o.signature)) THEN
        RETURN QUERY SELECT false, n, NULL::pg_catalog.int8,
          pg_catalog.format('receipt %s (the peer''s statement of run %s) does not verify with the key it names: it was changed',
                            rc.id, rc.run_id);
        RETURN;
      END IF;
    END LOOP;
    RETURN QUERY SELECT true, n, NULL::pg_catalog.int8, NULL::pg_catalog.text;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.audit_verify() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.audit_verify() IS
  'Walk the audit hash chain; report the first row that was changed or whose predecessor was removed, or a log that ends before its head, or a stored receipt whose signature does not verify';

CREATE OR REPLACE FUNCTION pgpriv.audit_prune(older_than interval) RETURNS bigint
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
    DELETE FROM pgpriv.receipt_log WHERE stored_at < pg_catalog.now() - older_than;
    PERFORM pg_catalog.set_config('pgpriv.audit_maintenance', 'off', true);
    PERFORM pgpriv._audit_append('local', NULL, 'audit_prune', NULL,
                                 NULL, removed, NULL, NULL, 'ok',
                                 pg_catalog.format('older than %s', older_than));
    RETURN removed;
  END
  $$;

-- The audit view shows the run id (a new last column).
CREATE OR REPLACE VIEW pgpriv.audit WITH (security_barrier) AS
  SELECT l.id, l.at, l.actor, l.side, l.peer, l.capability, l.dataset,
         l.keys_in, l.keys_out, l.bytes_in, l.bytes_out, l.outcome, l.detail,
         pg_catalog.encode(pg_catalog.substr(l.row_hash, 1, 8), 'hex') AS hash, l.run_id
    FROM pgpriv.audit_log AS l
   WHERE l.actor = pgpriv._outer_role()
      OR pgpriv._may_manage((SELECT c.relowner::regrole::name FROM pg_catalog.pg_class AS c
                              WHERE c.oid = 'pgpriv.audit_log'::regclass));

-- ---------------------------------------------------------------------------
-- Signed receipts (docs/receipts.md): at the end of a run each side signs a
-- statement of it with its Ed25519 identity key and gives it to the other;
-- both keep both.
-- ---------------------------------------------------------------------------

CREATE TABLE pgpriv.receipt_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stored_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  actor       name NOT NULL,
  run_id      text NOT NULL,
  signer      text NOT NULL CHECK (signer IN ('asker', 'owner')),
  own         boolean NOT NULL,
  statement   bytea NOT NULL,
  signature   bytea NOT NULL,
  disputed    text
);
CREATE INDEX receipt_log_run_id ON pgpriv.receipt_log (run_id);
REVOKE ALL ON pgpriv.receipt_log FROM PUBLIC;
COMMENT ON SEQUENCE pgpriv.receipt_log_id_seq IS 'ids of stored receipts, in storing order';
COMMENT ON TABLE pgpriv.receipt_log IS
  'Signed statements of runs, this party''s own and its peer''s (statement: the canonical bytes signed; disputed: why this party does not accept a peer''s statement); append-only, checked by pgpriv.audit_verify()';
COMMENT ON INDEX pgpriv.receipt_log_run_id IS 'receipts by run';

CREATE FUNCTION pgpriv._receipt_guard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT pgpriv._audit_maintenance_allowed() THEN
      RAISE EXCEPTION 'pgpriv.receipt_log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s on the receipts was refused.', TG_OP),
              HINT = 'Old receipts are removed with the audit rows by pgpriv.audit_prune().';
    END IF;
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
    RETURN NEW;
  END
  $$;
COMMENT ON FUNCTION pgpriv._receipt_guard() IS
  'internal: refuses UPDATE, DELETE and TRUNCATE on the receipts outside explicit maintenance';
CREATE TRIGGER receipt_log_append_only
  BEFORE UPDATE OR DELETE ON pgpriv.receipt_log
  FOR EACH ROW EXECUTE FUNCTION pgpriv._receipt_guard();
CREATE TRIGGER receipt_log_no_truncate
  BEFORE TRUNCATE ON pgpriv.receipt_log
  FOR EACH STATEMENT EXECUTE FUNCTION pgpriv._receipt_guard();
COMMENT ON TRIGGER receipt_log_append_only ON pgpriv.receipt_log IS 'keeps the receipts append-only';
COMMENT ON TRIGGER receipt_log_no_truncate ON pgpriv.receipt_log IS 'keeps the receipts append-only';

CREATE FUNCTION pgpriv._receipt_store(
  actor name, run_id text, signer text, own boolean, statement bytea, signature bytea,
  disputed text)
  RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    INSERT INTO pgpriv.receipt_log (actor, run_id, signer, own, statement, signature, disputed)
      VALUES (actor, run_id, signer, own, statement, signature, disputed)
    RETURNING id
  $$;
REVOKE ALL ON FUNCTION pgpriv._receipt_store(name, text, text, boolean, bytea, bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._receipt_store(name, text, text, boolean, bytea, bytea, text) IS
  'internal: keep one signed statement of a run';

CREATE FUNCTION pgpriv._receipt_field(statement bytea, field text) RETURNS text
  AS 'MODULE_PATHNAME', 'pgpriv_receipt_field'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv._receipt_field(bytea, text) IS
  'internal: one field of a canonical receipt statement (NULL if the field is NULL, unknown or the statement malformed)';

CREATE FUNCTION pgpriv._receipt_signature_valid(statement bytea, signature bytea) RETURNS boolean
  AS 'MODULE_PATHNAME', 'pgpriv_receipt_signature_valid'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv._receipt_signature_valid(bytea, bytea) IS
  'internal: whether signature is the Ed25519 signature of the canonical statement by the key the statement names for its signer';

CREATE FUNCTION pgpriv._receipt_digest(statement bytea, signature bytea) RETURNS text
  AS 'MODULE_PATHNAME', 'pgpriv_receipt_digest'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv._receipt_digest(bytea, bytea) IS
  'internal: BLAKE2b-256 of a statement and its signature, in hex (how an owner''s statement names the asker''s)';

CREATE FUNCTION pgpriv._receipt_json(statement bytea, signature bytea) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'pgpriv_receipt_json'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv._receipt_json(bytea, bytea) IS
  'internal: a canonical statement and its signature as a jsonb object (NULL if the statement is malformed)';

CREATE FUNCTION pgpriv._may_read_audit() RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT pgpriv._may_manage((SELECT c.relowner::regrole::name FROM pg_catalog.pg_class AS c
                                WHERE c.oid = 'pgpriv.audit_log'::regclass))
  $$;
COMMENT ON FUNCTION pgpriv._may_read_audit() IS
  'internal: whether the session may read every audit row and receipt (the extension owner and its members)';

CREATE VIEW pgpriv.receipts WITH (security_barrier) AS
  SELECT r.id, r.stored_at, r.actor, r.run_id, r.signer, r.own, r.disputed,
         pgpriv._receipt_json(r.statement, r.signature) AS statement
    FROM pgpriv.receipt_log AS r
   WHERE r.actor = pgpriv._outer_role() OR pgpriv._may_read_audit();
GRANT SELECT ON pgpriv.receipts TO PUBLIC;
COMMENT ON VIEW pgpriv.receipts IS
  'Signed statements of runs (own and the peer''s): your own runs, or all for the extension owner';

CREATE FUNCTION pgpriv.receipt(run_id text) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    WITH visible AS (
      SELECT r.* FROM pgpriv.receipt_log AS r
       WHERE r.run_id OPERATOR(pg_catalog.=) receipt.run_id
         AND (r.actor OPERATOR(pg_catalog.=) pgpriv._outer_role() OR pgpriv._may_read_audit()))
    SELECT pg_catalog.jsonb_build_object(
             'receipt', 'pgpriv receipt v1',
             'run_id', receipt.run_id,
             'held_by', (SELECT v.signer FROM visible AS v WHERE v.own ORDER BY v.id LIMIT 1),
             'statements', (SELECT pg_catalog.jsonb_agg(pgpriv._receipt_json(v.statement, v.signature) ORDER BY v.id)
                              FROM visible AS v),
             'disputed', (SELECT pg_catalog.jsonb_agg(v.disputed ORDER BY v.id) FROM visible AS v
                           WHERE v.disputed IS NOT NULL))
     WHERE EXISTS (SELECT FROM visible)
  $$;
COMMENT ON FUNCTION pgpriv.receipt(text) IS
  'A run''s signed statements (this party''s and its peers'', with signatures and signer keys) as jsonb, for a regulator; NULL if you have none for that run';

CREATE FUNCTION pgpriv.verify_receipt(receipt jsonb, signing_key bytea) RETURNS boolean
  AS 'MODULE_PATHNAME', 'pgpriv_verify_receipt'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgpriv.verify_receipt(jsonb, bytea) IS
  'Whether a receipt (one statement, or pgpriv.receipt()''s object) holds a statement signed with this Ed25519 public key, unchanged; public keys only';

CREATE FUNCTION pgpriv._receipt_countersign(asker_statement bytea, asker_signature bytea)
  RETURNS TABLE(owner_statement bytea, owner_signature bytea)
  AS 'MODULE_PATHNAME', 'pgpriv_receipt_countersign'
  LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION pgpriv._receipt_countersign(bytea, bytea) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._receipt_countersign(bytea, bytea) IS
  'internal: an owner statement agreeing with the asker''s, signed with this party''s key and not kept (for look-alike peers in tests; owner only)';

CREATE FUNCTION pgpriv.serve_receipt(run text, asker_statement bytea, asker_signature bytea)
  RETURNS TABLE(owner_statement bytea, owner_signature bytea)
  AS 'MODULE_PATHNAME', 'pgpriv_serve_receipt'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_receipt(text, bytea, bytea) IS
  'Serving (called by a peer at the end of a run): the asker''s signed statement of the run in, checked and kept; the owner''s signed statement out';

-- ---------------------------------------------------------------------------
-- Catalog: permit() refuses psi_sum with min_group > 1.  Permits of that
-- kind granted under 0.1.0 stay as they are (widening them silently would
-- change what the owner agreed to); 0.2.0 refuses runs under them (0A000),
-- and the update names them.
-- ---------------------------------------------------------------------------

-- permit() gains authorised_by (applicant consent): a new signature, so the
-- 0.1.0 function is replaced, keeping whatever EXECUTE grants it had.
ALTER TABLE pgpriv.permit ADD COLUMN authorised_by text;
-- The change check (fresh by default, below).
-- (Added empty, then filled and constrained: a column added with a default
-- would keep it as a "missing value", which a fresh install does not have.)
ALTER TABLE pgpriv.dataset ADD COLUMN change_tables oid[];
ALTER TABLE pgpriv.dataset ADD COLUMN change_check text;
ALTER TABLE pgpriv.permit ADD COLUMN consent_tables oid[];
ALTER TABLE pgpriv.permit ADD COLUMN consent_check text;
UPDATE pgpriv.dataset SET change_tables = '{}';
UPDATE pgpriv.permit SET consent_tables = '{}';
ALTER TABLE pgpriv.dataset ALTER COLUMN change_tables SET DEFAULT '{}', ALTER COLUMN change_tables SET NOT NULL;
ALTER TABLE pgpriv.permit ALTER COLUMN consent_tables SET DEFAULT '{}', ALTER COLUMN consent_tables SET NOT NULL;
COMMENT ON COLUMN pgpriv.dataset.change_tables IS 'the tables the query read at publish, each with a pgpriv_change trigger (empty when the check is reread)';
COMMENT ON COLUMN pgpriv.dataset.change_check IS '''triggers'' or ''reread: <why>'', decided at publish; NULL: published before 0.2.0 and not since';
COMMENT ON COLUMN pgpriv.permit.consent_tables IS 'the tables authorised_by read when permitted, each with a pgpriv_change trigger';
COMMENT ON COLUMN pgpriv.permit.consent_check IS '''triggers'' or ''reread: <why>'' for authorised_by; NULL without one';
COMMENT ON COLUMN pgpriv.permit.authorised_by IS
  'applicant consent: a SELECT run as the publisher ($1 = peer role, $2 = capability) returning the keys that may be served; NULL: all';
SELECT pg_catalog.set_config('pgpriv_upgrade.permit_acl',
         coalesce((SELECT p.proacl::pg_catalog.text FROM pg_catalog.pg_proc AS p
                    WHERE p.oid OPERATOR(pg_catalog.=)
                          'pgpriv.permit(text, name, text, text[], bigint, integer, integer)'::pg_catalog.regprocedure), ''),
         true);
ALTER EXTENSION pgpriv DROP FUNCTION pgpriv.permit(text, name, text, text[], bigint, integer, integer);
DROP FUNCTION pgpriv.permit(text, name, text, text[], bigint, integer, integer);

CREATE FUNCTION pgpriv.permit(
  dataset text, peer_role name, capability text, columns text[] DEFAULT '{}',
  max_keys bigint DEFAULT NULL, min_parties integer DEFAULT NULL, min_group integer DEFAULT NULL,
  authorised_by text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset := pgpriv._dataset_for_owner(dataset);
    bad text;
    cols name[] := coalesce(columns, '{}')::name[];
    consent text;
  BEGIN
    IF capability IS NULL OR capability NOT IN ('psi', 'psi_count', 'psi_fetch', 'psi_sum', 'pir', 'secure_sum', 'mpc', 'train') THEN
      RAISE EXCEPTION 'unknown capability "%"', capability
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Capabilities are psi, psi_count, psi_fetch, psi_sum, pir, secure_sum, mpc and train.';
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
    IF capability IN ('psi_sum', 'secure_sum', 'mpc', 'train') AND pg_catalog.cardinality(cols) = 0 THEN
      RAISE EXCEPTION 'capability "%" needs the column(s) it may %', capability,
        CASE capability WHEN 'mpc' THEN 'compute on' WHEN 'train' THEN 'train on' ELSE 'sum' END
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
    IF capability = 'psi_sum' AND min_group > 1 THEN
      RAISE EXCEPTION 'psi_sum cannot enforce min_group against a modified asker'
        USING ERRCODE = 'feature_not_supported',
              DETAIL = 'The asker chooses which ciphertexts it adds and how many matches it claims, so a run can reveal one key''s total.',
              HINT = 'Use psi_count for how many keys match, or secure_sum, which enforces min_group, for totals; grant psi_sum without min_group only where revealing the column for the keys asked is acceptable.';
    END IF;

    -- Applicant consent: checked now (one SELECT, planned as the publisher
    -- with $1 = peer role, $2 = capability), stored without a trailing ';'.
    IF authorised_by IS NOT NULL THEN
      consent := pgpriv._check_consent_query(authorised_by, d.owner_role, d.search_path, peer_role, capability);
    END IF;

    INSERT INTO pgpriv.permit AS p (dataset, peer_role, capability, columns, max_keys,
                                    min_parties, min_group, authorised_by, granted_by)
      VALUES (d.name, permit.peer_role, permit.capability, cols, permit.max_keys,
              permit.min_parties, permit.min_group, consent, pgpriv._outer_role())
      ON CONFLICT ON CONSTRAINT permit_pkey DO UPDATE
        SET columns = EXCLUDED.columns, max_keys = EXCLUDED.max_keys,
            min_parties = EXCLUDED.min_parties, min_group = EXCLUDED.min_group,
            authorised_by = EXCLUDED.authorised_by,
            granted_by = EXCLUDED.granted_by, granted_at = pg_catalog.clock_timestamp();
    PERFORM pgpriv._track_permit(d.name, permit.peer_role, permit.capability);

    PERFORM pgpriv._audit_append('local', peer_role, 'permit', d.name, NULL, NULL, NULL, NULL, 'ok',
                                 pg_catalog.format('%s on (%s)%s', capability, pg_catalog.array_to_string(cols, ', '),
                                                   CASE WHEN consent IS NOT NULL THEN ' authorised by a consent query' ELSE '' END));
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.permit(text, name, text, text[], bigint, integer, integer, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.permit(text, name, text, text[], bigint, integer, integer, text) IS
  'Let a peer role use a capability on a dataset, over the listed payload columns, within limits, for the keys authorised_by returns (replaces an earlier permit)';

-- The grants the 0.1.0 function had (set on the catalog row, as pg_dump
-- would restore them, so they stay the DBA's grants, not the extension's).
UPDATE pg_catalog.pg_proc AS p
   SET proacl = pg_catalog.current_setting('pgpriv_upgrade.permit_acl')::pg_catalog.aclitem[]
 WHERE p.oid OPERATOR(pg_catalog.=)
       'pgpriv.permit(text, name, text, text[], bigint, integer, integer, text)'::pg_catalog.regprocedure
   AND pg_catalog.current_setting('pgpriv_upgrade.permit_acl') OPERATOR(pg_catalog.<>) '';
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT t.dataset, t.peer_role, t.min_group FROM pgpriv.permit AS t
            WHERE t.capability OPERATOR(pg_catalog.=) 'psi_sum' AND t.min_group OPERATOR(pg_catalog.>) 1
            ORDER BY t.dataset, t.peer_role LOOP
    RAISE WARNING 'pgpriv 0.2.0 refuses psi_sum runs under the permit of role "%" on dataset "%" (min_group %)',
      p.peer_role, p.dataset, p.min_group
      USING HINT = 'psi_sum cannot enforce min_group against a modified asker: revoke the permit, or grant it again without min_group where that is acceptable (docs/psi_sum.md).';
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- Budgets count by UTC day.  0.1.0 dated a charge by the serving session's
-- TimeZone, so today's charges may sit on another date than today's UTC
-- one: a row dated after the UTC day moves onto it, and the row of the local
-- day (the TimeZone of the session running this update, the server's by
-- default) counts towards the UTC day too when that lies ahead of it.
-- Nothing already charged today can be asked again; at worst a charge
-- counts twice for the rest of the day.
-- ---------------------------------------------------------------------------

WITH day AS (
  SELECT pg_catalog.timezone('UTC'::pg_catalog.text, pg_catalog.now())::pg_catalog.date AS utc,
         pg_catalog.now()::pg_catalog.date AS local
), moved AS (
  DELETE FROM pgpriv.budget AS b USING day
   WHERE b.day OPERATOR(pg_catalog.>) day.utc
  RETURNING b.dataset, b.peer_role, b.capability, b.keys
), carried AS (
  SELECT b.dataset, b.peer_role, b.capability, b.keys
    FROM pgpriv.budget AS b, day
   WHERE b.day OPERATOR(pg_catalog.=) day.local AND day.local OPERATOR(pg_catalog.<) day.utc
)
INSERT INTO pgpriv.budget AS b (dataset, peer_role, capability, day, keys)
  SELECT c.dataset, c.peer_role, c.capability, (SELECT day.utc FROM day), pg_catalog.sum(c.keys)::pg_catalog.int8
    FROM (SELECT * FROM moved UNION ALL SELECT * FROM carried) AS c
   GROUP BY c.dataset, c.peer_role, c.capability
  ON CONFLICT ON CONSTRAINT budget_pkey DO UPDATE
    SET keys = b.keys OPERATOR(pg_catalog.+) EXCLUDED.keys;

-- ---------------------------------------------------------------------------
-- OPRF keys are derived per capability from the stored one (the stored keys
-- stay): every encrypted table 0.1.0 built or fetched was made under a key
-- no 0.2.0 owner evaluates with, so both caches are emptied and the next
-- run builds or fetches the table again.  PIR epochs stay: the next setup
-- sees their version changed and builds the next epoch, so epoch numbers
-- keep increasing for the askers' hint caches.
-- ---------------------------------------------------------------------------

DELETE FROM pgpriv.served_table;
DELETE FROM pgpriv.peer_table;

-- ---------------------------------------------------------------------------
-- Blinded join: psi_count is counted by the owner (serve_count_return,
-- serve_count_result); psi and psi_fetch check columns before admission.
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.serve_columns(dataset text, capability text) RETURNS text[]
  AS 'MODULE_PATHNAME', 'pgpriv_serve_columns'
  LANGUAGE C STABLE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_columns(text, text) IS
  'Serving (called by a peer before a run): the columns its permit grants for a capability on a dataset, so its column list is checked before any key is charged';

COMMENT ON FUNCTION pgpriv.serve_count_pull(text, text, bigint, integer) IS
  'Serving (called by a peer): a batch of the dataset''s masked, sorted keys of a psi_count run';

CREATE FUNCTION pgpriv.serve_count_return(run text, batch bytea) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_count_return'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_count_return(text, bytea) IS
  'Serving (called by a peer): receive a batch of the dataset''s keys masked again by the asker, of a psi_count run';

CREATE FUNCTION pgpriv.serve_count_result(run text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_count_result'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_count_result(text) IS
  'Serving (called by a peer): the one count of a psi_count run, computed by the owner; ends the run';

COMMENT ON FUNCTION pgpriv.psi_count(name, text, text) IS
  'How many of your keys are in the peer''s dataset, and nothing about which (ECDH, counted by the peer)';

-- ---------------------------------------------------------------------------
-- Issue #13: applicant consent (permit above, the permits view, the check of
-- a consent query), revoking with if_exists or all of a role's permits, what
-- a peer offers (serve_permits / peer_permits), and the caches of a dropped
-- server.  PIR cache files are now named per database: 0.1.0's files are
-- left behind and each dataset's next setup builds its next epoch.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE VIEW pgpriv.permits WITH (security_barrier) AS
  SELECT p.dataset, p.peer_role, p.capability, p.columns, p.max_keys, p.min_parties,
         p.min_group, p.granted_by, p.granted_at,
         CASE WHEN pgpriv._may_manage(d.owner_role) THEN p.authorised_by END AS authorised_by,
         CASE WHEN pgpriv._may_manage(d.owner_role) THEN p.consent_check END AS consent_check
    FROM pgpriv.permit AS p
    JOIN pgpriv.dataset AS d ON d.name = p.dataset
   WHERE pgpriv._may_manage(d.owner_role)
      OR p.peer_role = pgpriv._outer_role();

CREATE FUNCTION pgpriv._check_consent_query(query text, as_role name, search_path text,
                                            peer_role name, capability text) RETURNS text
  AS 'MODULE_PATHNAME', 'pgpriv_check_consent_query'
  LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION pgpriv._check_consent_query(text, name, text, name, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._check_consent_query(text, name, text, name, text) IS
  'internal: plan a permit''s authorised_by query as the publisher; returns its statement text';

-- The same, for scripts that may run twice: with if_exists, a permit that
-- is not there is a NOTICE, not an error.  (No DEFAULT: the three-argument
-- form above stays the one GRANTs and old callers name.)
CREATE FUNCTION pgpriv.revoke_permit(dataset text, peer_role name, capability text, if_exists boolean)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset;
  BEGIN
    IF if_exists IS NOT TRUE THEN
      PERFORM pgpriv.revoke_permit(dataset, peer_role, capability);
      RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM pgpriv.dataset AS x WHERE x.name = revoke_permit.dataset) THEN
      RAISE NOTICE 'dataset "%" does not exist, skipping', dataset;
      RETURN;
    END IF;
    d := pgpriv._dataset_for_owner(dataset);
    IF NOT EXISTS (SELECT FROM pgpriv.permit AS p
                    WHERE p.dataset = d.name AND p.peer_role = revoke_permit.peer_role
                      AND p.capability = revoke_permit.capability) THEN
      RAISE NOTICE 'role "%" has no % permit on dataset "%", skipping', peer_role, capability, d.name;
      RETURN;
    END IF;
    PERFORM pgpriv.revoke_permit(dataset, peer_role, capability);
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.revoke_permit(text, name, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.revoke_permit(text, name, text, boolean) IS
  'Withdraw one permit; with if_exists => true a missing permit is only a notice';

CREATE FUNCTION pgpriv.revoke_permits(peer_role name, on_dataset text DEFAULT NULL)
  RETURNS TABLE(dataset text, capability text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r record;
  BEGIN
    IF peer_role IS NULL THEN
      RAISE EXCEPTION 'peer_role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF revoke_permits.on_dataset IS NOT NULL THEN
      PERFORM pgpriv._dataset_for_owner(revoke_permits.on_dataset);
    END IF;
    -- Only the datasets the caller may manage; each revocation is audited.
    FOR r IN
      SELECT p.dataset, p.capability
        FROM pgpriv.permit AS p
        JOIN pgpriv.dataset AS x ON x.name = p.dataset
       WHERE p.peer_role = revoke_permits.peer_role
         AND (revoke_permits.on_dataset IS NULL OR p.dataset = revoke_permits.on_dataset)
         AND pgpriv._may_manage(x.owner_role)
       ORDER BY p.dataset, p.capability
       FOR UPDATE OF p
    LOOP
      DELETE FROM pgpriv.permit AS p
       WHERE p.dataset = r.dataset AND p.peer_role = revoke_permits.peer_role
         AND p.capability = r.capability;
      PERFORM pgpriv._audit_append('local', peer_role, 'revoke_permit', r.dataset, NULL, NULL, NULL, NULL,
                                   'ok', r.capability);
      dataset := r.dataset;
      capability := r.capability;
      RETURN NEXT;
    END LOOP;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv.revoke_permits(name, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv.revoke_permits(name, text) IS
  'Withdraw every permit of a peer role on the datasets you manage (or on one dataset); returns what was revoked';

-- What this party offers the calling peer role: its permits, the permitted
-- columns' types (so the asker can write psi_fetch's and pir's column
-- definition list without logging in here), limits, and today's budget.
-- A peer learns nothing it could not learn by trying each run; the dataset
-- queries, other roles' permits and the other columns stay hidden.
CREATE FUNCTION pgpriv.serve_permits()
  RETURNS TABLE(dataset text, capability text, columns text[], column_types text[],
                max_keys bigint, min_parties integer, min_group integer, keys_used_today bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT p.dataset, p.capability, p.columns::pg_catalog.text[],
           coalesce((SELECT pg_catalog.array_agg(d.column_types[pg_catalog.array_position(d.columns, c.name)]
                                                ORDER BY c.ord)
                       FROM pg_catalog.unnest(p.columns) WITH ORDINALITY AS c(name, ord)),
                    '{}'::pg_catalog.text[]),
           p.max_keys, p.min_parties, p.min_group, coalesce(b.keys, 0)
      FROM pgpriv.permit AS p
      JOIN pgpriv.dataset AS d ON d.name = p.dataset
      LEFT JOIN pgpriv.budget AS b
        ON b.dataset = p.dataset AND b.peer_role = p.peer_role AND b.capability = p.capability
       AND b.day = pg_catalog.timezone('UTC'::pg_catalog.text, pg_catalog.now())::pg_catalog.date
     WHERE p.peer_role = pgpriv._outer_role()
     ORDER BY p.dataset, p.capability
  $$;
COMMENT ON FUNCTION pgpriv.serve_permits() IS
  'Serving side of peer_permits: the permits granted to the calling role, with column types and today''s budget';

CREATE FUNCTION pgpriv.peer_permits(peer name)
  RETURNS TABLE(dataset text, capability text, columns text[], column_types text[],
                max_keys bigint, min_parties integer, min_group integer,
                keys_used_today bigint, keys_left_today bigint, column_definition text)
  AS 'MODULE_PATHNAME', 'pgpriv_peer_permits'
  LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.peer_permits(name) IS
  'What the peer offers your mapped role: datasets, capabilities, columns with types, limits, budget left today (UTC), and a column definition list for psi_fetch and pir';

-- What the asker cached from a peer goes with the peer's server: a server
-- dropped (and perhaps declared again later under the same name for
-- another party) leaves no encrypted table or hint behind.
CREATE FUNCTION pgpriv._drop_server_caches() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() AS o
                WHERE o.object_type = 'server') THEN
      DELETE FROM pgpriv.peer_table AS t
       WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_foreign_server AS s WHERE s.srvname = t.server);
      DELETE FROM pgpriv.peer_pir AS t
       WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_foreign_server AS s WHERE s.srvname = t.server);
    END IF;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._drop_server_caches() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._drop_server_caches() IS
  'internal: on DROP SERVER, drop the encrypted tables and PIR hints cached from servers that no longer exist';
CREATE EVENT TRIGGER pgpriv_drop_server_caches ON sql_drop
  WHEN TAG IN ('DROP SERVER', 'DROP FOREIGN DATA WRAPPER', 'DROP OWNED')
  EXECUTE FUNCTION pgpriv._drop_server_caches();
COMMENT ON EVENT TRIGGER pgpriv_drop_server_caches IS
  'DROP SERVER drops what was cached from that peer (pgpriv.peer_table, pgpriv.peer_pir)';

COMMENT ON TABLE pgpriv.served_pir IS
  'Owner side: the current PIR epoch per (dataset, peer role); D and the hint are in a derived cache file pgpriv_pir/db<database oid>.<hash>.<epoch> under the data directory';

-- ---------------------------------------------------------------------------
-- Capability train (joint_woe)
-- ---------------------------------------------------------------------------

ALTER TABLE pgpriv.permit DROP CONSTRAINT permit_capability_check;
ALTER TABLE pgpriv.permit ADD CONSTRAINT permit_capability_check
  CHECK (capability IN ('psi', 'psi_count', 'psi_fetch', 'psi_sum', 'pir', 'secure_sum', 'mpc', 'train'));

-- ---------------------------------------------------------------------------
-- joint_woe (docs/joint_woe.md): WOE and IV of the owner's columns against
-- the asker's labels, capability train
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.serve_woe_begin(dataset text, run text, msg bytea) RETURNS integer
  AS 'MODULE_PATHNAME', 'pgpriv_serve_woe_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_woe_begin(text, text, bytea) IS
  'Serving (called by a peer): open an admitted joint_woe run — check its columns against the train permit, take the asker''s key, read the columns; rows per push in return';

CREATE FUNCTION pgpriv.serve_woe_push(run text, msg bytea) RETURNS bigint
  AS 'MODULE_PATHNAME', 'pgpriv_serve_woe_push'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_woe_push(text, bytea) IS
  'Serving (called by a peer): a batch of keys with encrypted labels, each with its proof of being 0 or 1 (checked); rows received so far in return';

CREATE FUNCTION pgpriv.serve_woe_finish(run text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_woe_finish'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_woe_finish(text) IS
  'Serving (called by a peer): end a joint_woe run — quantile bins of each column over the matched rows, per bin its rows and the encrypted sum of labels (withheld below min_group)';

CREATE FUNCTION pgpriv.joint_woe(peer name, dataset text, keys_query text, label text,
                                 options jsonb DEFAULT '{}')
  RETURNS TABLE(column_name text, bin integer, lower numeric, upper numeric, rows bigint,
                events bigint, non_events bigint, woe double precision, iv double precision)
  AS 'MODULE_PATHNAME', 'pgpriv_joint_woe'
  LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.joint_woe(name, text, text, text, jsonb) IS
  'Weight of evidence and information value of the peer''s permitted columns (capability train) against your 0/1 labels (keys_query''s column named by label): per quantile bin, rows, events and non-events; the peer never sees a label, you never see a value';

-- ---------------------------------------------------------------------------
-- joint_train (docs/joint_train.md): vertical logistic regression on the
-- two-party engine, capability train
-- ---------------------------------------------------------------------------

CREATE FUNCTION pgpriv.serve_train_begin(dataset text, run text, msg bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_train_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_train_begin(text, text, bytea) IS
  'Serving (called by a peer): open an admitted joint_train run — check its columns against the train permit, keep the keys with one row and numbers in every column (at least min_group), standardise and quantise them; which keys, the columns'' means and standard deviations and a base-OT message in return';

CREATE FUNCTION pgpriv.serve_train_step(run text, msg bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_train_step'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_train_step(text, bytea) IS
  'Serving (called by a peer): one step of an open joint_train run (OT setup, extension, a forward or backward pass over a slice of rows), checked against the owner''s own schedule; the owner''s message in return';

CREATE FUNCTION pgpriv.serve_train_finish(run text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_train_finish'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_train_finish(text) IS
  'Serving (called by a peer): end a joint_train run after its last step — the owner''s shares of the weights, to the asker only';

CREATE FUNCTION pgpriv.joint_train(peer name, dataset text, keys_query text, label text,
                                   options jsonb DEFAULT '{}')
  RETURNS jsonb
  AS 'MODULE_PATHNAME', 'pgpriv_joint_train'
  LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pgpriv.joint_train(name, text, text, text, jsonb) IS
  'Vertical logistic regression of your 0/1 labels (keys_query''s column named by label) on the peer''s permitted columns (capability train) and keys_query''s other columns, on secret shares: the peer never sees a label, a feature of yours or any intermediate value, you never see its values; returns the model as joint_score takes it (raw-column weights and the intercept)';

-- ---------------------------------------------------------------------------
-- Config-dump registrations
-- ---------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('pgpriv.audit_head', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.receipt_log', '');
SELECT pg_catalog.pg_extension_config_dump('pgpriv.receipt_log_id_seq', '');

-- ---------------------------------------------------------------------------
-- Peers must pin a key now (0.2.0 refuses a server that pins neither,
-- 28000): name the servers that would be refused.
-- ---------------------------------------------------------------------------

DO $$
DECLARE
  s name;
BEGIN
  FOR s IN SELECT fs.srvname FROM pg_catalog.pg_foreign_server AS fs
             JOIN pg_catalog.pg_foreign_data_wrapper AS w ON w.oid OPERATOR(pg_catalog.=) fs.srvfdw
            WHERE w.fdwname OPERATOR(pg_catalog.=) 'pgpriv'
              AND NOT EXISTS (SELECT FROM pg_catalog.unnest(fs.srvoptions) AS o
                               WHERE o OPERATOR(pg_catalog.~~) 'public\_key=%'
                                  OR o OPERATOR(pg_catalog.~~) 'signing\_key=%')
            ORDER BY fs.srvname LOOP
    RAISE WARNING 'pgpriv 0.2.0 refuses server "%": it pins neither public_key nor signing_key', s
      USING HINT = pg_catalog.format('ALTER SERVER %I OPTIONS (ADD public_key ''...'', ADD signing_key ''...'') with the values of pgpriv.identity_card() on the peer.', s);
  END LOOP;
END
$$;

-- psi_sum's totals are split into 16-bit limbs (protocol 2): no bound on the
-- total any more, only on each key's value.
COMMENT ON FUNCTION pgpriv.psi_sum(name, text, text, text) IS
  'How many of your keys are in the peer''s dataset and the total of one permitted column over them (scale 4; each key''s value within a bigint of units of 10^-4, the total exact as numeric); nothing about which keys matched';

-- ---------------------------------------------------------------------------
-- Fresh by default: the change check.  Datasets published before this
-- update show change_check 'reread: not checked yet' and are read on every
-- run until they are published again (which puts the triggers on); their
-- permits' consent queries likewise until they are permitted again.
-- ---------------------------------------------------------------------------

-- (The columns of the change check are added with authorised_by above.)

-- ---------------------------------------------------------------------------
-- Change check (fresh by default): a statement trigger on every table a
-- dataset or consent query reads appends a row here in the writer's own
-- transaction; the owner counts them in the snapshot it reads in
-- (src/catalog/change_check.c).
-- ---------------------------------------------------------------------------

CREATE TABLE pgpriv.dataset_change (
  relid oid NOT NULL
);
CREATE INDEX dataset_change_relid ON pgpriv.dataset_change (relid);
REVOKE ALL ON pgpriv.dataset_change FROM PUBLIC;
COMMENT ON TABLE pgpriv.dataset_change IS
  'Append-only: one row per statement that wrote a table a published dataset or consent query reads (written by the pgpriv_change triggers only)';

CREATE TABLE pgpriv.dataset_change_base (
  relid   oid PRIMARY KEY,
  changes bigint NOT NULL CHECK (changes >= 0)
);
REVOKE ALL ON pgpriv.dataset_change_base FROM PUBLIC;
COMMENT ON TABLE pgpriv.dataset_change_base IS
  'Change rows of pgpriv.dataset_change folded into one count per table (moved in one transaction, so the total never goes back)';

CREATE FUNCTION pgpriv._dataset_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    INSERT INTO pgpriv.dataset_change (relid) VALUES (TG_RELID);
    RETURN NULL;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._dataset_changed() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._dataset_changed() IS
  'internal: the pgpriv_change trigger: records that a statement wrote a tracked table';

CREATE FUNCTION pgpriv._change_tables(query text, as_role name, search_path text, consent boolean,
                                      OUT relids oid[], OUT reason text)
  AS 'MODULE_PATHNAME', 'pgpriv_change_tables'
  LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION pgpriv._change_tables(text, name, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._change_tables(text, name, text, boolean) IS
  'internal: the tables a dataset (or consent) query reads, analysed as its publisher, and why triggers cannot see every change (NULL: they can)';

CREATE FUNCTION pgpriv._track_changes(relids oid[], publisher name) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r oid;
    fn oid;
    enabled "char";
  BEGIN
    FOREACH r IN ARRAY relids LOOP
      IF NOT pg_catalog.has_table_privilege(publisher, r, 'TRIGGER') THEN
        RAISE NOTICE 'changes to % are found by re-reading the dataset: role % may not create triggers on it', r::pg_catalog.regclass, publisher
          USING HINT = 'GRANT TRIGGER on the table to the publisher, then publish again.';
        RETURN pg_catalog.format('%s may not create triggers on %s', publisher, r::pg_catalog.regclass);
      END IF;
      SELECT t.tgfoid, t.tgenabled INTO fn, enabled FROM pg_catalog.pg_trigger AS t
       WHERE t.tgrelid OPERATOR(pg_catalog.=) r AND t.tgname OPERATOR(pg_catalog.=) 'pgpriv_change';
      IF NOT FOUND THEN
        BEGIN
          EXECUTE pg_catalog.format('CREATE TRIGGER pgpriv_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                                    'FOR EACH STATEMENT EXECUTE FUNCTION pgpriv._dataset_changed()', r::pg_catalog.regclass);
          EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER pgpriv_change', r::pg_catalog.regclass);
        EXCEPTION WHEN OTHERS THEN
          RAISE NOTICE 'changes to % are found by re-reading the dataset: %', r::pg_catalog.regclass, SQLERRM;
          RETURN pg_catalog.format('no trigger on %s: %s', r::pg_catalog.regclass, SQLERRM);
        END;
      ELSIF fn OPERATOR(pg_catalog.<>) 'pgpriv._dataset_changed()'::pg_catalog.regprocedure THEN
        RAISE NOTICE 'changes to % are found by re-reading the dataset: it has another trigger named pgpriv_change', r::pg_catalog.regclass;
        RETURN pg_catalog.format('%s has another trigger named pgpriv_change', r::pg_catalog.regclass);
      ELSIF enabled OPERATOR(pg_catalog.<>) 'A' THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER pgpriv_change', r::pg_catalog.regclass);
      END IF;
    END LOOP;
    RETURN NULL;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._track_changes(oid[], name) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._track_changes(oid[], name) IS
  'internal: put an enabled pgpriv_change trigger on each table the publisher may create triggers on; NULL, or why not';

CREATE FUNCTION pgpriv._untrack_changes() RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r oid;
  BEGIN
    FOR r IN SELECT t.tgrelid FROM pg_catalog.pg_trigger AS t
              WHERE t.tgname OPERATOR(pg_catalog.=) 'pgpriv_change'
                AND t.tgfoid OPERATOR(pg_catalog.=) 'pgpriv._dataset_changed()'::pg_catalog.regprocedure
                AND NOT EXISTS (SELECT FROM pgpriv.dataset AS d WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (d.change_tables))
                AND NOT EXISTS (SELECT FROM pgpriv.permit AS p WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (p.consent_tables)) LOOP
      EXECUTE pg_catalog.format('DROP TRIGGER pgpriv_change ON %s', r::pg_catalog.regclass);
      DELETE FROM pgpriv.dataset_change AS c WHERE c.relid OPERATOR(pg_catalog.=) r;
      DELETE FROM pgpriv.dataset_change_base AS b WHERE b.relid OPERATOR(pg_catalog.=) r;
    END LOOP;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._untrack_changes() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._untrack_changes() IS
  'internal: drop the pgpriv_change triggers (and change rows) of tables no dataset or consent query reads any more';

CREATE FUNCTION pgpriv._track_dataset(dataset text) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset;
    t record;
    why text;
  BEGIN
    SELECT * INTO STRICT d FROM pgpriv.dataset AS x WHERE x.name OPERATOR(pg_catalog.=) _track_dataset.dataset;
    SELECT * INTO t FROM pgpriv._change_tables(d.query, d.owner_role, d.search_path, false);
    why := t.reason;
    IF why IS NOT NULL THEN
      RAISE NOTICE 'dataset "%" is re-read on every run: %', d.name, why
        USING HINT = 'Only built-in immutable functions over ordinary tables can be checked by triggers.';
    ELSE
      why := pgpriv._track_changes(t.relids, d.owner_role);
    END IF;
    UPDATE pgpriv.dataset AS x
       SET change_tables = CASE WHEN why IS NULL THEN t.relids ELSE '{}' END,
           change_check = CASE WHEN why IS NULL THEN 'triggers' ELSE 'reread: ' OPERATOR(pg_catalog.||) why END
     WHERE x.name OPERATOR(pg_catalog.=) d.name;
    PERFORM pgpriv._untrack_changes();
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._track_dataset(text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._track_dataset(text) IS
  'internal: at publish, decide the dataset''s change check and put triggers on the tables its query reads';

CREATE FUNCTION pgpriv._track_permit(dataset text, peer_role name, capability text) RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset;
    p pgpriv.permit;
    tables oid[] := '{}';
    why text;
  BEGIN
    SELECT * INTO STRICT d FROM pgpriv.dataset AS x WHERE x.name OPERATOR(pg_catalog.=) _track_permit.dataset;
    SELECT * INTO STRICT p FROM pgpriv.permit AS x
     WHERE x.dataset OPERATOR(pg_catalog.=) _track_permit.dataset AND x.peer_role OPERATOR(pg_catalog.=) _track_permit.peer_role
       AND x.capability OPERATOR(pg_catalog.=) _track_permit.capability;
    IF p.authorised_by IS NOT NULL THEN
      SELECT c.relids, c.reason INTO tables, why
        FROM pgpriv._change_tables(p.authorised_by, d.owner_role, d.search_path, true) AS c;
      IF why IS NOT NULL THEN
        RAISE NOTICE 'the consent query of this permit is re-read on every run: %', why
          USING HINT = 'A consent query with now() or another non-immutable function cannot be checked by triggers.';
      ELSE
        why := pgpriv._track_changes(tables, d.owner_role);
      END IF;
    END IF;
    UPDATE pgpriv.permit AS x
       SET consent_tables = CASE WHEN why IS NULL AND p.authorised_by IS NOT NULL THEN tables ELSE '{}' END,
           consent_check = CASE WHEN p.authorised_by IS NULL THEN NULL WHEN why IS NULL THEN 'triggers'
                                ELSE 'reread: ' OPERATOR(pg_catalog.||) why END
     WHERE x.dataset OPERATOR(pg_catalog.=) p.dataset AND x.peer_role OPERATOR(pg_catalog.=) p.peer_role
       AND x.capability OPERATOR(pg_catalog.=) p.capability;
    PERFORM pgpriv._untrack_changes();
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._track_permit(text, name, text) FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._track_permit(text, name, text) IS
  'internal: at permit, decide the consent query''s change check and put triggers on the tables it reads';

-- A dropped table's change rows go with it (its oid may be reused).
CREATE FUNCTION pgpriv._drop_tracked_tables() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    DELETE FROM pgpriv.dataset_change AS c
     USING pg_catalog.pg_event_trigger_dropped_objects() AS o
     WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND o.objsubid OPERATOR(pg_catalog.=) 0 AND c.relid OPERATOR(pg_catalog.=) o.objid;
    DELETE FROM pgpriv.dataset_change_base AS b
     USING pg_catalog.pg_event_trigger_dropped_objects() AS o
     WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND o.objsubid OPERATOR(pg_catalog.=) 0 AND b.relid OPERATOR(pg_catalog.=) o.objid;
  END
  $$;
REVOKE ALL ON FUNCTION pgpriv._drop_tracked_tables() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._drop_tracked_tables() IS
  'internal: on DROP TABLE, drop the change rows of the tables dropped';
CREATE EVENT TRIGGER pgpriv_drop_tracked_tables ON sql_drop
  WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
  EXECUTE FUNCTION pgpriv._drop_tracked_tables();
COMMENT ON EVENT TRIGGER pgpriv_drop_tracked_tables IS
  'DROP TABLE drops the change rows of tracked tables (pgpriv.dataset_change)';

CREATE TABLE pgpriv.served_check (
  dataset      text NOT NULL REFERENCES pgpriv.dataset(name) ON DELETE CASCADE,
  peer_role    name NOT NULL,
  capability   text NOT NULL,
  stamp        text,
  change_check text NOT NULL,
  reads        bigint NOT NULL DEFAULT 1,
  read_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (dataset, peer_role, capability)
);
REVOKE ALL ON pgpriv.served_check FROM PUBLIC;
COMMENT ON TABLE pgpriv.served_check IS
  'Owner side: per served cache (pir epoch, psi/psi_fetch table), the change stamp of the rows it was built from, how the last check went, and how often the rows were read';
COMMENT ON COLUMN pgpriv.served_check.stamp IS 'catalog version, permitted columns and change-check stamp of the last read; NULL when the check was not exact';
COMMENT ON COLUMN pgpriv.served_check.change_check IS '''triggers'', or ''reread: <why>'' when the last run had to read the rows to know';
COMMENT ON COLUMN pgpriv.served_check.reads IS 'how many times the owner read the dataset''s rows for this cache';

DROP VIEW pgpriv.datasets;
CREATE VIEW pgpriv.datasets WITH (security_barrier) AS
  SELECT d.name AS dataset, d.key_column, d.columns, d.column_types, d.owner_role,
         d.version, d.published_at, d.query,
         coalesce(d.change_check, 'reread: not checked yet (publish again to track changes)') AS change_check
    FROM pgpriv.dataset AS d
   WHERE pgpriv._may_manage(d.owner_role);
GRANT SELECT ON pgpriv.datasets TO PUBLIC;
COMMENT ON VIEW pgpriv.datasets IS
  'Datasets published by roles you belong to (peers see none)';

CREATE OR REPLACE FUNCTION pgpriv._publish(dataset text, query text, key_column text, caller_path text)
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

    -- The change check: triggers on the tables the query reads, or why not.
    PERFORM pgpriv._track_dataset(dataset);

    PERFORM pgpriv._audit_append('local', NULL, 'publish', dataset, NULL, NULL, NULL, NULL,
                                 CASE WHEN old.name IS NULL THEN 'ok' ELSE 'ok: replaced' END, NULL);
  END
  $$;

CREATE OR REPLACE FUNCTION pgpriv.unpublish(dataset text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    d pgpriv.dataset := pgpriv._dataset_for_owner(dataset);
  BEGIN
    -- Permits and OPRF keys go with it (ON DELETE CASCADE).
    DELETE FROM pgpriv.dataset AS x WHERE x.name = d.name;
    PERFORM pgpriv._untrack_changes();
    PERFORM pgpriv._audit_append('local', NULL, 'unpublish', d.name, NULL, NULL, NULL, NULL, 'ok', NULL);
  END
  $$;

-- Memory for secrets, wiped when it goes back (regression test).
CREATE FUNCTION pgpriv._secret_mem_selftest() RETURNS boolean
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'pgpriv_secret_mem_selftest';
REVOKE ALL ON FUNCTION pgpriv._secret_mem_selftest() FROM PUBLIC;
COMMENT ON FUNCTION pgpriv._secret_mem_selftest() IS
  'internal: true when memory for secrets is zeroed on an early wipe, a context reset and a context delete (regression test)';

-- psi and psi_fetch over the OT-extension OPRF (pgpriv.psi_protocol).
CREATE FUNCTION pgpriv.serve_ot_begin(dataset text, capability text, run text, hello bytea)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_ot_begin'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_ot_begin(text, text, text, bytea) IS
  'Serving (called by a peer): start the OT-extension join of an admitted psi or psi_fetch run (its cuckoo table must be the admitted size); the base OTs';

CREATE FUNCTION pgpriv.serve_ot_extend(dataset text, capability text, run text, chunks bytea)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_ot_extend'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_ot_extend(text, text, text, bytea) IS
  'Serving (called by a peer): a few chunks of the OT extension of a run started by serve_ot_begin';

CREATE FUNCTION pgpriv.serve_ot_tags(dataset text, capability text, run text, batch integer)
  RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgpriv_serve_ot_tags'
  LANGUAGE C VOLATILE STRICT SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION pgpriv.serve_ot_tags(text, text, text, integer) IS
  'Serving (called by a peer): one batch of the owner''s truncated OPRF tags (psi_fetch: and its sealed rows), once the extension is complete';

-- The update itself goes on record, as the last row of the chain.
SELECT pgpriv._audit_append('local', NULL, 'update', NULL, NULL, NULL, NULL, NULL, 'ok',
                            'pgpriv 0.1.0 to 0.2.0');

