# PgprivTest — set-up shared by the multi-node TAP tests under test/t.
#
#   pgpriv_setup($node, $conf)   initdb, loopback TCP with SCRAM (trust on the
#                                socket), $conf appended to postgresql.conf,
#                                start, CREATE EXTENSION pgpriv
#   pgpriv_pair($conf)           the owner 'gov' and the asker 'bank', each
#                                set up by pgpriv_setup($node, $conf)
#   test_seed($default)          srand from PGPRIV_TEST_SEED, else $default,
#                                and a note saying which; returns the seed
#   start_relay($port, $capfile, $what)
#                                a recording TCP relay (tcp_relay.pl) in front
#                                of $port; asserts "$what listens on port N"
#                                and returns (handle, relay port)
#   read_capture($capfile)       everything the relay recorded so far
#   capture_relay($node)         start_relay in front of $node with a fresh
#                                capture file; returns (handle, relay port,
#                                a sub giving everything recorded so far)
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
#   version_exchange()           the SQL a 0.2.0 asker runs first on each
#                                connection (pgpriv.serve_version, its
#                                answer kept in psql variables, printing
#                                nothing), for a test that plays the asker
#                                from psql: the owner's serve_hello and
#                                serve_admit refuse a session without it
#   lit($s)                      SQL literal of $s, NULL for undef
#                                (standard_conforming_strings: only quotes
#                                are doubled)
#   hexkey($bytes)               hex of a byte string
#   lines($s)                    the rows of psql output $s ('' → none; one
#                                final newline ends the last row, an empty
#                                last row before it is kept)
#   random_key(\%used, %o)       a key not yet in %used (which then holds
#                                it): o{prefix} ('9131'), o{letters} (10)
#                                capitals or digits, and in a share
#                                o{han_share} (0.15) of keys o{han} (3) Han
#                                characters, as UTF-8 bytes: keys that
#                                cannot occur by chance
#   awkward_keys(\%used)         keys that break naive code (empty, CJK,
#                                emoji, quotes, dollar quotes, a trailing
#                                blank, case), UTF-8, marked used
#   fmt_units($u, $d)            integer units of 10^-$d as decimal text
#   to_units($s, $d)             decimal text as integer units of 10^-$d,
#                                exactly (undef if not a number with at
#                                most $d decimals)
#   vpsql($node, $sql, %o)       psql with verbose errors; returns (rc,
#                                stdout, stderr).  o: db (postgres), user,
#                                extra (more psql arguments), and any
#                                option of Cluster::psql (on_error_stop,
#                                default 1; timeout; connstr)
#   fails_with($node, $sql, $state, $re, $name, %o)
#                                asserts $sql fails with SQLSTATE $state,
#                                stderr matching $re (if defined) and
#                                showing none of the strings in
#                                secrets => [...]; other o as vpsql's.
#                                Returns stderr, or (stdout, stderr) in
#                                list context
#   wait_for($node, $sql, $secs) polls $sql until it returns 't' (every
#                                50 ms, up to $secs, default 60); 1 or 0
#   bg_psql($node, $sql, $appname, %o)
#                                psql in the background on a file holding
#                                $sql (ON_ERROR_STOP off, verbose), with
#                                application_name $appname; o: timeout
#                                (default 300 s)
#   bg_finish($bg)               waits for it; returns (stdout, stderr)
#   psql_session($node, $db, %o) one psql session kept open across calls
#                                (o: extra_params, timeout); then
#   session_run($s, $sql)        runs $sql in it, waits until psql has done
#                                it, returns (stdout, stderr) of that part
#   session_close($s)            ends it, returns psql's exit status
#                                (the test can restart a node through its
#                                object between two calls of one session)
#
# The tests run from the top of the tree (test/harness.pl), so they load this
# with `use lib 'test/tools'`.
package PgprivTest;

use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(pgpriv_setup pgpriv_pair start_relay read_capture capture_relay pinned_keys liar_database audit_failed
  version_exchange psql_session session_run session_close
  lit hexkey vpsql fails_with wait_for bg_psql bg_finish
  lines random_key awkward_keys fmt_units to_units is_list test_seed);

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

# The data owner 'gov' and the asker 'bank', each set up by pgpriv_setup.
sub pgpriv_pair
{
	my ($conf) = @_;
	my $gov  = PostgreSQL::Test::Cluster->new('gov');
	my $bank = PostgreSQL::Test::Cluster->new('bank');
	pgpriv_setup($_, $conf) for ($gov, $bank);
	return ($gov, $bank);
}

# Seed rand() reproducibly, from PGPRIV_TEST_SEED or the test's default.
sub test_seed
{
	my ($default) = @_;
	my $seed = $ENV{PGPRIV_TEST_SEED} // $default;
	srand($seed);
	note("random seed: $seed (set PGPRIV_TEST_SEED to change it)");
	return $seed;
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

sub capture_relay
{
	my ($node) = @_;
	my $capfile = PostgreSQL::Test::Utils::tempdir() . '/capture.bin';
	my ($relay, $port) = start_relay($node->port, $capfile, 'the relay');
	return ($relay, $port, sub { return read_capture($capfile); });
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

sub version_exchange
{
	return "SELECT v.version AS peer_version, v.protocol AS peer_protocol "
	  . "FROM pgpriv.serve_version('0.2.0', 2) AS v \\gset\n";
}

sub psql_session
{
	my ($node, $db, %o) = @_;
	my ($in, $out, $err) = ('', '', '');
	my $timer = IPC::Run::timeout($o{timeout} // 180);
	my $h = IPC::Run::start(
		[
			$node->installed_command('psql'), '-XAtq', '-v', 'ON_ERROR_STOP=0',
			@{ $o{extra_params} // [] }, '-d', $node->connstr($db // 'postgres')
		],
		'<', \$in, '>', \$out, '2>', \$err, $timer);
	return { h => $h, in => \$in, out => \$out, err => \$err, timer => $timer, n => 0 };
}

# A marker echoed on both streams after $sql: psql has run all of $sql once
# both show it (its errors are written before it goes on to the next line).
sub session_run
{
	my ($s, $sql) = @_;
	my $mark = '__pgpriv_session_' . ++$s->{n} . '__';
	${ $s->{out} } = '';
	${ $s->{err} } = '';
	${ $s->{in} } .= "$sql\n\\echo $mark\n\\warn $mark\n";
	$s->{h}->pump
	  until (${ $s->{out} } =~ /^\Q$mark\E$/m && ${ $s->{err} } =~ /^\Q$mark\E$/m);
	my ($out, $err) = (${ $s->{out} }, ${ $s->{err} });
	s/^\Q$mark\E\n//m for ($out, $err);
	return ($out, $err);
}

sub session_close
{
	my ($s) = @_;
	${ $s->{in} } .= "\\q\n";
	$s->{h}->finish;
	return $? >> 8;
}

# is_deeply on two lists of rows in any order; on a mismatch the counts and
# the first ten rows missing and extra as diagnostics.
sub is_list
{
	my ($got, $want, $name) = @_;
	my @g = sort @$got;
	my @w = sort @$want;
	my $ok = is_deeply(\@g, \@w, $name);
	if (!$ok) {
		my %w = map { $_ => 1 } @w;
		my %g = map { $_ => 1 } @g;
		diag('got ' . scalar(@g) . ' rows, want ' . scalar(@w));
		diag("missing: $_") for (grep { !$g{$_} } @w)[0 .. 9];
		diag("extra: $_")   for (grep { !$w{$_} } @g)[0 .. 9];
	}
	return $ok;
}

sub lit
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	(my $q = $s) =~ s/'/''/g;
	return "'$q'";
}

sub hexkey { return unpack('H*', $_[0]); }

sub lines { my ($s) = @_; $s =~ s/\n\z//; return $s eq '' ? () : split /\n/, $s, -1; }

my @han = map { chr($_) } (0x4E00 .. 0x4E00 + 300);

sub random_key
{
	my ($used, %o) = @_;
	my ($prefix, $letters, $han, $share) =
	  ($o{prefix} // '9131', $o{letters} // 10, $o{han} // 3, $o{han_share} // 0.15);
	for (;;) {
		my $k = $prefix;
		$k .= ('A' .. 'Z', '0' .. '9')[ int(rand(36)) ] for 1 .. $letters;
		if (rand() < $share) {
			my $h = join '', map { $han[ int(rand(@han)) ] } 1 .. $han;
			utf8::encode($h);
			$k .= $h;
		}
		next if $used->{$k}++;
		return $k;
	}
}

sub awkward_keys
{
	my ($used) = @_;
	my @k = ('', "\x{4e0a}\x{6d77}\x{67d0}\x{67d0}\x{79d1}\x{6280}\x{6709}\x{9650}\x{516c}\x{53f8}", "\x{1F3E6} emoji",
		q{O'Brien "q" \b}, '$$d$$', 'trailing ', 'CaseKey', 'casekey');
	for (@k) { utf8::encode($_) if utf8::is_utf8($_); $used->{$_}++; }
	return @k;
}

sub fmt_units
{
	my ($u, $d) = @_;
	my $neg = $u < 0;
	$u = -$u if $neg;
	my $p = 10**$d;
	my $q = int($u / $p);
	return sprintf('%s%d.%0*d', $neg ? '-' : '', $q, $d, $u - $q * $p);
}

sub to_units
{
	my ($s, $d) = @_;
	return undef unless defined $s && $s =~ /^(-?)(\d*)(?:\.(\d*))?$/;
	my ($neg, $int, $frac) = ($1, $2, $3 // '');
	return undef if length($frac) > $d || ($int eq '' && $frac eq '');
	my $v = 0 + (($int eq '' ? '0' : $int) . $frac . ('0' x ($d - length($frac))));
	return $neg ? -$v : $v;
}

sub vpsql
{
	my ($node, $sql, %o) = @_;
	my $db = delete $o{db} // 'postgres';
	my $user = delete $o{user};
	my $extra = delete $o{extra} // [];
	return $node->psql($db, $sql, %o,
		extra_params => [ '-v', 'VERBOSITY=verbose', (defined $user ? ('-U', $user) : ()), @$extra ]);
}

sub fails_with
{
	my ($node, $sql, $state, $re, $name, %o) = @_;
	my $secrets = delete $o{secrets} // [];
	my ($rc, $out, $err) = vpsql($node, $sql, %o);
	my $ok = ok($rc != 0 && $err =~ /ERROR:\s+\Q$state\E:/, "$name: SQLSTATE $state");
	diag("rc=$rc\nstdout: " . substr($out, 0, 500) . "\nstderr: $err") unless $ok;
	like($err, $re, "$name: the error names what it should") if defined $re;
	for my $s (@$secrets) {
		unlike($err, qr/\Q$s\E/, "$name: the error does not show the value $s");
	}
	return wantarray ? ($out, $err) : $err;
}

sub wait_for
{
	my ($node, $sql, $secs) = @_;
	my $deadline = time + ($secs // 60);
	while (time < $deadline) {
		return 1 if $node->safe_psql('postgres', $sql) eq 't';
		usleep(50_000);
	}
	return 0;
}

my $bg_n = 0;
sub bg_psql
{
	my ($node, $sql, $appname, %o) = @_;
	my $file = PostgreSQL::Test::Utils::tempdir() . '/bg' . (++$bg_n) . '.sql';
	open my $fh, '>', $file or die $!;
	print $fh $sql;
	close $fh;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			$node->installed_command('psql'), '-XAtq',
			'-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=0',
			'-d', $node->connstr('postgres') . " application_name=$appname",
			'-f', $file
		],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($o{timeout} // 300));
	return { h => $h, out => \$out, err => \$err };
}

sub bg_finish
{
	my ($bg) = @_;
	$bg->{h}->finish;
	return (${ $bg->{out} }, ${ $bg->{err} });
}

1;
