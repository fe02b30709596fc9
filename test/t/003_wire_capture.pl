# Nothing raw on the wire: every byte between the bank's backend and gov
# during psi, psi_count, psi_fetch, psi_sum and pir goes through a small TCP relay that
# records it (sslmode=disable), and none of the bank's keys nor gov's keys or
# payload values appear in it.  Controls prove the capture sees the protocol
# traffic and that a plain query's values would be found.
use strict;
use warnings;
use IPC::Run;
use IO::Socket::INET;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

my ($gov, $bank) = pgpriv_pair();
my $gov_port = $gov->port;

# ---------------------------------------------------------------------------
# The relay: 127.0.0.1:$relay_port <-> gov, both directions appended to a file.
# ---------------------------------------------------------------------------
my ($relay, $relay_port, $capture) = capture_relay($gov);
sub capture { return $capture->(); }

# ---------------------------------------------------------------------------
# Data: distinctive keys and payloads that cannot appear by chance.
# ---------------------------------------------------------------------------

# Byte strings (UTF-8), as they travel.
my @shared = (
	'91310000MA1FL7Q3XK', '上海某某科技有限公司甲号', '北京某某信息技术有限公司乙号',
	'91440300MA5DC2P8QW', q{QUOTE'D"KEY\\WITH$$SIGNS-77}, "EMOJI-KEY-\x{1F3E6}\x{1F4B3}-01");
my @gov_only  = ('91330100MA27XK4T5N', '广州某某贸易有限公司丙号', '91500000MA5U9B2C1D');
my @bank_only = ('91110108MA01RB6J3H', '深圳某某银行客户丁号', "EMOJI-BANK-\x{1F600}\x{1F601}-02",
	'91420100MA4K2L8M9P');
for (@shared, @gov_only, @bank_only) { utf8::encode($_) if utf8::is_utf8($_); }
push @gov_only,  map { sprintf('GOVKEY-4f1d8e-%04d', $_) } 1 .. 200;
push @bank_only, map { sprintf('BANKKEY-9c2b7a-%04d', $_) } 1 .. 200;
my @gov_keys  = (@shared, @gov_only);
my @bank_keys = (@shared, @bank_only);

my (@grades, @paids, @fees, @gov_rows);
my $n = 0;
for my $k (@gov_keys) {
	$n++;
	my $grade = sprintf('PAYLOAD-7f3a9c-%04d', $n);
	my $paid  = sprintf('987654%03d.123', $n);
	# fee: small enough for psi_sum's bound, distinctive at scale 4
	my $fee   = sprintf('%d.5926', 31415 + $n);
	push @grades, $grade;
	push @paids,  $paid;
	push @fees,   $fee;
	push @gov_rows, '(' . join(', ', lit($k), lit($grade), $paid, 424242000 + $n, $fee) . ')';
}
# psi_sum over the shared keys (the first rows): what the bank will learn.
my $fee_total = 0;
$fee_total += 31415 + $_ for 1 .. scalar(@shared);
$fee_total = sprintf('%d.%04d', $fee_total + int(5926 * scalar(@shared) / 10000), (5926 * scalar(@shared)) % 10000);
my @staffs = map { 424242000 + $_ } 1 .. $n;

$gov->safe_psql('postgres', "
	CREATE TABLE public.tax (code text, tax_grade text, tax_paid numeric, staff int, fee numeric);
	INSERT INTO public.tax VALUES " . join(",\n", @gov_rows) . ";
	CREATE ROLE bank_role LOGIN PASSWORD 'pw_bank';
	SELECT pgpriv.publish('tax', 'SELECT code, tax_grade, tax_paid, staff FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_count');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_fetch', '{tax_grade,tax_paid,staff}');
	SELECT pgpriv.publish('fees', 'SELECT code, fee FROM public.tax', 'code');
	SELECT pgpriv.permit('fees', 'bank_role', 'psi_sum', '{fee}');
	SELECT pgpriv.permit('tax', 'bank_role', 'pir', '{tax_grade,tax_paid,staff}');
");
my $signing_key = $gov->safe_psql('postgres',
	q{SELECT pg_catalog.encode(signing_key, 'hex') FROM pgpriv.identity_card()});
$bank->safe_psql('postgres', "
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$relay_port', dbname 'postgres', sslmode 'disable',
	           signing_key '$signing_key');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw_bank');
	CREATE TABLE applicants (code text);
	INSERT INTO applicants VALUES " . join(",\n", map { '(' . lit($_) . ')' } @bank_keys) . ";
");

# ---------------------------------------------------------------------------
# The three protocols, through the relay.
# ---------------------------------------------------------------------------
is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM applicants')}),
	scalar(@shared), 'psi through the relay finds the shared keys');
is($bank->safe_psql('postgres', q{SELECT pgpriv.psi_count('gov', 'tax', 'SELECT code FROM applicants')}),
	scalar(@shared), 'psi_count through the relay counts the shared keys');
my $fetched = $bank->safe_psql('postgres', q{SELECT string_agg(tax_grade || ':' || tax_paid || ':' || staff, ',' ORDER BY tax_grade)
	  FROM pgpriv.psi_fetch('gov', 'tax', 'SELECT code FROM applicants')
	       AS t(code text, tax_grade text, tax_paid numeric, staff int)});
my @want = map { "$grades[$_]:$paids[$_]:$staffs[$_]" } 0 .. $#shared;
is($fetched, join(',', sort @want), 'psi_fetch through the relay returns the shared rows\' payloads');
# psi_fetch again (cached table) and a second psi, for good measure.
$bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.psi_fetch('gov', 'tax', 'SELECT code FROM applicants')
	       AS t(code text, tax_grade text)});
# The same two over the OT-extension OPRF (protocol/join/psi_ot.c).
is($bank->safe_psql('postgres', q{SET pgpriv.psi_protocol = 'ot';
	SELECT count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM applicants')}),
	scalar(@shared), 'psi over ot through the relay finds the shared keys');
is($bank->safe_psql('postgres', q{SET pgpriv.psi_protocol = 'ot';
	SELECT string_agg(tax_grade || ':' || tax_paid || ':' || staff, ',' ORDER BY tax_grade)
	  FROM pgpriv.psi_fetch('gov', 'tax', 'SELECT code FROM applicants')
	       AS t(code text, tax_grade text, tax_paid numeric, staff int)}),
	join(',', sort @want), 'psi_fetch over ot through the relay returns the shared rows\' payloads');

is($bank->safe_psql('postgres', q{SELECT matched || ':' || total FROM pgpriv.psi_sum('gov', 'fees', 'fee', 'SELECT code FROM applicants')}),
	scalar(@shared) . ":$fee_total", 'psi_sum through the relay: the count and the sum of the shared rows\' fees');

# pir: single keys and a keys[] lookup, present (shared, gov-only, non-ASCII)
# and absent (bank-only) keys.  The looked-up keys and the payloads returned
# must not cross the wire.
my %gov_row;
$gov_row{ $gov_keys[$_] } = "$grades[$_]|$paids[$_]|$staffs[$_]" for 0 .. $#gov_keys;
my @pir_present = ($shared[0], $shared[1], $shared[4], $shared[5], @gov_only[ 0, 3, 50, 199 ]);
my @pir_absent  = (@bank_only[ 0, 1, 2, 3, 10, 150 ]);
my @pir_keys    = (@pir_present, @pir_absent);
for my $k ($pir_present[0], $pir_present[1], $pir_absent[0]) {
	my $got = $bank->safe_psql('postgres', 'SELECT tax_grade || \'|\' || tax_paid || \'|\' || staff FROM pgpriv.pir(\'gov\', \'tax\', '
		  . lit($k) . ') AS t(code text, tax_grade text, tax_paid numeric, staff int)');
	is($got, $gov_row{$k} // '', 'pir through the relay: one key, ' . ($gov_row{$k} ? 'present' : 'absent'));
}
{
	my $arr = 'ARRAY[' . join(',', map { lit($_) } @pir_keys) . ']::text[]';
	my $got = $bank->safe_psql('postgres', "SELECT string_agg(tax_grade || '|' || tax_paid || '|' || staff, ',' ORDER BY tax_grade)
		  FROM pgpriv.pir('gov', 'tax', $arr) AS t(code text, tax_grade text, tax_paid numeric, staff int)");
	is($got, join(',', sort map { $gov_row{$_} } @pir_present),
		'pir through the relay: keys[] of present and absent keys returns exactly the present rows');
}
my @pir_payloads = map { split /\|/, $gov_row{$_} } @pir_present;

my $cap = capture();
note(sprintf('captured %d bytes of protocol traffic', length($cap)));
cmp_ok(length($cap), '>', 10_000, 'the capture holds the traffic of the runs');
for my $fn (qw(serve_psi_table serve_psi_chunk serve_oprf serve_count_begin serve_count_push serve_count_pull
	serve_count_return serve_count_result
	serve_psi_sum_begin serve_psi_sum_decrypt serve_pir_setup serve_pir_hint serve_pir_answer
	serve_ot_begin serve_ot_extend serve_ot_tags)) {
	ok(index($cap, $fn) >= 0, "control: the capture saw the call to $fn");
}

# Search for a value as raw bytes, and as the hex a text-format bytea or an
# encode() would carry.
sub leaks
{
	my ($hay, @values) = @_;
	my @found;
	for my $v (@values) {
		next if length($v) < 6;
		push @found, $v if index($hay, $v) >= 0 || index(lc($hay), unpack('H*', $v)) >= 0;
	}
	return @found;
}

sub no_leak
{
	my ($hay, $what, @values) = @_;
	my @found = leaks($hay, @values);
	ok(!@found, "no $what on the wire") or diag("found: " . join(', ', @found[ 0 .. ($#found > 4 ? 4 : $#found) ]));
}
no_leak($cap, 'bank key (shared with gov)', @shared);
no_leak($cap, 'bank-only key', @bank_only);
no_leak($cap, 'gov-only key', @gov_only);
no_leak($cap, 'non-ASCII key (as UTF-8)', grep { /[^\x00-\x7f]/ } (@gov_keys, @bank_keys));
no_leak($cap, 'text payload', @grades);
no_leak($cap, 'numeric payload', @paids);
no_leak($cap, 'integer payload', @staffs);
no_leak($cap, 'psi_sum value', @fees, map { (my $v = $_) =~ s/\.//; $v } @fees);
no_leak($cap, 'psi_sum total', $fee_total, $fee_total =~ s/\.//r);
no_leak($cap, 'key looked up by pir (present)', @pir_present);
no_leak($cap, 'key looked up by pir (absent)', @pir_absent);
no_leak($cap, 'payload value returned by pir', @pir_payloads);
ok(index($cap, 'PAYLOAD-7f3a9c') < 0, 'not even the payload prefix is on the wire');

# Positive control: a plain query over the same relay does show its values.
my $before = length($cap);
$gov->safe_psql('postgres', q{GRANT SELECT ON public.tax TO bank_role});
my $plain = $gov->safe_psql('postgres',
	q{SELECT count(*) FROM (SELECT code, tax_grade, tax_paid, staff FROM public.tax) s WHERE length(code || tax_grade) > 0},
	connstr => "host=127.0.0.1 port=$relay_port dbname=postgres user=bank_role password=pw_bank sslmode=disable");
is($plain, scalar(@gov_keys), 'control: a plain query through the relay works');
$gov->psql('postgres', q{SELECT code, tax_grade, tax_paid, staff FROM public.tax},
	connstr => "host=127.0.0.1 port=$relay_port dbname=postgres user=bank_role password=pw_bank sslmode=disable");
my $control = substr(capture(), $before);
is(scalar(leaks($control, @grades)), scalar(@grades), 'control: the search finds text payloads a plain SELECT sends');
is(scalar(leaks($control, @paids)), scalar(@paids), 'control: and numeric payloads');
is(scalar(leaks($control, grep { /[^\x00-\x7f]/ } @gov_keys)), scalar(grep { /[^\x00-\x7f]/ } @gov_keys),
	'control: and non-ASCII keys as UTF-8');
$gov->safe_psql('postgres', q{REVOKE SELECT ON public.tax FROM bank_role});

# gov's own records of the runs do not hold the bank's keys either.
{
	my $audit = $gov->safe_psql('postgres', q{
		SELECT string_agg(concat_ws('|', actor, side, peer, capability, dataset, keys_in, keys_out, outcome, detail), E'\n')
		  FROM pgpriv.audit WHERE side = 'owner'});
	cmp_ok(scalar(split /\n/, $audit), '>=', 3, 'gov has owner audit rows for the runs');
	my @found = grep { index($audit, $_) >= 0 } (@shared, @bank_only);
	ok(!@found, 'gov\'s owner audit rows never contain a bank key') or diag("found: @found");
	my $pir_audit = $gov->safe_psql('postgres', q{
		SELECT string_agg(concat_ws('|', actor, side, peer, capability, dataset, keys_in, keys_out, outcome, detail), E'\n')
		  FROM pgpriv.audit WHERE side = 'owner' AND capability = 'pir'});
	cmp_ok(scalar(split /\n/, $pir_audit), '>=', 4, 'gov has owner audit rows for the pir lookups');
	my @pir_found = grep { index($audit, $_) >= 0 } @pir_keys;
	ok(!@pir_found, 'gov\'s owner audit rows never contain a key looked up by pir') or diag("found: @pir_found");
	is($gov->safe_psql('postgres', q{SELECT max(keys_in) FROM pgpriv.audit WHERE side = 'owner' AND capability = 'pir'}),
		scalar(@pir_keys), 'gov learns how many keys a pir lookup asked, not which');
	is($gov->safe_psql('postgres', q{SELECT max(keys_in) FROM pgpriv.audit WHERE side = 'owner' AND capability IN ('psi', 'psi_fetch', 'psi_count')
		   AND run_id NOT IN (SELECT run_id FROM pgpriv.audit WHERE detail LIKE '%protocol rr22%')}),
		scalar(@bank_keys), 'gov learns how many keys were asked');
	# Over ot (RR22) it learns the OKVS size instead: ⌈1.23 n⌉ + 64 columns.
	my $m = scalar(@bank_keys) * 1.23;
	$m = ($m == int($m) ? $m : int($m) + 1) + 64;
	is($gov->safe_psql('postgres', q{SELECT max(keys_in) FROM pgpriv.audit WHERE side = 'owner' AND capability IN ('psi', 'psi_fetch')
		   AND detail LIKE '%protocol rr22%'}),
		$m, 'over ot gov learns the size of the asker\'s OKVS');
	my $log = slurp_file($gov->logfile);
	# (The test's own INSERT of gov's data is logged: log_statement = all.
	# The bank's own keys must never be.)
	my @in_log = leaks($log, @bank_only);
	ok(!@in_log, 'gov\'s server log (log_statement = all) never contains a bank-only key')
	  or diag("found: @in_log");
	ok(index($log, $shared[0]) >= 0, 'control: the log search finds gov\'s own keys from the INSERT');
}

$relay->kill_kill;
done_testing();
