# Peers over TLS: the asker verifies the owner's certificate (verify-full),
# authenticates by password or by client certificate, and refuses an owner
# whose certificate it cannot verify.  The owner accepts TLS only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir;

# A test CA, a server certificate for 127.0.0.1 and a client certificate
# for the role bank_cert; plus an unrelated CA the asker must not trust.
sub openssl { system_or_bail('openssl', @_); }
openssl(qw(req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pgpriv-test-ca),
	'-keyout', "$dir/ca.key", '-out', "$dir/ca.crt");
openssl(qw(req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca),
	'-keyout', "$dir/other.key", '-out', "$dir/other.crt");
open my $ext, '>', "$dir/san.ext" or die $!;
print $ext "subjectAltName=IP:127.0.0.1\n";
close $ext;
openssl(qw(req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1), '-keyout', "$dir/server.key", '-out', "$dir/server.csr");
openssl(qw(x509 -req -days 2 -CAcreateserial), '-in', "$dir/server.csr", '-CA', "$dir/ca.crt",
	'-CAkey', "$dir/ca.key", '-extfile', "$dir/san.ext", '-out', "$dir/server.crt");
openssl(qw(req -newkey rsa:2048 -nodes -subj /CN=bank_cert), '-keyout', "$dir/client.key", '-out', "$dir/client.csr");
openssl(qw(x509 -req -days 2 -CAcreateserial), '-in', "$dir/client.csr", '-CA', "$dir/ca.crt",
	'-CAkey', "$dir/ca.key", '-out', "$dir/client.crt");
chmod 0600, "$dir/server.key", "$dir/client.key";

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
$gov->init;
$gov->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
ssl_ca_file = '$dir/ca.crt'
log_connections = on
});
open my $hba, '>', $gov->data_dir . '/pg_hba.conf' or die $!;
print $hba "local all all trust\n"
  . "hostssl all bank_cert 127.0.0.1/32 cert\n"
  . "hostssl all all 127.0.0.1/32 scram-sha-256\n"
  . "hostnossl all all 127.0.0.1/32 reject\n";
close $hba;
$gov->start;
$bank->init;
$bank->start;

$gov->safe_psql('postgres', q{
	CREATE EXTENSION pgpriv;
	CREATE ROLE bank_pw LOGIN PASSWORD 'pw';
	CREATE ROLE bank_cert LOGIN;
	CREATE TABLE tax (code text, grade text);
	INSERT INTO tax SELECT 'K' || i, chr(65 + i % 5) FROM generate_series(1, 200) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_pw', 'psi');
	SELECT pgpriv.permit('tax', 'bank_cert', 'psi_fetch', '{grade}');
});
my $key = $gov->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM pgpriv.identity()});
my $port = $gov->port;
$bank->safe_psql('postgres', qq{
	CREATE EXTENSION pgpriv;
	CREATE TABLE applicants AS SELECT 'K' || (i * 3) AS code FROM generate_series(1, 100) AS i;
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres', public_key '$key',
	           sslmode 'verify-full', sslrootcert '$dir/ca.crt');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_pw', password 'pw');
	CREATE SERVER gov_cert FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres', public_key '$key',
	           sslmode 'verify-full', sslrootcert '$dir/ca.crt');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov_cert
	  OPTIONS (user 'bank_cert', sslcert '$dir/client.crt', sslkey '$dir/client.key');
	CREATE SERVER gov_wrong_ca FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres', sslmode 'verify-full', sslrootcert '$dir/other.crt');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov_wrong_ca OPTIONS (user 'bank_pw', password 'pw');
	CREATE SERVER gov_plain FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres', sslmode 'disable');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov_plain OPTIONS (user 'bank_pw', password 'pw');
});

# psi over TLS with a verified certificate and a SCRAM password.
is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM applicants')}),
	'66', 'psi over verify-full TLS with a password gives the plain join (66 of 100)');
is($bank->safe_psql('postgres', q{SELECT matches FROM pgpriv.peer_identity('gov')}), 't',
	'the identity read over TLS matches the pinned key');

# The owner saw the peer's session as TLS (log_connections reports it).
like(slurp_file($gov->logfile), qr/connection authorized: user=bank_pw database=postgres[^\n]*SSL enabled/,
	'the peer role\'s session on the owner was encrypted');

# Client-certificate authentication (pg_hba "cert") works too.
is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.psi_fetch('gov_cert', 'tax', 'SELECT code FROM applicants')
	AS t(code text, grade text)}),
	'66', 'psi_fetch with a client certificate instead of a password');

# An owner whose certificate does not verify, and a plaintext attempt, are refused.
my ($rc, $out, $err) = $bank->psql('postgres', q{SELECT * FROM pgpriv.psi('gov_wrong_ca', 'tax', 'SELECT code FROM applicants')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/08001: could not connect to peer "gov_wrong_ca"/, 'an unverifiable server certificate: 08001 naming the peer');
like($err, qr/certificate verify failed/, 'and the detail says why');
($rc, $out, $err) = $bank->psql('postgres', q{SELECT * FROM pgpriv.psi('gov_plain', 'tax', 'SELECT code FROM applicants')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/08001: could not connect to peer "gov_plain"/, 'a plaintext connection is refused by the owner (hostnossl reject)');

# Nothing was audited as done for the refused attempts.
is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'asker'}), '2',
	'only the two successful runs are in the asker\'s audit');

done_testing();
