-- One party's audit log and chain check (run on each party by test/demo/run,
-- as its superuser, who sees every row).  Variables: step, party.
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

SELECT format('== %s %s: the audit log (hash-chained) and its check', :'step', :'party') AS header \gset
\echo
\echo :header
SELECT id, actor, side, peer, capability, dataset, keys_in, keys_out, bytes_in, bytes_out, outcome
  FROM pgpriv.audit ORDER BY id;
SELECT * FROM pgpriv.audit_verify();
SELECT valid AS audit_chain_valid FROM pgpriv.audit_verify() \gset
\if :audit_chain_valid
\else
DO $$ BEGIN RAISE EXCEPTION 'the audit chain does not verify'; END $$;
\endif
