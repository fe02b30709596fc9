-- The banks as each other's peers, for secure_sum (run on bank_a, bank_b and
-- bank_c by test/demo/run, as the bank's superuser), with psql variables:
--   step        the section number to print
--   bank        this bank's name (also its login at the other banks)
--   peer1, peer2             the other two banks (server name = their name)
--   peer1_port, peer2_port   their TCP ports on 127.0.0.1
--   peer1_key, peer2_key     their identity public keys, read out by their DBAs
--   peer1_pw, peer2_pw       this bank's password at each of them
--   peer1_login_pw, peer2_login_pw   their passwords for their logins here
\pset footer off
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

SELECT format('== %s %s: the other banks as peers (logins here, servers there), and its loan book published for secure_sum',
              :'step', :'bank') AS header \gset
\echo
\echo :header

-- The other banks log in here over TCP with SCRAM passwords, as the banks do
-- at the bureau; they hold no privilege on any table.
CREATE ROLE :"peer1" LOGIN PASSWORD :'peer1_login_pw';
CREATE ROLE :"peer2" LOGIN PASSWORD :'peer2_login_pw';

-- The other banks as servers, with the public keys their DBAs read out.  The
-- analyst may ask them (user mappings); as an owner this bank also checks the
-- participants of every secure_sum run against these keys.
CREATE SERVER :"peer1" FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port :'peer1_port', dbname :'peer1', public_key :'peer1_key');
CREATE SERVER :"peer2" FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port :'peer2_port', dbname :'peer2', public_key :'peer2_key');
GRANT USAGE ON FOREIGN SERVER :"peer1", :"peer2" TO analyst;
CREATE USER MAPPING FOR analyst SERVER :"peer1" OPTIONS (user :'bank', password :'peer1_pw');
CREATE USER MAPPING FOR analyst SERVER :"peer2" OPTIONS (user :'bank', password :'peer2_pw');
SELECT s.srvname AS peer,
       (SELECT option_value FROM pg_options_to_table(s.srvoptions) WHERE option_name = 'port') AS port,
       left((SELECT option_value FROM pg_options_to_table(s.srvoptions) WHERE option_name = 'public_key'), 18)
         || '…' AS public_key
  FROM pg_foreign_server AS s ORDER BY 1;

-- A loan steward publishes the book.  The analyst is a member of that role,
-- so when the analyst asks, this bank's own figures count in the totals too.
CREATE ROLE loan_steward;
GRANT SELECT ON loans TO loan_steward;
GRANT EXECUTE ON FUNCTION pgpriv.publish(text, text, text),
  pgpriv.permit(text, name, text, text[], bigint, integer, integer, text) TO loan_steward;
GRANT loan_steward TO analyst;
SET ROLE loan_steward;
\o /dev/null
\set ECHO queries
SELECT pgpriv.publish('loans', 'SELECT credit_code, sum(balance) AS outstanding FROM public.loans GROUP BY credit_code', 'credit_code');
SELECT pgpriv.permit('loans', :'peer1', 'secure_sum', '{outstanding}', max_keys => 100000, min_parties => 2);
SELECT pgpriv.permit('loans', :'peer2', 'secure_sum', '{outstanding}', max_keys => 100000, min_parties => 2);
\set ECHO none
\o
SELECT dataset, peer_role, capability, columns, max_keys, min_parties FROM pgpriv.permits ORDER BY peer_role;
RESET ROLE;
