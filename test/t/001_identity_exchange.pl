# Two parties on two clusters: each installs pgpriv, they exchange identity
# cards, declare each other as peers, and a dump/restore keeps a party's
# identity and catalog.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
for my $node ($gov, $bank) {
	$node->init;
	# Parties reach each other over loopback TCP with SCRAM passwords.
	$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'");
	open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die $!;
	print $hba "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
	close $hba;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pgpriv');
}

my ($gov_key, $gov_fp) = split /\|/, $gov->safe_psql('postgres',
	q{SELECT encode(public_key, 'hex'), fingerprint FROM pgpriv.identity()});
my ($bank_key, $bank_fp) = split /\|/, $bank->safe_psql('postgres',
	q{SELECT encode(public_key, 'hex'), fingerprint FROM pgpriv.identity()});

like($gov_key, qr/^[0-9a-f]{64}$/, 'gov identity is a 32-byte key');
like($bank_key, qr/^[0-9a-f]{64}$/, 'bank identity is a 32-byte key');
isnt($gov_key, $bank_key, 'two installs have different identities');

# Each side declares the other with the card it was given.
my $gov_port  = $gov->port;
my $bank_port = $bank->port;
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', public_key '\\x$gov_key');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_zs', password 'pw');
});
$gov->safe_psql('postgres', qq{
	CREATE SERVER bank FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$bank_port', dbname 'postgres', public_key '$bank_key');
});
is($bank->safe_psql('postgres',
		q{SELECT option_value FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'gov')) WHERE option_name = 'public_key'}),
	"\\x$gov_key", 'bank stored the gov key it was given');

# The fingerprint a DBA reads out is the same computation on both sides.
is($bank->safe_psql('postgres', qq{SELECT pgpriv._fingerprint('\\x$gov_key'::bytea)}),
	$gov_fp, 'bank computes the fingerprint gov shows');

# A real libpq connection from bank to gov, authenticated by SCRAM: the bank
# reads gov's identity and checks it against the key it pinned.
$gov->safe_psql('postgres', q{CREATE ROLE bank_zs LOGIN PASSWORD 'pw'});
is($bank->safe_psql('postgres',
		q{SELECT encode(public_key, 'hex') || ' ' || matches FROM pgpriv.peer_identity('gov')}),
	"$gov_key true", 'bank reads gov identity over libpq and it matches the pinned key');

# A non-superuser analyst with a password mapping can do the same.
$bank->safe_psql('postgres', q{
	CREATE ROLE analyst LOGIN;
	GRANT USAGE ON FOREIGN SERVER gov TO analyst;
	CREATE USER MAPPING FOR analyst SERVER gov OPTIONS (user 'bank_zs', password 'pw');
});
is($bank->safe_psql('postgres', q{SET ROLE analyst; SELECT matches FROM pgpriv.peer_identity('gov')}),
	't', 'a non-superuser analyst reaches gov with its own password');
my ($rc, $out, $err) = $bank->psql('postgres', q{
	CREATE ROLE intern LOGIN; SET ROLE intern; SELECT * FROM pgpriv.peer_identity('gov')});
like($err, qr/permission denied for foreign server gov/, 'a role without USAGE on the server is refused');

# A wrong pinned key is reported (after the option change, a fresh connection is used).
$bank->safe_psql('postgres', q{ALTER SERVER gov OPTIONS (SET public_key '\x0101010101010101010101010101010101010101010101010101010101010101')});
is($bank->safe_psql('postgres', q{SELECT matches FROM pgpriv.peer_identity('gov')}),
	'f', 'a key mismatch is reported');
$bank->safe_psql('postgres', qq{ALTER SERVER gov OPTIONS (SET public_key '\\x$gov_key')});

# A wrong password is a connection error naming the peer (class 08).
$bank->safe_psql('postgres', q{ALTER USER MAPPING FOR analyst SERVER gov OPTIONS (SET password 'wrong')});
($rc, $out, $err) = $bank->psql('postgres', q{SET ROLE analyst; SELECT * FROM pgpriv.peer_identity('gov')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/08001: could not connect to peer "gov"/, 'bad credentials: SQLSTATE 08001 naming the peer');

# A mistyped key is refused at declaration time.
($rc, $out, $err) = $bank->psql('postgres', qq{
	CREATE SERVER gov2 FOREIGN DATA WRAPPER pgpriv OPTIONS (public_key '\\x${gov_key}00')});
isnt($rc, 0, 'a 33-byte key is refused');
like($err, qr/invalid value for option "public_key"/, 'the error names the option');

# Dump and restore keep the identity, datasets and permits (extension config tables).
$gov->safe_psql('postgres', q{
	CREATE TABLE tax (code text PRIMARY KEY, tax_grade text);
	INSERT INTO tax VALUES ('91310000MA1FL0TEST', 'A');
	SELECT pgpriv.publish('tax', 'SELECT code, tax_grade FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_zs', 'psi_fetch', '{tax_grade}', max_keys => 500);
});
my $key_before = $gov->safe_psql('postgres', q{SELECT encode(pgpriv._oprf_key('tax', 'bank_zs'), 'hex')});
my $dump = $gov->basedir . '/gov.dump';
$gov->command_ok([ 'pg_dump', '-Fc', '-d', $gov->connstr('postgres'), '-f', $dump ], 'pg_dump of gov');
$gov->safe_psql('postgres', 'CREATE DATABASE restored');
$gov->command_ok([ 'pg_restore', '-d', $gov->connstr('restored'), $dump ], 'pg_restore into a new database');

is($gov->safe_psql('restored', q{SELECT encode(public_key, 'hex') FROM pgpriv.identity()}),
	$gov_key, 'restored database keeps its identity');
is($gov->safe_psql('restored', q{SELECT dataset || ':' || peer_role || ':' || capability || ':' || max_keys FROM pgpriv.permits}),
	'tax:bank_zs:psi_fetch:500', 'restored database keeps its permits');
is($gov->safe_psql('restored', q{SELECT encode(pgpriv._oprf_key('tax', 'bank_zs'), 'hex')}),
	$key_before, 'restored database keeps its OPRF keys');
is($gov->safe_psql('restored', q{SELECT valid FROM pgpriv.audit_verify()}),
	't', 'restored audit chain verifies');

# A peer that is down: class 08 error naming it, and the bank's backend survives.
$gov->stop;
($rc, $out, $err) = $bank->psql('postgres', q{SELECT * FROM pgpriv.peer_identity('gov')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/08\d\d\d: (could not connect to|lost connection to) peer "gov"/, 'a stopped peer: class 08 naming it');
is($bank->safe_psql('postgres', 'SELECT 1'), '1', 'the bank backend is fine afterwards');

done_testing();
