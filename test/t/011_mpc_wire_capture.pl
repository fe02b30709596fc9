# joint_score on the wire: the bank reaches gov through a small TCP relay
# that records every byte both ways (sslmode=disable).  The bank runs
# joint_score in the score mode and the threshold mode, and mpc_selftest.
# Neither gov's feature values nor the bank's weights, local features or
# threshold appear in the capture as their fixed-point encodings
# round(x * 2^16) (8-byte little- and big-endian int64, raw or as hex), nor as
# their text; nor do the scores (their text, or the exact sum at scale 2^32).
# The keys DO appear: joint_score sends them to the owner by design (the
# owner looks its rows up), and this test asserts it as documentation.
# Controls: the same search finds every pattern in a buffer made of the
# capture with the patterns inserted, and finds the values a plain SELECT
# through the relay sends.  Gov's audit log and server log (which logs every
# serving call with its parameters) hold none of the bank's inputs either.
use strict;
use warnings;
use IPC::Run;
use IO::Socket::INET;
use Math::BigInt;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

test_seed(20240621);

my ($gov, $bank) = pgpriv_pair();
my $gov_port = $gov->port;

# ---------------------------------------------------------------------------
# The relay: 127.0.0.1:$relay_port <-> gov, both directions appended to a file.
# ---------------------------------------------------------------------------
my ($relay, $relay_port, $capture) = capture_relay($gov);
sub capture { return $capture->(); }

my ($pk, $sk) = split /\|/, $gov->safe_psql('postgres',
	q{SELECT encode(public_key, 'hex') || '|' || encode(signing_key, 'hex') FROM pgpriv.identity_card()});
$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw_bank'});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$relay_port', dbname 'postgres', sslmode 'disable',
	           public_key '$pk', signing_key '$sk');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw_bank');
});

# ---------------------------------------------------------------------------
# Data: distinctive values, kept as integer units of 10^-4.  Every value has
# 300 <= |x| < 8000 and four decimals, so its encoding round(x * 2^16) has
# four significant bytes, and its text at least eight characters.
# ---------------------------------------------------------------------------

sub fmt4 { return fmt_units($_[0], 4); }

my %taken;
sub distinct_units
{
	my ($lo, $hi) = @_;    # |units| in [lo, hi), last digit not 0, never seen before
	for (;;) {
		my $u = $lo + int(rand($hi - $lo));
		next if $u % 10 == 0 || $taken{$u}++;
		return rand() < 0.5 ? -$u : $u;
	}
}

my @feat = qw(f1 f2 f3 f4);
my @keys = map { sprintf('WKEY-5e1d-%03d', $_) } 1 .. 80;
my $utf8_key = "WKEY-5e1d-\x{94B1}\x{5E84}";
utf8::encode($utf8_key);
push @keys, $utf8_key;
my @absent = map { sprintf('WKEY-5e1d-none-%02d', $_) } 1 .. 8;

my %gov_val;    # key -> { f => units }
for my $k (@keys) {
	$gov_val{$k}{$_} = distinct_units(3_000_000, 80_000_000) for @feat;
}
$gov->safe_psql('postgres',
	"CREATE TABLE public.features (code text, f1 numeric, f2 numeric, f3 numeric, f4 numeric);\n"
	  . 'INSERT INTO public.features VALUES '
	  . join(",\n", map { my $k = $_; '(' . join(', ', lit($k), map { fmt4($gov_val{$k}{$_}) } @feat) . ')' } @keys)
	  . ";\n" . q{
	SELECT pgpriv.publish('scores', 'SELECT code, f1, f2, f3, f4 FROM public.features', 'code');
	SELECT pgpriv.permit('scores', 'bank_role', 'mpc', '{f1,f2,f3,f4}');
});

my @ask = (@keys, @absent);
my %local;    # key -> { income, rate }
for my $k (@ask) {
	$local{$k} = { income => distinct_units(3_000_000, 80_000_000), rate => distinct_units(3_000_000, 80_000_000) };
}
my $i = 0;
$bank->safe_psql('postgres',
	"CREATE TABLE applicants (id int, code text, income numeric, rate numeric);\n"
	  . 'INSERT INTO applicants VALUES '
	  . join(",\n", map { '(' . (++$i) . ', ' . lit($_) . ', ' . fmt4($local{$_}{income}) . ', ' . fmt4($local{$_}{rate}) . ')' } @ask)
	  . ";\n");

my %w = map { $_ => distinct_units(100_000, 1_000_000) } (@feat, 'income', 'rate');    # ±10 .. ±100
my $wjson = '{' . join(', ', map { qq{"$_": } . fmt4($w{$_}) } sort keys %w) . '}';
note("weights: $wjson");

# Fixed-point encodings, exactly: round(u / 10^4 * 2^s), halves away from 0.
sub enc
{
	my ($u, $s) = @_;
	my $n = Math::BigInt->new(abs($u))->blsft($s)->badd(5000)->bdiv(10000);
	return $u < 0 ? $n->bneg : $n;
}

# The plain scores (units of 10^-8) and the exact sums at scale 2^32.
my (%exact, %sum32, %bound);
for my $k (@keys) {
	my ($e, $abs) = (0, 0);
	my $s = Math::BigInt->new(0);
	for my $n (sort keys %w) {
		my $x = exists $local{$k}{$n} ? $local{$k}{$n} : $gov_val{$k}{$n};
		$e += $x * $w{$n};
		$abs += abs($x) + abs($w{$n});
		$s->badd(enc($x, 16)->bmul(enc($w{$n}, 16)));
	}
	$exact{$k} = $e;
	$sum32{$k} = $s;
	$bound{$k} = $abs * 1e-4 * 2**-17 * 1e8 + scalar(keys %w) * 2**-34 * 1e8 + 50;
}
my @sorted = sort { $a <=> $b } values %exact;
my $t = int($sorted[ int(@sorted / 2) ] / 10000) + 1234;    # units of 10^-4, near the median
$t += 1 if $t % 10 == 0;
note('threshold: ' . fmt4($t));

# ---------------------------------------------------------------------------
# The runs, through the relay
# ---------------------------------------------------------------------------
my $kq = 'SELECT code, income, rate FROM applicants ORDER BY id';
my $line = q{encode(convert_to(r.key, 'UTF8'), 'hex') || '|' || coalesce(r.score::text, 'N') || '|' || coalesce(r.flag::text, 'N')};
my %got;
for my $mode ('score', 'threshold') {
	my $thr = $mode eq 'threshold' ? ', ' . fmt4($t) : '';
	my ($rc, $out, $err) = $bank->psql('postgres',
		"SELECT $line FROM pgpriv.joint_score('gov', 'scores', \$q\$$kq\$q\$, '$wjson'$thr) WITH ORDINALITY AS r(key, score, flag, n) ORDER BY r.n",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	is($err, '', "$mode mode through the relay: no error");
	$got{$mode} = [ split /\n/, $out ];
}
{
	my ($bad_s, $bad_f, $near) = (0, 0, 0);
	is(scalar(@{ $got{score} }), scalar(@ask), 'score mode: one row per key asked');
	is(scalar(@{ $got{threshold} }), scalar(@ask), 'threshold mode: one row per key asked');
	for my $j (0 .. $#ask) {
		my $k = $ask[$j];
		my ($hk, $score) = split /\|/, $got{score}[$j] // '';
		my (undef, undef, $flag) = split /\|/, $got{threshold}[$j] // '';
		$hk //= '';
		if (!exists $exact{$k}) {
			$bad_s++ unless $hk eq unpack('H*', $k) && ($score // '') eq 'N';
			$bad_f++ unless ($flag // '') eq 'N';
			next;
		}
		my $s8 = to_units($score, 8);
		$bad_s++ unless $hk eq unpack('H*', $k) && defined $s8 && abs($s8 - $exact{$k}) <= $bound{$k};
		if (abs($exact{$k} - $t * 10000) <= $bound{$k}) { $near++; next; }
		$bad_f++ unless ($flag // '') eq ($exact{$k} >= $t * 10000 ? 'true' : 'false');
	}
	is($bad_s, 0, 'score mode: keys in order, scores within the bound, NULL for absent keys');
	is($bad_f, 0, "threshold mode: flags exact away from the threshold ($near rows near it)");
}
my %selftest;
for my $l (split /\n/, $bank->safe_psql('postgres',
		q{SELECT part || '|' || failures FROM pgpriv.mpc_selftest('gov', 'scores', 500, 64)})) {
	my ($p, $f) = split /\|/, $l;
	$selftest{$p} = $f;
}
is(join(',', map { "$_=" . ($selftest{$_} // 'missing') } qw(setup beaver_triples multiplications comparisons)),
	'setup=0,beaver_triples=0,multiplications=0,comparisons=0', 'mpc_selftest through the relay: every part, no failures');

my $cap = capture();
note(sprintf('captured %d bytes between the bank and gov', length($cap)));
cmp_ok(length($cap), '>', 100_000, 'the capture holds the runs\' traffic');
for my $fn (qw(serve_admit serve_mpc_begin serve_mpc_flight)) {
	ok(index($cap, $fn) >= 0, "control: the capture saw the calls to $fn");
}

# ---------------------------------------------------------------------------
# The search: all patterns at once (a regex alternation of literals), over
# the bytes as they are and over their lowercase hex form.
# ---------------------------------------------------------------------------
sub found_in
{
	my ($hay, @pats) = @_;
	my %p = map { $_ => 1 } grep { length($_) >= 6 } @pats;
	return () unless %p;
	my %found;
	for my $pass ([ $hay, { map { $_ => $_ } keys %p } ], [ lc($hay), { map { lc(unpack('H*', $_)) => $_ } keys %p } ]) {
		my ($h, $map) = @$pass;
		my $re = join '|', map { quotemeta } sort { length($b) <=> length($a) } keys %$map;
		$re = qr/($re)/;
		while ($h =~ /$re/g) { $found{ $map->{$1} } = 1; }
	}
	return keys %found;
}

sub show { return join(', ', map { /[^\x20-\x7e]/ ? '0x' . unpack('H*', $_) : $_ } @_[ 0 .. ($#_ > 4 ? 4 : $#_) ]); }

sub le64 { return pack('q<', '' . $_[0]); }
sub be64 { return pack('q>', '' . $_[0]); }
sub text_forms
{
	my ($u) = @_;
	my $s = fmt4($u);
	(my $trim = $s) =~ s/\.?0+$//;
	return ($s, $trim);
}

my %groups = (
	"gov's feature values as LE int64 round(x*2^16)" => [ map { le64(enc($_, 16)) } map { values %$_ } values %gov_val ],
	"gov's feature values as BE int64 round(x*2^16)" => [ map { be64(enc($_, 16)) } map { values %$_ } values %gov_val ],
	"gov's feature values as text" => [ map { text_forms($_) } map { values %$_ } values %gov_val ],
	"the bank's weights as LE int64 round(w*2^16)" => [ map { le64(enc($_, 16)) } values %w ],
	"the bank's weights as BE int64 round(w*2^16)" => [ map { be64(enc($_, 16)) } values %w ],
	"the bank's weights as text" => [ map { text_forms($_) } values %w ],
	"the bank's local features as LE int64 round(x*2^16)" => [ map { le64(enc($_, 16)) } map { values %$_ } values %local ],
	"the bank's local features as BE int64 round(x*2^16)" => [ map { be64(enc($_, 16)) } map { values %$_ } values %local ],
	"the bank's local features as text" => [ map { text_forms($_) } map { values %$_ } values %local ],
	"the threshold as LE int64 at scale 2^16 and 2^32" => [ le64(enc($t, 16)), le64(enc($t, 32)) ],
	"the threshold as BE int64 at scale 2^16 and 2^32" => [ be64(enc($t, 16)), be64(enc($t, 32)) ],
	"the threshold as text" => [ text_forms($t) ],
	"the scores as LE int64 at scale 2^32" => [ map { le64($_) } values %sum32 ],
	"the scores as BE int64 at scale 2^32" => [ map { be64($_) } values %sum32 ],
	"the scores as returned (text)" => [ map { (split /\|/)[1] } grep { !/\|N\|/ } @{ $got{score} } ],
);
my $npat = 0;
for my $g (sort keys %groups) {
	my @found = found_in($cap, @{ $groups{$g} });
	ok(!@found, "wire: $g do not appear (" . scalar(@{ $groups{$g} }) . ' patterns)')
	  or diag('found: ' . show(@found));
	$npat += @{ $groups{$g} };
}

# Control: the capture with every pattern inserted between its bytes.
{
	my @all = grep { length($_) >= 6 } map { @$_ } values %groups;
	my %uniq = map { $_ => 1 } @all;
	my @pats = keys %uniq;
	my @offs = sort { $a <=> $b } map { int(rand(length($cap))) } @pats;
	my ($buf, $prev) = ('', 0);
	for my $j (0 .. $#pats) {
		$buf .= substr($cap, $prev, $offs[$j] - $prev) . "\x{1}" x 8 . $pats[$j] . "\x{1}" x 8;
		$prev = $offs[$j];
	}
	$buf .= substr($cap, $prev);
	my @found = found_in($buf, @pats);
	is(scalar(@found), scalar(@pats), 'control: the search finds all ' . scalar(@pats) . ' patterns inserted into the capture');
	# And in hex, as a text-format bytea would carry them.
	my $hexbuf = join('xx', map { unpack('H*', $_) } @pats);
	@found = found_in($hexbuf, @pats);
	is(scalar(@found), scalar(@pats), 'control: and all of them as hex');
}

# The leakage joint_score has by design: the owner receives every key asked.
{
	my @missing = grep { index($cap, $_) < 0 && index(lc($cap), unpack('H*', $_)) < 0 } @ask;
	ok(!@missing, 'by design: gov receives every key asked, in clear, including keys it does not hold and the non-ASCII key')
	  or diag(scalar(@missing) . ' keys absent, e.g. ' . show(@missing));
}

# Control: a plain SELECT through the same relay shows the values.
{
	my $before = length(capture());
	$gov->safe_psql('postgres', q{GRANT SELECT ON public.features TO bank_role});
	my $conn = "host=127.0.0.1 port=$relay_port dbname=postgres user=bank_role password=pw_bank sslmode=disable";
	my ($rc, $out, $err) = $gov->psql('postgres',
		q{SELECT code, f1, f2, f3, f4, int8send(round(f1 * 65536)::bigint) FROM public.features}, connstr => $conn);
	is($err, '', 'control: a plain SELECT through the relay works');
	my $control = substr(capture(), $before);
	my @vals = map { fmt4($_) } map { values %$_ } values %gov_val;
	is(scalar(found_in($control, @vals)), scalar(@vals), 'control: the search finds every value a plain SELECT sends (text)');
	my @be = map { be64(enc($gov_val{$_}{f1}, 16)) } @keys;
	is(scalar(found_in($control, @be)), scalar(@be), 'control: and every f1 encoding sent as a bytea (hex of the BE int64)');
	$gov->safe_psql('postgres', q{REVOKE SELECT ON public.features FROM bank_role});
}

# Gov's records: its audit log and its server log (log_statement = all, with
# the serving calls' parameters) hold none of the bank's inputs.
{
	my $audit = $gov->safe_psql('postgres', q{
		SELECT string_agg(concat_ws('|', actor, side, peer, capability, dataset, keys_in, keys_out,
		                            bytes_in, bytes_out, outcome, detail), E'\n' ORDER BY id)
		  FROM pgpriv.audit_log});
	like($audit, qr/\|owner\|bank_role\|mpc\|scores\|/, "gov's audit log records the mpc runs");
	my @bank_inputs = (map { $groups{$_} ? @{ $groups{$_} } : () } grep { /bank's|threshold|scores/ } keys %groups);
	my @found = found_in($audit, @bank_inputs);
	ok(!@found, "gov's audit log holds none of the bank's weights, local features, threshold or scores")
	  or diag('found: ' . show(@found));
	my $log = slurp_file($gov->logfile);
	ok(index($log, 'serve_mpc_flight') >= 0, "control: gov's server log has the serving calls");
	ok(scalar(found_in($log, map { fmt4($_) } map { values %$_ } values %gov_val)) > 0,
		"control: the log search finds gov's own values (its INSERT)");
	@found = found_in($log, @bank_inputs);
	ok(!@found, "gov's server log holds none of the bank's weights, local features, threshold or scores")
	  or diag('found: ' . show(@found));
}

is($gov->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', 'gov: the audit chain verifies');
$relay->kill_kill;
done_testing();
