# PgprivTest — set-up shared by the multi-node TAP tests under test/t.
#
#   pgpriv_setup($node, $conf)   initdb, loopback TCP with SCRAM (trust on the
#                                socket), $conf appended to postgresql.conf,
#                                start, CREATE EXTENSION pgpriv
#   start_relay($port, $capfile, $what)
#                                a recording TCP relay (tcp_relay.pl) in front
#                                of $port; asserts "$what listens on port N"
#                                and returns (handle, relay port)
#   read_capture($capfile)       everything the relay recorded so far
#   pinned_keys($node, $db)      "public_key '…', signing_key '…'" of the
#                                party in $db (default postgres), for the
#                                OPTIONS of a server that declares it
#   audit_failed($node, $where)  waits (up to 30 s) for the asker's audit row
#                                of a failed run matching $where (the
#                                background worker writes it just after the
#                                abort) and returns its outcome, or ''
#   liar_database($node, $db)    a database with pgpriv's identity (so it
#                                authenticates, after the version exchange)
#                                but none of its other serving
#                                functions, for a test's look-alikes that
#                                play a lying peer (serve_receipt answers
#                                with a receipt agreeing with the asker's);
#                                returns pinned_keys
#
# The tests run from the top of the tree (test/harness.pl), so they load this
# with `use lib 'test/tools'`.
package PgprivTest;

use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(pgpriv_setup start_relay read_capture pinned_keys liar_database audit_failed);

sub pgpriv_setup
{
	my ($node, $conf) = @_;
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
	$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'" . (defined $conf ? "\n$conf" : ''));
	open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die $!;
	print $hba "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
	close $hba;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pgpriv');
	return $node;
}

sub start_relay
{
	my ($target_port, $capfile, $what) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = $capfile =~ s/\.bin$//r;
	my $relay = IPC::Run::start([ $^X, 'test/tools/tcp_relay.pl', $port, $target_port, $capfile ],
		'<', \undef, '>', "$log.out", '2>', "$log.err");
	my $up = 0;
	for (1 .. 100) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
		if ($s) { close $s; $up = 1; last; }
		usleep(50_000);
	}
	ok($up, "$what listens on port $port");
	return ($relay, $port);
}

sub read_capture
{
	my ($capfile) = @_;
	open my $fh, '<', $capfile or return '';
	binmode $fh;
	local $/;
	my $c = <$fh>;
	close $fh;
	return $c // '';
}

sub pinned_keys
{
	my ($node, $db) = @_;
	return $node->safe_psql($db // 'postgres',
		q{SELECT pg_catalog.format('public_key %L, signing_key %L', pg_catalog.encode(public_key, 'hex'),
		                           pg_catalog.encode(signing_key, 'hex'))
		    FROM pgpriv.identity_card()});
}

sub audit_failed
{
	my ($node, $where) = @_;
	my $sql = "SELECT pg_catalog.string_agg(outcome, ';' ORDER BY id) FROM pgpriv.audit_log "
	  . "WHERE side = 'asker' AND outcome LIKE 'failed:%' AND ($where)";
	for (1 .. 300) {
		my $got = $node->safe_psql('postgres', $sql);
		return $got if $got ne '';
		usleep(100_000);
	}
	return '';
}

sub liar_database
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
		CREATE EXTENSION pgpriv;
		DO $$
		DECLARE
		  f pg_catalog.regprocedure;
		  kind text;
		BEGIN
		  FOR f, kind IN
		    SELECT p.oid::pg_catalog.regprocedure,
		           CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END
		      FROM pg_catalog.pg_proc AS p
		     WHERE p.pronamespace = 'pgpriv'::pg_catalog.regnamespace
		       AND p.proname LIKE 'serve\_%' AND p.proname NOT IN ('serve_hello', 'serve_version')
		  LOOP
		    EXECUTE pg_catalog.format('ALTER EXTENSION pgpriv DROP %s %s', kind, f);
		    EXECUTE pg_catalog.format('DROP %s %s', kind, f);
		  END LOOP;
		END
		$$;
		-- A run ends with signed receipts (docs/receipts.md): the look-alike
		-- signs one agreeing with the asker's, so a well-formed run completes.
		CREATE FUNCTION pgpriv.serve_receipt(run text, asker_statement bytea, asker_signature bytea)
		  RETURNS TABLE(owner_statement bytea, owner_signature bytea)
		  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
		  AS $$ SELECT * FROM pgpriv._receipt_countersign(asker_statement, asker_signature) $$;
	});
	return pinned_keys($node, $db);
}

1;
