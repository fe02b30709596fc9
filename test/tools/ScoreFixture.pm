# ScoreFixture.pm — the two parties and the random data the joint_score
# tests share (010_joint_score, 025_joint_score_errors, 026_joint_score_tamper).
#
# score_fixture() starts gov (the data owner, with a second database
# "tamper" holding the same data for a tampering owner) and bank (the
# asker); fills gov's public.features with random rows (six feature columns
# of every supported type, NULLs, duplicate and special keys, values up to
# the fixed-point bound) published as "scores" with an mpc permit, and the
# bank's applicants (keys gov holds, keys it lacks, duplicates, a NULL key,
# own features), and draws the main weights.  model() is the plain
# computation, check_run() compares a run's rows with it.  A fixed seed makes
# a failure reproduce; PGPRIV_TEST_SEED overrides it.
package ScoreFixture;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgprivTest;

our @EXPORT = qw(score_fixture fmt4 fresh_key maybe_null random_gov_row gov_insert_sql
  model weights_json js_call js_sql js_digest check_run run_lines median_threshold random_weight
  $gov $bank $gov_port @special @feat @gov_keys @gov_rows %dup_in_gov %gov_by_key $gov_setup @apps
  $line_expr $main_q $main_local %w_main $w_main_json);

our ($gov, $bank, $gov_port, @special, @gov_keys, @gov_rows, %dup_in_gov, %gov_by_key, $gov_setup, @apps);
our (%w_main, $w_main_json);
our @feat = qw(f1 f2 f3 f4 f5 f6);
our $line_expr = q{encode(convert_to(r.key, 'UTF8'), 'hex') || '|' || coalesce(r.score::text, 'N') || '|' || coalesce(r.flag::text, 'N')};
our $main_q = 'SELECT code, income, has_loan FROM applicants ORDER BY id';
our $main_local = sub { return { income => $_[0]{income}, has_loan => $_[0]{has_loan} }; };

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# Units of 10^-4 as decimal text.
sub fmt4 { return fmt_units($_[0], 4); }

# ---------------------------------------------------------------------------
# Random data.  Every feature value is kept as integer units of 10^-4 (undef
# for NULL), so the plain score is computed exactly in integers.
# ---------------------------------------------------------------------------
my %used;
sub fresh_key { return random_key(\%used, prefix => $_[0], letters => 9, han_share => 0.05); }

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


sub random_weight
{
	return (rand() < 0.5 ? -1 : 1) * (10001 + int(rand(190_000)));    # ±1.0001 .. ±20, 4 decimals
}

sub score_fixture
{
	my $seed = $ENV{PGPRIV_TEST_SEED} // 20240620;
	srand($seed);
	note("random seed: $seed (set PGPRIV_TEST_SEED to change it)");

	# ---------------------------------------------------------------------------
	# Clusters: loopback TCP, SCRAM passwords, UTF8 databases.  Serving calls
	# carry large bytea parameters: log only their first bytes.
	# ---------------------------------------------------------------------------
	$gov  = PostgreSQL::Test::Cluster->new('gov');
	$bank = PostgreSQL::Test::Cluster->new('bank');
	for my $node ($gov, $bank) {
		pgpriv_setup($node, "log_parameter_max_length = 64\nlog_parameter_max_length_on_error = 64\n");
	}
	$gov_port = $gov->port;
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


	@special = ('', "caf\x{e9}-\x{4e2d}\x{6587}", q{O'Brien "q" \b}, 'trailing ', '$$d$$');
	for (@special) { utf8::encode($_) if utf8::is_utf8($_); $used{$_}++; }

	@gov_keys = ((map { fresh_key('G') } 1 .. 2800), @special);
	@gov_rows = ();
	%dup_in_gov = ();
	for my $k (@gov_keys) {
		my $n = rand() < 0.05 ? 2 : 1;    # a few duplicate keys
		$dup_in_gov{$k} = 1 if $n > 1;
		push @gov_rows, random_gov_row($k) for 1 .. $n;
	}
	%gov_by_key = ();
	push @{ $gov_by_key{ $_->{code} } }, $_ for @gov_rows;
	push @gov_rows, random_gov_row(undef);    # a NULL key is never matched

	$gov_setup = q{
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
	@apps = ();
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

	%w_main = map { $_ => random_weight() } (@feat, 'income', 'has_loan');
	$w_main{f4} = -(123_456 + int(rand(1000)));    # one weight above 10
	$w_main{f3} = 3_579;                            # one below 1: 0.3579
	$w_main_json = weights_json(\%w_main);
	note("weights: $w_main_json");
	return;
}

1;
