# secure_sum on the wire: bank_a asks, banks b and c own loan books (and
# bank_a contributes its own).  Every byte between bank_a's backend and each
# owner goes through a small TCP relay that records it (sslmode=disable).
# No figure of any party appears in the capture in any plain form: the text
# at secure_sum's fixed scale of 4 decimals, the text without trailing zeros,
# the scaled integer (value x 10^4) and the integer part as text, the 8-byte
# big- and little-endian int64 of value x 10^4, each also as the hex a
# text-format bytea carries; nor does any total.  The keys asked and the
# participant list DO appear: secure_sum sends them to every owner by design
# (docs/secure_sum.md), and this test asserts it, as documentation of that
# leakage.  Controls prove the capture holds the protocol calls and that a
# plain SELECT through the same relay shows the values.  Finally, no owner's
# audit log or server log holds another party's figures.
use strict;
use warnings;
use IPC::Run;
use IO::Socket::INET;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

my %node;
for my $name (qw(a b c)) {
	my $n = PostgreSQL::Test::Cluster->new("bank_$name");
	pgpriv_setup($n);
	$node{$name} = $n;
}
my $asker = $node{a};
my @owners = qw(b c);
my %pk = map { $_ => $node{$_}->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM pgpriv.identity()}) }
  qw(a b c);

# ---------------------------------------------------------------------------
# One relay per owner: 127.0.0.1:$relay_port{o} <-> owner o, both directions
# appended to that owner's capture file.
# ---------------------------------------------------------------------------
my $tmp = PostgreSQL::Test::Utils::tempdir();
my (%relay, %relay_port, %capfile);
for my $o (@owners) {
	$capfile{$o} = "$tmp/capture_$o.bin";
	($relay{$o}, $relay_port{$o}) = start_relay($node{$o}->port, $capfile{$o}, "the relay in front of owner $o");
}

sub capture { my ($o) = @_; return read_capture($capfile{$o}); }

# ---------------------------------------------------------------------------
# Data: distinctive keys and figures.  Party j (b = 1, c = 2, the asker a =
# 3) holds, for key i, 987654.3210 + n + n/10^4 with n = 1000 j + i: every
# figure differs from every other, in its integer part and its decimals.
# ---------------------------------------------------------------------------

my %party_no = (b => 1, c => 2, a => 3);
my @keys = map { sprintf('KEY-7f3a9c-%d', $_) } 1 .. 150;
my $utf8_key = "KEY-7f3a9c-\x{94B1}\x{5E84}-151";    # held by everyone
utf8::encode($utf8_key);
push @keys, $utf8_key;
my @missing = map { sprintf('KEY-7f3a9c-none-%d', $_) } 1 .. 20;    # asked, held by no one

# Who holds what: b keys 1..100 and 151, c keys 51..150 and 151, the asker
# every third key.
my %units;    # units{party}{key}
for my $i (1 .. 151) {
	my $k = $keys[ $i - 1 ];
	my %holds = (b => ($i <= 100 || $i == 151), c => ($i >= 51), a => ($i % 3 == 0 || $i == 151));
	for my $p (qw(a b c)) {
		next unless $holds{$p};
		my $n = 1000 * $party_no{$p} + $i;
		$units{$p}{$k} = 9876543210 + $n * 10001;
	}
}

for my $p (qw(a b c)) {
	my $ks = $units{$p};
	$node{$p}->safe_psql('postgres',
		"CREATE TABLE public.loans (code text, amount numeric(18,4));\n"
		  . "INSERT INTO public.loans VALUES "
		  . join(",\n", map { '(' . lit($_) . ', ' . fmt_units($ks->{$_}, 4) . ')' } sort keys %$ks) . ";\n"
		  . q{SELECT pgpriv.publish('loans', 'SELECT code, amount FROM public.loans', 'code');});
}
for my $o (@owners) {
	my ($other) = grep { $_ ne $o } @owners;
	$node{$o}->safe_psql('postgres', qq{
		CREATE ROLE sum_peer LOGIN PASSWORD 'pw_sum';
		SELECT pgpriv.permit('loans', 'sum_peer', 'secure_sum', '{amount}', min_parties => 2);
		CREATE SERVER bank_$other FOREIGN DATA WRAPPER pgpriv OPTIONS (public_key '\\x$pk{$other}');
	});
	$asker->safe_psql('postgres', qq{
		CREATE SERVER bank_$o FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$relay_port{$o}', dbname 'postgres', sslmode 'disable',
		           public_key '\\x$pk{$o}');
		CREATE USER MAPPING FOR CURRENT_USER SERVER bank_$o OPTIONS (user 'sum_peer', password 'pw_sum');
	});
}
$asker->safe_psql('postgres',
	"CREATE TABLE asked (code text);\nINSERT INTO asked VALUES "
	  . join(', ', map { '(' . lit($_) . ')' } @keys, @missing) . ";\n");

# ---------------------------------------------------------------------------
# secure_sum through the relays, twice (two sessions, fresh masks).
# ---------------------------------------------------------------------------
my (@want, %total);
for my $k (@keys, @missing) {
	my ($t, $n) = (0, 0);
	for my $p (qw(a b c)) {
		next unless exists $units{$p}{$k};
		$t += $units{$p}{$k};
		$n++;
	}
	$total{$k} = $t if $n >= 2;
	push @want, join('|', unpack('H*', $k), fmt_units($t, 4), $n);
}
my $sum_sql = q{SELECT encode(convert_to(key, 'UTF8'), 'hex') || '|' || total || '|' || contributors
	FROM pgpriv.secure_sum('{bank_b,bank_c}', 'loans', 'amount', 'SELECT code FROM asked') ORDER BY 1};
for my $run (1, 2) {
	is_deeply([ split /\n/, $asker->safe_psql('postgres', $sum_sql) ], [ sort @want ],
		"run $run: secure_sum through the relays returns the plain totals and contributor counts");
}

my %cap = map { $_ => capture($_) } @owners;
for my $o (@owners) {
	note(sprintf('captured %d bytes between the asker and owner %s', length($cap{$o}), $o));
	cmp_ok(length($cap{$o}), '>', 5_000, "owner $o: the capture holds the runs' traffic");
	for my $fn (qw(serve_admit serve_sum_begin serve_sum_batch)) {
		ok(index($cap{$o}, $fn) >= 0, "owner $o: control: the capture saw the call to $fn");
	}
}

# The plain forms of a figure (units of 10^-4): text at scale 4, text
# without trailing zeros, the scaled integer and the integer part as text,
# and the 8-byte big- and little-endian int64 of the units.
sub forms
{
	my ($u) = @_;
	my $s4 = fmt_units($u, 4);
	(my $trim = $s4) =~ s/\.?0+$//;
	return ($s4, $trim, "$u", int($u / 10000) . '', pack('q>', $u), pack('q<', $u));
}

# Search for a byte string as it is, and as the hex a text-format bytea or
# an encode() would carry.
sub leaks
{
	my ($hay, @values) = @_;
	my $lc = lc($hay);
	my @found;
	for my $v (@values) {
		next if length($v) < 6;
		push @found, $v if index($hay, $v) >= 0 || index($lc, unpack('H*', $v)) >= 0;
	}
	return @found;
}

sub show { return join(', ', map { /[^\x20-\x7e]/ ? '0x' . unpack('H*', $_) : $_ } @_[ 0 .. ($#_ > 4 ? 4 : $#_) ]); }

for my $o (@owners) {
	for my $p (qw(b c a)) {
		my $what = $p eq 'a' ? 'the asker\'s own figures' : "owner $p\'s figures";
		my @vals = values %{ $units{$p} };
		my %by_form;
		for my $u (@vals) {
			my @f = forms($u);
			push @{ $by_form{$_->[0]} }, $f[ $_->[1] ]
			  for ([ 'text at scale 4', 0 ], [ 'text without trailing zeros', 1 ], [ 'scaled integer as text', 2 ],
				[ 'integer part as text', 3 ], [ 'big-endian int64 of value x 10^4', 4 ],
				[ 'little-endian int64 of value x 10^4', 5 ]);
		}
		for my $form (sort keys %by_form) {
			my @found = leaks($cap{$o}, @{ $by_form{$form} });
			ok(!@found, "asker<->$o wire: $what do not appear as $form") or diag('found: ' . show(@found));
		}
	}
	my @found = leaks($cap{$o}, map { forms($_) } values %total);
	ok(!@found, "asker<->$o wire: no total in any of those forms") or diag('found: ' . show(@found));
}

# The leakage secure_sum has by design: every owner receives every key asked
# (held by it or not) and the participant list (names and public keys).
for my $o (@owners) {
	my @absent = grep { index($cap{$o}, $_) < 0 && index(lc($cap{$o}), unpack('H*', $_)) < 0 } (@keys, @missing);
	ok(!@absent, "by design: owner $o receives every key asked, in clear, including keys it does not hold "
		  . 'and the non-ASCII key as UTF-8')
	  or diag(scalar(@absent) . ' keys absent, e.g. ' . show(@absent));
	my ($other) = grep { $_ ne $o } @owners;
	ok(index(lc($cap{$o}), lc($pk{$_})) >= 0, "by design: owner $o receives participant $_\'s public key")
	  for ($other, 'a');
	ok(index(lc($cap{$o}), unpack('H*', "bank_$other")) >= 0 || index($cap{$o}, "bank_$other") >= 0,
		"by design: owner $o receives the asker's name for the other owner (bank_$other)");
}

# Positive control: a plain SELECT through the same relay shows the values.
for my $o (@owners) {
	my $before = length(capture($o));
	$node{$o}->safe_psql('postgres', q{GRANT SELECT ON public.loans TO sum_peer});
	my $plain = $node{$o}->safe_psql('postgres', q{SELECT count(*) FROM (SELECT code, amount FROM public.loans) s},
		connstr => "host=127.0.0.1 port=$relay_port{$o} dbname=postgres user=sum_peer password=pw_sum sslmode=disable");
	is($plain, scalar(keys %{ $units{$o} }), "owner $o: control: a plain query through the relay works");
	$node{$o}->psql('postgres', q{SELECT code, amount FROM public.loans},
		connstr => "host=127.0.0.1 port=$relay_port{$o} dbname=postgres user=sum_peer password=pw_sum sslmode=disable");
	my $control = substr(capture($o), $before);
	is(scalar(leaks($control, map { fmt_units($_, 4) } values %{ $units{$o} })), scalar(keys %{ $units{$o} }),
		"owner $o: control: the search finds every figure a plain SELECT sends (text at scale 4)");
	# The scaled integer, as text and as the big-endian int64 a bytea (hex) carries.
	$before = length(capture($o));
	$node{$o}->psql('postgres', q{SELECT (amount * 10000)::bigint, int8send((amount * 10000)::bigint) FROM public.loans},
		connstr => "host=127.0.0.1 port=$relay_port{$o} dbname=postgres user=sum_peer password=pw_sum sslmode=disable");
	$control = substr(capture($o), $before);
	is(scalar(leaks($control, map { "$_" } values %{ $units{$o} })), scalar(keys %{ $units{$o} }),
		"owner $o: control: and the scaled integers as text");
	is(scalar(leaks($control, map { pack('q>', $_) } values %{ $units{$o} })), scalar(keys %{ $units{$o} }),
		"owner $o: control: and their big-endian int64 in a bytea");
	$node{$o}->safe_psql('postgres', q{REVOKE SELECT ON public.loans FROM sum_peer});
}

# No owner's records hold another party's figures.
for my $o (@owners) {
	my $audit = $node{$o}->safe_psql('postgres', q{
		SELECT string_agg(concat_ws('|', actor, side, peer, capability, dataset, keys_in, keys_out,
		                            bytes_in, bytes_out, outcome, detail), E'\n' ORDER BY id)
		  FROM pgpriv.audit_log});
	is(scalar(grep { /\|secure_sum\|/ && /\|owner\|/ } split /\n/, $audit), 4,
		"owner $o: its audit log has the admission and completion of both runs");
	my @others = grep { $_ ne $o } qw(a b c);
	my @found = leaks($audit, map { forms($_) } map { values %{ $units{$_} } } @others);
	ok(!@found, "owner $o: its audit log holds no figure of " . join(' or ', @others))
	  or diag('found: ' . show(@found));
	@found = leaks($audit, map { forms($_) } values %total);
	ok(!@found, "owner $o: its audit log holds no total") or diag('found: ' . show(@found));
	# (The server log has this owner's own INSERT: log_statement = all.)
	my $log = slurp_file($node{$o}->logfile);
	@found = leaks($log, map { fmt_units($_, 4) } map { values %{ $units{$_} } } @others);
	ok(!@found, "owner $o: its server log (log_statement = all) holds no figure of " . join(' or ', @others))
	  or diag('found: ' . show(@found));
	ok(index($log, fmt_units((values %{ $units{$o} })[0], 4)) >= 0,
		"owner $o: control: the log search finds its own figures from the INSERT");
}

for my $n (values %node) {
	is($n->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', $n->name . ': the audit chain verifies');
}

$relay{$_}->kill_kill for @owners;
done_testing();
