# joint_score between two clusters: gov (the data owner) and bank (the
# asker).  The bank scores its applicants with a weighted sum over gov's
# permitted feature columns and its own local features, computed by the
# two-party engine (dealer-free triples, shares, a secure comparison for the
# threshold mode).  Covers, on random data: every returned row against the
# plain computation in this file (count, keys_query order, the NULL rules,
# the fixed-point error bound of the contract, flags exact away from the
# threshold), mpc_selftest, the errors and their SQLSTATEs, the max_keys
# budget, the audit on both sides (the owner's never holding the weights),
# malformed and out-of-order messages (as the peer role directly, and a
# tampering owner whose serve_mpc_flight is wrapped by a PL/pgSQL function
# that corrupts its input or its reply), a peer lost mid-run and a cancel.
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
my $seed = $ENV{PGPRIV_TEST_SEED} // 20240620;
srand($seed);
note("random seed: $seed (set PGPRIV_TEST_SEED to change it)");
my $t_start = time;

# ---------------------------------------------------------------------------
# Clusters: loopback TCP, SCRAM passwords, UTF8 databases.  Serving calls
# carry large bytea parameters: log only their first bytes.
# ---------------------------------------------------------------------------
my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
for my $node ($gov, $bank) {
	pgpriv_setup($node, "log_parameter_max_length = 64\nlog_parameter_max_length_on_error = 64\n");
}
my $gov_port = $gov->port;
# A second database on gov, with pgpriv and the same data: the tampering owner.
$gov->safe_psql('postgres', 'CREATE DATABASE tamper');
$gov->safe_psql('tamper', 'CREATE EXTENSION pgpriv');

$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw_bank'});
for my $db (qw(postgres tamper)) {
	my ($pk, $sk) = split /\|/, $gov->safe_psql($db,
		q{SELECT encode(public_key, 'hex') || '|' || encode(signing_key, 'hex') FROM pgpriv.identity_card()});
	my $server = $db eq 'postgres' ? 'gov' : 'tamper';
	$bank->safe_psql('postgres', qq{
		CREATE SERVER $server FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$gov_port', dbname '$db', public_key '$pk', signing_key '$sk');
		CREATE USER MAPPING FOR CURRENT_USER SERVER $server OPTIONS (user 'bank_role', password 'pw_bank');
	});
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

sub lines { my ($s) = @_; return $s eq '' ? () : split /\n/, $s, -1; }

# Units of 10^-4 as decimal text.
sub fmt4
{
	my ($u) = @_;
	my $neg = $u < 0;
	$u = -$u if $neg;
	return sprintf('%s%d.%04d', $neg ? '-' : '', int($u / 10000), $u % 10000);
}

# Decimal text -> integer units of 10^-$d exactly (undef if more decimals).
sub to_units
{
	my ($s, $d) = @_;
	return undef unless defined $s && $s =~ /^(-?)(\d*)(?:\.(\d*))?$/;
	my ($neg, $int, $frac) = ($1, $2, $3 // '');
	return undef if length($frac) > $d || ($int eq '' && $frac eq '');
	my $v = 0 + (($int eq '' ? '0' : $int) . $frac . ('0' x ($d - length($frac))));
	return $neg ? -$v : $v;
}

# ---------------------------------------------------------------------------
# Random data.  Every feature value is kept as integer units of 10^-4 (undef
# for NULL), so the plain score is computed exactly in integers.
# ---------------------------------------------------------------------------
my @han = map { chr($_) } (0x4E00 .. 0x4E00 + 300);
my %used;
sub fresh_key
{
	my ($prefix) = @_;
	for (;;) {
		my $k = $prefix;
		$k .= ('A' .. 'Z', '0' .. '9')[ int(rand(36)) ] for 1 .. 9;
		if (rand() < 0.05) {
			my $h = join '', map { $han[ int(rand(@han)) ] } 1 .. 3;
			utf8::encode($h);
			$k .= $h;
		}
		next if $used{$k}++;
		return $k;
	}
}
my @special = ('', "caf\x{e9}-\x{4e2d}\x{6587}", q{O'Brien "q" \b}, 'trailing ', '$$d$$');
for (@special) { utf8::encode($_) if utf8::is_utf8($_); $used{$_}++; }

my @feat = qw(f1 f2 f3 f4 f5 f6);
sub maybe_null { my ($u) = @_; return rand() < 0.05 ? undef : $u; }
sub random_gov_row
{
	my ($code) = @_;
	my $f6 = rand() < 0.02 ? (rand() < 0.5 ? -81919999 : 81919999) : int(rand(163839999)) - 81919999;
	return {
		code   => $code,
		f1     => maybe_null(int(rand(20_000_001)) - 10_000_000),            # ±1000, 4 decimals
		f2     => maybe_null((int(rand(200_001)) - 100_000) * 100),          # ±1000, 2 decimals
		f3     => maybe_null(int(rand(501)) * 10000),                        # integer 0..500
		f4     => maybe_null(rand() < 0.5 ? 10000 : 0),                      # boolean
		f5     => maybe_null((int(rand(200_001)) - 100_000) * 10),           # float8 ±100, 3 decimals
		f6     => maybe_null($f6),                                           # up to ±8191.9999
		secret => int(rand(1e8)) - 5e7,                                      # never permitted
	};
}

my @gov_keys = ((map { fresh_key('G') } 1 .. 2800), @special);
my @gov_rows;
my %dup_in_gov;
for my $k (@gov_keys) {
	my $n = rand() < 0.05 ? 2 : 1;    # a few duplicate keys
	$dup_in_gov{$k} = 1 if $n > 1;
	push @gov_rows, random_gov_row($k) for 1 .. $n;
}
my %gov_by_key;
push @{ $gov_by_key{ $_->{code} } }, $_ for @gov_rows;
push @gov_rows, random_gov_row(undef);    # a NULL key is never matched

sub gov_insert_sql
{
	my ($rows) = @_;
	return "INSERT INTO public.features VALUES "
	  . join(",\n", map {
			my $r = $_;
			'(' . join(', ',
				lit($r->{code}),
				defined $r->{f1} ? fmt4($r->{f1}) : 'NULL',
				defined $r->{f2} ? fmt4($r->{f2}) : 'NULL',
				defined $r->{f3} ? int($r->{f3} / 10000) : 'NULL',
				defined $r->{f4} ? ($r->{f4} ? 'true' : 'false') : 'NULL',
				defined $r->{f5} ? fmt4($r->{f5}) : 'NULL',
				defined $r->{f6} ? fmt4($r->{f6}) : 'NULL',
				fmt4($r->{secret})) . ')' } @$rows)
	  . ";\n";
}

my $gov_setup = q{
	CREATE TABLE public.features (code text, f1 numeric, f2 numeric(8,2), f3 integer, f4 boolean,
	                              f5 double precision, f6 numeric, secret numeric);
} . gov_insert_sql(\@gov_rows) . q{
	SELECT pgpriv.publish('scores', 'SELECT code, f1, f2, f3, f4, f5, f6, secret FROM public.features', 'code');
	SELECT pgpriv.permit('scores', 'bank_role', 'mpc', '{f1,f2,f3,f4,f5,f6}');
};
$gov->safe_psql('postgres', $gov_setup);
$gov->safe_psql('tamper', $gov_setup);

# The bank: ~2000 rows asked, in a fixed order (id): keys gov holds (some of
# them twice in gov), keys gov lacks, duplicated rows and a NULL key.
my @ask = ((map { $gov_keys[ int(rand(@gov_keys)) ] } 1 .. 1750), @special, (map { fresh_key('A') } 1 .. 150));
push @ask, map { $ask[ int(rand(@ask)) ] } 1 .. 100;
push @ask, undef;
for (my $i = @ask - 1; $i > 0; $i--) {
	my $j = int(rand($i + 1));
	@ask[ $i, $j ] = @ask[ $j, $i ];
}
my @apps;
my $id = 0;
for my $k (@ask) {
	push @apps, {
		id       => ++$id,
		code     => $k,
		income   => maybe_null(int(rand(20_000_001)) - 10_000_000),
		has_loan => maybe_null(rand() < 0.3 ? 10000 : 0),
	};
}
$bank->safe_psql('postgres',
	"CREATE TABLE applicants (id int PRIMARY KEY, code text, income numeric, has_loan boolean);\n"
	  . "INSERT INTO applicants VALUES "
	  . join(",\n", map {
			'(' . join(', ', $_->{id}, lit($_->{code}),
				defined $_->{income} ? fmt4($_->{income}) : 'NULL',
				defined $_->{has_loan} ? ($_->{has_loan} ? 'true' : 'false') : 'NULL') . ')' } @apps)
	  . ";\n");
note(sprintf('gov: %d rows, %d keys twice; bank: %d rows asked, %d of them keys gov lacks',
		scalar(@gov_rows), scalar(keys %dup_in_gov), scalar(@apps),
		scalar(grep { defined $_->{code} && !$gov_by_key{ $_->{code} } } @apps)));

# ---------------------------------------------------------------------------
# The plain computation and the check of a run against it
# ---------------------------------------------------------------------------
# $local->($app) gives the keys_query's feature columns of an applicant row
# (name => units or undef); a weight name among them is local, any other is
# a peer column.  Returns one expected row per applicant row with a key.
sub model
{
	my ($rows, $local, $w) = @_;
	my @out;
	my $k = scalar(keys %$w);
	for my $a (@$rows) {
		next unless defined $a->{code};
		my $loc = $local->($a);
		my $g = $gov_by_key{ $a->{code} } || [];
		my ($null, $exact, $abs) = (@$g != 1, 0, 0);
		for my $name (sort keys %$w) {
			last if $null;
			my $x = exists $loc->{$name} ? $loc->{$name} : $g->[0]{$name};
			if (!defined $x) { $null = 1; last; }
			$exact += $x * $w->{$name};    # units of 10^-8, exact
			$abs += abs($x) + abs($w->{$name});    # units of 10^-4
		}
		# The contract's bound, in units of 10^-8.
		my $bound = $abs * 1e-4 * 2**-17 * 1e8 + $k * 2**-34 * 1e8 + 50;
		push @out, { key => hexkey($a->{code}), null => $null, exact => $exact, bound => $bound };
	}
	return \@out;
}

sub weights_json
{
	my ($w) = @_;
	return '{' . join(', ', map { qq{"$_": } . fmt4($w->{$_}) } sort keys %$w) . '}';
}

my $line_expr = q{encode(convert_to(r.key, 'UTF8'), 'hex') || '|' || coalesce(r.score::text, 'N') || '|' || coalesce(r.flag::text, 'N')};

sub js_call
{
	my ($peer, $ds, $q, $wjson, $t) = @_;
	my $wl = defined $wjson ? lit($wjson) . '::jsonb' : 'NULL::jsonb';
	my $tl = defined $t ? ", $t" : '';
	return "pgpriv.joint_score('$peer', '$ds', \$q\$$q\$q\$, $wl$tl) WITH ORDINALITY AS r(key, score, flag, n)";
}

# One line per returned row, in the function's order: hex key|score|flag (N for NULL).
sub js_sql { return "SELECT $line_expr FROM " . js_call(@_) . ' ORDER BY r.n'; }

# The md5 of those lines.
sub js_digest { return "SELECT 'digest:' || md5(string_agg($line_expr, E'\\n' ORDER BY r.n)) FROM " . js_call(@_); }

# Check every returned line against the model.  $t (units of 10^-4) is the
# threshold, or undef for the score mode.
sub check_run
{
	my ($label, $got, $want, $t) = @_;
	is(scalar(@$got), scalar(@$want), "$label: one row per keys_query row with a non-NULL key");
	my @gk = map { (split /\|/, $_, -1)[0] } @$got;
	my $order_ok = is_deeply(\@gk, [ map { $_->{key} } @$want ], "$label: rows in keys_query order, duplicates kept");
	my ($bad_null, $bad_val, $bad_fmt, $near, $scored, $worst) = (0, 0, 0, 0, 0, 0);
	my @diag;
	for my $i (0 .. $#$want) {
		my $w = $want->[$i];
		my (undef, $score, $flag) = split /\|/, ($got->[$i] // '||'), -1;
		$score //= '';
		$flag //= '';
		if ($w->{null}) {
			if ($score ne 'N' || $flag ne 'N') {
				$bad_null++;
				push @diag, "row $i ($w->{key}): expected NULL score and flag, got $score|$flag";
			}
			next;
		}
		$scored++;
		if (!defined $t) {
			if ($flag ne 'N') { $bad_null++; push @diag, "row $i: flag $flag in the score mode"; next; }
			if ($score =~ /\.\d{7,}$/) { $bad_fmt++; push @diag, "row $i: score $score has more than 6 decimals"; }
			my $s8 = to_units($score, 8);
			if (!defined $s8) { $bad_val++; push @diag, "row $i ($w->{key}): score '$score', expected a number"; next; }
			my $d = abs($s8 - $w->{exact});
			$worst = $d / $w->{bound} if $d / $w->{bound} > $worst;
			if ($d > $w->{bound}) {
				$bad_val++;
				push @diag, sprintf('row %d (%s): score %s, exact %s, off by %.3g > bound %.3g (10^-8 units)',
					$i, $w->{key}, $score, $w->{exact} / 1e8, $d, $w->{bound});
			}
		}
		else {
			if ($score ne 'N') { $bad_null++; push @diag, "row $i: score $score in the threshold mode"; next; }
			if ($flag ne 'true' && $flag ne 'false') {
				$bad_val++;
				push @diag, "row $i ($w->{key}): flag '$flag', expected a boolean";
				next;
			}
			my $t8 = $t * 10000;
			if (abs($w->{exact} - $t8) <= $w->{bound}) { $near++; next; }
			my $want_flag = $w->{exact} >= $t8 ? 'true' : 'false';
			if ($flag ne $want_flag) {
				$bad_val++;
				push @diag, sprintf('row %d (%s): flag %s, exact score %s vs threshold %s',
					$i, $w->{key}, $flag, $w->{exact} / 1e8, fmt4($t));
			}
		}
	}
	is($bad_null, 0, "$label: score and flag are NULL exactly where the contract says");
	if (defined $t) {
		is($bad_val, 0, "$label: every flag farther than the bound from the threshold is exact");
		note("$label: $near of $scored rows are within the bound of the threshold (either flag allowed)");
	}
	else {
		is($bad_val, 0, "$label: every score is within the contract's bound of the exact value");
		is($bad_fmt, 0, "$label: scores have at most 6 decimal places");
		note(sprintf('%s: %d rows scored; worst error %.3f of the bound', $label, $scored, $worst));
	}
	diag($_) for @diag[ 0 .. ($#diag < 9 ? $#diag : 9) ];
	return $scored;
}

sub run_lines
{
	my ($node, $sql, $label) = @_;
	my ($rc, $out, $err) = vpsql($node, $sql, on_error_stop => 0, timeout => 300);
	is($err, '', "$label: runs without error");
	return [ lines($out) ];
}

# Median of the exact scores, as a threshold in units of 10^-4.
sub median_threshold
{
	my ($want) = @_;
	my @e = sort { $a <=> $b } map { $_->{exact} } grep { !$_->{null} } @$want;
	return int($e[ int(@e / 2) ] / 10000) + 37;
}

my $main_q = 'SELECT code, income, has_loan FROM applicants ORDER BY id';
my $main_local = sub { return { income => $_[0]{income}, has_loan => $_[0]{has_loan} }; };

sub random_weight
{
	return (rand() < 0.5 ? -1 : 1) * (10001 + int(rand(190_000)));    # ±1.0001 .. ±20, 4 decimals
}
my %w_main = map { $_ => random_weight() } (@feat, 'income', 'has_loan');
$w_main{f4} = -(123_456 + int(rand(1000)));    # one weight above 10
$w_main{f3} = 3_579;                            # one below 1: 0.3579
my $w_main_json = weights_json(\%w_main);
note("weights: $w_main_json");

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

# ---------------------------------------------------------------------------
# 4. Errors
# ---------------------------------------------------------------------------
my $small_q = 'SELECT code, income, has_loan FROM applicants WHERE id <= 50 ORDER BY id';
for my $c ([ '[1, 2]', 'weights an array' ], [ '"f1"', 'weights a string' ], [ '3', 'weights a number' ],
	[ '{"f1": "1.5"}', 'a weight that is a string' ], [ '{"f1": null}', 'a weight that is null' ],
	[ '{"f1": true}', 'a weight that is a boolean' ], [ '{"f1": {"x": 1}}', 'a weight that is an object' ],
	[ '{"income": 1.5, "has_loan": 2}', 'no peer column' ], [ '{}', 'no names at all' ]) {
	fails_with($bank, js_sql('gov', 'scores', $small_q, $c->[0]), '22023', undef, $c->[1]);
}
fails_with($bank, js_sql('gov', 'scores', $small_q, undef), '22023', undef, 'NULL weights');
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 8192.5}'), '22003', qr/f1/, 'weight 8192.5', secrets => ['8192.5']);
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1, "income": -8192}'), '22003', qr/income/, 'weight -8192');
fails_with($bank, js_sql('gov', 'scores', 'SELECT code, 9000.2468 AS big FROM applicants WHERE id <= 5', '{"f1": 1, "big": 1}'),
	'22003', qr/big/, 'a local feature of 9000.2468', secrets => ['9000.2468']);
fails_with($bank, js_sql('gov', 'scores', $small_q, $w_main_json, '1000000000000'), '22003', undef,
	'a threshold too large for the exact comparison');
fails_with($bank, js_sql('gov', 'scores', $small_q, $w_main_json, "'NaN'"), '22023', qr/NaN/,
	'a NaN threshold');
fails_with($bank, js_sql('gov', 'scores', 'DELETE FROM applicants RETURNING code', '{"f1": 1}'), '42809',
	qr/single SELECT/, 'a keys_query that modifies data');
is($bank->safe_psql('postgres', q{SELECT count(*) FROM applicants}) > 0 ? 'kept' : 'gone', 'kept',
	'the refused keys_query changed nothing');
{
	# Keys the owner has no row for: all NULL, and no computation at all.
	my $lines = run_lines($bank, js_sql('gov', 'scores', q{SELECT 'nobody-' || id FROM applicants WHERE id <= 7},
		'{"f1": 1}'), 'keys the owner does not have');
	is(scalar(grep { /^[^|]*\|N\|N$/ } @$lines), 7, 'keys the owner does not have: 7 rows, score and flag NULL');
	like($gov->safe_psql('postgres', q{SELECT outcome || ' ' || keys_in || ' ' || keys_out FROM pgpriv.audit
		WHERE capability = 'mpc' AND side = 'owner' ORDER BY id DESC LIMIT 1}), qr/^ok 7 0$/,
		'keys the owner does not have: the owner completes the run at once (7 keys, 0 usable)');
	my ($rc, $out, $err) = vpsql($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1, "f2": 1e-9}'), on_error_stop => 0, timeout => 300);
	like($err, qr/WARNING:.*f2.*rounds to zero/, 'a weight below the resolution gives a warning naming it');
}
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1.5, "secret": 2.5}'), '42501', qr/scores/,
	'a peer column outside the permit');
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"nosuchcolumn": 1.5}'), '42501', qr/scores/,
	'a peer column the dataset does not have');
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"code": 1.5}'), '42501', qr/scores/,
	'the key column named as a weight (the first column is not a feature)');
fails_with($bank, js_sql('gov', 'psi_only', $small_q, '{"f1": 1.5}'), '42501', qr/(?=.*psi_only)(?=.*mpc)/,
	'a dataset with a psi permit only (names dataset and capability)');
$gov->safe_psql('postgres', q{SELECT pgpriv.revoke_permit('scores', 'bank_role', 'mpc')});
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1.5}'), '42501', qr/(?=.*scores)(?=.*mpc)/,
	'after revoke_permit (names dataset and capability)');
fails_with($bank, q{SELECT * FROM pgpriv.mpc_selftest('gov', 'scores', 100, 10)}, '42501', qr/scores/,
	'mpc_selftest after revoke_permit');
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('scores', 'bank_role', 'mpc', '{f1,f2,f3,f4,f5,f6}')});
is(scalar(@{ run_lines($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1.5}'), 'permitted again') }),
	50, 'permitted again: the run works');

# Owner values that cannot be encoded: the owner refuses, naming the column
# and never the value.
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('badtext', 'SELECT code, f1::text AS ftxt FROM public.features UNION ALL SELECT ''BADKEY-1'', ''n/a-73915''', 'code');
	SELECT pgpriv.permit('badtext', 'bank_role', 'mpc', '{ftxt}');
	SELECT pgpriv.publish('bigval', 'SELECT code, f1 FROM public.features UNION ALL SELECT ''BIGKEY-1'', 9123.4567', 'code');
	SELECT pgpriv.permit('bigval', 'bank_role', 'mpc', '{f1}');
});
fails_with($bank, js_sql('gov', 'badtext', q{SELECT code FROM applicants WHERE id <= 20 UNION ALL SELECT 'BADKEY-1'}, '{"ftxt": 2.5}'),
	'22P02', qr/ftxt/, 'an owner value that is not a number', secrets => ['n/a-73915', '73915']);
is(scalar(@{ run_lines($bank, js_sql('gov', 'badtext', 'SELECT code FROM applicants WHERE id <= 20', '{"ftxt": 2.5}'),
			'badtext control') }), 20, 'control: the numeric text of that column is accepted');
fails_with($bank, js_sql('gov', 'bigval', q{SELECT code FROM applicants WHERE id <= 20 UNION ALL SELECT 'BIGKEY-1'}, '{"f1": 2.5}'),
	'22003', qr/f1/, 'an owner value of 9123.4567', secrets => ['9123.4567']);

# The max_keys budget: each row counts as one key.
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('budget', 'SELECT code, f1 FROM public.features', 'code');
	SELECT pgpriv.permit('budget', 'bank_role', 'mpc', '{f1}', max_keys => 100);
});
$bank->safe_psql('postgres', q{CREATE TABLE bkeys AS SELECT g AS id, 'BUD-' || g AS code FROM generate_series(1, 200) g});
my $used = q{SELECT coalesce(sum(keys_used), 0) FROM pgpriv.budgets
	WHERE dataset = 'budget' AND peer_role = 'bank_role' AND capability = 'mpc' AND day = CURRENT_DATE};
my $bq = sub { my ($lo, $hi, $dup) = @_;
	return "SELECT code FROM bkeys WHERE id BETWEEN $lo AND $hi UNION ALL SELECT code FROM bkeys WHERE id BETWEEN $lo AND " . ($lo + $dup - 1); };
is(scalar(@{ run_lines($bank, js_sql('gov', 'budget', $bq->(1, 50, 10), '{"f1": 1.5}'), 'budget: 60 rows') }), 60,
	'budget: 60 rows (10 duplicated) within max_keys 100');
is($gov->safe_psql('postgres', $used), '60', 'budget: charged one key per row (60)');
fails_with($bank, js_sql('gov', 'budget', $bq->(51, 81, 10), '{"f1": 1.5}'), '54000', qr/max_keys/,
	'41 more rows exceed max_keys 100');
is($gov->safe_psql('postgres', $used), '60', 'budget: the refused run charged nothing');
is(scalar(@{ run_lines($bank, js_sql('gov', 'budget', $bq->(51, 80, 10), '{"f1": 1.5}'), 'budget: 40 more') }), 40,
	'budget: 40 more rows fill it exactly');
is($gov->safe_psql('postgres', $used), '100', 'budget: used up');
is(scalar(lines($bank->safe_psql('postgres', q{SELECT part FROM pgpriv.mpc_selftest('gov', 'budget', 1000, 100)}))), 4,
	'mpc_selftest works on a dataset whose budget is used up');
is($gov->safe_psql('postgres', $used), '100', 'mpc_selftest charges no keys');

# ---------------------------------------------------------------------------
# 5. Malformed and out-of-order messages
# ---------------------------------------------------------------------------
my $as_peer = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_role password=pw_bank";
{
	my ($rc, $out, $err) = $gov->psql('postgres', q{SELECT pgpriv.serve_mpc_flight('nosuchrun', '\x00'::bytea)},
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:/, 'as the peer role: a flight for a run that is not open, one byte (08P01)');
	# A well-formed flight (type 26, items: step 0 of 1 step, one empty step).
	my $msg = unpack('H*', pack('C C N N', 1, 26, 2, 0) . pack('N', 8) . pack('N N', 0, 1) . pack('N', 0));
	($rc, $out, $err) = $gov->psql('postgres', qq{SELECT pgpriv.serve_mpc_flight('nosuchrun', '\\x$msg'::bytea)},
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:/, 'as the peer role: a well-formed flight for a run that is not open (08P01)');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT 1', connstr => $as_peer);
	is($out, '1', 'control: the peer role logs in and runs queries on gov');
}

# The tampering owner: database "tamper" on gov, whose serve_mpc_flight is a
# wrapper around the real one, corrupting call number at_call as the
# control row says.  Every call is counted per run; replies are kept for
# the replay case; each applied tampering is written to the server log.
$gov->safe_psql('tamper', q{
	CREATE TABLE public.tamper_ctl (case_id int, mode text, at_call int);
	INSERT INTO public.tamper_ctl VALUES (0, 'none', 0);
	CREATE TABLE public.tamper_calls (rid text PRIMARY KEY, calls int NOT NULL, case_id int);
	CREATE TABLE public.tamper_prev (rid text PRIMARY KEY, reply bytea);
	CREATE TABLE public.tamper_log (case_id int, n int, first_step bigint, steps bigint, msg_len int, reply_len int, reply_md5 text);
	ALTER FUNCTION pgpriv.serve_mpc_flight(text, bytea) RENAME TO real_mpc_flight;
	CREATE FUNCTION pgpriv.serve_mpc_flight(run text, msg bytea) RETURNS bytea
	  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	  DECLARE
	    c record;
	    n int;
	    m bytea := msg;
	    r bytea;
	    p bytea;
	    mid int;
	  BEGIN
	    SELECT t.case_id, t.mode, t.at_call INTO c FROM public.tamper_ctl AS t;
	    INSERT INTO public.tamper_calls AS k (rid, calls, case_id) VALUES (run, 1, c.case_id)
	      ON CONFLICT (rid) DO UPDATE SET calls = k.calls + 1 RETURNING k.calls INTO n;
	    IF c.mode = 'flip_step' AND n = c.at_call THEN
	      RAISE LOG 'pgpriv-tamper case % applied % at call %', c.case_id, c.mode, n;
	      m := set_byte(m, 17, get_byte(m, 17) # 1);
	    END IF;
	    r := pgpriv.real_mpc_flight(run, m);
	    INSERT INTO public.tamper_log VALUES (c.case_id, n,
	      CASE WHEN length(msg) >= 22 THEN (get_byte(msg, 14)::bigint << 24) + (get_byte(msg, 15) << 16) + (get_byte(msg, 16) << 8) + get_byte(msg, 17) END,
	      CASE WHEN length(msg) >= 22 THEN (get_byte(msg, 18)::bigint << 24) + (get_byte(msg, 19) << 16) + (get_byte(msg, 20) << 8) + get_byte(msg, 21) END,
	      length(msg), length(r), md5(r));
	    IF c.mode = 'replay' THEN
	      SELECT x.reply INTO p FROM public.tamper_prev AS x WHERE x.rid = run;
	      INSERT INTO public.tamper_prev AS x (rid, reply) VALUES (run, r)
	        ON CONFLICT (rid) DO UPDATE SET reply = EXCLUDED.reply;
	    END IF;
	    IF n = c.at_call AND c.mode NOT IN ('flip_step', 'none') THEN
	      RAISE LOG 'pgpriv-tamper case % applied % at call % (reply of % bytes)', c.case_id, c.mode, n, length(r);
	      mid := length(r) / 2;
	      r := CASE c.mode
	        WHEN 'truncate' THEN substr(r, 1, length(r) - 1 - length(r) / 4)
	        WHEN 'flip_type' THEN set_byte(r, 1, get_byte(r, 1) # 1)
	        WHEN 'flip_mid' THEN set_byte(r, mid, get_byte(r, mid) # 4)
	        WHEN 'replay' THEN p
	        WHEN 'null' THEN NULL
	        WHEN 'empty' THEN ''::bytea
	        ELSE r END;
	    END IF;
	    RETURN r;
	  END $$;
});
{
	my $tq = 'SELECT code, income, has_loan FROM applicants WHERE id <= 100 ORDER BY id';
	my $want = model([ @apps[ 0 .. 99 ] ], $main_local, \%w_main);
	my $t = median_threshold($want);
	my $sql_for = sub {
		my ($peer, $thr) = @_;
		return js_sql($peer, 'scores', $tq, $w_main_json, $thr ? fmt4($t) : undef);
	};
	my $digest = sub {
		my ($peer, $thr) = @_;
		return js_digest($peer, 'scores', $tq, $w_main_json, $thr ? fmt4($t) : undef);
	};
	my $nrows = scalar(@$want);
	# References from the real owner, checked against the model.
	my (%ref, %ref_lines);
	for my $thr (0, 1) {
		my $got = run_lines($bank, $sql_for->('gov', $thr), 'tamper reference');
		check_run('reference run for the tampering cases' . ($thr ? ' (threshold)' : ''), $got, $want, $thr ? $t : undef);
		$ref_lines{$thr} = $got;
		($ref{$thr}) = $bank->safe_psql('postgres', $digest->('gov', $thr)) =~ /^digest:(\w+)$/;
	}
	my $case = 0;
	my %calls;
	my $set_case = sub {
		my ($mode, $at) = @_;
		$case++;
		$gov->safe_psql('tamper', "UPDATE public.tamper_ctl SET case_id = $case, mode = '$mode', at_call = $at");
	};
	my $calls_of_case = sub {
		return $gov->safe_psql('tamper', "SELECT coalesce(max(calls), 0) FROM public.tamper_calls WHERE case_id = $case");
	};
	# Controls: the wrapper passes an honest run through unchanged.
	my %md5;
	for my $thr (0, 1) {
		$set_case->('none', 0);
		my ($rc, $out, $err) = vpsql($bank, $digest->('tamper', $thr), on_error_stop => 0, timeout => 300);
		is($err, '', 'tamper control' . ($thr ? ' (threshold)' : '') . ': the wrapped owner serves an honest run');
		is(($out =~ /^digest:(\w+)$/m)[0], $ref{$thr}, 'tamper control' . ($thr ? ' (threshold)' : '') . ': same result as the real owner');
		$calls{$thr} = $calls_of_case->();
		note("flights per run (100 rows" . ($thr ? ', threshold' : '') . "): $calls{$thr}; call:first step:steps:msg bytes:reply bytes:reply md5 = "
			  . $gov->safe_psql('tamper', "SELECT string_agg(concat_ws(':', n, first_step, steps, msg_len, reply_len, left(reply_md5, 8)), ' ' ORDER BY n)
			   FROM public.tamper_log WHERE case_id = $case"));
		$md5{$thr} = [ undef, split /\n/, $gov->safe_psql('tamper', "SELECT reply_md5 FROM public.tamper_log WHERE case_id = $case ORDER BY n") ];
	}
	cmp_ok($calls{0}, '>=', 1, 'the asker calls serve_mpc_flight');
	my ($n0, $n1) = ($calls{0}, $calls{1});
	my $mid0 = int(($n0 + 1) / 2);
	my @cases = (
		[ 'flip_step', 1,     0, 'the first flight\'s step index changed (out of order)' ],
		[ 'flip_step', $n0,   0, 'the last flight\'s step index changed' ],
		[ 'flip_step', $n1,   1, 'the last flight\'s step index changed (threshold)' ],
		[ 'truncate',  1,     0, 'the first reply truncated' ],
		[ 'truncate',  $n0,   0, 'the last reply truncated' ],
		[ 'truncate',  int(($n1 + 1) / 2), 1, 'a middle reply truncated (threshold)' ],
		[ 'flip_type', 1,     0, 'the first reply\'s message type changed' ],
		[ 'flip_type', $n1,   1, 'the last reply\'s message type changed (threshold)' ],
		[ 'null',      1,     0, 'the first reply NULL' ],
		[ 'null',      $n0,   0, 'the last reply NULL' ],
		[ 'empty',     1,     0, 'the first reply empty' ],
		[ 'empty',     $n1,   1, 'the last reply empty (threshold)' ],
	);
	push @cases, [ 'flip_step', 2, 0, 'the second flight\'s step index changed' ] if $n0 >= 2;
	# Replays where the replayed reply differs from the real one.
	for my $thr (0, 1) {
		my @diff = grep { $md5{$thr}[$_] ne $md5{$thr}[ $_ - 1 ] } 2 .. $#{ $md5{$thr} };
		my %seen;
		for my $n (grep { defined && !$seen{$_}++ } @diff[ 0, -1 ]) {
			push @cases, [ 'replay', $n, $thr, "the reply of flight " . ($n - 1) . " replayed for flight $n" . ($thr ? ' (threshold)' : '') ];
		}
	}
	# A flipped payload byte may decode (a wrong result) or not (08P01).
	my @payload = ([ 'flip_mid', 1, 0, 'a payload byte of the first reply flipped' ],
		[ 'flip_mid', $mid0, 0, 'a payload byte of a middle reply flipped' ],
		[ 'flip_mid', $n0, 0, 'a payload byte of the last reply flipped' ],
		[ 'flip_mid', $n1, 1, 'a payload byte of the last reply flipped (threshold)' ]);
	for my $c (@cases, @payload) {
		my ($mode, $at, $thr, $what) = @$c;
		my $payload = $mode eq 'flip_mid';
		$set_case->($mode, $at);
		my ($rc, $out, $err) = vpsql($bank,
			"SELECT 'pid:' || pg_backend_pid();\n" . $sql_for->('tamper', $thr) . ";\n"
			  . "SELECT 'pid:' || pg_backend_pid();\nSELECT 'alive:' || 1;\n" . $digest->('gov', $thr) . ";\n",
			on_error_stop => 0, timeout => 300);
		my $applied = $gov->log_contains(qr/pgpriv-tamper case $case applied \Q$mode\E at call $at\b/);
		ok($applied, "tampering owner, $what: the tampering was applied (case $case)");
		if ($payload) {
			my $result = () = $out =~ /^[0-9a-f]*\|/mg;
			ok($err =~ /ERROR:\s+08P01:/ || ($err eq '' && $result == $nrows),
				"tampering owner, $what: 08P01 or a result") or diag("stderr: $err");
			note("$what: " . ($err =~ /08P01/ ? '08P01' : "a result of $result rows"));
		}
		else {
			like($err, qr/ERROR:\s+08P01:/, "tampering owner, $what: SQLSTATE 08P01")
			  or diag('stdout (start): ' . substr($out, 0, 200));
		}
		my ($detail) = $err =~ /ERROR:\s+08P01:\s*(.*)/;
		note("case $case ($mode at $at): " . ($detail // 'no error'));
		if ($err !~ /ERROR/) {
			my @rows = grep { /^[0-9a-f]*\|/ } split /\n/, $out;
			my $differ = grep { $rows[$_] ne ($ref_lines{$thr}[$_] // '') } 0 .. $#rows;
			note("case $case ($mode at $at) returned a result: " . ($differ ? "$differ of " . scalar(@rows) . ' rows differ from the honest result' : 'the honest result'));
		}
		my @pids = $out =~ /^pid:(\d+)$/mg;
		ok(@pids == 2 && $pids[0] == $pids[1] && $out =~ /^alive:1$/m,
			"tampering owner, $what: the bank's backend is alive (SELECT 1)");
		is(($out =~ /^digest:(\w+)$/m)[0], $ref{$thr}, "tampering owner, $what: the next honest run against gov works");
	}
	$set_case->('none', 0);
	my ($rc, $out, $err) = vpsql($bank, $digest->('tamper', 0), on_error_stop => 0, timeout => 300);
	is(($out =~ /^digest:(\w+)$/m)[0], $ref{0}, 'after all cases the wrapped owner serves an honest run again');
}
ok(!$bank->log_contains(qr/terminated by signal/), 'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');

# ---------------------------------------------------------------------------
# 6. Peer lost mid-run, and a cancel (120 000 rows with a threshold: a few
#    seconds, long enough to be caught in the middle on a fast machine)
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	CREATE TABLE public.big AS
	  SELECT 'B-' || g AS code,
	         ((g * 7919) % 20001 - 10000) / 10.0 AS c1, ((g * 104729) % 20001 - 10000) / 100.0 AS c2,
	         ((g * 31) % 1001 - 500) / 4.0 AS c3, (g % 2 = 0) AS c4,
	         round(((g * 613) % 16001 - 8000) / 3.0, 4) AS c5, (g % 977)::int AS c6,
	         ((g * 17) % 2001 - 1000) / 8.0 AS c7, round(((g * 7) % 3001) / 7.0, 4) AS c8
	    FROM generate_series(1, 120000::bigint) g;
	SELECT pgpriv.publish('big', 'SELECT code, c1, c2, c3, c4, c5, c6, c7, c8 FROM public.big', 'code');
	SELECT pgpriv.permit('big', 'bank_role', 'mpc', '{c1,c2,c3,c4,c5,c6,c7,c8}');
});
$bank->safe_psql('postgres', q{CREATE TABLE big_apps AS SELECT g AS id, 'B-' || g AS code FROM generate_series(1, 120000) g});
my $big_sql = q{SELECT count(*) FROM pgpriv.joint_score('gov', 'big', 'SELECT code FROM big_apps',
	'{"c1": 0.5, "c2": -1.25, "c3": 2, "c4": -3.5, "c5": 0.125, "c6": 0.01, "c7": -0.75, "c8": 1.5}', 12.5)};
my $again_sql = q{SELECT 'again:' || count(score) FROM pgpriv.joint_score('gov', 'scores', 'SELECT code FROM applicants', '{"f1": 1.5}')};
my $again_want = scalar(grep { !$_->{null} } @{ model(\@apps, sub { {} }, { f1 => 15000 }) });
my $gov_quiet = q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_role'};
my $bank_running = q{SELECT count(*) = 1 FROM pgpriv.progress WHERE capability = 'joint_score' AND dataset = 'big'};
# Mid-run: the asker is in the two-party computation and has done some of its steps.
my $bank_mid = q{SELECT count(*) = 1 FROM pgpriv.progress WHERE capability = 'joint_score' AND dataset = 'big'
	 AND phase LIKE 'asker: two-party%' AND done >= 3};
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost: no earlier serving session is left on gov');
	my $bg = bg_psql($bank, "SELECT 'pid:' || pg_backend_pid();\n$big_sql;\nSELECT 'pid:' || pg_backend_pid();\n$again_sql;\n",
		'bg_js_lost');
	ok(wait_for($bank, $bank_running, 60), 'peer lost: pgpriv.progress shows the run (capability joint_score)');
	ok(wait_for($bank, $bank_mid, 60), 'peer lost: the run is in its two-party computation');
	note('asker progress: ' . $bank->safe_psql('postgres', q{SELECT concat_ws('|', phase, done, total, bytes_in, bytes_out) FROM pgpriv.progress}));
	ok(wait_for($gov, q{SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'bank_role'
		 AND application_name = 'pgpriv' AND state = 'active'}, 60), 'peer lost: gov is serving the run');
	is($gov->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE usename = 'bank_role' AND application_name = 'pgpriv'}), '1', 'peer lost: gov\'s serving backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:/, 'peer lost: the bank gets a class 08 error') or diag("stdout: $out");
	unlike($out, qr/^\d+$/m, 'peer lost: no result');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost: the bank\'s backend survives');
	is(($out =~ /^again:(\d+)$/m)[0], $again_want, 'peer lost: the next run in the same session works and is right');
	is($bank->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'peer lost: no progress row left');
	is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'asker' AND dataset = 'big' AND outcome = 'ok'}),
		'0', 'peer lost: no asker audit row claims the lost run');
	like(audit_failed($bank, q{dataset = 'big'}), qr/^failed: peer lost/, 'peer lost: the asker audits the run as failed: peer lost');
}
{
	ok(wait_for($gov, $gov_quiet, 30), 'cancel: no earlier serving session is left on gov');
	my $bg = bg_psql($bank, "SELECT 'pid:' || pg_backend_pid();\n$big_sql;\nSELECT 'pid:' || pg_backend_pid();\nSELECT 'after:' || 1;\n$again_sql;\n",
		'bg_js_cancel');
	ok(wait_for($bank, $bank_mid, 60), 'cancel: the run is in its two-party computation');
	note('asker progress: ' . $bank->safe_psql('postgres', q{SELECT concat_ws('|', phase, done, total, bytes_in, bytes_out) FROM pgpriv.progress}));
	usleep(300_000);
	my $t1 = time;
	is($bank->safe_psql('postgres', q{SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bg_js_cancel'}),
		'1', 'cancel: pg_cancel_backend sent to the bank backend');
	my ($out, $err) = bg_finish($bg);
	my $elapsed = time - $t1;
	like($err, qr/ERROR:\s+57014:/, 'cancel: the run ends with SQLSTATE 57014') or diag("stdout: $out");
	cmp_ok($elapsed, '<=', 3.0, sprintf('cancel: it returns promptly (%.3f s)', $elapsed));
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1] && $out =~ /^after:1$/m, 'cancel: the session goes on');
	is(($out =~ /^again:(\d+)$/m)[0], $again_want, 'cancel: a new run in the same session works and is right');
	ok(wait_for($gov, q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_role' AND state = 'active'}, 15),
		'cancel: gov stops serving the cancelled run');
	is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'asker' AND dataset = 'big' AND outcome = 'ok'}),
		'0', 'cancel: no asker audit row claims the cancelled run');
	like(audit_failed($bank, q{dataset = 'big'}), qr/failed: peer lost[^;]*;failed: cancelled \(57014\)$/,
		'cancel: the asker audits the cancelled run as failed: cancelled (after the lost one)');
}

for my $node ($gov, $bank) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', $node->name . ': the audit chain verifies');
}
ok(!$bank->log_contains(qr/terminated by signal/), 'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');
note(sprintf('total time %.1f s', time - $t_start));

done_testing();
