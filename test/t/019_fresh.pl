# Fresh by default, fast by default (issue #13, part 4): the owner's change
# check.  A dataset whose query reads ordinary tables through views with
# built-in immutable functions only is checked by statement triggers and a
# change log counted in the snapshot the rows are read in: an unchanged
# dataset is not read again (pir epochs, the psi_fetch table), and every
# kind of change (INSERT, UPDATE, DELETE, TRUNCATE, a table behind a view,
# the consent table) is seen at the very next run.  Whatever triggers cannot
# see falls back to reading the rows, and stays exact.
#
# What the test observes: pgpriv.served_check.reads on the owner, the number
# of times the owner read the rows for that cache (never timing), and the
# rows the bank gets, against a plaintext model kept here.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
pgpriv_setup($_) for ($gov, $bank);
my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);

# --- the plaintext model ------------------------------------------------------
# firms: code → [grade, tax]; bonus: code → amount (a table behind the view);
# consent: the codes bank_role may be served.
my (%firm, %bonus, %consent);
for my $i (1 .. 30) {
	my $k = sprintf('F%02d', $i);
	$firm{$k} = [ ('A', 'B', 'C')[ $i % 3 ], 1000 + 37 * $i ];
	$bonus{$k} = 5 * $i if $i % 4 == 0;
	$consent{$k} = 1 if $i <= 25;
}
my @asked = map { sprintf('F%02d', $_) } 1 .. 35;

sub model_row
{
	my ($k) = @_;
	return undef unless $firm{$k} && $consent{$k};
	return "$k:$firm{$k}[0]:" . ($firm{$k}[1] + ($bonus{$k} // 0));
}

my $firms = join(",\n", map { "('$_', '$firm{$_}[0]', $firm{$_}[1])" } sort keys %firm);
my $bonus = join(",\n", map { "('$_', $bonus{$_})" } sort keys %bonus);
my $consent = join(",\n", map { "('$_', 'bank_role')" } sort keys %consent);
my $consent_q = q{SELECT c.code FROM public.consent AS c WHERE c.bank_role = $1};

$gov->safe_psql('postgres', qq{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE ROLE pub LOGIN;
	CREATE ROLE mallory LOGIN;
	GRANT EXECUTE ON FUNCTION pgpriv.publish(text, text, text) TO pub;
	CREATE TABLE public.firms (code text, grade text, tax bigint);
	INSERT INTO public.firms VALUES $firms;
	CREATE TABLE public.bonus (code text, amount bigint);
	INSERT INTO public.bonus VALUES $bonus;
	CREATE VIEW public.firms_v AS
	  SELECT f.code, f.grade, f.tax + coalesce(b.amount, 0) AS tax
	    FROM public.firms AS f LEFT JOIN public.bonus AS b ON b.code = f.code;
	CREATE TABLE public.consent (code text, bank_role name);
	INSERT INTO public.consent VALUES $consent;
	GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.firms, public.bonus, public.consent TO mallory;
	GRANT CREATE ON SCHEMA public TO mallory;
	SELECT pgpriv.publish('firms', 'SELECT code, grade, tax FROM public.firms_v', 'code');
	SELECT pgpriv.permit('firms', 'bank_role', 'pir', '{grade,tax}', authorised_by => '$consent_q');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_fetch', '{grade,tax}', authorised_by => '$consent_q');
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.asked AS SELECT 'F' || lpad(i::text, 2, '0') AS code FROM generate_series(1, 35) AS i;
});

is($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'firms'}),
	'triggers', 'a query over ordinary tables through a view is checked by triggers');
is($gov->safe_psql('postgres', q{SELECT string_agg(DISTINCT consent_check, ',') FROM pgpriv.permits WHERE dataset = 'firms'}),
	'triggers', 'so is the consent query');
is($gov->safe_psql('postgres', q{
	SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
	 WHERE t.tgname = 'pgpriv_change' AND t.tgenabled = 'A'}),
	'bonus,consent,firms', 'the tables behind the view and the consent table have an enabled pgpriv_change trigger');

sub reads
{
	my ($cap) = @_;
	return $gov->safe_psql('postgres',
		"SELECT coalesce((SELECT reads FROM pgpriv.served_check WHERE dataset = 'firms' AND capability = '$cap'), 0)");
}

sub last_check
{
	my ($cap) = @_;
	return $gov->safe_psql('postgres',
		"SELECT change_check FROM pgpriv.served_check WHERE dataset = 'firms' AND capability = '$cap'");
}

# One round: psi_fetch over every asked key and pir of a few, against the model.
my @pir_keys = qw(F04 F05 F08 F26 F33);
sub check_round
{
	my ($label, @more) = @_;
	my @want = grep { defined } map { model_row($_) } @asked;
	is($bank->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(code || ':' || grade || ':' || tax, ',' ORDER BY code)
		  FROM pgpriv.psi_fetch('gov', 'firms', 'SELECT code FROM public.asked') AS t(code text, grade text, tax bigint)}),
		join(',', @want), "$label: psi_fetch matches the model");
	for my $k (@pir_keys, @more) {
		is($bank->safe_psql('postgres',
				"SELECT coalesce(pg_catalog.string_agg(code || ':' || grade || ':' || tax, ','), '') "
				  . "FROM pgpriv.pir('gov', 'firms', '$k') AS t(code text, grade text, tax bigint)"),
			model_row($k) // '', "$label: pir of $k matches the model");
	}
}

# --- an unchanged dataset is not read again ----------------------------------
check_round('first run');
is(reads('pir'), 1, 'the first pir lookup read the rows once, the next lookups not at all');
is(reads('psi_fetch'), 1, 'psi_fetch read the rows once');
check_round('unchanged');
is(reads('pir'), 1, 'unchanged dataset: no pir lookup read the rows again');
is(reads('psi_fetch'), 1, 'unchanged dataset: psi_fetch did not read the rows again');
is(last_check('pir'), 'triggers', 'the pir check was exact');

# --- each kind of change is seen at the very next run -------------------------
my @changes = (
	[ 'INSERT', q{INSERT INTO public.firms VALUES ('F31', 'A', 5000)}, sub { $firm{F31} = [ 'A', 5000 ]; $consent{F31} = 1 },
	  q{INSERT INTO public.consent VALUES ('F31', 'bank_role')} ],
	[ 'UPDATE', q{UPDATE public.firms SET grade = 'Z' WHERE code = 'F04'}, sub { $firm{F04}[0] = 'Z' } ],
	[ 'DELETE', q{DELETE FROM public.firms WHERE code = 'F08'}, sub { delete $firm{F08} } ],
	[ 'UPDATE of the table behind the view', q{UPDATE public.bonus SET amount = amount + 1000 WHERE code = 'F04'},
	  sub { $bonus{F04} += 1000 } ],
	[ 'TRUNCATE of the table behind the view', q{TRUNCATE public.bonus}, sub { %bonus = () } ],
	[ 'withdrawn consent', q{DELETE FROM public.consent WHERE code = 'F04'}, sub { delete $consent{F04} } ],
	[ 'new consent', q{INSERT INTO public.consent VALUES ('F26', 'bank_role')}, sub { $consent{F26} = 1 } ],
	[ 'a change by another role', q{SET ROLE mallory; UPDATE public.firms SET tax = 1 WHERE code = 'F26'},
	  sub { $firm{F26}[1] = 1 } ],
);
for my $c (@changes) {
	my ($what, $sql, $apply, $sql2) = @$c;
	my ($rp, $rf) = (reads('pir'), reads('psi_fetch'));
	$gov->safe_psql('postgres', $sql . ($sql2 ? "; $sql2" : ''));
	$apply->();
	check_round("after $what", 'F31');
	is(reads('pir'), $rp + 1, "$what: the next pir lookup read the rows again, once");
	is(reads('psi_fetch'), $rf + 1, "$what: the next psi_fetch read the rows again, once");
}

# --- many writing statements: the change rows are folded, still exact ---------
{
	$gov->safe_psql('postgres', q{
		DO $$ BEGIN FOR i IN 1 .. 1100 LOOP UPDATE public.firms SET tax = tax WHERE code = 'F01'; END LOOP; END $$;
		UPDATE public.firms SET tax = 777 WHERE code = 'F05'});
	$firm{F05}[1] = 777;
	check_round('after 1101 writing statements');
	cmp_ok($gov->safe_psql('postgres',
			q{SELECT changes FROM pgpriv.dataset_change_base WHERE relid = 'public.firms'::regclass}), '>', 1100,
		'the owner folded the change rows into the base count');
	is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.dataset_change WHERE relid = 'public.firms'::regclass}),
		'0', 'and no change row of the table is left');
	my $rp = reads('pir');
	check_round('unchanged after the fold');
	is(reads('pir'), $rp, 'after the fold an unchanged dataset is still not read');
	$gov->safe_psql('postgres', q{UPDATE public.firms SET tax = 778 WHERE code = 'F05'});
	$firm{F05}[1] = 778;
	check_round('a change after the fold');
	is(reads('pir'), $rp + 1, 'and a change after the fold is seen at the next lookup');
}

# --- a concurrent change: uncommitted, then committed between two lookups -----
{
	my ($in, $out, $err) = ('', '', '');
	my $timer = IPC::Run::timeout(60);
	my $h = IPC::Run::start([ 'psql', '-X', '-q', '-A', '-t', '-d', $gov->connstr('postgres') ],
		'<', \$in, '>', \$out, '2>', \$err, $timer);
	$in .= "BEGIN; UPDATE public.firms SET grade = 'Q' WHERE code = 'F05'; SELECT 'updated';\n";
	$h->pump until $out =~ /updated/;
	my $rp = reads('pir');
	check_round('while a change is uncommitted');
	is(reads('pir'), $rp, 'an uncommitted change is not a change: nothing read');
	$in .= "COMMIT; SELECT 'committed';\n";
	$h->pump until $out =~ /committed/;
	$in .= "\\q\n";
	$h->finish;
	$firm{F05}[0] = 'Q';
	check_round('after the concurrent change committed');
	is(reads('pir'), $rp + 1, 'the committed change is seen at the next lookup');
}

# --- the trigger disabled, re-enabled, dropped: still exact --------------------
$gov->safe_psql('postgres', q{ALTER TABLE public.firms DISABLE TRIGGER pgpriv_change; UPDATE public.firms SET tax = 2 WHERE code = 'F01'});
$firm{F01}[1] = 2;
my $rp = reads('pir');
check_round('trigger disabled');
like(last_check('pir'), qr/^reread: table firms has no enabled pgpriv_change trigger/,
	'a disabled trigger: the owner says why it reads the rows');
cmp_ok(reads('pir'), '>', $rp, 'a disabled trigger: the rows are read (re-read fallback)');
$rp = reads('pir');
check_round('trigger still disabled');
is(reads('pir'), $rp + scalar(@pir_keys), 'with the trigger disabled every lookup reads the rows');

# DISABLE, write, ENABLE ALWAYS between two lookups: the trigger looks as before.
$gov->safe_psql('postgres', q{ALTER TABLE public.firms ENABLE ALWAYS TRIGGER pgpriv_change});
check_round('trigger enabled again');
$gov->safe_psql('postgres', q{
	ALTER TABLE public.firms DISABLE TRIGGER pgpriv_change;
	UPDATE public.firms SET grade = 'W' WHERE code = 'F05';
	ALTER TABLE public.firms ENABLE ALWAYS TRIGGER pgpriv_change});
$firm{F05}[0] = 'W';
check_round('after a write with the trigger switched off and on');
is(last_check('pir'), 'triggers', 'the trigger is back: the check is exact again');
$rp = reads('pir');
check_round('unchanged again');
is(reads('pir'), $rp, 'and an unchanged dataset is not read');

$gov->safe_psql('postgres', q{DROP TRIGGER pgpriv_change ON public.bonus; INSERT INTO public.bonus VALUES ('F05', 7)});
$bonus{F05} = 7;
check_round('trigger dropped');
like(last_check('psi_fetch'), qr/^reread: table bonus has no enabled pgpriv_change trigger/,
	'a dropped trigger: re-read, and said so');
$gov->safe_psql('postgres', q{SELECT pgpriv.publish('firms', 'SELECT code, grade, tax FROM public.firms_v', 'code')});
check_round('republished');
is(last_check('psi_fetch'), 'triggers', 'a republish puts the trigger back');

# A rewrite of the table that fires no trigger (ALTER TABLE ... TYPE ... USING).
$gov->safe_psql('postgres', q{
	CREATE TABLE public.rw (code text, v bigint);
	INSERT INTO public.rw VALUES ('F01', 10), ('F02', 20);
	SELECT pgpriv.publish('rw', 'SELECT code, v FROM public.rw', 'code');
	SELECT pgpriv.permit('rw', 'bank_role', 'pir', '{v}');
});
sub rw_pir
{
	return $bank->safe_psql('postgres',
		"SELECT coalesce(pg_catalog.string_agg(code || ':' || v, ','), '') FROM pgpriv.pir('gov', 'rw', 'F02') AS t(code text, v bigint)");
}
is(rw_pir(), 'F02:20', 'rw: before the rewrite');
$gov->safe_psql('postgres', q{ALTER TABLE public.rw ALTER COLUMN v TYPE bigint USING v + 1});
is(rw_pir(), 'F02:21', 'a table rewritten by ALTER TABLE (no trigger fires) is seen at the next lookup');
$gov->safe_psql('postgres', q{SELECT pgpriv.unpublish('rw')});

# A view redefined over the same tables.
$gov->safe_psql('postgres', q{
	CREATE OR REPLACE VIEW public.firms_v AS
	  SELECT f.code, f.grade, f.tax + 2 * coalesce(b.amount, 0) AS tax
	    FROM public.firms AS f LEFT JOIN public.bonus AS b ON b.code = f.code});
$bonus{$_} *= 2 for keys %bonus;
check_round('after the view was redefined');

# A partitioned table: every partition has the trigger; a write straight into
# a partition is seen; a partition attached later has none: re-read, exact.
$gov->safe_psql('postgres', q{
	CREATE TABLE public.pt (code text, v bigint) PARTITION BY LIST (code);
	CREATE TABLE public.pt_a PARTITION OF public.pt FOR VALUES IN ('F01');
	CREATE TABLE public.pt_b PARTITION OF public.pt FOR VALUES IN ('F02');
	INSERT INTO public.pt VALUES ('F01', 1), ('F02', 2);
	SELECT pgpriv.publish('pt', 'SELECT code, v FROM public.pt', 'code');
	SELECT pgpriv.permit('pt', 'bank_role', 'pir', '{v}');
});
sub pt_pir
{
	my ($k) = @_;
	return $bank->safe_psql('postgres',
		"SELECT coalesce(pg_catalog.string_agg(code || ':' || v, ','), '') FROM pgpriv.pir('gov', 'pt', '$k') AS t(code text, v bigint)");
}
is($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'pt'}), 'triggers',
	'a partitioned table is checked by triggers');
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'pgpriv_change' AND tgrelid::regclass::text LIKE 'pt%'}),
	'3', 'on the parent and each partition');
is(pt_pir('F02'), 'F02:2', 'partitioned: first lookup');
$gov->safe_psql('postgres', q{UPDATE public.pt_b SET v = 20});
is(pt_pir('F02'), 'F02:20', 'a write straight into a partition is seen at the next lookup');
$gov->safe_psql('postgres', q{
	CREATE TABLE public.pt_c (code text, v bigint);
	INSERT INTO public.pt_c VALUES ('F03', 3);
	ALTER TABLE public.pt ATTACH PARTITION public.pt_c FOR VALUES IN ('F03')});
is(pt_pir('F03'), 'F03:3', 'a partition attached later is seen');
like($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.served_check WHERE dataset = 'pt'}),
	qr/^reread: table pt_c has no enabled pgpriv_change trigger/, 'and read again, since it has no trigger');
$gov->safe_psql('postgres', q{UPDATE public.pt_c SET v = 30});
is(pt_pir('F03'), 'F03:30', 'a write into it is seen too');
$gov->safe_psql('postgres', q{SELECT pgpriv.unpublish('pt')});

# A foreign key's ON DELETE / ON UPDATE CASCADE writes the dataset's table too.
$gov->safe_psql('postgres', q{
	CREATE TABLE public.fk_parent (code text PRIMARY KEY);
	INSERT INTO public.fk_parent VALUES ('F01'), ('F02');
	CREATE TABLE public.fk_child (code text REFERENCES public.fk_parent ON DELETE CASCADE ON UPDATE CASCADE, v bigint);
	INSERT INTO public.fk_child VALUES ('F01', 1), ('F02', 2);
	SELECT pgpriv.publish('fk', 'SELECT code, v FROM public.fk_child', 'code');
	SELECT pgpriv.permit('fk', 'bank_role', 'pir', '{v}');
});
sub fk_pir
{
	my ($k) = @_;
	return $bank->safe_psql('postgres',
		"SELECT coalesce(pg_catalog.string_agg(code || ':' || v, ','), '') FROM pgpriv.pir('gov', 'fk', '$k') AS t(code text, v bigint)");
}
is(fk_pir('F02'), 'F02:2', 'foreign key: first lookup');
$gov->safe_psql('postgres', q{DELETE FROM public.fk_parent WHERE code = 'F02'});
is(fk_pir('F02'), '', 'a row deleted by ON DELETE CASCADE is seen at the next lookup');
$gov->safe_psql('postgres', q{UPDATE public.fk_parent SET code = 'F09' WHERE code = 'F01'});
is(fk_pir('F09'), 'F09:1', 'a key changed by ON UPDATE CASCADE is seen at the next lookup');
$gov->safe_psql('postgres', q{SELECT pgpriv.unpublish('fk')});

# --- what triggers cannot see: re-read -----------------------------------------
$gov->safe_psql('postgres', q{
	CREATE FUNCTION public.same(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT t';
	SELECT pgpriv.publish('vol', 'SELECT code, grade FROM public.firms WHERE random() >= 0', 'code');
	SELECT pgpriv.publish('ufn', 'SELECT code, public.same(grade) AS grade FROM public.firms', 'code');
	SELECT pgpriv.publish('clock', 'SELECT code, grade FROM public.firms WHERE CURRENT_DATE > ''2000-01-01''', 'code');
	SELECT pgpriv.permit('ufn', 'bank_role', 'pir', '{grade}');
	SELECT pgpriv.permit('ufn', 'bank_role', 'psi_fetch', '{grade}',
	                     authorised_by => 'SELECT code FROM public.consent WHERE pg_catalog.now() > ''2000-01-01''');
});
like($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'vol'}),
	qr/^reread: function random\(\)/, 'a volatile function: reread, naming it');
like($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'ufn'}),
	qr/^reread: function (public\.)?same\(text\)/, 'a user function (even IMMUTABLE): reread, naming it');
like($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'clock'}),
	qr/^reread: CURRENT_DATE/, 'CURRENT_DATE: reread');
like($gov->safe_psql('postgres', q{SELECT consent_check FROM pgpriv.permits WHERE dataset = 'ufn' AND capability = 'psi_fetch'}),
	qr/^reread: function now\(\)/, 'a consent query with now(): reread');

# A reread dataset is read at every lookup and stays exact.
sub ufn_pir
{
	my ($k) = @_;
	return $bank->safe_psql('postgres',
		"SELECT coalesce(pg_catalog.string_agg(code || ':' || grade, ','), '') FROM pgpriv.pir('gov', 'ufn', '$k') AS t(code text, grade text)");
}
sub ufn_reads
{
	return $gov->safe_psql('postgres', q{SELECT reads FROM pgpriv.served_check WHERE dataset = 'ufn' AND capability = 'pir'});
}
is(ufn_pir('F02'), "F02:$firm{F02}[0]", 'reread dataset: pir is exact');
my $ur = ufn_reads();
is(ufn_pir('F02'), "F02:$firm{F02}[0]", 'reread dataset: pir again');
is(ufn_reads(), $ur + 1, 'reread dataset: every lookup reads the rows (pir_refresh_seconds = 0)');
$gov->safe_psql('postgres', q{UPDATE public.firms SET grade = 'v' WHERE code = 'F02'});
$firm{F02}[0] = 'v';
is(ufn_pir('F02'), 'F02:v', 'reread dataset: a change is seen at the next lookup');

# pgpriv.pir_refresh_seconds keeps its meaning for a reread dataset only.
$gov->append_conf('postgresql.conf', 'pgpriv.pir_refresh_seconds = 3600');
$gov->reload;
ufn_pir('F02');
$ur = ufn_reads();
$gov->safe_psql('postgres', q{UPDATE public.firms SET grade = 'u' WHERE code = 'F02'});
is(ufn_pir('F02'), 'F02:v', 'reread dataset within pir_refresh_seconds: the current epoch is served');
is(ufn_reads(), $ur, 'and the rows are not read');
$firm{F02}[0] = 'u';
check_round('triggers dataset with pir_refresh_seconds set');
$gov->append_conf('postgresql.conf', 'pgpriv.pir_refresh_seconds = 0');
$gov->reload;

# --- the publisher may not create triggers: reread, publish does not fail -------
$gov->safe_psql('postgres', q{
	CREATE TABLE public.pubonly (code text, v text);
	INSERT INTO public.pubonly VALUES ('F01', 'x');
	GRANT SELECT ON public.pubonly TO pub;
});
my ($rc, $out, $err) = $gov->psql('postgres',
	q{SET ROLE pub; SELECT pgpriv.publish('pubonly', 'SELECT code, v FROM public.pubonly', 'code')});
is($rc, 0, 'publish without TRIGGER privilege succeeds');
like($err, qr/NOTICE:.*may not create triggers/, 'with a notice saying why changes are found by re-reading');
like($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'pubonly'}),
	qr/^reread: pub may not create triggers on/, 'and change_check says so');

# --- a local attacker cannot forge or hide change rows -------------------------
for my $attack (
	[ 'insert a change row', q{INSERT INTO pgpriv.dataset_change VALUES ('public.firms'::regclass)} ],
	[ 'delete the change rows', q{DELETE FROM pgpriv.dataset_change} ],
	[ 'fold the change rows away', q{INSERT INTO pgpriv.dataset_change_base VALUES ('public.firms'::regclass, 0)} ],
	[ "read the owner's check state", q{SELECT * FROM pgpriv.served_check} ],
	[ 'use the trigger function on its own table',
	  q{CREATE TABLE public.m (x int); CREATE TRIGGER t AFTER INSERT ON public.m FOR EACH STATEMENT EXECUTE FUNCTION pgpriv._dataset_changed()} ])
{
	my ($what, $sql) = @$attack;
	($rc, $out, $err) = $gov->psql('postgres', "SET ROLE mallory; $sql");
	like($err, qr/permission denied for (table|function) (pgpriv\.)?(dataset_change|dataset_change_base|served_check|_dataset_changed)/,
		"mallory cannot $what");
}
# mallory owns no table of the dataset: she cannot disable the trigger either.
($rc, $out, $err) = $gov->psql('postgres', q{SET ROLE mallory; ALTER TABLE public.firms DISABLE TRIGGER pgpriv_change});
like($err, qr/must be owner/, 'mallory cannot disable the trigger of a table she does not own');

# --- unpublish and DROP TABLE clean up ----------------------------------------------
$gov->safe_psql('postgres', q{SELECT pgpriv.unpublish('vol'); SELECT pgpriv.unpublish('clock'); SELECT pgpriv.unpublish('ufn')});
$gov->safe_psql('postgres', q{SELECT pgpriv.unpublish('firms')});
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'pgpriv_change'}), '0',
	'unpublishing the last dataset over the tables drops their triggers');
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.dataset_change}), '0', 'and their change rows');
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('firms', 'SELECT code, grade, tax FROM public.firms', 'code');
	INSERT INTO public.firms VALUES ('F40', 'a', 1);
});
cmp_ok($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.dataset_change}), '>', 0, 'a republished dataset logs changes again');
$gov->safe_psql('postgres', q{SELECT pgpriv.unpublish('firms'); SELECT pgpriv.publish('bonus', 'SELECT code, amount FROM public.bonus', 'code'); INSERT INTO public.bonus VALUES ('F01', 1); DROP TABLE public.bonus CASCADE});
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.dataset_change}), '0', 'DROP TABLE drops the change rows of the table');

# DROP EXTENSION needs CASCADE while a table has the trigger, and drops it.
$gov->safe_psql('postgres', q{SELECT pgpriv.publish('firms', 'SELECT code, grade, tax FROM public.firms', 'code')});
($rc, $out, $err) = $gov->psql('postgres', q{DROP EXTENSION pgpriv});
like($err, qr/cannot drop extension pgpriv because other objects depend on it/, 'DROP EXTENSION without CASCADE names the triggers');
$gov->safe_psql('postgres', q{DROP EXTENSION pgpriv CASCADE});
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'pgpriv_change'}), '0',
	'DROP EXTENSION pgpriv CASCADE drops the triggers');

done_testing();
