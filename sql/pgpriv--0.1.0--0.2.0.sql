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

CREATE OR REPLACE FUNCTION pgpriv._audit_append(
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
    INSERT INTO pgpriv.audit_head AS h (singleton, last_id, last_hash, appended)
      VALUES (true, r.id, (SELECT l.row_hash FROM pgpriv.audit_log AS l WHERE l.id = r.id), 1)
      ON CONFLICT (singleton) DO UPDATE
        SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash,
            appended = h.appended OPERATOR(pg_catalog.+) 1;
    RETURN r.id;
  END
  $$;

CREATE OR REPLACE FUNCTION pgpriv.audit_verify()
  RETURNS TABLE(valid boolean, rows_checked bigint, first_broken_id bigint, reason text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r pgpriv.audit_log;
    h pgpriv.audit_head;
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
           r.bytes_out, r.outcome, r.detail) THEN
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
    RETURN QUERY SELECT true, n, NULL::pg_catalog.int8, NULL::pg_catalog.text;
  END
  $$;
COMMENT ON FUNCTION pgpriv.audit_verify() IS
  'Walk the audit hash chain; report the first row that was changed or whose predecessor was removed, or a log that ends before its head';

-- ---------------------------------------------------------------------------
-- Catalog: permit() refuses psi_sum with min_group > 1.  Permits of that
-- kind granted under 0.1.0 stay as they are (widening them silently would
-- change what the owner agreed to); 0.2.0 refuses runs under them (0A000),
-- and the update names them.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION pgpriv.permit(
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
    IF capability = 'psi_sum' AND min_group > 1 THEN
      RAISE EXCEPTION 'psi_sum cannot enforce min_group against a modified asker'
        USING ERRCODE = 'feature_not_supported',
              DETAIL = 'The asker chooses which ciphertexts it adds and how many matches it claims, so a run can reveal one key''s total.',
              HINT = 'Use psi_count for how many keys match, or secure_sum, which enforces min_group, for totals; grant psi_sum without min_group only where revealing the column for the keys asked is acceptable.';
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
-- Config-dump registrations
-- ---------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('pgpriv.audit_head', '');

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

-- The update itself goes on record, as the last row of the chain.
SELECT pgpriv._audit_append('local', NULL, 'update', NULL, NULL, NULL, NULL, NULL, 'ok',
                            'pgpriv 0.1.0 to 0.2.0');
