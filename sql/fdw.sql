-- Peers are foreign servers of the pgpriv wrapper; options are checked at CREATE/ALTER.
CREATE SERVER regress_gov FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '5432', dbname 'govdata',
           public_key '\x8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f',
           sslmode 'prefer', connect_timeout '10');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'regress_gov';

-- The key may also be written without the \x prefix.
ALTER SERVER regress_gov OPTIONS (SET public_key '8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f');
ALTER SERVER regress_gov OPTIONS (ADD signing_key '\x0000000000000000000000000000000000000000000000000000000000000001');

-- Refused: unknown option, malformed key, bad port, credentials on the server.
-- (terse: the hint lists libpq's own options, which vary with the libpq version)
\set VERBOSITY terse
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (hots '127.0.0.1');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (password 'secret');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (client_encoding 'latin1');
\set VERBOSITY default
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (public_key '\x1234');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (public_key 'zz40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (port '70000');
CREATE SERVER regress_bad FOREIGN DATA WRAPPER pgpriv OPTIONS (port 'http');

-- User mappings carry the credentials, nothing else.
CREATE ROLE regress_analyst;
CREATE USER MAPPING FOR regress_analyst SERVER regress_gov OPTIONS (user 'bank_zs', password 'pw');
CREATE USER MAPPING FOR public SERVER regress_gov OPTIONS (host 'elsewhere');
CREATE USER MAPPING FOR public SERVER regress_gov OPTIONS (public_key '\x8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f');

-- Only a superuser may waive the password or name certificate files.
GRANT USAGE ON FOREIGN SERVER regress_gov TO regress_analyst;
SET ROLE regress_analyst;
ALTER USER MAPPING FOR regress_analyst SERVER regress_gov OPTIONS (ADD password_required 'false');
ALTER USER MAPPING FOR regress_analyst SERVER regress_gov OPTIONS (ADD sslkey '/etc/ssl/private/x.key');
ALTER USER MAPPING FOR regress_analyst SERVER regress_gov OPTIONS (ADD password_required 'true');
RESET ROLE;
ALTER USER MAPPING FOR regress_analyst SERVER regress_gov OPTIONS (SET password_required 'false');
SELECT umoptions FROM pg_user_mapping AS m JOIN pg_foreign_server AS s ON s.oid = m.umserver
 WHERE s.srvname = 'regress_gov';

DROP SERVER regress_gov CASCADE;
DROP ROLE regress_analyst;
