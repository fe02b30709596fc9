# Blinded join between three parties: gov (data owner) serves bank_a (the
# asker) with psi, psi_count and psi_fetch.  Correctness on random data
# (special keys, types, NULLs, empty and one-element sets, a non-superuser
# analyst) and the asker's cache of the encrypted table.  Permits and budgets
# are in 023_join_permits.pl, a peer lost, a cancel, progress and a lying
# peer in 024_join_failures.pl.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;
use JoinFixture;

# gov serves bank_a and bank_b; random data and its plain model (test/tools/JoinFixture.pm).
join_fixture();

# ---------------------------------------------------------------------------
# 1. Correctness
# ---------------------------------------------------------------------------
my $model = model_join(\@bank_keys, \@gov_rows);
note(sprintf('gov rows %d, bank rows %d, expected matches %d, fetch rows %d',
		scalar(@gov_rows), scalar(@bank_keys), $model->{count}, scalar(@{ $model->{fetch} })));
cmp_ok($model->{count}, '>', 500, 'the random data has a sizeable intersection');
check_all_three($bank_a, 'tax', $all_q, $model, 'random data');

# The special keys on their own, so a mistake there is named.
{
	my @ids;
	my %special = map { $_ => 1 } (@special_both, @special_bank_only);
	my $i = 0;
	my @sub;
	for my $k (@bank_keys) {
		$i++;
		next unless defined $k && $special{$k};
		push @ids, $i;
		push @sub, $k;
	}
	my $q = 'SELECT code FROM applicants WHERE id IN (' . join(',', @ids) . ')';
	check_all_three($bank_a, 'tax', $q, model_join(\@sub, \@gov_rows),
		'special keys (empty, non-ASCII, emoji, quotes, backslashes, $$, case, trailing space)');
}

is($bank_a->safe_psql('postgres', q{
	SELECT pg_typeof(paid)::text || ',' || pg_typeof(staff)::text || ',' || pg_typeof(grade)::text
	  FROM pgpriv.psi_fetch('gov', 'tax', $q$SELECT code FROM applicants$q$)
	       AS t(code text, grade text, paid numeric, staff int) LIMIT 1}),
	'numeric,integer,text', 'psi_fetch converts payload columns to the declared types');
is($bank_a->safe_psql('postgres', q{
	SELECT count(*) FROM pgpriv.psi_fetch('gov', 'tax', $q$SELECT code FROM applicants$q$)
	       AS t(code text, grade text, paid numeric, staff int)
	 WHERE grade IS NULL OR paid IS NULL OR staff IS NULL}),
	scalar(grep { /NULL/ } @{ $model->{fetch} }), 'psi_fetch keeps NULL payload values as NULL');

# The key is the first column cast to text: a char(n) key loses its padding
# (as code::text does), an integer key is its decimal text.
{
	my @plain = grep { /^K[A-Z0-9]{10}$/ } @gov_keys;
	$bank_a->safe_psql('postgres', 'CREATE TABLE padded (code char(20));'
		  . 'INSERT INTO padded VALUES (' . lit($plain[0]) . '), (' . lit($plain[1]) . q{), ('not-in-gov');});
	is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM padded WHERE code::text IN (SELECT unnest(ARRAY[}
		  . lit($plain[0]) . ',' . lit($plain[1]) . ']))'), '2', 'control: code::text of the char(20) keys is the gov key');
	is_list([ lines($bank_a->safe_psql('postgres', $psi_sql->('gov', 'tax', 'SELECT code FROM padded'))) ],
		[ map { hexkey($_) } @plain[ 0, 1 ] ], 'keys from a char(20) column match as their text cast');
	is($bank_a->safe_psql('postgres', $count_sql->('gov', 'tax', 'SELECT code FROM padded')), '2',
		'psi_count of keys from a char(20) column');
	is($bank_a->safe_psql('postgres', $count_sql->('gov', 'tax', 'SELECT code::text FROM padded')), '2',
		'psi_count of the same keys cast to text explicitly');
}

# A non-superuser analyst with its own user mapping.
$bank_a->safe_psql('postgres', q{
	CREATE ROLE analyst LOGIN;
	GRANT USAGE ON FOREIGN SERVER gov TO analyst;
	CREATE USER MAPPING FOR analyst SERVER gov OPTIONS (user 'bank_a_role', password 'pw_a');
	GRANT SELECT ON applicants TO analyst;
});
is_list([ lines($bank_a->safe_psql('postgres', 'SET ROLE analyst; ' . $fetch_sql->('gov', 'tax', $all_q))) ],
	$model->{fetch}, 'a non-superuser analyst gets the same psi_fetch result');
is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE actor = 'analyst' AND side = 'asker'}),
	'1', 'the analyst\'s run is audited under its name');
fails_with($bank_a, 'SET ROLE analyst; SELECT count(*) FROM pgpriv.peer_table', '42501', qr/permission denied/,
	'the analyst cannot read the cached tables directly');

# Empty and one-element sets.
my $none = { psi => [], count => 0, fetch => [] };
check_all_three($bank_a, 'tax', 'SELECT code FROM applicants WHERE false', $none, 'empty asker set');
check_all_three($bank_a, 'tax', 'SELECT NULL::text FROM generate_series(1, 5)', $none,
	'asker set of only NULLs');
check_all_three($bank_a, 'empty_ds', $all_q, $none, 'empty owner dataset');
{
	my $k = $gov_keys[0];
	my ($idx) = grep { defined $bank_keys[$_] && $bank_keys[$_] eq $k } 0 .. $#bank_keys;
	my $q = defined $idx ? 'SELECT code FROM applicants WHERE id = ' . ($idx + 1)
	  : 'SELECT ' . lit($k);
	check_all_three($bank_a, 'tax', $q, model_join([$k], \@gov_rows), 'one asker key that matches');
	check_all_three($bank_a, 'tax', q{SELECT 'no-such-key-anywhere'}, $none,
		'one asker key that does not match');
}
my $single_rows = [ { code => 'single-key-1', grade => 'GRADE_S', paid => '1.50', staff => 7 } ];
check_all_three($bank_a, 'single_ds', q{SELECT 'single-key-1' UNION ALL SELECT code FROM applicants},
	model_join([ 'single-key-1', @bank_keys ], $single_rows), 'one-row owner dataset');
check_all_three($bank_a, 'single_ds', $all_q, $none, 'one-row owner dataset without a match');

# ---------------------------------------------------------------------------
# 2. Cache of the encrypted table on the asker
# ---------------------------------------------------------------------------
my $last_fetch_audit = q{
	SELECT detail || '|' || bytes_in FROM pgpriv.audit
	 WHERE side = 'asker' AND capability = 'psi_fetch' AND dataset = 'tax' AND outcome = 'ok'
	 ORDER BY id DESC LIMIT 1};
{
	my ($first) = split /\|/, $bank_a->safe_psql('postgres', q{
		SELECT detail FROM pgpriv.audit WHERE side = 'asker' AND capability = 'psi_fetch' AND dataset = 'tax'
		 ORDER BY id LIMIT 1});
	like($first, qr/\(downloaded\)/, 'the first psi_fetch downloads the table');
	my ($detail) = split /\|/, $bank_a->safe_psql('postgres', $last_fetch_audit);
	like($detail, qr/\(cached\)/, 'later psi_fetch runs of the unchanged table use the cache');
}

# Make sure a key of the small set has a row we can change.
my %gov_has = map { $_->{code} => 1 } grep { defined $_->{code} } @gov_rows;
my ($upd_key) = grep { defined $_ && $gov_has{$_} } @small_keys;
ok(defined $upd_key, 'a key of the small set is in the dataset');

sub fetch_run
{
	my ($label, $rows) = @_;
	is_list([ lines($bank_a->safe_psql('postgres', $fetch_sql->('gov', 'tax', $small_q))) ],
		model_join(\@small_keys, $rows)->{fetch}, "$label: psi_fetch result is correct");
	my ($detail, $bytes) = split /\|/, $bank_a->safe_psql('postgres', $last_fetch_audit);
	return ($detail, $bytes);
}

my ($d1, $b1) = fetch_run('unchanged data', \@gov_rows);
like($d1, qr/\(cached\)/, 'unchanged data: psi_fetch reuses the cached table');

# An UPDATE of a column no permit reveals keeps the served table's version.
$gov->safe_psql('postgres', q{UPDATE public.tax SET note = note || ' changed'});
$_->{note} .= ' changed' for @gov_rows;
my ($d1b) = fetch_run('after an UPDATE of an unpermitted column', \@gov_rows);
like($d1b, qr/\(cached\)/, 'an UPDATE of a column that is not served keeps the cached table');

# An UPDATE of a served column: a new version, downloaded again.
$gov->safe_psql('postgres', 'UPDATE public.tax SET grade = ' . lit('GRADE_UPDATED') . ' WHERE code = ' . lit($upd_key));
$_->{grade} = 'GRADE_UPDATED' for grep { defined $_->{code} && $_->{code} eq $upd_key } @gov_rows;
my ($d2, $b2) = fetch_run('after an UPDATE of the owner table', \@gov_rows);
like($d2, qr/\(downloaded\)/, 'after an UPDATE of the owner table the table is downloaded again');
like($bank_a->safe_psql('postgres', $fetch_sql->('gov', 'tax', $small_q)), qr/GRADE_UPDATED/,
	'the updated value is what psi_fetch returns');
my ($d3, $b3) = fetch_run('second run after the UPDATE', \@gov_rows);
like($d3, qr/\(cached\)/, 'the next run uses the cache again');
cmp_ok($b3 * 4, '<', $b2, "a cached run reads much less from the peer ($b3 vs $b2 bytes)");

$gov->safe_psql('postgres', q{SELECT pgpriv.rotate_oprf_key('tax', 'bank_a_role')});
my ($d4) = fetch_run('after rotate_oprf_key', \@gov_rows);
like($d4, qr/\(downloaded\)/, 'after rotate_oprf_key the table is downloaded again');
my ($d5) = fetch_run('second run after rotate_oprf_key', \@gov_rows);
like($d5, qr/\(cached\)/, 'and cached after that');
is_list([ lines($bank_a->safe_psql('postgres', $psi_sql->('gov', 'tax', $all_q))) ],
	model_join(\@bank_keys, \@gov_rows)->{psi}, 'psi is still correct after the rotation');
is($bank_a->safe_psql('postgres', q{SELECT count(DISTINCT version) FROM pgpriv.peer_table WHERE dataset = 'tax' AND capability = 'psi_fetch'}),
	'1', 'the asker keeps one cached version per table');

# The audit chains still verify on every party.
for my $node ($gov, $bank_a, $bank_b) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't',
		$node->name . ': the audit chain verifies');
}

done_testing();
