# joint_score between two clusters: gov (the data owner) and bank (the
# asker).  The bank scores its applicants with a weighted sum over gov's
# permitted feature columns and its own local features, computed by the
# two-party engine (dealer-free triples, shares, a secure comparison for the
# threshold mode).  On random data: every returned row against the plain
# computation (count, keys_query order, the NULL rules, the fixed-point error
# bound of the contract, flags exact away from the threshold), the audit on
# both sides (the owner's never holding the weights) and mpc_selftest.
# Errors, the budget, a peer lost and a cancel are in
# 025_joint_score_errors.pl; malformed messages and a tampering owner in
# 026_joint_score_tamper.pl.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;
use ScoreFixture;

my $t_start = time;
# gov and bank, random data, its plain model and the main weights (test/tools/ScoreFixture.pm).
score_fixture();

# ---------------------------------------------------------------------------
# 1. Scores and flags on random data
# ---------------------------------------------------------------------------
my $want_main = model(\@apps, $main_local, \%w_main);
my $t0 = time;
my $got_main = run_lines($bank, js_sql('gov', 'scores', $main_q, $w_main_json), 'score mode');
note(sprintf('joint_score over %d rows, %d terms: %.2f s', scalar(@apps), scalar(keys %w_main), time - $t0));
my $scored = check_run('score mode, 6 peer and 2 local columns', $got_main, $want_main, undef);
cmp_ok($scored, '>', 1000, 'the random data gives many rows with a score');
cmp_ok(scalar(grep { $_->{null} } @$want_main), '>', 200, 'and many rows whose score is NULL');

is($bank->safe_psql('postgres', q{SELECT pg_typeof(key)::text || ',' || pg_typeof(score)::text || ',' || pg_typeof(flag)::text
	  FROM pgpriv.joint_score('gov', 'scores', 'SELECT ''x''', '{"f1": 1}') LIMIT 1}),
	'text,numeric,boolean', 'result columns are text, numeric and boolean');

my $t_main = median_threshold($want_main);
$t0 = time;
my $got_thr = run_lines($bank, js_sql('gov', 'scores', $main_q, $w_main_json, fmt4($t_main)), 'threshold mode');
note(sprintf('joint_score with a threshold: %.2f s', time - $t0));
check_run('threshold mode (threshold ' . fmt4($t_main) . ', near the median)', $got_thr, $want_main, $t_main);
{
	# risk_flag: the same flags (the sums are exact, so runs agree bit for bit), no score column.
	my $rf = run_lines($bank, "SELECT encode(convert_to(r.key, 'UTF8'), 'hex') || '|N|' || coalesce(r.flag::text, 'N')
		FROM pgpriv.risk_flag('gov', 'scores', \$q\$$main_q\$q\$, " . lit($w_main_json) . '::jsonb, ' . fmt4($t_main)
		. ') WITH ORDINALITY AS r(key, flag, n) ORDER BY r.n', 'risk_flag');
	is_deeply($rf, $got_thr, 'risk_flag returns exactly the flags of joint_score with that threshold');
	fails_with($bank, "SELECT * FROM pgpriv.risk_flag('gov', 'scores', 'SELECT code FROM applicants', '{\"f1\": 1}', NULL)",
		'22023', qr/threshold/, 'risk_flag without a threshold');
}
{
	my $true = grep { /\|true$/ } @$got_thr;
	my $false = grep { /\|false$/ } @$got_thr;
	ok($true > 300 && $false > 300, "the threshold splits the rows ($true true, $false false)");
}

# One peer column only (a weight in exponent notation): rows with a NULL
# local feature or a NULL in an unused peer column are still scored.
{
	my %w = (f2 => 125_000);    # 1.25e1
	my $want = model(\@apps, $main_local, \%w);
	my $got = run_lines($bank, js_sql('gov', 'scores', $main_q, '{"f2": 1.25e1}'), 'one peer column');
	check_run('one peer column (f2)', $got, $want, undef);
	my $t = median_threshold($want);
	$got = run_lines($bank, js_sql('gov', 'scores', $main_q, '{"f2": 1.25e1}', fmt4($t)), 'one peer column, threshold');
	check_run('one peer column (f2), threshold mode', $got, $want, $t);
}

# Local features of integer and float types.
{
	my $q = 'SELECT code, (id % 97) - 48 AS seq, income::float8 AS inc_f FROM applicants ORDER BY id';
	my $local = sub { return { seq => (($_[0]{id} % 97) - 48) * 10000, inc_f => $_[0]{income} }; };
	my %w = (f3 => -5000, f6 => 7_125, seq => 22_500, inc_f => 1_250);
	check_run('integer and float local features', run_lines($bank, js_sql('gov', 'scores', $q, weights_json(\%w)),
			'integer and float local features'), model(\@apps, $local, \%w), undef);
}

# A keys_query column shadows a peer column of the same name.
{
	my $q = 'SELECT code, income AS f2 FROM applicants WHERE id <= 300 ORDER BY id';
	my $local = sub { return { f2 => $_[0]{income} }; };
	my %w = (f1 => 7_500, f2 => -15_000);
	check_run('a local column named like a peer column is the local one',
		run_lines($bank, js_sql('gov', 'scores', $q, weights_json(\%w)), 'local f2'),
		model([ @apps[ 0 .. 299 ] ], $local, \%w), undef);
}

# At most 32 names: 31 local columns and one peer column work.
{
	my @names = map { "a$_" } 1 .. 32;
	my $q = 'SELECT code, ' . join(', ', map { "$_ * 1.5 AS a$_" } 1 .. 32) . ' FROM applicants WHERE id <= 40 ORDER BY id';
	my %w = (f1 => 20_001, map { ("a$_" => 10_000 + $_) } 1 .. 31);
	my $local = sub { return { map { ("a$_" => $_ * 15_000) } 1 .. 32 }; };
	check_run('32 names (31 local, 1 peer)', run_lines($bank, js_sql('gov', 'scores', $q, weights_json(\%w)), '32 names'),
		model([ @apps[ 0 .. 39 ] ], $local, \%w), undef);
	$w{a32} = 10_032;
	fails_with($bank, js_sql('gov', 'scores', $q, weights_json(\%w)), '54000', undef, '33 names');
}

# Boundary of the fixed-point range: |w| < 8192 works.
{
	my %w = (f1 => 81_919_999);
	check_run('weight 8191.9999', run_lines($bank, js_sql('gov', 'scores', 'SELECT code FROM applicants WHERE id <= 200 ORDER BY id',
				weights_json(\%w)), 'weight 8191.9999'),
		model([ @apps[ 0 .. 199 ] ], sub { {} }, \%w), undef);
}

# Empty input.
is($bank->safe_psql('postgres', js_sql('gov', 'scores', 'SELECT code, income FROM applicants WHERE false', '{"f1": 1, "income": 2}')),
	'', 'no keys asked: no rows');
is($bank->safe_psql('postgres', js_sql('gov', 'scores', 'SELECT NULL::text FROM generate_series(1, 3)', '{"f1": 1}')),
	'', 'only NULL keys: no rows');

# ---------------------------------------------------------------------------
# 2. Audit on both sides
# ---------------------------------------------------------------------------
{
	my $rows = grep { defined $_->{code} } @apps;
	is($gov->safe_psql('postgres', qq{SELECT count(*) > 0 FROM pgpriv.audit_log
		 WHERE side = 'owner' AND capability = 'mpc' AND dataset = 'scores' AND outcome = 'ok' AND keys_in = $rows}),
		't', "the owner's audit has an 'ok' mpc row with keys_in = $rows rows for the main run");
	is($bank->safe_psql('postgres', q{SELECT count(*) > 0 FROM pgpriv.audit_log
		 WHERE side = 'asker' AND capability = 'mpc' AND dataset = 'scores' AND peer = 'gov' AND outcome = 'ok'}),
		't', "the asker's audit has an mpc row for its runs");
	note('asker audit: ' . $bank->safe_psql('postgres', q{SELECT concat_ws('|', keys_in, keys_out, bytes_in, bytes_out, outcome, detail)
		 FROM pgpriv.audit_log WHERE side = 'asker' AND capability = 'mpc' ORDER BY id LIMIT 1}));
	note('owner audit: ' . $gov->safe_psql('postgres', q{SELECT string_agg(concat_ws('|', peer, keys_in, keys_out, bytes_in, bytes_out, outcome, detail), E'\n' ORDER BY id)
		 FROM (SELECT * FROM pgpriv.audit_log WHERE side = 'owner' AND capability = 'mpc' ORDER BY id LIMIT 3) s}));
	my $audit = $gov->safe_psql('postgres', q{
		SELECT string_agg(concat_ws('|', actor, side, peer, capability, dataset, keys_in, keys_out,
		                            bytes_in, bytes_out, outcome, detail), E'\n' ORDER BY id)
		  FROM pgpriv.audit_log});
	my @found = grep { index($audit, $_) >= 0 } map { fmt4($_) } values %w_main;
	push @found, fmt4($t_main) if index($audit, fmt4($t_main)) >= 0;
	ok(!@found, "the owner's audit log holds none of the weights nor the threshold") or diag("found: @found");
	ok(index($audit, 'mpc') >= 0, "control: the owner's audit text is searched (it mentions mpc)");
}

# ---------------------------------------------------------------------------
# 3. mpc_selftest
# ---------------------------------------------------------------------------
{
	$t0 = time;
	my %part;
	for my $l (lines($bank->safe_psql('postgres', q{SELECT concat_ws('|', part, items, failures, bytes, seconds, per_second, bytes_per_item)
		  FROM pgpriv.mpc_selftest('gov', 'scores', 20000, 2000)}))) {
		my @f = split /\|/, $l, -1;
		$part{ $f[0] } = \@f;
		note("selftest: $l");
	}
	note(sprintf('mpc_selftest(20000, 2000): %.2f s', time - $t0));
	is_deeply([ sort keys %part ], [ sort qw(setup beaver_triples multiplications comparisons) ],
		'mpc_selftest reports the four parts');
	my %items = (setup => 512, beaver_triples => 20000, comparisons => 2000);
	for my $p (sort keys %part) {
		my (undef, $items, $fail, $bytes) = @{ $part{$p} };
		is($fail, '0', "mpc_selftest $p: no failures");
		cmp_ok($bytes // 0, '>', 0, "mpc_selftest $p: bytes counted");
		if (exists $items{$p}) { is($items, $items{$p}, "mpc_selftest $p: $items{$p} items as asked"); }
		else { cmp_ok($items // 0, '>', 0, "mpc_selftest $p: items > 0 ($items)"); }
	}
	if ($part{beaver_triples}) {
		my $bpi = $part{beaver_triples}[3] / 20000;
		ok($bpi >= 2568 && $bpi <= 2800, sprintf('mpc_selftest: %.1f bytes per Beaver triple (design: 2568)', $bpi));
	}
}
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('psi_only', 'SELECT code, f1 FROM public.features', 'code');
	SELECT pgpriv.permit('psi_only', 'bank_role', 'psi');
});
fails_with($bank, q{SELECT * FROM pgpriv.mpc_selftest('gov', 'psi_only', 100, 10)}, '42501', qr/psi_only/,
	'mpc_selftest without an mpc permit');


note(sprintf('total time %.1f s', time - $t_start));
done_testing();
