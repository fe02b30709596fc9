-- A bank's set-up (run on bank_a, bank_b and bank_c by test/demo/run, as the
-- bank's superuser), with psql variables:
--   step       the section number to print
--   bank       the bank's name, which is also its login at the bureau
--   gov_port   the bureau's TCP port on 127.0.0.1
--   gov_key    the bureau's identity public key ('\x' and 64 hex digits), as
--              the bureau's DBA read it out over a second channel
--   password   the bank's password at the bureau
--   gov_signing_key  the bureau's Ed25519 signing key (64 hex digits, from its
--              pgpriv.identity_card()), which vouches for its PIR hints
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT :'bank' = 'bank_a' AS has_borrowers, :'bank' IN ('bank_a', 'bank_b') AS has_applicants \gset

SELECT format('== %s %s: CREATE EXTENSION pgpriv, the bank''s own tables, and the bureau as a peer', :'step', :'bank')
       AS header \gset
\echo
\echo :header
CREATE EXTENSION pgpriv;
SELECT public_key, fingerprint FROM pgpriv.identity();

-- The analyst writes the joint queries; the bank's DBA (this session) owns the data.
CREATE ROLE analyst;
GRANT CREATE ON SCHEMA public TO analyst;

\if :has_applicants
CREATE TABLE applicants (
  credit_code      text PRIMARY KEY,
  applied_on       date NOT NULL,
  amount_requested numeric(14,2) NOT NULL
);
GRANT SELECT ON applicants TO analyst;
\endif
\if :has_borrowers
CREATE TABLE borrowers (
  credit_code text PRIMARY KEY,
  loan_no     text NOT NULL UNIQUE,
  balance     numeric(14,2) NOT NULL,
  matures_on  date NOT NULL
);
GRANT SELECT ON borrowers TO analyst;
\endif
-- Every loan on the bank's books (bank A's borrowers table lists each
-- borrower's main loan; some have a second facility here too).
CREATE TABLE loans (
  loan_no     text PRIMARY KEY,
  credit_code text NOT NULL,
  balance     numeric(14,2) NOT NULL CHECK (balance > 0)
);
CREATE INDEX ON loans (credit_code);

CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port :'gov_port', dbname 'govdata', public_key :'gov_key',
           signing_key :'gov_signing_key');
GRANT USAGE ON FOREIGN SERVER gov TO analyst;
CREATE USER MAPPING FOR analyst SERVER gov OPTIONS (user :'bank', password :'password');
SELECT s.srvname AS peer, o.option_name, o.option_value
  FROM pg_foreign_server AS s, pg_options_to_table(s.srvoptions) AS o
 ORDER BY 1, 2;

SELECT format('   the analyst connects to gov (SCRAM, login %s) and checks the key the bureau presents against the pinned one:', :'bank')
       AS line \gset
\echo :line
SET ROLE analyst;
SELECT public_key, fingerprint, matches FROM pgpriv.peer_identity('gov');
RESET ROLE;
