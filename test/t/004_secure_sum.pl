# secure_sum between four parties: bank_a asks, banks b, c and d own loan
# books (and bank_a may contribute its own).  Covers totals and contributor
# counts against a model of the random data (empty, non-ASCII and missing
# keys, duplicated keys, NULL, negative and decimal values), the asker's own
# contribution, min_parties and other permit checks, participant keys
# checked against an owner's own peer definitions, values out of range, what
# one owner's reply looks like on its own, and an owner lost mid-run.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

# Fixed seed so a failure reproduces; PGPRIV_TEST_SEED overrides it.
test_seed(20240612);

# ---------------------------------------------------------------------------
# Clusters: loopback TCP, SCRAM passwords, UTF8 databases.
# ---------------------------------------------------------------------------
my %node;
for my $name (qw(a b c d)) {
	my $n = PostgreSQL::Test::Cluster->new("bank_$name");
	pgpriv_setup($n);
	$node{$name} = $n;
}
my $asker = $node{a};
my @owners = qw(b c d);
my %pk = map { $_ => $node{$_}->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM pgpriv.identity()}) }
  qw(a b c d);

# bank_a reaches every owner as role sum_peer; the owners pin each other's
# keys under the same server names (they never connect to each other).
for my $o (@owners) {
	$node{$o}->safe_psql('postgres', q{CREATE ROLE sum_peer LOGIN PASSWORD 'pw'});
	my $port = $node{$o}->port;
	$asker->safe_psql('postgres', qq{
		CREATE SERVER $o FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres', public_key '$pk{$o}');
		CREATE USER MAPPING FOR CURRENT_USER SERVER $o OPTIONS (user 'sum_peer', password 'pw');
	});
	for my $other (grep { $_ ne $o } @owners) {
		$node{$o}->safe_psql('postgres', qq{
			CREATE SERVER $other FOREIGN DATA WRAPPER pgpriv OPTIONS (public_key '$pk{$other}')});
	}
}

# ---------------------------------------------------------------------------
# Random loan books
# ---------------------------------------------------------------------------
my %used;
sub fresh_key { return random_key(\%used); }
my @special = awkward_keys(\%used);

my @pool = ((map { fresh_key() } 1 .. 400), @special);
my @missing = map { fresh_key() } 1 .. 40;    # asked, held by no one

# A random amount in units of 10^-4: negative ones, whole ones, decimals.
sub random_units
{
	my $r = rand();
	my $u = $r < 0.3 ? int(rand(1e6)) * 10000 : int(rand(1e11));
	return rand() < 0.2 ? -$u : $u;
}

# rows{party} = [ [code, units or undef], ... ]; model{party}{code} = sum (only non-NULL)
my (%rows, %model);
sub make_book
{
	my ($party, $share) = @_;
	for my $k (@pool) {
		next if rand() > $share;
		my $n = 1 + (rand() < 0.2 ? 1 + int(rand(2)) : 0);    # some duplicated keys
		for (1 .. $n) {
			my $u = rand() < 0.1 ? undef : random_units();
			push @{ $rows{$party} }, [ $k, $u ];
			$model{$party}{$k} += $u if defined $u;
		}
	}
	push @{ $rows{$party} }, [ fresh_key(), random_units() ] for 1 .. 50;    # not asked
	push @{ $rows{$party} }, [ undef, random_units() ];    # a NULL key is ignored
}

sub load_book
{
	my ($party, $table) = @_;
	$node{$party}->safe_psql('postgres',
		"CREATE TABLE $table (code text, amount numeric, note text);\n"
		  . "INSERT INTO $table VALUES "
		  . join(",\n", map {
				'(' . lit($_->[0]) . ', ' . (defined $_->[1] ? lit(fmt_units($_->[1], 4)) : 'NULL') . ", 'n')" }
			  @{ $rows{$party} })
		  . ";\n");
}

for my $o (@owners) {
	make_book($o, 0.5);
	load_book($o, 'public.loans');
	$node{$o}->safe_psql('postgres', q{
		SELECT pgpriv.publish('loans', 'SELECT code, amount, note FROM public.loans', 'code');
		SELECT pgpriv.permit('loans', 'sum_peer', 'secure_sum', '{amount}', min_parties => 2);
	});
}
make_book('a', 0.3);
load_book('a', 'public.own_loans');

my @asked = ((map { $pool[ int(rand(@pool)) ] } 1 .. 300), @missing, @special);
push @asked, map { $asked[ int(rand(@asked)) ] } 1 .. 30;    # duplicates count once
$asker->safe_psql('postgres',
	"CREATE TABLE asked (code text);\nINSERT INTO asked VALUES "
	  . join(', ', map { '(' . lit($_) . ')' } @asked, undef) . ";\n");

sub expected_rows
{
	my (@parties) = @_;
	my %seen;
	my @out;
	for my $k (grep { !$seen{$_}++ } @asked) {
		my ($total, $n) = (0, 0);
		for my $p (@parties) {
			next unless exists $model{$p}{$k};
			$total += $model{$p}{$k};
			$n++;
		}
		push @out, join('|', unpack('H*', $k), fmt_units($total, 4), $n);
	}
	return [ sort @out ];
}

my $sum_sql = sub {
	my ($peers, $ds, $q) = @_;
	return qq{SELECT encode(convert_to(key, 'UTF8'), 'hex') || '|' || total || '|' || contributors
	  FROM pgpriv.secure_sum('{$peers}', '$ds', 'amount', \$q\$$q\$q\$)};
};

sub check_rows
{
	my ($got, $want, $name) = @_;
	my @g = sort @$got;
	my $ok = is_deeply(\@g, $want, $name);
	if (!$ok) {
		my %w = map { $_ => 1 } @$want;
		my %gg = map { $_ => 1 } @g;
		diag('got ' . scalar(@g) . ' rows, want ' . scalar(@$want));
		diag("missing: $_") for (grep { !$gg{$_} } @$want)[0 .. 5];
		diag("extra: $_")   for (grep { !$w{$_} } @g)[0 .. 5];
	}
}

# ---------------------------------------------------------------------------
# 1. Totals and contributors equal the plain sums
# ---------------------------------------------------------------------------
my $want = expected_rows(@owners);
my @with_all = grep { (split /\|/)[2] == 3 } @$want;
my @with_none = grep { (split /\|/)[2] == 0 } @$want;
note(sprintf('%d distinct keys asked; %d held by all three owners, %d by none',
		scalar(@$want), scalar(@with_all), scalar(@with_none)));
cmp_ok(scalar(@with_all), '>', 5, 'the random data has keys held by every owner');
my $t0 = time;
check_rows([ lines($asker->safe_psql('postgres', $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked'))) ],
	$want, 'three owners: totals and contributors equal the plain sums, one row per distinct key');
note(sprintf('secure_sum over %d keys took %.2f s', scalar(@$want), time - $t0));
is($asker->safe_psql('postgres', q{SELECT pg_typeof(total)::text || ',' || pg_typeof(contributors)::text
	  FROM pgpriv.secure_sum('{b,c,d}', 'loans', 'amount', 'SELECT ''x''')}),
	'numeric,integer', 'result types are numeric and integer');
is($asker->safe_psql('postgres', $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked WHERE false')),
	'', 'no keys asked: no rows');
is($asker->safe_psql('postgres', q{SELECT total || '|' || contributors
	  FROM pgpriv.secure_sum('{b,c,d}', 'loans', 'amount', $$SELECT 'nobody-has-this'$$)}),
	'0.0000|0', 'a key no one holds: total 0, contributors 0');

# The owners' audit: one admitted and one completed run each per call that
# asked keys (a call with none does not reach the owners).
for my $o (@owners) {
	is($node{$o}->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE outcome = 'admitted') || ',' ||
		  count(*) FILTER (WHERE outcome = 'ok') FROM pgpriv.audit_log
		 WHERE side = 'owner' AND capability = 'secure_sum' AND peer = 'sum_peer'}),
		'3,3', "owner $o audits each run's admission and completion");
}
like($asker->safe_psql('postgres', q{SELECT keys_in || '|' || detail FROM pgpriv.audit_log
	 WHERE side = 'asker' AND capability = 'secure_sum' ORDER BY id LIMIT 1}),
	qr/^\d+\|run [0-9a-f]{32}; participants: b,c,d$/, 'the asker audits the keys and the participants');

# ---------------------------------------------------------------------------
# 2. The asker contributes its own dataset of that name
# ---------------------------------------------------------------------------
$asker->safe_psql('postgres',
	q{SELECT pgpriv.publish('loans', 'SELECT code, amount FROM public.own_loans', 'code')});
check_rows([ lines($asker->safe_psql('postgres', $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked'))) ],
	expected_rows('a', @owners), 'asker contributes: totals include its own book');
check_rows([ lines($asker->safe_psql('postgres', $sum_sql->('c,d', 'loans', 'SELECT code FROM asked'))) ],
	expected_rows('a', 'c', 'd'), 'asker and two owners');
like($asker->safe_psql('postgres', q{SELECT detail FROM pgpriv.audit_log
	 WHERE side = 'asker' AND capability = 'secure_sum' ORDER BY id DESC LIMIT 1}),
	qr/participants: c,d and this party$/, 'the asker audit says it contributed');
fails_with($asker, $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked') =~ s/'amount'/'note'/r,
	'42703', qr/this party's dataset "loans" has no column "note"/, 'asker contributes a column it lacks');

# ---------------------------------------------------------------------------
# 3. Permits: min_parties, columns, capability, participant keys
# ---------------------------------------------------------------------------
fails_with($asker, $sum_sql->('b', 'loans', 'SELECT code FROM asked'), '42501',
	qr/peer "b": permission denied: secure_sum on dataset "loans" needs at least 2 contributing parties besides the asker, this run has 1/,
	'fewer parties than min_parties (the asker does not count)');
# The refusal is the admission's: on record in b's audit, and nothing charged.
is($node{b}->safe_psql('postgres', q{SELECT outcome FROM pgpriv.audit_log
	 WHERE side = 'owner' AND capability = 'secure_sum' ORDER BY id DESC LIMIT 1}),
	'refused: permission denied: secure_sum on dataset "loans" needs at least 2 contributing parties besides the asker, this run has 1 (42501)',
	'the min_parties refusal is audited by the owner as a refusal');
is($node{b}->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log AS l
	 WHERE side = 'owner' AND capability = 'secure_sum' AND outcome = 'admitted'
	   AND NOT EXISTS (SELECT FROM pgpriv.audit_log AS c
	                    WHERE c.detail = l.detail AND c.outcome = 'ok')}), '0',
	'no run was admitted at b without completing');
$asker->safe_psql('postgres', q{SELECT pgpriv.unpublish('loans')});
fails_with($asker, $sum_sql->('c', 'loans', 'SELECT code FROM asked'), '42501', undef,
	'a single owner is refused by its min_parties');
$node{c}->safe_psql('postgres', q{SELECT pgpriv.permit('loans', 'sum_peer', 'secure_sum', '{amount}')});
is($asker->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.secure_sum('{c}', 'loans', 'amount', 'SELECT code FROM asked') WHERE contributors = 1}),
	scalar(grep { (split /\|/)[2] == 1 } @{ expected_rows('c') }), 'without min_parties one owner may answer alone (its total is its own)');
$node{c}->safe_psql('postgres', q{SELECT pgpriv.permit('loans', 'sum_peer', 'secure_sum', '{amount}', min_parties => 3)});
fails_with($asker, $sum_sql->('b,c', 'loans', 'SELECT code FROM asked'), '42501',
	qr/peer "c":.*needs at least 3/, 'min_parties 3 at c, two owners asked');
$node{c}->safe_psql('postgres', q{SELECT pgpriv.permit('loans', 'sum_peer', 'secure_sum', '{amount}', min_parties => 2)});

fails_with($asker, $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked') =~ s/'amount'/'note'/r,
	'42501', qr/may not sum column "note" of dataset "loans"/, 'a column outside the permit');
$node{d}->safe_psql('postgres', q{
	SELECT pgpriv.publish('psi_only', 'SELECT code, amount FROM public.loans', 'code');
	SELECT pgpriv.permit('psi_only', 'sum_peer', 'psi');
});
fails_with($asker, $sum_sql->('b,c,d', 'psi_only', 'SELECT code FROM asked'), '42501',
	qr/peer "b": permission denied: role "sum_peer" has no secure_sum permit on dataset "psi_only"/,
	'a dataset without a secure_sum permit (b has none at all)');
$node{b}->safe_psql('postgres', q{
	SELECT pgpriv.publish('psi_only', 'SELECT code, amount FROM public.loans', 'code');
	SELECT pgpriv.permit('psi_only', 'sum_peer', 'secure_sum', '{amount}');
});
$node{c}->safe_psql('postgres', q{
	SELECT pgpriv.publish('psi_only', 'SELECT code, amount FROM public.loans', 'code');
	SELECT pgpriv.permit('psi_only', 'sum_peer', 'secure_sum', '{amount}');
});
fails_with($asker, $sum_sql->('b,c,d', 'psi_only', 'SELECT code FROM asked'), '42501',
	qr/peer "d": permission denied: role "sum_peer" has no secure_sum permit on dataset "psi_only"/,
	'a psi permit does not allow secure_sum');

# c pins a different key for d than the asker sends: c refuses.
my $bogus = $asker->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM pgpriv.rotate_identity()});
$node{c}->safe_psql('postgres', qq{ALTER SERVER d OPTIONS (SET public_key '$bogus')});
fails_with($asker, $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked'), '42501',
	qr/peer "c": permission denied: participant "d" of this secure_sum run has a public key that contradicts this party's server "d"/,
	'a participant key that contradicts the owner\'s own server definition');
$node{c}->safe_psql('postgres', qq{ALTER SERVER d OPTIONS (SET public_key '$pk{d}')});

# The asker pins a wrong key for b: b fails authentication before anything
# of the run is sent.
$asker->safe_psql('postgres', qq{ALTER SERVER b OPTIONS (SET public_key '$pk{a}')});
fails_with($asker, $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked'), '28000',
	qr/peer "b" failed authentication/,
	'the asker pinned a stale key for an owner');
$asker->safe_psql('postgres', qq{ALTER SERVER b OPTIONS (SET public_key '$pk{b}')});
# A server without a key cannot take part.
$asker->safe_psql('postgres', q{ALTER SERVER d OPTIONS (DROP public_key)});
fails_with($asker, $sum_sql->('b,c,d', 'loans', 'SELECT code FROM asked'), '22023',
	qr/peer "d" has no public_key option/, 'a listed server without public_key');
$asker->safe_psql('postgres', qq{ALTER SERVER d OPTIONS (ADD public_key '$pk{d}')});

# Values that cannot be summed exactly are refused, never rounded or wrapped.
for my $case ([ 'inexact', '0.00001', qr/has more than 4 decimal places/ ],
	[ 'huge', '1e20', qr/out of range for secure_sum/ ],
	[ 'nan', 'NaN', qr/is not finite/ ]) {
	my ($ds, $v, $re) = @$case;
	for my $o (@owners) {
		$node{$o}->safe_psql('postgres', qq{
			SELECT pgpriv.publish('$ds', 'SELECT code, amount FROM public.loans UNION ALL SELECT ''k'', ''$v''::numeric', 'code');
			SELECT pgpriv.permit('$ds', 'sum_peer', 'secure_sum', '{amount}');
		});
	}
	my (undef, $err) = fails_with($asker, $sum_sql->('b,c,d', $ds, q{SELECT 'k'}), '22003', $re, "value $v");
	unlike($err, qr/\Q$v\E\b/i, "value $v: the error does not show the value") if $v ne 'NaN';
}
# Per-key totals are bounded so that the sum of all parties fits in a bigint.
for my $o (@owners) {
	$node{$o}->safe_psql('postgres', q{
		SELECT pgpriv.publish('edge', 'SELECT ''k'' AS code, 307445734561825.8602::numeric AS amount', 'code');
		SELECT pgpriv.permit('edge', 'sum_peer', 'secure_sum', '{amount}');
	});
}
is($asker->safe_psql('postgres', q{SELECT total || '|' || contributors FROM pgpriv.secure_sum('{b,c,d}', 'edge', 'amount', $$SELECT 'k'$$)}),
	'922337203685477.5806|3', 'the largest per-party figure for three parties adds up without wrapping');
$node{d}->safe_psql('postgres', q{
	SELECT pgpriv.publish('edge', 'SELECT ''k'' AS code, 307445734561825.8603::numeric AS amount', 'code')});
fails_with($asker, q{SELECT * FROM pgpriv.secure_sum('{b,c,d}', 'edge', 'amount', $$SELECT 'k'$$)}, '22003',
	qr/peer "d":.*out of range/, 'one unit more is refused by that owner');

# ---------------------------------------------------------------------------
# 4. One owner's reply on its own looks nothing like its figures
# ---------------------------------------------------------------------------
{
	my $b_port = $node{b}->port;
	my $as_peer = "host=127.0.0.1 port=$b_port dbname=postgres user=sum_peer password=pw";
	my @keys = (sort grep { exists $model{b}{$_} } keys %{ $model{b} })[0 .. 29];
	my $wire = sub {
		my ($type, @items) = @_;
		my $m = pack('C C N N', 1, $type, scalar(@items), 0);
		$m .= pack('N', length($_)) . $_ for @items;
		return "'\\x" . unpack('H*', $m) . "'::bytea";
	};
	my $capture = sub {
		my ($run, $session) = @_;
		my $parts = $wire->(16, $session, map { pack('C', 1) . pack('H*', $pk{$_}) . $_ } @owners);
		my ($rc, $out, $err) = $node{b}->psql('postgres',
			version_exchange() . "CALL pgpriv.serve_admit('loans', 'secure_sum', '$run', " . scalar(@keys) . ");\n"
			  . "SELECT pgpriv.serve_sum_begin('loans', '$run', 'amount', $parts);\n"
			  . "SELECT encode(pgpriv.serve_sum_batch('$run', " . $wire->(17, @keys) . "), 'hex');\n",
			connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
		is($err, '', "capture $run: the owner serves a run admitted by hand");
		my ($hex) = $out =~ /^([0-9a-f]{20,})$/m;
		my $bytes = pack('H*', $hex // '');
		my ($ver, $type, $count, $size) = unpack('C C N N', $bytes);
		is("$type,$count,$size", '18,' . scalar(@keys) . ',16', "capture $run: one figure of 16 bytes per key");
		return [ map { [ unpack('Q> Q>', substr($bytes, 10 + 16 * $_, 16)) ] } 0 .. $#keys ];
	};
	my $s1 = join '', map { chr(int(rand(256))) } 1 .. 32;
	my $s2 = join '', map { chr(int(rand(256))) } 1 .. 32;
	my $r1 = $capture->('capture-1', $s1);
	my $r2 = $capture->('capture-2', $s2);
	my $plain = 0;
	my $flag = 0;
	my $same = 0;
	for my $i (0 .. $#keys) {
		my $u = unpack('Q>', pack('q>', $model{b}{ $keys[$i] }));
		$plain++ if $r1->[$i][0] == $u || $r2->[$i][0] == $u;
		$flag++ if $r1->[$i][1] <= 1 || $r2->[$i][1] <= 1;
		$same++ if $r1->[$i][0] == $r2->[$i][0] || $r1->[$i][1] == $r2->[$i][1];
	}
	is($plain, 0, 'no value field of the reply equals the owner\'s plain figure');
	is($flag, 0, 'no presence field of the reply is a plain 0 or 1');
	is($same, 0, 'two runs give different replies for every key');
	is($node{b}->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log
		 WHERE side = 'owner' AND detail IN ('run capture-1', 'run capture-2') AND outcome = 'ok'}),
		'2', 'the hand-made runs are completed in the owner\'s audit');
	my ($rc, $out, $err) = $node{b}->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('loans', 'secure_sum', 'capture-3', 1);\n"
		  . "SELECT pgpriv.serve_sum_begin('loans', 'capture-3', 'amount', "
		  . $wire->(16, $s1, map { pack('C', 1) . pack('H*', $pk{$_}) . $_ } @owners) . ");\n"
		  . "SELECT length(pgpriv.serve_sum_batch('capture-3', " . $wire->(17, @keys[0, 1]) . "));\n",
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:.*More keys than the 1 admitted/s, 'more keys than admitted are refused (08P01)');
	($rc, $out, $err) = $node{b}->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('loans', 'secure_sum', 'capture-4', 2);\n"
		  . "SELECT pgpriv.serve_sum_begin('loans', 'capture-4', 'amount', "
		  . $wire->(16, $s1, map { pack('C', 1) . pack('H*', $pk{$_}) . $_ } @owners) . ");\n"
		  . "SELECT length(pgpriv.serve_sum_batch('capture-4', " . $wire->(17, @keys[1, 0]) . "));\n",
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:.*strictly ascending/s, 'keys out of order are refused (08P01)');
}

# ---------------------------------------------------------------------------
# 5. An owner lost mid-run: class 08 naming it, no totals
# ---------------------------------------------------------------------------
$node{d}->safe_psql('postgres', q{
	CREATE TABLE public.slow_conf (secs float8);
	INSERT INTO public.slow_conf VALUES (60);
	CREATE FUNCTION public.slow_gate() RETURNS boolean LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_sleep((SELECT secs FROM public.slow_conf)); RETURN true; END $$;
	SELECT pgpriv.publish('slow', 'SELECT code, amount FROM public.loans WHERE (SELECT public.slow_gate())', 'code');
	SELECT pgpriv.permit('slow', 'sum_peer', 'secure_sum', '{amount}');
});
for my $o (qw(b c)) {
	$node{$o}->safe_psql('postgres', q{
		SELECT pgpriv.publish('slow', 'SELECT code, amount FROM public.loans', 'code');
		SELECT pgpriv.permit('slow', 'sum_peer', 'secure_sum', '{amount}');
	});
}
{
	my $bg = bg_psql($asker, qq{SELECT 'pid:' || pg_backend_pid();
		@{[ $sum_sql->('b,c,d', 'slow', 'SELECT code FROM asked') ]};
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'again:' || count(*) FROM pgpriv.secure_sum('{b,c,d}', 'loans', 'amount', 'SELECT code FROM asked');
	}, 'bg_sum_lost');
	ok(wait_for($node{d}, q{SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE usename = 'sum_peer' AND state = 'active' AND query LIKE '%serve_sum_begin%'}, 60),
		'owner lost: d is reading its slow dataset');
	ok(wait_for($asker, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE capability = 'secure_sum' AND dataset = 'slow' AND phase LIKE 'asker:%'}, 10),
		'owner lost: the asker shows its run in pgpriv.progress');
	is($node{d}->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE usename = 'sum_peer' AND query LIKE '%serve_sum_begin%'}), '1',
		'owner lost: its serving backend is terminated');
	$bg->{h}->finish;
	my ($out, $err) = (${ $bg->{out} }, ${ $bg->{err} });
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "d"/, 'owner lost: class 08 error naming the peer');
	unlike($out, qr/\|/, 'owner lost: no totals at all');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'owner lost: the asker backend survives');
	like($out, qr/^again:\d+$/m, 'owner lost: the next run in the same session reconnects and works');
	is($asker->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'no asker progress row left');
	is($asker->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log
		 WHERE side = 'asker' AND dataset = 'slow' AND outcome = 'ok'}), '0', 'no asker audit row claims the lost run');
	like(audit_failed($asker, q{dataset = 'slow' AND capability = 'secure_sum'}), qr/^failed: peer lost/,
		'owner lost: the asker audits the run as failed: peer lost');
}

for my $n (values %node) {
	is($n->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't',
		$n->name . ': the audit chain verifies');
}
ok(!grep({ $_->log_contains(qr/terminated by signal/) } values %node), 'no backend crashed');

done_testing();
