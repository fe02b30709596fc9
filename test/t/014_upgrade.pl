# 014_upgrade.pl — release 0.1.0 to 0.2.0 (docs/upgrading.md), and the
# version exchange between peers of different releases.
#
# Release 0.1.0 (commit 37e1023, CHANGELOG) is built from this repository's
# history and installed into copies of the PostgreSQL installation under
# test, one per cluster, so that gov (owner) and bank (asker) first run the
# real 0.1.0 code: identity, datasets, permits, a peer server with pinned
# keys, budgets, audit rows and caches (OPRF tables, a PIR epoch) all come
# from real 0.1.0 runs.  Then, as an administrator would, each cluster gets
# the library and scripts under test and ALTER EXTENSION pgpriv UPDATE:
#
#   (a) pg_dump --schema-only of each upgraded database equals that of a
#       fresh 0.2.0 install with the same user objects, plain and in
#       --binary-upgrade form (which shows every member of the extension;
#       only object ids, relfrozenxid, attribute LSNs, the audit sequence's
#       position and pg_dump's random \restrict key are normalised, since
#       they must differ)
#   (b) every row of every pgpriv table survived, but those whose meaning
#       changed: budgets moved onto the UTC day, OPRF table caches emptied
#   (c) pgpriv.audit_verify() is true
#   (d) psi, psi_fetch, pir between the two clusters work afterwards
#
# and for the versions: a 0.2.0 library refuses a 0.1.0 catalog until the
# update; a 0.2.0 asker refuses a 0.1.0 owner clearly, then works once the
# owner is upgraded; a 0.2.0 owner refuses a 0.1.0 asker (bank_old, which
# stays at 0.1.0 throughout) clearly, at its first call; a peer reporting another protocol (its serve_version
# replaced) is refused, one reporting another release of the same protocol
# is not; an owner refuses an asker of another protocol.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use IPC::Run;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

my $release = '37e1023';    # release 0.1.0: see CHANGELOG.md
my $src = $ENV{PGPRIV_SRC} // '.';
my $tmp = PostgreSQL::Test::Utils::tempdir();

sub pg_config_value
{
	my ($what) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_config', "--$what" ], '>', \$out, '2>', \$err) or die "pg_config --$what: $err";
	chomp $out;
	return $out;
}
my $pg_config = 'pg_config';
my $bindir    = pg_config_value('bindir');
my $pkglibdir = pg_config_value('pkglibdir');
my $sharedir  = pg_config_value('sharedir');

# Release 0.1.0 was built for PostgreSQL 15 only (it does not compile on 16
# and later), so there is nothing to upgrade from on a newer server.
my ($pg_major) = pg_config_value('version') =~ /PostgreSQL (\d+)/;
plan skip_all => "release 0.1.0 supports PostgreSQL 15 only (this is $pg_major)" if $pg_major != 15;

# ---------------------------------------------------------------------------
# Release 0.1.0, built from the repository's history
# ---------------------------------------------------------------------------
# A failure of this file alone (BAIL_OUT would stop every test after it).
sub stop_here
{
	fail($_[0]);
	done_testing();
	exit 1;
}

my $old_src = "$tmp/pgpriv-0.1.0";
make_path($old_src);
my $t0 = time;
{
	# The tree is a copy owned by whoever runs the tests (test/lib.sh); its
	# git directory may not be: only read it.
	my ($err, $tar_err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'git', '-c', 'safe.directory=*', '-C', $src, 'archive', '--format=tar', $release ], '2>', \$err,
		'|', [ 'tar', '-x', '-C', $old_src ], '2>', \$tar_err);
	stop_here("release 0.1.0 (commit $release) is not in this clone's history (clone without --depth): $err$tar_err")
	  unless $ok && -f "$old_src/sql/pgpriv--0.1.0.sql";
	my $log = "$tmp/build-0.1.0.log";
	# COPT= : the sanitized suite's flags are for the library under test,
	# not for the old release (built as it was released).
	$ok = IPC::Run::run([ 'make', '-C', $old_src, '-s', '-j2', "PG_CONFIG=$pg_config", 'COPT=' ],
		'>', $log, '2>&1');
	if (!$ok) {
		diag(slurp_file($log));
		stop_here('release 0.1.0 does not build');
	}
}
note(sprintf('release 0.1.0 built in %.1f s', time - $t0));

# A copy of the installation under test with release 0.1.0's pgpriv in it,
# at the same relative places (PostgreSQL finds share/ and lib/ from bin/).
sub old_installation
{
	my ($name) = @_;
	my $root = "$tmp/inst-$name";
	for my $d ($bindir, $pkglibdir, $sharedir) {
		make_path(dirname("$root$d"));
		system('cp', '-a', $d, "$root$d") == 0 or die "cp $d: $?";
	}
	unlink(glob("$root$pkglibdir/pgpriv.so"), glob("$root$sharedir/extension/pgpriv*"),
		glob("$root$pkglibdir/bitcode/pgpriv.index.bc"));
	system('rm', '-rf', "$root$pkglibdir/bitcode/pgpriv") == 0 or die;
	copy("$old_src/pgpriv.so", "$root$pkglibdir/pgpriv.so") or die $!;
	copy("$old_src/pgpriv.control", "$root$sharedir/extension/pgpriv.control") or die $!;
	copy("$old_src/sql/pgpriv--0.1.0.sql", "$root$sharedir/extension/pgpriv--0.1.0.sql") or die $!;
	return { root => $root, path => dirname("$root$bindir") };
}

# Install the library and scripts under test into that copy, as a package
# upgrade would (the cluster is stopped meanwhile).
sub install_current
{
	my ($inst) = @_;
	my $root = $inst->{root};
	unlink(glob("$root$sharedir/extension/pgpriv*"));
	copy("$pkglibdir/pgpriv.so", "$root$pkglibdir/pgpriv.so") or die $!;
	for my $f (glob("$sharedir/extension/pgpriv*")) {
		copy($f, "$root$sharedir/extension/") or die "$f: $!";
	}
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# Every row of every table in schema pgpriv, as text, per table.
# Every row of every pgpriv table as text, over the columns the table had
# in $cols_of (the state before the update: columns 0.2.0 adds are not
# compared) or all its columns; the column lists are kept in {' cols'}.
sub pgpriv_rows
{
	my ($node, $db, $cols_of) = @_;
	my %rows;
	my @tables = split /\n/, $node->safe_psql($db // 'postgres', q{
		SELECT c.relname FROM pg_catalog.pg_class AS c
		 WHERE c.relnamespace = 'pgpriv'::pg_catalog.regnamespace AND c.relkind = 'r' ORDER BY 1});
	for my $t (@tables) {
		my $cols = $cols_of && $cols_of->{$t} ? $cols_of->{$t} : $node->safe_psql($db // 'postgres', qq{
			SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
			  FROM pg_catalog.pg_attribute AS a
			 WHERE a.attrelid = 'pgpriv.$t'::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped});
		$rows{' cols'}{$t} = $cols;
		$rows{$t} = [ split /\n/, $node->safe_psql($db // 'postgres',
			"SELECT ROW($cols)::pg_catalog.text FROM pgpriv.$t AS t ORDER BY 1") ];
	}
	return \%rows;
}

sub pg_dump_text
{
	my ($node, $db, @opts) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_dump', '--schema-only', @opts, '-d', $node->connstr($db) ],
		'>', \$out, '2>', \$err) or die "pg_dump $db: $err";
	return $out;
}

# What must differ between two dumps of equal databases, and only that.
sub normalise_dump
{
	my ($d) = @_;
	$d =~ s/^\\(un)?restrict \S+$/\\$1restrict KEY/mg;                 # random per dump
	$d =~ s/^(SELECT pg_catalog\.binary_upgrade_set_next_\w+\().*\);$/$1...);/mg;  # ids, LSNs
	$d =~ s/^(SET relfrozenxid = )'\d+', relminmxid = '\d+'$/$1.../mg;
	$d =~ s/^(WHERE oid = )'\d+';$/$1.../mg;                            # a toast table's
	# a sequence's position is data, which --binary-upgrade dumps with the schema
	$d =~ s/^(SELECT pg_catalog\.setval\('[^']+', )\d+, (true|false)\);$/$1.../mg;
	$d =~ s/^(SELECT pg_catalog\.binary_upgrade_create_empty_extension\('pgpriv', 'pgpriv', false, '[^']*', )'\{[\d,]*\}'/$1'{oids}'/mg;
	return $d;
}

sub dumps_equal
{
	my ($node, $db_a, $db_b, $name) = @_;
	for my $mode ([], ['--binary-upgrade']) {
		my $label = @$mode ? "$name (--binary-upgrade)" : $name;
		my $a = normalise_dump(pg_dump_text($node, $db_a, @$mode));
		my $b = normalise_dump(pg_dump_text($node, $db_b, @$mode));
		my $ok = ok($a eq $b, $label);
		if (!$ok) {
			my ($fa, $fb) = ("$tmp/$db_a.dump", "$tmp/$db_b.dump");
			open my $h, '>', $fa or die; print $h $a; close $h;
			open $h, '>', $fb or die; print $h $b; close $h;
			my $diff = '';
			IPC::Run::run([ 'diff', '-u', $fa, $fb ], '>', \$diff);
			diag(substr($diff, 0, 6000));
		}
	}
	# The config tables' order and conditions (ids above are normalised).
	my $q = q{SELECT extconfig::pg_catalog.regclass[]::pg_catalog.text || ' ' || extcondition::pg_catalog.text
	            FROM pg_catalog.pg_extension WHERE extname = 'pgpriv'};
	is($node->safe_psql($db_a, $q), $node->safe_psql($db_b, $q), "$name: config-dump registrations");
}

sub utc_day
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT (pg_catalog.now() AT TIME ZONE 'UTC')::pg_catalog.date});
}

# ---------------------------------------------------------------------------
# Two clusters at release 0.1.0.  gov's time zone puts its local date on
# another day than UTC's now, as a server ahead of or behind UTC is for part
# of every day, so the budget migration has something to do.
# ---------------------------------------------------------------------------
my $utc_hour = (gmtime)[2];
my $tz = $utc_hour >= 12 ? 'Etc/GMT-14' : 'Etc/GMT+12';
note("gov's time zone: $tz (UTC hour $utc_hour)");

my $gov_inst  = old_installation('gov');
my $bank_inst = old_installation('bank');
my $bank_old_inst = old_installation('bank_old');
my $gov  = PostgreSQL::Test::Cluster->new('gov', install_path => $gov_inst->{path});
my $bank = PostgreSQL::Test::Cluster->new('bank', install_path => $bank_inst->{path});
my $bank_old = PostgreSQL::Test::Cluster->new('bank_old', install_path => $bank_old_inst->{path});
pgpriv_setup($gov, "timezone = '$tz'\njit = off");
pgpriv_setup($bank, 'jit = off');
pgpriv_setup($bank_old, 'jit = off');
for my $n ($gov, $bank, $bank_old) {
	is($n->safe_psql('postgres', q{SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgpriv'}),
		'0.1.0', $n->name . ' runs pgpriv 0.1.0');
}
isnt($gov->safe_psql('postgres', 'SELECT pg_catalog.now()::pg_catalog.date'), utc_day($gov),
	"gov's local date is not the UTC date");

my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);

# The user objects, run again in the fresh 0.2.0 databases the dumps are
# compared with.
my $gov_ddl = q{
	CREATE TABLE public.tax (code text PRIMARY KEY, grade text, paid numeric);
};
my $bank_ddl = qq{
	CREATE TABLE public.applicants (code text);
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE SERVER unpinned FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port');
};

$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw'} . ";\n" . $gov_ddl . q{
	INSERT INTO public.tax SELECT 'C' || i, 'g' || (i % 5), i * 1.5 FROM pg_catalog.generate_series(1, 200) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code, grade, paid FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_count');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_fetch', '{grade,paid}');
	SELECT pgpriv.permit('tax', 'bank_role', 'pir', '{grade}');
	SELECT pgpriv.publish('budgeted', 'SELECT code FROM public.tax', 'code');
	SELECT pgpriv.permit('budgeted', 'bank_role', 'psi', max_keys => 10);
	SELECT pgpriv.publish('fees', 'SELECT code, paid FROM public.tax', 'code');
	SELECT pgpriv.permit('fees', 'bank_role', 'psi_sum', '{paid}', min_group => 3);
});
for my $n ($bank, $bank_old) {
	$n->safe_psql('postgres', $bank_ddl . q{
		INSERT INTO public.applicants SELECT 'C' || i FROM pg_catalog.generate_series(101, 300) AS i;
	});
}

my $psi_q   = q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.applicants')};
my $count_q = q{SELECT pgpriv.psi_count('gov', 'tax', 'SELECT code FROM public.applicants')};
my $fetch_q = q{SELECT pg_catalog.count(*) || ' ' || pg_catalog.sum(paid) || ' ' || pg_catalog.min(grade)
                  FROM pgpriv.psi_fetch('gov', 'tax', 'SELECT code FROM public.applicants')
                       AS t(code text, grade text, paid numeric)};
my $pir_q   = q{SELECT grade FROM pgpriv.pir('gov', 'tax', 'C42') AS t(code text, grade text)};
my $budget_q = q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'budgeted',
                   'SELECT ''C'' || i FROM pg_catalog.generate_series(1, 10) AS i')};
my $over_budget_q = q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'budgeted', 'SELECT ''C1''')};

# The answers, from the data: C101..C200 match.
my $fetch_want = '100 ' . (1.5 * (101 + 200) * 100 / 2) . '.0 g0';

is($bank->safe_psql('postgres', $psi_q), '100', '0.1.0: psi');
is($bank->safe_psql('postgres', $count_q), '100', '0.1.0: psi_count');
is($bank->safe_psql('postgres', $fetch_q), $fetch_want, '0.1.0: psi_fetch');
is($bank->safe_psql('postgres', $pir_q), 'g2', '0.1.0: pir');
is($bank->safe_psql('postgres', $budget_q), '10', '0.1.0: psi spends the whole budget of "budgeted"');
fails_with($bank, $over_budget_q, '54000', qr/budget|max_keys/, '0.1.0: over the budget');
# Control for the mixed-version case below: bank_old works with a 0.1.0 owner.
is($bank_old->safe_psql('postgres', $psi_q), '100', '0.1.0 (bank_old): psi');
is($bank_old->safe_psql('postgres', $pir_q), 'g2', '0.1.0 (bank_old): pir');

my $gov_day0 = utc_day($gov);
my $gov_before  = pgpriv_rows($gov);
my $bank_before = pgpriv_rows($bank);
ok(@{ $gov_before->{served_table} } > 0 && @{ $bank_before->{peer_table} } > 0,
	'0.1.0: OPRF tables are cached on both sides');
ok(@{ $gov_before->{served_pir} } == 1 && @{ $bank_before->{peer_pir} } == 1, '0.1.0: a PIR epoch on both sides');
ok(@{ $gov_before->{audit_log} } >= 10, '0.1.0: runs left audit rows');
my $old_versions = $gov->safe_psql('postgres', q{SELECT pg_catalog.string_agg(DISTINCT version, ',') FROM pgpriv.served_table});
my $old_epoch = $gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir});

# ---------------------------------------------------------------------------
# bank gets the new library; until ALTER EXTENSION it refuses to run
# ---------------------------------------------------------------------------
$bank->stop;
install_current($bank_inst);
$bank->start;
fails_with($bank, $psi_q, '0A000',
	qr/catalog in this database is version 0\.1\.0 but its library is 0\.2\.0.*ALTER EXTENSION pgpriv UPDATE/s,
	'new library, 0.1.0 catalog');

my $t_up = time;
my ($rc, $out, $err) = vpsql($bank, 'ALTER EXTENSION pgpriv UPDATE');
is($rc, 0, 'bank: ALTER EXTENSION pgpriv UPDATE') or diag($err);
note(sprintf('bank updated in %.2f s', time - $t_up));
like($err, qr/WARNING:.*refuses server "unpinned": it pins neither public_key nor signing_key/,
	'the update names the server that pins no key');
unlike($err, qr/server "gov"/, 'and not the one that pins its keys');
is($bank->safe_psql('postgres', q{SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgpriv'}),
	'0.2.0', 'bank is at 0.2.0');

# A 0.2.0 asker and a 0.1.0 owner: refused, naming both versions.
fails_with($bank, $psi_q, '0A000',
	qr/server "gov" runs pgpriv 0\.1\.0 \(protocol 1\); this one needs protocol 2/,
	'a 0.1.0 owner');

# ---------------------------------------------------------------------------
# gov gets the new library and the update
# ---------------------------------------------------------------------------
$gov->stop;
install_current($gov_inst);
$gov->start;
$t_up = time;
($rc, $out, $err) = vpsql($gov, 'ALTER EXTENSION pgpriv UPDATE');
is($rc, 0, 'gov: ALTER EXTENSION pgpriv UPDATE') or diag($err);
note(sprintf('gov updated in %.2f s', time - $t_up));
like($err, qr/WARNING:.*refuses psi_sum runs under the permit of role "bank_role" on dataset "fees" \(min_group 3\)/,
	'the update names the psi_sum permit with min_group');

# A 0.1.0 asker and a 0.2.0 owner: refused at its first call, naming both
# versions, whichever run it starts; nothing is admitted or charged.
{
	my $audit_q = q{SELECT pg_catalog.count(*) FROM pgpriv.audit_log};
	my $audit_before = $gov->safe_psql('postgres', $audit_q);
	for my $case ([ psi => $psi_q ], [ psi_count => $count_q ], [ pir => $pir_q ]) {
		fails_with($bank_old, $case->[1], '0A000',
			qr/peer speaks pgpriv 0\.1\.0 or older \(no version exchange\); this server runs 0\.2\.0, protocol 2/,
			"a 0.1.0 asker ($case->[0]) against a 0.2.0 owner");
	}
	is($gov->safe_psql('postgres', $audit_q), $audit_before, 'the 0.1.0 asker\'s attempts changed nothing on the owner');
	# The same refusal for any session that skips the exchange (a modified
	# asker), at the hello and at the admission; once it has agreed, served.
	fails_with($gov, q{SELECT length(proof) FROM pgpriv.serve_hello(('\x' || pg_catalog.repeat('09', 64))::pg_catalog.bytea)},
		'0A000', qr/no version exchange/, 'serve_hello without the version exchange', user => 'bank_role');
	fails_with($gov, q{CALL pgpriv.serve_admit('tax', 'psi', 'no-exchange', 1)},
		'0A000', qr/no version exchange/, 'serve_admit without the version exchange', user => 'bank_role');
	my ($rc, $out, $err) = $gov->psql('postgres', q{SELECT * FROM pgpriv.serve_version('0.1.9', 1);
		CALL pgpriv.serve_admit('tax', 'psi', 'no-exchange', 1);},
		on_error_stop => 0, extra_params => [ '-U', 'bank_role' ]);
	like($err, qr/asker runs pgpriv 0\.1\.9.*no version exchange/s, 'a refused exchange admits nothing either');
	($rc, $out, $err) = vpsql($gov, version_exchange() . q{CALL pgpriv.serve_admit('tax', 'psi', 'exchanged', 1)},
		user => 'bank_role');
	is($rc, 0, 'after the version exchange the admission is served') or diag($err);
}

# (c) the chain verifies, its head is its last row (the update's own).
for my $n ($gov, $bank) {
	is($n->safe_psql('postgres', q{SELECT valid::pg_catalog.text || coalesce(': ' || reason, '') FROM pgpriv.audit_verify()}),
		'true', $n->name . ': audit_verify() after the update');
	is($n->safe_psql('postgres', q{
		SELECT h.last_id = (SELECT pg_catalog.max(id) FROM pgpriv.audit_log)
		   AND h.last_hash = (SELECT row_hash FROM pgpriv.audit_log ORDER BY id DESC LIMIT 1)
		   AND h.appended = (SELECT pg_catalog.count(*) FROM pgpriv.audit_log)
		  FROM pgpriv.audit_head AS h}), 't', $n->name . ': audit_head is the log\'s last row');
	is($n->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(side || ' ' || outcome || ' ' || detail, ',') FROM pgpriv.audit_log
		 WHERE capability = 'update'}),
		'local ok pgpriv 0.1.0 to 0.2.0', $n->name . ': the update is on record');
}

# (b) every row survived, but the caches and the budget rows.
my $gov_day1 = utc_day($gov);
for my $side ([ $gov, $gov_before ], [ $bank, $bank_before ]) {
	my ($n, $before) = @$side;
	my $after = pgpriv_rows($n, 'postgres', $before->{' cols'});
	for my $t (grep { $_ ne ' cols' } sort keys %$before) {
		next if $t eq 'budget';
		if ($t eq 'served_table' || $t eq 'peer_table') {
			is(scalar @{ $after->{$t} }, 0, $n->name . ": $t (built under 0.1.0's keys) is emptied");
		} elsif ($t eq 'audit_log') {
			my %now = map { $_ => 1 } @{ $after->{$t} };
			my @lost = grep { !$now{$_} } @{ $before->{$t} };
			is_deeply(\@lost, [], $n->name . ': every audit row survived');
		} else {
			is_deeply($after->{$t}, $before->{$t}, $n->name . ": every row of $t survived");
		}
	}
	is_deeply([ sort grep { !exists $before->{$_} } keys %$after ],
		[ 'audit_head', 'dataset_change', 'dataset_change_base', 'receipt_log', 'served_check' ],
		$n->name . ': the new tables are audit_head, receipt_log and those of the change check');
}

# Budgets: today's charges count for the UTC day.
SKIP: {
	skip 'the UTC date changed during the test', 3 if $gov_day0 ne $gov_day1;
	is($gov->safe_psql('postgres', qq{
		SELECT keys FROM pgpriv.budget WHERE dataset = 'budgeted' AND day = '$gov_day1'}), '10',
		'the UTC day carries the keys charged on the local day');
	is($gov->safe_psql('postgres', qq{SELECT pg_catalog.count(*) FROM pgpriv.budget WHERE day > '$gov_day1'}),
		'0', 'no budget row is dated after the UTC day');
	fails_with($bank, $over_budget_q, '54000', qr/budget|max_keys/,
		'after the update the day\'s budget is still spent');
}

# (d) runs between the two upgraded clusters.
is($bank->safe_psql('postgres', $psi_q), '100', '0.2.0: psi');
is($bank->safe_psql('postgres', $count_q), '100', '0.2.0: psi_count');
is($bank->safe_psql('postgres', $fetch_q), $fetch_want, '0.2.0: psi_fetch');
is($bank->safe_psql('postgres', $pir_q), 'g2', '0.2.0: pir');
my $new_versions = $gov->safe_psql('postgres',
	q{SELECT pg_catalog.string_agg(DISTINCT version, ',') FROM pgpriv.served_table});
ok($new_versions ne '' && $new_versions !~ /\Q$old_versions\E/, 'the OPRF tables were built again, as new versions');
cmp_ok($gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir}), '>', $old_epoch,
	'the PIR epoch goes on increasing');
fails_with($bank, q{SELECT * FROM pgpriv.psi_sum('gov', 'fees', 'paid', 'SELECT code FROM public.applicants')},
	'0A000', qr/min_group/, 'psi_sum under a permit with min_group is refused');
for my $n ($gov, $bank) {
	is($n->safe_psql('postgres', q{SELECT valid FROM pgpriv.audit_verify()}), 't',
		$n->name . ': audit_verify() after more runs');
}

# (a) the upgraded databases against fresh 0.2.0 installs of the same objects.
$gov->safe_psql('postgres', 'CREATE DATABASE fresh');
$gov->safe_psql('fresh', $gov_ddl . 'CREATE EXTENSION pgpriv;');
dumps_equal($gov, 'postgres', 'fresh', 'gov: the upgraded database dumps as a fresh 0.2.0 one');
$bank->safe_psql('postgres', 'CREATE DATABASE fresh');
$bank->safe_psql('fresh', 'CREATE EXTENSION pgpriv;' . $bank_ddl);
dumps_equal($bank, 'postgres', 'fresh', 'bank: the upgraded database dumps as a fresh 0.2.0 one');

# The 0.1.0 script runs against the 0.2.0 library (every C symbol it names
# is there), and updates to the same.
$gov->safe_psql('postgres', 'CREATE DATABASE direct');
$gov->safe_psql('postgres', 'CREATE DATABASE fresh_empty');
($rc, $out, $err) = vpsql($gov, q{CREATE EXTENSION pgpriv VERSION '0.1.0'}, db => 'direct');
is($rc, 0, 'CREATE EXTENSION pgpriv VERSION 0.1.0 with the 0.2.0 library') or diag($err);
$gov->safe_psql('direct', 'ALTER EXTENSION pgpriv UPDATE');
$gov->safe_psql('fresh_empty', 'CREATE EXTENSION pgpriv');
dumps_equal($gov, 'direct', 'fresh_empty', 'a 0.1.0 install updated with no rows dumps as a fresh 0.2.0 one');

# ---------------------------------------------------------------------------
# Version exchange: a peer of the same protocol and another release works,
# one of another protocol is refused, both ways.
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', 'CREATE DATABASE other');
$gov->safe_psql('other', q{
	CREATE EXTENSION pgpriv;
	CREATE TABLE public.tax (code text);
	INSERT INTO public.tax SELECT 'C' || i FROM pg_catalog.generate_series(101, 150) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi');
});
my $other_pins = pinned_keys($gov, 'other');
$bank->safe_psql('postgres', qq{
	CREATE SERVER other FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'other', $other_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (user 'bank_role', password 'pw');
});
my $other_renamed = 0;
sub other_reports
{
	my ($version, $protocol) = @_;
	# The modified peer: its version-reporting function replaced by one that
	# still runs the real exchange (which its own serve_hello requires) but
	# reports another version.
	$gov->safe_psql('other', q{
		ALTER FUNCTION pgpriv.serve_version(text, integer) RENAME TO serve_version_real;
	}) unless $other_renamed++;
	$gov->safe_psql('other', qq{
		CREATE OR REPLACE FUNCTION pgpriv.serve_version(asker_version text, asker_protocol integer)
		  RETURNS TABLE(version text, protocol integer)
		  LANGUAGE sql AS \$\$ SELECT '$version'::pg_catalog.text, $protocol
		    FROM pgpriv.serve_version_real(asker_version, asker_protocol) \$\$;
	});
}
my $other_q = q{SELECT pg_catalog.count(*) FROM pgpriv.psi('other', 'tax', 'SELECT code FROM public.applicants')};
is($bank->safe_psql('postgres', $other_q), '50', 'a peer of 0.2.0 (protocol 2)');
other_reports('0.2.7', 2);
is($bank->safe_psql('postgres', $other_q), '50', 'a peer of another release of protocol 2 interoperates');
other_reports('0.3.0', 3);
fails_with($bank, $other_q, '0A000',
	qr/server "other" runs pgpriv 0\.3\.0 \(protocol 3\); this one needs protocol 2.*This server runs pgpriv 0\.2\.0 \(protocol 2\)/s,
	'a peer reporting a protocol from the future');
fails_with($gov, q{SELECT * FROM pgpriv.serve_version('0.1.9', 1)}, '0A000',
	qr/the asker runs pgpriv 0\.1\.9 \(protocol 1\); this server needs protocol 2/,
	'the owner refuses an asker of an older protocol', user => 'bank_role');
fails_with($gov, q{SELECT * FROM pgpriv.serve_version('0.2.0; DROP', 2)}, '08P01',
	qr/not a version string/, 'the owner refuses a malformed version', user => 'bank_role');

done_testing();
