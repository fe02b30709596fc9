-- The government data bureau's side of the demo.
\pset footer off
\echo
\echo '== 1. CREATE EXTENSION pgpriv: schema, wrapper, and this party''s identity'
CREATE EXTENSION pgpriv;
SELECT * FROM pgpriv.identity();

\echo
\echo '== 2. Sample data: 1000 enterprises with tax grades and amounts'
CREATE ROLE data_steward;
CREATE ROLE bank_zs LOGIN PASSWORD 'demo-only';
CREATE SCHEMA gov AUTHORIZATION data_steward;
GRANT EXECUTE ON FUNCTION pgpriv.publish(text, text, text),
  pgpriv.permit(text, name, text, text[], bigint, integer, integer) TO data_steward;
SET ROLE data_steward;
CREATE TABLE gov.tax AS
  SELECT '9131' || lpad(i::text, 13, '0') || 'X' AS credit_code,
         (ARRAY['A','B','C','D','M'])[1 + i % 5] AS tax_grade,
         round((i * 7919 % 500000)::numeric + 0.5, 2) AS tax_paid,
         'internal note ' || i AS internal_note
    FROM generate_series(1, 1000) AS i;

\echo
\echo '== 3. Publish a dataset (its SQL is never shown to peers) and permit a bank'
SELECT pgpriv.publish('tax', 'SELECT credit_code, tax_grade, tax_paid FROM gov.tax', 'credit_code');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi_fetch', '{tax_grade,tax_paid}', max_keys => 10000);
SELECT pgpriv.permit('tax', 'bank_zs', 'psi_count');
SELECT dataset, key_column, columns, version FROM pgpriv.datasets;
SELECT dataset, peer_role, capability, columns, max_keys FROM pgpriv.permits ORDER BY capability;
RESET ROLE;

\echo
\echo '== 4. The OPRF (RFC 9497, ristretto255-SHA512): the bank blinds, the owner evaluates, the bank finalizes'
CREATE TEMP TABLE demo_oprf AS
  SELECT convert_to('91310000000000001X', 'UTF8') AS input,
         pgpriv.oprf_random_scalar() AS blind,
         pgpriv._oprf_key('tax', 'bank_zs') AS sk;
SELECT encode(pgpriv.oprf_blind(input, blind), 'hex') AS blinded_element_sent_to_owner
  FROM demo_oprf;
SELECT encode(pgpriv.oprf_evaluate(sk, pgpriv.oprf_blind(input, blind)), 'hex') AS evaluated_element_returned
  FROM demo_oprf;
SELECT pgpriv.oprf_finalize(input, blind, pgpriv.oprf_evaluate(sk, pgpriv.oprf_blind(input, blind)))
         = pgpriv.oprf(sk, input) AS bank_output_equals_owner_output
  FROM demo_oprf;

\echo
\echo '== 5. Batch OPRF on all cores over the 1000 published keys'
\timing on
SELECT count(*) AS outputs
  FROM unnest(pgpriv.oprf_batch(pgpriv._oprf_key('tax', 'bank_zs'),
                                (SELECT array_agg(convert_to(credit_code, 'UTF8')) FROM gov.tax)));
\timing off

\echo
\echo '== 6. The audit log: every catalog change, hash-chained'
SELECT id, actor, side, peer, capability, dataset, outcome, detail, hash FROM pgpriv.audit ORDER BY id;
SELECT * FROM pgpriv.audit_verify();
