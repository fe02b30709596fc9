-- The owner's catalog: datasets, permits, OPRF keys, audit.
-- Errors are shown as "SQLSTATE: message" through a small helper.
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; det text; hnt text;
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                          det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg
      || coalesce(E'\n  DETAIL: ' || nullif(det, ''), '')
      || coalesce(E'\n  HINT: ' || nullif(hnt, ''), '');
END $$;

CREATE ROLE regress_gov;                 -- publishes the government's data
CREATE ROLE regress_bank_zs LOGIN;       -- a bank's peer role
CREATE ROLE regress_bank_other LOGIN;    -- another bank
CREATE SCHEMA regress_gov AUTHORIZATION regress_gov;
GRANT EXECUTE ON FUNCTION pgpriv.publish(text, text, text), pgpriv.unpublish(text),
  pgpriv.permit(text, name, text, text[], bigint, integer, integer, text),
  pgpriv.revoke_permit(text, name, text), pgpriv.revoke_permit(text, name, text, boolean),
  pgpriv.revoke_permits(name, text), pgpriv.rotate_oprf_key(text, name)
  TO regress_gov;

SET ROLE regress_gov;
CREATE TABLE regress_gov.tax (code text, tax_grade text, tax_paid numeric, secret_note text);
INSERT INTO regress_gov.tax VALUES
  ('91310000MA1FL0TEST', 'A', 120000.50, 'internal'),
  ('91310000MA1FL1TEST', 'B', 3400, 'internal');
SET search_path = regress_gov, public;

-- Publishing: the query runs as the publisher, with the publisher's search_path.
SELECT pgpriv.publish('tax', 'SELECT code, tax_grade, tax_paid, secret_note FROM tax', 'code');
SELECT dataset, key_column, columns, column_types, owner_role, version FROM pgpriv.datasets;

-- Publishing errors name the bad thing.
SELECT pg_temp.try($$SELECT pgpriv.publish('tax2', 'SELECT tax_grade FROM tax', 'code')$$);
SELECT pg_temp.try($$SELECT pgpriv.publish('tax2', 'SELECT code, code FROM tax', 'code')$$);
SELECT pg_temp.try($$SELECT pgpriv.publish('tax2', 'SELECT * FROM no_such_table', 'code')$$);
SELECT pg_temp.try($$SELECT pgpriv.publish('tax2', 'SELECT 1 AS code; SELECT 2', 'code')$$);
SELECT pg_temp.try($$SELECT pgpriv.publish('tax2', 'DELETE FROM tax RETURNING code', 'code')$$);
SELECT pg_temp.try($$SELECT pgpriv.publish('bad name!', 'SELECT code FROM tax', 'code')$$);
SELECT count(*) AS rows_left_after_delete_attempt FROM regress_gov.tax;

-- Permits: dataset, role, capability and columns are checked and named.
SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi_fetch', '{tax_grade,tax_paid}', max_keys => 1000);
SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi');
SELECT pg_temp.try($$SELECT pgpriv.permit('nope', 'regress_bank_zs', 'psi')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_no_such_role', 'psi')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'join_everything')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi_fetch', '{tax_grade,salary}')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi_fetch', '{code}')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi', '{tax_grade}')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi_sum')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi_fetch', '{tax_grade}', max_keys => 0)$$);
SELECT dataset, peer_role, capability, columns, max_keys FROM pgpriv.permits ORDER BY capability;

-- Republishing may not drop a permitted column.
SELECT pg_temp.try($$SELECT pgpriv.publish('tax', 'SELECT code, tax_grade FROM tax', 'code')$$);
SELECT pgpriv.publish('tax', 'SELECT code, tax_grade, tax_paid FROM tax', 'code');
SELECT dataset, columns, version FROM pgpriv.datasets;

-- A peer role sees no dataset, only its own permits, and no secret.
SET ROLE regress_bank_zs;
SELECT count(*) AS datasets_visible_to_peer FROM pgpriv.datasets;
SELECT dataset, capability, columns FROM pgpriv.permits ORDER BY capability;
SELECT pg_temp.try($$SELECT * FROM pgpriv.oprf_key$$);
SELECT pg_temp.try($$SELECT * FROM pgpriv.identity_keys$$);
SELECT pg_temp.try($$SELECT * FROM pgpriv.dataset$$);
SELECT pg_temp.try($$SELECT pgpriv._oprf_key('tax', 'regress_bank_zs')$$);
SELECT pg_temp.try($$SELECT pgpriv.publish('mine', 'SELECT 1 AS k', 'k')$$);
SELECT pg_temp.try($$SELECT pgpriv._publish('mine', 'SELECT 1 AS k', 'k', 'public')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_zs', 'psi_fetch', '{tax_grade,tax_paid}')$$);
SELECT pg_temp.try($$UPDATE pgpriv.audit_log SET detail = 'x'$$);
SELECT pg_temp.try($$DELETE FROM pgpriv.audit_log$$);
SELECT pg_temp.try($$SET pgpriv.audit_maintenance = on$$);
SELECT length(public_key) AS peer_can_read_identity FROM pgpriv.identity();

-- Another bank cannot see the first bank's permits.
SET ROLE regress_bank_other;
SELECT count(*) AS permits_visible_to_other_bank FROM pgpriv.permits;

-- OPRF keys: made on first need, rotatable, never shown.
RESET ROLE;
SELECT length(pgpriv._oprf_key('tax', 'regress_bank_zs')) AS key_bytes,
       pgpriv._oprf_key('tax', 'regress_bank_zs') = pgpriv._oprf_key('tax', 'regress_bank_zs') AS stable;
SELECT dataset, peer_role, generation FROM pgpriv.keys;
CREATE TEMP TABLE k1 AS SELECT pgpriv._oprf_key('tax', 'regress_bank_zs') AS k;
SET ROLE regress_gov;
SELECT pgpriv.rotate_oprf_key('tax', 'regress_bank_zs') AS generation;
RESET ROLE;
SELECT pgpriv._oprf_key('tax', 'regress_bank_zs') <> (SELECT k FROM k1) AS key_changed,
       (SELECT version FROM pgpriv.dataset WHERE name = 'tax') AS dataset_version;

-- Revoking.
SET ROLE regress_gov;
SELECT pgpriv.revoke_permit('tax', 'regress_bank_zs', 'psi');
SELECT pg_temp.try($$SELECT pgpriv.revoke_permit('tax', 'regress_bank_zs', 'psi')$$);
-- if_exists: what is not there is a notice (a dataset that is not yours is still an error).
SELECT pgpriv.revoke_permit('tax', 'regress_bank_zs', 'psi', if_exists => true);
SELECT pgpriv.revoke_permit('nope', 'regress_bank_zs', 'psi', if_exists => true);
SELECT pg_temp.try($$SELECT pgpriv.revoke_permit('tax', 'regress_bank_zs', 'psi', if_exists => false)$$);
-- Every permit of one role at once, each audited; the other role's permits stay.
SELECT pgpriv.permit('tax', 'regress_bank_other', 'psi');
SELECT pgpriv.permit('tax', 'regress_bank_other', 'psi_count');
-- Applicant consent: checked when the permit is made, as the publisher, with
-- $1 = peer role and $2 = capability; stored without the trailing semicolon.
SELECT pgpriv.permit('tax', 'regress_bank_other', 'psi',
  authorised_by => $$SELECT code FROM regress_gov.tax WHERE $1 = 'regress_bank_other' AND $2 = 'psi';$$);
SELECT authorised_by FROM pgpriv.permits WHERE peer_role = 'regress_bank_other' AND capability = 'psi';
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_other', 'psi', authorised_by => 'DELETE FROM regress_gov.tax RETURNING code')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_other', 'psi', authorised_by => 'SELECT nope FROM regress_gov.tax')$$);
SELECT pg_temp.try($$SELECT pgpriv.permit('tax', 'regress_bank_other', 'psi', authorised_by => 'SELECT public_key FROM pgpriv.identity_keys')$$);
SELECT * FROM pgpriv.revoke_permits('regress_bank_other');
SELECT count(*) AS nothing_left FROM pgpriv.revoke_permits('regress_bank_other', on_dataset => 'tax');
SELECT pg_temp.try($$SELECT * FROM pgpriv.revoke_permits('regress_bank_other', on_dataset => 'nope')$$);
SELECT peer_role, capability FROM pgpriv.permits ORDER BY 1, 2;
RESET ROLE;

-- The audit log recorded every change, chained.
SELECT id, actor, side, peer, capability, dataset, outcome, detail
  FROM pgpriv.audit ORDER BY id;
SELECT valid, rows_checked, first_broken_id FROM pgpriv.audit_verify();

-- Only explicit owner maintenance may change it; the chain check then finds the edit.
SELECT pg_temp.try($$UPDATE pgpriv.audit_log SET detail = 'forged' WHERE capability = 'permit'$$);
BEGIN;
SET LOCAL pgpriv.audit_maintenance = on;
UPDATE pgpriv.audit_log SET keys_in = 1
 WHERE id = (SELECT min(id) FROM pgpriv.audit_log WHERE capability = 'permit');
SELECT valid, first_broken_id = (SELECT min(id) FROM pgpriv.audit_log WHERE capability = 'permit') AS found_edited_row,
       reason
  FROM pgpriv.audit_verify();
ROLLBACK;
BEGIN;
SET LOCAL pgpriv.audit_maintenance = on;
CREATE TEMP TABLE gone AS SELECT min(id) AS id FROM pgpriv.audit_log WHERE capability = 'permit';
DELETE FROM pgpriv.audit_log WHERE id = (SELECT id FROM gone);
SELECT valid, first_broken_id = (SELECT min(id) FROM pgpriv.audit_log WHERE id > (SELECT id FROM gone)) AS found_row_after_gap,
       reason
  FROM pgpriv.audit_verify();
ROLLBACK;
SELECT valid FROM pgpriv.audit_verify();

-- Unpublishing takes permits and keys with it.
SET ROLE regress_gov;
SELECT pgpriv.unpublish('tax');
SELECT pg_temp.try($$SELECT pgpriv.unpublish('tax')$$);
RESET ROLE;
SELECT (SELECT count(*) FROM pgpriv.permit) AS permits, (SELECT count(*) FROM pgpriv.oprf_key) AS keys;

-- Clean up the cluster-wide roles.
DROP SCHEMA regress_gov CASCADE;
REVOKE ALL ON FUNCTION pgpriv.publish(text, text, text), pgpriv.unpublish(text),
  pgpriv.permit(text, name, text, text[], bigint, integer, integer, text),
  pgpriv.revoke_permit(text, name, text), pgpriv.revoke_permit(text, name, text, boolean),
  pgpriv.revoke_permits(name, text), pgpriv.rotate_oprf_key(text, name)
  FROM regress_gov;
DROP ROLE regress_gov, regress_bank_zs, regress_bank_other;
