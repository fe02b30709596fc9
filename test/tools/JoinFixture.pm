# JoinFixture.pm — the three parties and the random data the blinded-join
# tests share (002_blinded_join, 023_join_permits, 024_join_failures).
#
# join_fixture() starts gov (the data owner) and bank_a and bank_b (askers),
# fills gov's public.tax with random rows (1,500 keys and special ones:
# empty, non-ASCII, emoji, quotes, backslashes, $$, case, trailing space;
# some keys with several rows, NULL keys) and bank_a's applicants with keys
# of which about half match, duplicates and NULLs among them; publishes
# tax, empty_ds and single_ds with psi, psi_count and psi_fetch permits for
# bank_a.  model_join computes what each function must return from the data
# the test generated; check_all_three compares all three against it.
# A fixed seed makes a failure reproduce; PGPRIV_TEST_SEED overrides it.
package JoinFixture;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgprivTest;

our @EXPORT = qw(join_fixture model_join check_all_three
  $gov $bank_a $bank_b $gov_port @gov_keys @gov_rows @bank_keys
  @special_both @special_gov_only @special_bank_only
  $psi_sql $count_sql $fetch_sql $all_q $small_q @small_keys);

our ($gov, $bank_a, $bank_b, $gov_port);
our (@gov_keys, @gov_rows, @bank_keys, @special_both, @special_gov_only, @special_bank_only);
our ($psi_sql, $count_sql, $fetch_sql);
# Every applicant, and the first 60 rows of applicants (duplicates and NULLs among them).
our $all_q   = 'SELECT code FROM applicants';
our $small_q = 'SELECT code FROM applicants WHERE id <= 60';
our @small_keys;

# ---------------------------------------------------------------------------
# Random data: gov's tax table and bank_a's applicants
# ---------------------------------------------------------------------------
my %used;
sub fresh_key { return random_key(\%used, prefix => 'K', han => 4); }

sub random_payload
{
	return {
		grade => rand() < 0.1 ? undef
		: 'GRADE_' . ('A' .. 'E')[ int(rand(5)) ] . '_' . int(rand(1000)),
		paid => rand() < 0.1 ? undef
		: sprintf('%s%d.%02d', rand() < 0.05 ? '-' : '', int(rand(1_000_000)), int(rand(100))),
		staff => rand() < 0.1 ? undef : int(rand(5000)) - 100,
		note  => 'note ' . int(rand(1e6)),
	};
}

sub insert_gov_rows
{
	my ($table, $rows) = @_;
	return '' unless @$rows;
	return "INSERT INTO $table (code, grade, paid, staff, note) VALUES "
	  . join(",\n", map {
			'(' . join(', ', lit($_->{code}), lit($_->{grade}), lit($_->{paid}),
				lit($_->{staff}), lit($_->{note})) . ')' } @$rows)
	  . ";\n";
}

# Expected results, computed from the data the test generated.
sub model_join
{
	my ($bank, $rows) = @_;
	my %by_key;
	for my $r (@$rows) {
		push @{ $by_key{ $r->{code} } }, $r if defined $r->{code};
	}
	my %seen;
	my @distinct = grep { defined $_ && !$seen{$_}++ } @$bank;
	my @match = grep { exists $by_key{$_} } @distinct;
	my @fetch;
	for my $k (@match) {
		for my $r (@{ $by_key{$k} }) {
			push @fetch, join('|', hexkey($k),
				map { defined $r->{$_} ? "v:$r->{$_}" : 'NULL' } qw(grade paid staff));
		}
	}
	return { psi => [ map { hexkey($_) } @match ], count => scalar(@match), fetch => \@fetch };
}

$psi_sql = sub {
	my ($peer, $ds, $q) = @_;
	return qq{SELECT encode(convert_to(key, 'UTF8'), 'hex') FROM pgpriv.psi('$peer', '$ds', \$q\$$q\$q\$)};
};
$count_sql = sub {
	my ($peer, $ds, $q) = @_;
	return qq{SELECT pgpriv.psi_count('$peer', '$ds', \$q\$$q\$q\$)};
};
$fetch_sql = sub {
	my ($peer, $ds, $q) = @_;
	return qq{SELECT encode(convert_to(code, 'UTF8'), 'hex') || '|' || coalesce('v:' || grade, 'NULL')
	  || '|' || coalesce('v:' || paid::text, 'NULL') || '|' || coalesce('v:' || staff::text, 'NULL')
	  FROM pgpriv.psi_fetch('$peer', '$ds', \$q\$$q\$q\$) AS t(code text, grade text, paid numeric, staff int)};
};

sub check_all_three
{
	my ($node, $ds, $q, $model, $label) = @_;
	is_list([ lines($node->safe_psql('postgres', $psi_sql->('gov', $ds, $q))) ],
		$model->{psi}, "$label: psi returns the distinct matching keys");
	is($node->safe_psql('postgres', $count_sql->('gov', $ds, $q)),
		$model->{count}, "$label: psi_count is the number of distinct matching keys");
	is_list([ lines($node->safe_psql('postgres', $fetch_sql->('gov', $ds, $q))) ],
		$model->{fetch}, "$label: psi_fetch returns one row per (key, owner row) with exact values");
}


sub join_fixture
{
	my $seed = $ENV{PGPRIV_TEST_SEED} // 20240611;
	srand($seed);
	note("random seed: $seed (set PGPRIV_TEST_SEED to change it)");

	# ---------------------------------------------------------------------------
	# Clusters: listen on loopback, SCRAM passwords over TCP, UTF8 databases.
	# ---------------------------------------------------------------------------
	$gov    = PostgreSQL::Test::Cluster->new('gov');
	$bank_a = PostgreSQL::Test::Cluster->new('bank_a');
	$bank_b = PostgreSQL::Test::Cluster->new('bank_b');
	for my $node ($gov, $bank_a, $bank_b) {
		pgpriv_setup($node);
	}
	$gov_port = $gov->port;
	my $gov_pins = pinned_keys($gov);

	$gov->safe_psql('postgres', q{
		CREATE ROLE bank_a_role LOGIN PASSWORD 'pw_a';
		CREATE ROLE bank_b_role LOGIN PASSWORD 'pw_b';
	});
	$bank_a->safe_psql('postgres', qq{
		CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
		CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_a_role', password 'pw_a');
	});
	$bank_b->safe_psql('postgres', qq{
		CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
		CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_b_role', password 'pw_b');
	});


	# Byte strings throughout (UTF-8 for non-ASCII), as psql sends and returns them.
	@special_both = (
		'', '上海某某科技有限公司', "\x{1F3E6}\x{1F642} emoji key",
		q{O'Brien "quoted" \back\slash}, '$$dollar$$', "tab\there", 'trailing ',
		'CaseKey', q{'}, q{\\}, q{"});
	@special_gov_only  = ('北京某某有限公司', 'casekey', q{only'gov\\}, "\x{1F600}");
	@special_bank_only = ('深圳某某银行客户', 'CASEKEY', 'trailing', q{x$$y}, q{''}, "\x{1F601}");
	for my $list (\@special_both, \@special_gov_only, \@special_bank_only) {
		# Literals in this file are UTF-8 bytes already; \x{...} escapes are not.
		for (@$list) { utf8::encode($_) if utf8::is_utf8($_); }
		$used{$_}++ for @$list;
	}

	@gov_keys = ((map { fresh_key() } 1 .. 1500), @special_both, @special_gov_only);
	@gov_rows = ();    # { code, grade, paid, staff, note }
	for my $k (@gov_keys) {
		my $r = rand();
		my $n = $r < 0.7 ? 1 : $r < 0.9 ? 2 : 3;
		push @gov_rows, { code => $k, %{ random_payload() } } for 1 .. $n;
	}
	push @gov_rows, { code => undef, %{ random_payload() } } for 1 .. 3;

	@bank_keys = (
		(map { $gov_keys[ int(rand(1500)) ] } 1 .. 600),
		(map { fresh_key() } 1 .. 600),
		@special_both, @special_bank_only);
	push @bank_keys, map { $bank_keys[ int(rand(@bank_keys)) ] } 1 .. 200;    # duplicates
	push @bank_keys, (undef) x 20;                                             # NULL keys
	# shuffle
	for (my $i = @bank_keys - 1; $i > 0; $i--) {
		my $j = int(rand($i + 1));
		@bank_keys[ $i, $j ] = @bank_keys[ $j, $i ];
	}

	$gov->safe_psql('postgres',
		"CREATE TABLE public.tax (code text, grade text, paid numeric, staff int, note text);\n"
		  . insert_gov_rows('public.tax', \@gov_rows) . q{
		CREATE TABLE public.single (code text, grade text, paid numeric, staff int, note text);
		INSERT INTO public.single VALUES ('single-key-1', 'GRADE_S', 1.50, 7, 'n');
		SELECT pgpriv.publish('tax', 'SELECT code, grade, paid, staff, note FROM public.tax', 'code');
		SELECT pgpriv.publish('empty_ds', 'SELECT code, grade, paid, staff FROM public.tax WHERE false', 'code');
		SELECT pgpriv.publish('single_ds', 'SELECT code, grade, paid, staff FROM public.single', 'code');
		SELECT pgpriv.permit('tax', 'bank_a_role', 'psi');
		SELECT pgpriv.permit('tax', 'bank_a_role', 'psi_count');
		SELECT pgpriv.permit('tax', 'bank_a_role', 'psi_fetch', '{grade,paid,staff}');
		SELECT pgpriv.permit(d, 'bank_a_role', c, CASE WHEN c = 'psi_fetch' THEN '{grade,paid,staff}' ELSE '{}' END::text[])
		  FROM unnest('{empty_ds,single_ds}'::text[]) AS d, unnest('{psi,psi_count,psi_fetch}'::text[]) AS c;
	});

	my $id = 0;
	$bank_a->safe_psql('postgres',
		"CREATE TABLE applicants (id int PRIMARY KEY, code text);\n"
		  . "INSERT INTO applicants VALUES "
		  . join(",\n", map { '(' . (++$id) . ', ' . lit($_) . ')' } @bank_keys) . ";\n");
	@small_keys = @bank_keys[ 0 .. 59 ];
	return;
}

1;
