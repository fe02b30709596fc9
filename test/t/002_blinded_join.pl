# Blinded join between three parties: gov (data owner) serves bank_a and
# bank_b (askers) with psi, psi_count and psi_fetch.  Covers correctness on
# random data, the asker's table cache, permits, budgets, a peer lost or a
# query cancelled mid-run, the progress view, and a lying peer whose serving
# functions return malformed messages.
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
my $seed = $ENV{PGPRIV_TEST_SEED} // 20240611;
srand($seed);
note("random seed: $seed (set PGPRIV_TEST_SEED to change it)");

# ---------------------------------------------------------------------------
# Clusters: listen on loopback, SCRAM passwords over TCP, UTF8 databases.
# ---------------------------------------------------------------------------
my $gov    = PostgreSQL::Test::Cluster->new('gov');
my $bank_a = PostgreSQL::Test::Cluster->new('bank_a');
my $bank_b = PostgreSQL::Test::Cluster->new('bank_b');
for my $node ($gov, $bank_a, $bank_b) {
	pgpriv_setup($node);
}
my $gov_port = $gov->port;
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

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

sub lines { my ($s) = @_; return $s eq '' ? () : split /\n/, $s; }

sub is_list
{
	my ($got, $want, $name) = @_;
	my @g = sort @$got;
	my @w = sort @$want;
	my $ok = is_deeply(\@g, \@w, $name);
	if (!$ok) {
		my %w = map { $_ => 1 } @w;
		my %g = map { $_ => 1 } @g;
		diag("got " . scalar(@g) . " rows, want " . scalar(@w));
		diag("missing: $_") for (grep { !$g{$_} } @w)[0 .. 9];
		diag("extra: $_")   for (grep { !$w{$_} } @g)[0 .. 9];
	}
	return $ok;
}

# ---------------------------------------------------------------------------
# Random data: gov's tax table and bank_a's applicants
# ---------------------------------------------------------------------------
# CJK ideographs for random non-ASCII keys (encoded to UTF-8 below).
my @han = map { chr($_) } (0x4E00 .. 0x4E00 + 300);
my %used;
sub fresh_key
{
	for (;;) {
		my $k = 'K';
		$k .= ('A' .. 'Z', '0' .. '9')[ int(rand(36)) ] for 1 .. 10;
		if (rand() < 0.15) {    # some random non-ASCII keys
			my $h = join '', map { $han[ int(rand(@han)) ] } 1 .. 4;
			utf8::encode($h);
			$k .= $h;
		}
		next if $used{$k}++;
		return $k;
	}
}

# Byte strings throughout (UTF-8 for non-ASCII), as psql sends and returns them.
my @special_both = (
	'', '上海某某科技有限公司', "\x{1F3E6}\x{1F642} emoji key",
	q{O'Brien "quoted" \back\slash}, '$$dollar$$', "tab\there", 'trailing ',
	'CaseKey', q{'}, q{\\}, q{"});
my @special_gov_only  = ('北京某某有限公司', 'casekey', q{only'gov\\}, "\x{1F600}");
my @special_bank_only = ('深圳某某银行客户', 'CASEKEY', 'trailing', q{x$$y}, q{''}, "\x{1F601}");
for my $list (\@special_both, \@special_gov_only, \@special_bank_only) {
	# Literals in this file are UTF-8 bytes already; \x{...} escapes are not.
	for (@$list) { utf8::encode($_) if utf8::is_utf8($_); }
	$used{$_}++ for @$list;
}

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

my @gov_keys = ((map { fresh_key() } 1 .. 1500), @special_both, @special_gov_only);
my @gov_rows;    # { code, grade, paid, staff, note }
for my $k (@gov_keys) {
	my $r = rand();
	my $n = $r < 0.7 ? 1 : $r < 0.9 ? 2 : 3;
	push @gov_rows, { code => $k, %{ random_payload() } } for 1 .. $n;
}
push @gov_rows, { code => undef, %{ random_payload() } } for 1 .. 3;

my @bank_keys = (
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

my $psi_sql = sub {
	my ($peer, $ds, $q) = @_;
	return qq{SELECT encode(convert_to(key, 'UTF8'), 'hex') FROM pgpriv.psi('$peer', '$ds', \$q\$$q\$q\$)};
};
my $count_sql = sub {
	my ($peer, $ds, $q) = @_;
	return qq{SELECT pgpriv.psi_count('$peer', '$ds', \$q\$$q\$q\$)};
};
my $fetch_sql = sub {
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

# ---------------------------------------------------------------------------
# 1. Correctness
# ---------------------------------------------------------------------------
my $all_q = 'SELECT code FROM applicants';
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

my $small_q = 'SELECT code FROM applicants WHERE id <= 60';
my @small_keys = @bank_keys[ 0 .. 59 ];
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

# ---------------------------------------------------------------------------
# 3. Permissions
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('nopermit_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('nopermit_ds', 'bank_a_role', 'psi');
});
fails_with($bank_a, $count_sql->('gov', 'nopermit_ds', $small_q), '42501',
	qr/psi_count.*nopermit_ds|nopermit_ds.*psi_count/, 'psi_count without a psi_count permit');
fails_with($bank_a, $fetch_sql->('gov', 'nopermit_ds', $small_q), '42501',
	qr/psi_fetch.*nopermit_ds|nopermit_ds.*psi_fetch/, 'psi_fetch without a psi_fetch permit');
fails_with($bank_a, $psi_sql->('gov', 'no_such_dataset', $small_q), '42501',
	qr/no_such_dataset/, 'psi on a dataset that does not exist');
fails_with($bank_a, qq{SELECT * FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text, note text)},
	'42501', qr/note/, 'psi_fetch asking a column that is not permitted');
fails_with($bank_a, qq{SELECT * FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text, grade text, code2 text)},
	'42501', qr/code2/, 'psi_fetch asking a column the dataset does not have');

# Only some permitted columns, in another order.
{
	my %by_key;
	push @{ $by_key{ $_->{code} } }, $_ for grep { defined $_->{code} } @gov_rows;
	my %seen;
	my @want;
	for my $k (grep { defined $_ && !$seen{$_}++ } @small_keys) {
		push @want, join('|', hexkey($k), defined $_->{staff} ? $_->{staff} : 'NULL',
			defined $_->{grade} ? $_->{grade} : 'NULL') for @{ $by_key{$k} || [] };
	}
	is_list([ lines($bank_a->safe_psql('postgres', qq{
		SELECT encode(convert_to(code, 'UTF8'), 'hex') || '|' || coalesce(staff::text, 'NULL') || '|' || coalesce(grade, 'NULL')
		  FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text, staff int, grade text)})) ],
		\@want, 'psi_fetch of a subset of the permitted columns, in another order');
	is($bank_a->safe_psql('postgres', qq{
		SELECT count(*) FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text)}),
		scalar(@want), 'psi_fetch of the key alone');
}

# The peer role reads nothing on gov directly.
my $as_a = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_a_role password=pw_a";
{
	my ($rc, $out, $err) = $gov->psql('postgres', 'SELECT count(*) FROM public.tax', connstr => $as_a);
	like($err, qr/permission denied for table tax/, 'the peer role cannot SELECT the raw gov table');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT count(*) FROM pgpriv.oprf_key', connstr => $as_a);
	like($err, qr/permission denied/, 'the peer role cannot read the OPRF keys');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT count(*) FROM pgpriv.served_table', connstr => $as_a);
	like($err, qr/permission denied/, 'the peer role cannot read the served tables');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT 1', connstr => $as_a);
	is($out, '1', 'control: the peer role does log in over TCP with its password');
}

# bank_b logs in as another role: bank_a's permits are not its.
$bank_b->safe_psql('postgres',
	"CREATE TABLE applicants (id int PRIMARY KEY, code text);\n"
	  . "INSERT INTO applicants SELECT id, code FROM (VALUES "
	  . join(",\n", map { '(' . $_ . ', ' . lit($bank_keys[ $_ - 1 ]) . ')' } 1 .. 400) . ") AS v(id, code);\n");
my @b_keys = @bank_keys[ 0 .. 399 ];
fails_with($bank_b, $psi_sql->('gov', 'tax', $all_q), '42501', qr/bank_b_role.*psi|psi.*bank_b_role/,
	'bank_b cannot use bank_a\'s psi permit');
fails_with($bank_b, $fetch_sql->('gov', 'tax', $all_q), '42501', qr/psi_fetch/,
	'bank_b cannot use bank_a\'s psi_fetch permit');
fails_with($bank_b, $count_sql->('gov', 'tax', $all_q), '42501', qr/psi_count/,
	'bank_b cannot use bank_a\'s psi_count permit');
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('tax', 'bank_b_role', 'psi')});
is_list([ lines($bank_b->safe_psql('postgres', $psi_sql->('gov', 'tax', $all_q))) ],
	model_join(\@b_keys, \@gov_rows)->{psi}, 'bank_b with its own psi permit gets the right keys');
fails_with($bank_b, $fetch_sql->('gov', 'tax', $all_q), '42501', qr/psi_fetch/,
	'bank_b with a psi permit still cannot psi_fetch');
isnt($gov->safe_psql('postgres', q{SELECT encode(pgpriv._oprf_key('tax', 'bank_a_role'), 'hex')}),
	$gov->safe_psql('postgres', q{SELECT encode(pgpriv._oprf_key('tax', 'bank_b_role'), 'hex')}),
	'bank_a and bank_b are served under different OPRF keys');

# ---------------------------------------------------------------------------
# 4. Budget (max_keys per day)
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('budget_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('budget_ds', 'bank_a_role', 'psi', max_keys => 50);
	SELECT pgpriv.permit('budget_ds', 'bank_a_role', 'psi_count', max_keys => 50);
	SELECT pgpriv.publish('budget2_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('budget2_ds', 'bank_a_role', 'psi', max_keys => 40);
});
$bank_a->safe_psql('postgres', q{
	CREATE TABLE bkeys (id int PRIMARY KEY, code text);
	INSERT INTO bkeys SELECT g, 'BUD-' || g FROM generate_series(1, 200) g;
	INSERT INTO bkeys VALUES (1000, } . lit($gov_keys[1]) . q{);
});
my $used_sql = sub {
	my ($ds, $cap) = @_;
	return qq{SELECT coalesce(sum(keys_used), 0) FROM pgpriv.budgets
	  WHERE dataset = '$ds' AND peer_role = 'bank_a_role' AND capability = '$cap' AND day = CURRENT_DATE};
};
my $range = sub {    # keys lo..hi, each twice, plus a NULL
	my ($lo, $hi) = @_;
	return "SELECT code FROM bkeys WHERE id BETWEEN $lo AND $hi UNION ALL SELECT code FROM bkeys WHERE id BETWEEN $lo AND $hi UNION ALL SELECT NULL";
};
fails_with($bank_a, $psi_sql->('gov', 'budget_ds', $range->(1, 51)), '54000', qr/max_keys/,
	'psi asking 51 distinct keys under max_keys 50');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '0', 'the refused run charged nothing');
$bank_a->safe_psql('postgres', $psi_sql->('gov', 'budget_ds', $range->(1, 20)));
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '20',
	'a run within budget is charged its distinct keys (duplicates and NULLs not counted)');
$bank_a->safe_psql('postgres', $psi_sql->('gov', 'budget_ds', $range->(21, 40)));
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '40', 'the budget accumulates over the day');
fails_with($bank_a, $psi_sql->('gov', 'budget_ds', $range->(41, 51)), '54000', qr/max_keys 50/,
	'11 more keys exceed the day\'s remaining budget');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '40', 'the refused run charged nothing');
is_list([ lines($bank_a->safe_psql('postgres', $psi_sql->('gov', 'budget_ds', $range->(41, 49) . ' UNION ALL SELECT code FROM bkeys WHERE id = 1000'))) ],
	[ hexkey($gov_keys[1]) ],
	'a run that fills the budget exactly works and is correct');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '50', 'the budget is now used up');
fails_with($bank_a, $psi_sql->('gov', 'budget_ds', q{SELECT 'BUD-51'}), '54000', qr/max_keys/,
	'one more key is refused');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '50', 'still 50');

fails_with($bank_a, $count_sql->('gov', 'budget_ds', $range->(1, 51)), '54000', qr/max_keys 50/,
	'psi_count asking 51 keys under max_keys 50');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi_count')), '0', 'the refused psi_count charged nothing');
is($bank_a->safe_psql('postgres', $count_sql->('gov', 'budget_ds', $range->(1, 30))), '0',
	'psi_count within budget works (each capability has its own budget)');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi_count')), '30', 'psi_count budget charged 30');

# A run spanning several messages (small pgpriv.batch_size on the asker):
# refused as a whole, nothing charged.
fails_with($bank_a, 'SET pgpriv.batch_size = 16; ' . $psi_sql->('gov', 'budget2_ds', $range->(1, 41)),
	'54000', qr/max_keys 40/, 'psi of 41 keys in batches of 16 under max_keys 40');
is($gov->safe_psql('postgres', $used_sql->('budget2_ds', 'psi')), '0',
	'a refused multi-batch run charged nothing');
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit
	 WHERE side = 'owner' AND dataset = 'budget2_ds' AND capability = 'psi' AND keys_in > 0
	   AND outcome <> 'refused: over the max_keys budget (54000)'}), '0',
	'and the owner evaluated none of its keys (its audit shows only the refusal)');

# A lying asker, talking to gov's serving functions directly as its peer
# role: nothing is evaluated for a run that was not admitted, and no more
# keys than were admitted (and charged).
{
	my $pts = $gov->safe_psql('postgres', q{
		SELECT encode(pgpriv.hash_to_group('\x01'::bytea) || pgpriv.hash_to_group('\x02'::bytea), 'hex')});
	my $msg = sub {
		my ($n) = @_;
		return sprintf("'\\x0101%08x00000020%s'::bytea", $n, substr($pts, 0, 64 * $n));
	};
	my $as_peer = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_a_role password=pw_a";
	my ($rc, $out, $err) = $gov->psql('postgres',
		"SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-0', " . $msg->(1) . '))',
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:.*not admitted/s, 'lying asker: a run that was not admitted is refused (08P01)');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('budget2_ds', 'psi', 'lying-run-1', 1);\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-1', " . $msg->(2) . '))',
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:/, 'lying asker: more elements than admitted are refused (08P01)');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('budget2_ds', 'psi', 'lying-run-2', 2);\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-2', " . $msg->(1) . "));\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-2', " . $msg->(1) . "));\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-2', " . $msg->(1) . "));\n",
		connstr => $as_peer, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	is($out, "42\n42", 'lying asker: batches within the admitted count are served');
	like($err, qr/ERROR:\s+08P01:/, 'lying asker: a batch beyond the admitted count is refused (08P01)');
	is($gov->safe_psql('postgres', $used_sql->('budget2_ds', 'psi')), '3',
		'lying asker: the admitted counts (1 + 2) were charged, nothing more');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('budget2_ds', 'psi', 'lying-run-3', 38)",
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+54000:.*max_keys 40/, 'lying asker: an admission beyond the budget is refused (54000)');
	is($gov->safe_psql('postgres', $used_sql->('budget2_ds', 'psi')), '3',
		'lying asker: a refused admission charges nothing');
	is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log
		 WHERE side = 'owner' AND dataset = 'budget2_ds' AND detail = 'run lying-run-3'
		   AND outcome LIKE 'refused: over the max_keys budget%'}), '1',
		'the refused admission is on record in the owner\'s audit log');
}

# Refusals are audited on the owner's side even though the run fails.
is($gov->safe_psql('postgres', q{SELECT count(*) > 0 FROM pgpriv.audit_log
	 WHERE side = 'owner' AND outcome = 'refused: no permit (42501)'}), 't',
	'a run refused for lack of a permit is on record in the owner\'s audit log');

# ---------------------------------------------------------------------------
# 5. Peer lost mid-run; 6. cancel mid-run; 8. progress
# ---------------------------------------------------------------------------
# A dataset whose query waits: the owner is slow while it builds its table.
$gov->safe_psql('postgres', q{
	CREATE TABLE public.slow_conf (secs float8);
	INSERT INTO public.slow_conf VALUES (0);
	CREATE FUNCTION public.slow_gate() RETURNS boolean LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_sleep((SELECT secs FROM public.slow_conf)); RETURN true; END $$;
	SELECT pgpriv.publish('slow_ds', 'SELECT code, grade FROM public.tax WHERE (SELECT public.slow_gate())', 'code');
	SELECT pgpriv.permit('slow_ds', 'bank_a_role', 'psi');
	SELECT pgpriv.publish('lost_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('lost_ds', 'bank_a_role', 'psi');
});
my $gov_serving = q{SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE usename = 'bank_a_role' AND application_name = 'pgpriv' AND state = 'active'
	   AND query LIKE '%serve_psi_table%'};
my $kill_serving = q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	 WHERE usename = 'bank_a_role' AND application_name = 'pgpriv'};
# Before a run whose serving backend is to be killed: the backends of earlier
# sessions are gone, so the only one left is the run's.
my $gov_quiet = q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_a_role'};

# 8. Progress while the owner builds its table.
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 4');
{
	my $bg = bg_psql($bank_a, $psi_sql->('gov', 'slow_ds', $small_q) . ";\n", 'bg_progress');
	ok(wait_for($gov, $gov_serving, 60), 'progress: the owner is serving the slow run');
	ok(wait_for($bank_a, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE capability = 'psi' AND peer = 'gov' AND dataset = 'slow_ds' AND phase LIKE 'asker:%'}, 10),
		'progress: the asker shows a row for the running psi');
	my $row = $bank_a->safe_psql('postgres', q{SELECT phase || '|' || done || '|' || coalesce(total::text, '') || '|' || keys
		 FROM pgpriv.progress WHERE dataset = 'slow_ds'});
	note("asker progress: $row");
	my %d;
	my $ndistinct = grep { defined $_ && !$d{$_}++ } @small_keys;
	like($row, qr/\|$ndistinct$/, "progress: the asker row counts the run's $ndistinct distinct keys");
	ok(wait_for($gov, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE role = 'bank_a_role' AND dataset = 'slow_ds' AND phase LIKE 'owner:%'}, 10),
		'progress: the owner shows a row for the table it builds');
	note('owner progress: ' . $gov->safe_psql('postgres', q{SELECT phase || '|' || done || '|' || total FROM pgpriv.progress}));
	my ($out, $err) = bg_finish($bg);
	is($err, '', 'progress: the slow run succeeds');
	is(scalar(lines($out)), scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }), 'progress: the slow run is correct');
	is($bank_a->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'progress: no asker row after the run');
	is($gov->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'progress: no owner row after the run');
}

# 5a. The owner's backend is terminated while it builds the table.
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 60');
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost (table build): no earlier serving session is left');
	my $bg = bg_psql($bank_a, qq{SELECT 'pid:' || pg_backend_pid();
		@{[ $psi_sql->('gov', 'slow_ds', $small_q) ]};
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'again:' || count(*) FROM pgpriv.psi('gov', 'tax', \$q\$$small_q\$q\$);
	}, 'bg_lost1');
	ok(wait_for($gov, $gov_serving, 60), 'peer lost (table build): the owner is serving');
	is($gov->safe_psql('postgres', $kill_serving), '1', 'peer lost (table build): its backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "gov"/, 'peer lost (table build): class 08 error naming the peer');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost (table build): the asker backend survives');
	like($out, qr/^again:\d+$/m, 'peer lost (table build): the next psi in the same session reconnects and works');
	my ($again) = $out =~ /^again:(\d+)$/m;
	is($again, scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }), 'peer lost (table build): and is correct');
	is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE dataset = 'slow_ds' AND side = 'asker' AND outcome = 'ok'}),
		'1', 'peer lost (table build): no asker audit row claims success for the lost run');
	like(audit_failed($bank_a, q{dataset = 'slow_ds'}), qr/^failed: peer lost/,
		'peer lost (table build): the asker audits the lost run as failed');
}
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 0');

# 5b. The owner's backend is terminated while it evaluates the blinded keys,
# after the asker downloaded the table (its cache write must be undone).
$bank_a->safe_psql('postgres', q{
	CREATE TABLE big_keys AS SELECT 'BIG-' || g AS code FROM generate_series(1, 40000) g;
});
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost (evaluation): no earlier serving session is left');
	my $bg = bg_psql($bank_a, qq{SELECT 'pid:' || pg_backend_pid();
		SET pgpriv.batch_size = 16;
		SET pgpriv.psi_protocol = 'table';  -- 40 000 keys would run over ot (022 covers that)
		SELECT count(*) FROM pgpriv.psi('gov', 'lost_ds', 'SELECT code FROM big_keys');
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'peer_table:' || count(*) FROM pgpriv.peer_table WHERE dataset = 'lost_ds';
		RESET pgpriv.batch_size;
		SELECT 'again:' || count(*) FROM pgpriv.psi('gov', 'lost_ds', \$q\$$small_q\$q\$);
	}, 'bg_lost2');
	my $in_phase = wait_for($bank_a, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE dataset = 'lost_ds' AND phase LIKE 'asker:%evaluat%' AND done >= 64}, 60);
	ok($in_phase, 'peer lost (evaluation): the asker is in the evaluation phase');
	my $row = $bank_a->safe_psql('postgres', q{SELECT done || '|' || total FROM pgpriv.progress WHERE dataset = 'lost_ds'});
	note("asker progress: $row");
	like($row, qr/^\d+\|40000$/, 'progress: the evaluation phase counts done of all 40000 keys');
	is($gov->safe_psql('postgres', $kill_serving), '1', 'peer lost (evaluation): its backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "gov"/, 'peer lost (evaluation): class 08 error naming the peer');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost (evaluation): the asker backend survives');
	like($out, qr/^peer_table:0$/m, 'peer lost (evaluation): no partial table is left in pgpriv.peer_table');
	my ($again) = $out =~ /^again:(\d+)$/m;
	is($again, scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }),
		'peer lost (evaluation): the next psi reconnects and is correct');
	isnt($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.peer_table WHERE dataset = 'lost_ds'}),
		'0', 'control: a successful run does leave the table in pgpriv.peer_table');
	is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE dataset = 'lost_ds' AND side = 'asker' AND keys_in = 40000 AND outcome = 'ok'}),
		'0', 'peer lost (evaluation): no asker audit row claims success for the lost run');
	like(audit_failed($bank_a, q{dataset = 'lost_ds' AND keys_in = 40000}), qr/^failed: peer lost \(08\d\d\d\)$/,
		'peer lost (evaluation): the asker audits it as failed: peer lost, though its transaction aborted');
	is($bank_a->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'no asker progress row left');
}

# 6. Cancel while waiting for the owner.
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 60');
{
	my $bg = bg_psql($bank_a, qq{SELECT 'pid:' || pg_backend_pid();
		@{[ $psi_sql->('gov', 'slow_ds', $small_q) ]};
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'after:' || 1;
	}, 'bg_cancel');
	ok(wait_for($gov, $gov_serving, 60), 'cancel: the owner is serving');
	usleep(1_000_000);
	my $t0 = time;
	is($bank_a->safe_psql('postgres', q{SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bg_cancel'}),
		'1', 'cancel: pg_cancel_backend sent');
	my ($out, $err) = bg_finish($bg);
	my $elapsed = time - $t0;
	note(sprintf('cancel took %.3f s', $elapsed));
	like($err, qr/ERROR:\s+57014:/, 'cancel: the query ends with SQLSTATE 57014');
	cmp_ok($elapsed, '<=', 2.0, sprintf('cancel: it ends promptly (%.3f s)', $elapsed));
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'cancel: the asker backend survives');
	like($out, qr/^after:1$/m, 'cancel: the session runs the next query');
	is($bank_a->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'cancel: no progress row left');
	# The asker drops its busy connection and cancels the peer's command.
	ok(wait_for($gov, q{SELECT count(*) = 0 FROM pg_stat_activity
		 WHERE usename = 'bank_a_role' AND state = 'active' AND query LIKE '%serve_psi_table%'}, 10),
		'cancel: the owner stops serving the cancelled run');
	$gov->safe_psql('postgres', $kill_serving);
}
# 6b. A run cancelled inside a subtransaction that the caller's PL/pgSQL
# catches: the connection it left mid-command is dropped when the
# subtransaction aborts, so the next run of the same transaction reconnects
# (instead of finding a command still in progress).
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 5');
{
	my ($ret, $out, $err) = $bank_a->psql('postgres', qq{
		SET statement_timeout = '1500ms';
		DO \$do\$
		DECLARE n bigint;
		BEGIN
			BEGIN
				PERFORM pg_catalog.count(*) FROM pgpriv.psi('gov', 'slow_ds', \$q\$$small_q\$q\$);
			EXCEPTION WHEN query_canceled THEN
				RAISE NOTICE 'caught: cancelled';
			END;
			SELECT pg_catalog.count(*) INTO n FROM pgpriv.psi('gov', 'tax', \$q\$$small_q\$q\$);
			RAISE NOTICE 'again: %', n;
		END \$do\$;
	});
	like($err, qr/caught: cancelled/, 'subtransaction: the cancelled run is caught by the caller');
	my ($again) = $err =~ /again: (\d+)/;
	is($again, scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }),
		'subtransaction: the next run of the same transaction reconnects and is correct');
	$gov->safe_psql('postgres', $kill_serving);
}
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 0');
is_list([ lines($bank_a->safe_psql('postgres', $psi_sql->('gov', 'slow_ds', $small_q))) ],
	model_join(\@small_keys, \@gov_rows)->{psi}, 'after cancel and lost peers, psi on the same dataset works');

# ---------------------------------------------------------------------------
# 7. A lying peer: database "liar" with pgpriv's identity (it authenticates)
#    but look-alike serving functions that return crafted messages.
# ---------------------------------------------------------------------------
# Values the liar needs, computed with the real primitives: the liar
# "evaluates" with the key 1 (it echoes blinded elements), so its table tags
# are OPRF(1, key)[0..16); for psi_count it masks with b = 1 and counts as
# the real owner does.
my $one = '01' . ('00' x 31);
my ($tag_a) = $gov->safe_psql('postgres',
	qq{SELECT encode(substr(pgpriv.oprf('\\x$one'::bytea, convert_to('LIAR-A', 'UTF8')), 1, 16), 'hex')});
my @owner_pts = sort split /\n/, $gov->safe_psql('postgres',
	q{SELECT encode(pgpriv.hash_to_group(convert_to(k, 'UTF8')), 'hex') FROM unnest('{LIAR-A,LIAR-Z}'::text[]) k});
my $liar_keys_opt = liar_database($gov, 'liar');
$gov->safe_psql('liar', qq{
	CREATE TABLE public.liar_mode (mode text);
	INSERT INTO public.liar_mode VALUES ('ok');
	GRANT SELECT ON public.liar_mode TO PUBLIC;
	CREATE FUNCTION public.u32(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(v), 8, '0'), 'hex') \$\$;
	CREATE FUNCTION public.hdr(ver int, typ int, cnt bigint, size bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(ver), 2, '0') || lpad(to_hex(typ), 2, '0'), 'hex') || public.u32(cnt) || public.u32(size) \$\$;
	CREATE FUNCTION public.mode() RETURNS text LANGUAGE sql STABLE AS \$\$ SELECT mode FROM public.liar_mode \$\$;
	GRANT USAGE ON SCHEMA pgpriv TO PUBLIC;

	CREATE FUNCTION pgpriv.serve_columns(dataset text, capability text) RETURNS text[]
	  LANGUAGE sql AS \$\$ SELECT CASE WHEN capability = 'psi_fetch' THEN '{grade}'::text[] ELSE '{}'::text[] END \$\$;

	CREATE PROCEDURE pgpriv.serve_admit(dataset text, capability text, run text, nkeys bigint)
	  LANGUAGE plpgsql AS \$\$ BEGIN NULL; END \$\$;

	CREATE FUNCTION pgpriv.serve_psi_table(dataset text, capability text, run text)
	  RETURNS TABLE(version text, entries bigint, chunks integer, columns text[], batch_limit integer)
	  LANGUAGE plpgsql AS \$\$
	  DECLARE m text := public.mode();
	  BEGIN
	    version := md5(m || capability);
	    entries := CASE m WHEN 'table_order' THEN 2 WHEN 'table_count' THEN 2 ELSE 1 END;
	    chunks := 1;
	    columns := CASE WHEN capability = 'psi_fetch' THEN '{grade}'::text[] ELSE '{}'::text[] END;
	    batch_limit := 65536;
	    IF m = 'desc_version' THEN version := 'abc'; END IF;
	    IF m = 'desc_chunks' THEN chunks := 0; END IF;
	    RETURN NEXT;
	  END \$\$;

	CREATE FUNCTION pgpriv.serve_psi_chunk(dataset text, capability text, run text, version text, chunk integer)
	  RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    tag bytea := decode('$tag_a', 'hex');
	    entry bytea := CASE WHEN capability = 'psi_fetch' THEN tag || decode(repeat('ab', 44), 'hex') ELSE tag END;
	  BEGIN
	    RETURN CASE m
	      WHEN 'table_order' THEN public.hdr(1, 3, 2, 0) || public.u32(16) || decode(repeat('ff', 16), 'hex')
	                                                     || public.u32(16) || decode(repeat('00', 16), 'hex')
	      WHEN 'table_short_entry' THEN public.hdr(1, 3, 1, 0) || public.u32(15) || substr(tag, 1, 15)
	      WHEN 'table_huge_length' THEN public.hdr(1, 3, 1, 0) || public.u32(4294967295) || tag
	      WHEN 'table_trailing' THEN public.hdr(1, 3, 1, 0) || public.u32(16) || tag || '\\x00'::bytea
	      WHEN 'table_type' THEN public.hdr(1, 2, 1, 0) || public.u32(16) || tag
	      WHEN 'table_fixed' THEN public.hdr(1, 3, 1, 16) || tag
	      ELSE public.hdr(1, 3, 1, 0) || public.u32(length(entry)) || entry
	    END;
	  END \$\$;

	CREATE FUNCTION pgpriv.serve_oprf(dataset text, capability text, run text, blinded bytea)
	  RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    n bigint := (get_byte(blinded, 2)::bigint << 24) + (get_byte(blinded, 3) << 16)
	              + (get_byte(blinded, 4) << 8) + get_byte(blinded, 5);
	    items bytea := substr(blinded, 11);
	  BEGIN
	    RETURN CASE m
	      WHEN 'oprf_truncated' THEN public.hdr(1, 2, n, 32) || substr(items, 1, length(items) - 5)
	      WHEN 'oprf_fewer' THEN public.hdr(1, 2, n - 1, 32) || substr(items, 1, 32 * (n - 1)::int)
	      WHEN 'oprf_more' THEN public.hdr(1, 2, n + 1, 32) || items || substr(items, 1, 32)
	      WHEN 'oprf_invalid_point' THEN public.hdr(1, 2, n, 32) || decode(repeat('ff', 32 * n::int), 'hex')
	      WHEN 'oprf_identity' THEN public.hdr(1, 2, n, 32) || decode(repeat('00', 32 * n::int), 'hex')
	      WHEN 'oprf_version' THEN public.hdr(2, 2, n, 32) || items
	      WHEN 'oprf_type' THEN public.hdr(1, 1, n, 32) || items
	      WHEN 'oprf_item_size' THEN public.hdr(1, 2, n, 33) || items
	      WHEN 'oprf_huge_count' THEN public.hdr(1, 2, 4294967295, 32)
	      WHEN 'oprf_short_header' THEN '\\x0102'::bytea
	      WHEN 'oprf_null' THEN NULL
	      ELSE public.hdr(1, 2, n, 32) || items
	    END;
	  END \$\$;

	CREATE FUNCTION pgpriv.serve_count_begin(dataset text, run text)
	  RETURNS TABLE(batch_limit integer, owner_keys bigint)
	  LANGUAGE plpgsql AS \$\$
	  BEGIN
	    PERFORM set_config('liar.asker', '', false);
	    batch_limit := 65536;
	    owner_keys := CASE public.mode() WHEN 'count_negative' THEN -1 ELSE 2 END;
	    RETURN NEXT;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_push(run text, batch bytea) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  DECLARE buf text := current_setting('liar.asker') || encode(substr(batch, 11), 'hex');
	  BEGIN
	    PERFORM set_config('liar.asker', buf, false);
	    RETURN length(buf) / 64;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_finish(run text) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  BEGIN
	    RETURN CASE public.mode() WHEN 'count_changed' THEN 3 ELSE 2 END;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_pull(run text, part text, start bigint, count integer) RETURNS bytea
	  LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    p1 bytea := decode('$owner_pts[0]', 'hex');
	    p2 bytea := decode('$owner_pts[1]', 'hex');
	  BEGIN
	    PERFORM set_config('liar.returned', '', false);
	    RETURN CASE m
	      WHEN 'count_unsorted' THEN public.hdr(1, 4, 2, 32) || p2 || p1
	      WHEN 'count_duplicate' THEN public.hdr(1, 4, 2, 32) || p1 || p1
	      WHEN 'count_invalid_point' THEN public.hdr(1, 4, 2, 32) || decode(repeat('fe', 32) || repeat('ff', 32), 'hex')
	      WHEN 'count_type' THEN public.hdr(1, 2, 2, 32) || p1 || p2
	      ELSE public.hdr(1, 4, 2, 32) || p1 || p2
	    END;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_return(run text, batch bytea) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  DECLARE buf text := current_setting('liar.returned') || encode(substr(batch, 11), 'hex');
	  BEGIN
	    PERFORM set_config('liar.returned', buf, false);
	    RETURN length(buf) / 64 + CASE public.mode() WHEN 'count_ack' THEN 1 ELSE 0 END;
	  END \$\$;
	-- The honest count with b = 1: the returned elements a·H(y) that are among the asker's a·H(x).
	CREATE FUNCTION pgpriv.serve_count_result(run text) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  DECLARE
	    asked bytea := decode(current_setting('liar.asker'), 'hex');
	    ret bytea := decode(current_setting('liar.returned'), 'hex');
	    c bigint;
	  BEGIN
	    SELECT count(*) INTO c
	      FROM generate_series(0, length(ret) / 32 - 1) AS i
	     WHERE substr(ret, 1 + 32 * i, 32) IN
	           (SELECT substr(asked, 1 + 32 * j, 32) FROM generate_series(0, length(asked) / 32 - 1) AS j);
	    RETURN CASE public.mode() WHEN 'count_high' THEN 3 ELSE c END;
	  END \$\$;
});
$bank_a->safe_psql('postgres', qq{
	CREATE SERVER liar FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'liar', $liar_keys_opt);
	CREATE USER MAPPING FOR CURRENT_USER SERVER liar OPTIONS (user 'bank_a_role', password 'pw_a');
});

my $liar_keys = q{SELECT unnest('{LIAR-A,LIAR-B}'::text[])};
sub liar_case
{
	my ($mode, $sql) = @_;
	$gov->safe_psql('liar', 'UPDATE public.liar_mode SET mode = ' . lit($mode));
	my ($rc, $out, $err) = $bank_a->psql('postgres',
		"SELECT 'pid:' || pg_backend_pid();\n$sql;\nSELECT 'pid:' || pg_backend_pid();\n",
		on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my @pids = $out =~ /^pid:(\d+)$/mg;
	return ($out, $err, @pids == 2 && $pids[0] == $pids[1]);
}

# Controls: the liar's plumbing is right, so each bad case differs from a
# good reply in one thing only.
{
	my ($out, $err, $alive) = liar_case('ok', $psi_sql->('liar', 'x', $liar_keys));
	is($err, '', 'liar control: a well-formed psi reply is accepted');
	like($out, qr/^\Q${\ hexkey('LIAR-A')}\E$/m, 'liar control: psi matches the key the liar\'s table holds');
	unlike($out, qr/^\Q${\ hexkey('LIAR-B')}\E$/m, 'liar control: and not the other');
	($out, $err, $alive) = liar_case('ok', $count_sql->('liar', 'x', $liar_keys));
	is($err, '', 'liar control: a well-formed psi_count reply is accepted');
	like($out, qr/^1$/m, 'liar control: psi_count counts the one common key');
}

my @liar_cases = (
	[ 'desc_version',      'psi',       'table description with a malformed version' ],
	[ 'desc_chunks',       'psi',       'table description with zero chunks' ],
	[ 'table_order',       'psi',       'table entries out of tag order' ],
	[ 'table_count',       'psi',       'table with fewer entries than announced' ],
	[ 'table_short_entry', 'psi',       'table entry shorter than a tag' ],
	[ 'table_huge_length', 'psi',       'table entry with an impossible length' ],
	[ 'table_trailing',    'psi',       'table chunk with trailing bytes' ],
	[ 'table_type',        'psi',       'table chunk with the wrong message type' ],
	[ 'table_fixed',       'psi',       'table chunk with fixed-size items' ],
	[ 'ok',                'psi_fetch', 'table entry whose tag matches but does not open' ],
	[ 'oprf_truncated',    'psi',       'evaluated batch shorter than its header says' ],
	[ 'oprf_fewer',        'psi',       'fewer evaluated elements than blinded ones' ],
	[ 'oprf_more',         'psi',       'more evaluated elements than blinded ones' ],
	[ 'oprf_invalid_point', 'psi',      'evaluated element that is not a point (0xff...)' ],
	[ 'oprf_identity',     'psi',       'evaluated element that is the identity' ],
	[ 'oprf_version',      'psi',       'evaluated batch with wire version 2' ],
	[ 'oprf_type',         'psi',       'evaluated batch with the wrong message type' ],
	[ 'oprf_item_size',    'psi',       'evaluated batch with 33-byte items' ],
	[ 'oprf_huge_count',   'psi',       'evaluated batch announcing 2^32-1 items' ],
	[ 'oprf_short_header', 'psi',       'evaluated batch shorter than a header' ],
	[ 'oprf_null',         'psi',       'evaluated batch that is NULL' ],
	[ 'count_unsorted',    'psi_count', 'psi_count owner part not sorted' ],
	[ 'count_duplicate',   'psi_count', 'psi_count owner part not distinct' ],
	[ 'count_invalid_point', 'psi_count', 'psi_count owner part with invalid points' ],
	[ 'count_type',        'psi_count', 'psi_count owner part with the wrong message type' ],
	[ 'count_ack',         'psi_count', 'psi_count acknowledging more returned elements than sent' ],
	[ 'count_high',        'psi_count', 'psi_count result above the keys asked and held' ],
	[ 'count_negative',    'psi_count', 'psi_count with a negative dataset size' ],
	[ 'count_changed',     'psi_count', 'psi_count dataset size changing during the run' ],
);
my %seen_case;
for my $c (@liar_cases) {
	my ($mode, $cap, $what) = @$c;
	next if $seen_case{"$mode/$cap"}++;
	my $sql = $cap eq 'psi' ? $psi_sql->('liar', 'x', $liar_keys)
	  : $cap eq 'psi_count' ? $count_sql->('liar', 'x', $liar_keys)
	  : q{SELECT * FROM pgpriv.psi_fetch('liar', 'x', $q$SELECT 'LIAR-A'$q$) AS t(code text, grade text)};
	my ($out, $err, $alive) = liar_case($mode, $sql);
	my $ok = like($err, qr/ERROR:\s+08P01:.*peer "liar"/, "lying peer, $what: SQLSTATE 08P01 naming the peer");
	diag("stdout: $out\nstderr: $err") unless $ok;
	my ($detail) = $err =~ /DETAIL:\s+(.*)/;
	note("$mode: " . ($detail // '(no detail)'));
	ok($alive, "lying peer, $what: the asker backend survives");
}
$gov->safe_psql('liar', q{UPDATE public.liar_mode SET mode = 'ok'});
is($bank_a->safe_psql('postgres', 'SELECT 1'), '1', 'the bank still answers after all lying-peer cases');
is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.peer_table WHERE server = 'liar' AND capability = 'psi_fetch'}),
	'0', 'a table that failed to open is not cached');
ok(!$bank_a->log_contains(qr/terminated by signal|server process .* was terminated/),
	'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');

# The audit chains still verify on every party.
for my $node ($gov, $bank_a, $bank_b) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't',
		$node->name . ': the audit chain verifies');
}

done_testing();
