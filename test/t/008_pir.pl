# Private lookup (pir, docs/architecture.md, protocol 4) between two parties: gov
# (data owner) and bank (asker).  Covers correctness against the plain
# lookup for present and absent keys (one key and keys[]), the hint cache,
# an epoch change, the owner's audit never naming a looked-up key, the hint
# signature check, the serving functions' refusals (stale epoch, too many
# queries, malformed queries), permits and budgets.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

test_seed(20261126);

my ($gov, $bank) = pgpriv_pair();
my $gov_port = $gov->port;
my $signing_key = $gov->safe_psql('postgres',
	q{SELECT pg_catalog.encode(signing_key, 'hex') FROM pgpriv.identity_card()});

$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw_b';});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', signing_key '$signing_key');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw_b');
	CREATE SERVER gov_nokey FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov_nokey OPTIONS (user 'bank_role', password 'pw_b');
});

# ---------------------------------------------------------------------------
# The owner's dataset: 3000 rows, a few NULLs, non-ASCII text.
# ---------------------------------------------------------------------------
my $n = 3000;
my (@codes, %row);
my $copy = "CREATE TABLE public.tax (code text, grade text, paid numeric, note text);\n"
  . "COPY public.tax FROM stdin;\n";
for my $i (1 .. $n) {
	my $code  = sprintf('9111%08d%s', int(rand(1e8)), chr(65 + $i % 26));
	my $grade = ('A', 'B', 'C', "D\x{e9}")[ $i % 4 ];
	my $paid  = $i % 97 == 0 ? undef : sprintf('%d.%02d', int(rand(1e6)), $i % 100);
	push @codes, $code;
	$row{$code} = [ $grade, $paid ];
	$copy .= join("\t", $code, $grade, $paid // '\N', 'secret note') . "\n";
}
$copy .= "\\.\n";
utf8::encode($copy);
$gov->safe_psql('postgres', $copy);
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('tax', 'SELECT code, grade, paid, note FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'pir', '{grade,paid}');
	SELECT pgpriv.publish('nopermit_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('nopermit_ds', 'bank_role', 'psi');
	SELECT pgpriv.publish('budget_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('budget_ds', 'bank_role', 'pir', '{grade}', max_keys => 5);
});

# The plain lookup, as the owner would answer it.
sub plain_rows
{
	my (@keys) = @_;
	my @out;
	for my $k (@keys) {
		next unless $row{$k};
		my ($g, $p) = @{ $row{$k} };
		my $line = join('|', $k, $g, $p // '');
		utf8::encode($line);
		push @out, $line;
	}
	return [ sort @out ];
}

sub pir_rows
{
	my ($sql) = @_;
	my $out = $bank->safe_psql('postgres', $sql);
	return [ sort grep { $_ ne '' } split /\n/, $out ];
}

# ---------------------------------------------------------------------------
# 1. Correctness: one key, absent key, many keys
# ---------------------------------------------------------------------------
my $present = $codes[17];
is_deeply(
	pir_rows("SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($present) . ") AS t(code text, grade text, paid numeric)"),
	plain_rows($present), 'pir of a present key equals the plain lookup');
is_deeply(
	pir_rows("SELECT * FROM pgpriv.pir('gov', 'tax', 'NOT-A-CODE') AS t(code text, grade text, paid numeric)"),
	[], 'pir of an absent key yields no row');

my @ask = (map { $codes[ int(rand($n)) ] } 1 .. 30);
push @ask, map { sprintf('9999%08d', $_) } 1 .. 30;
my $arr = 'ARRAY[' . join(',', map { lit($_) } @ask) . ']::text[]';
is_deeply(
	pir_rows("SELECT code, grade, paid FROM pgpriv.pir('gov', 'tax', $arr) AS t(code text, grade text, paid numeric)"),
	plain_rows(@ask), 'pir of 30 present and 30 absent keys equals the plain lookup');
is($bank->safe_psql('postgres',
		"SELECT count(*) FROM pgpriv.pir('gov', 'tax', $arr) AS t(code text, paid numeric) WHERE paid IS NULL OR paid >= 0"),
	scalar(@{ plain_rows(@ask) }), 'values are converted to the declared types (a subset of columns)');

# The hint was cached: the second lookup did not download it.
like($bank->safe_psql('postgres',
		q{SELECT detail FROM pgpriv.audit_log WHERE capability = 'pir' AND side = 'asker' ORDER BY id DESC LIMIT 1}),
	qr/hint cached/, 'the asker reuses its cached hint');
$bank->safe_psql('postgres', q{SELECT pgpriv.pir_sync('gov', 'tax')});
is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.peer_pir WHERE dataset = 'tax'}),
	'1', 'pir_sync keeps one hint per (peer, dataset)');

# ---------------------------------------------------------------------------
# 2. The owner's audit never names a looked-up key
# ---------------------------------------------------------------------------
my $audit = $gov->safe_psql('postgres', q{SELECT a::text FROM pgpriv.audit_log AS a});
my @leaked = grep { index($audit, $_) >= 0 } ($present, @ask);
is(scalar(@leaked), 0, "the owner's audit never contains a looked-up key");
like($audit, qr/pir/, "the owner's audit records the pir runs");

# ---------------------------------------------------------------------------
# 3. Epoch change: the data changes, the lookup re-syncs
# ---------------------------------------------------------------------------
my $epoch_before = $gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'tax'});
$gov->safe_psql('postgres', "UPDATE public.tax SET grade = 'Z' WHERE code = " . lit($present));
$row{$present}[0] = 'Z';
is_deeply(
	pir_rows("SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($present) . ") AS t(code text, grade text, paid numeric)"),
	plain_rows($present), 'after a data change the lookup sees the new value');
cmp_ok($gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'tax'}),
	'>', $epoch_before, 'a data change builds a new epoch');

# pgpriv.pir_refresh_seconds applies only to datasets whose change check is
# 'reread' (test/t/019_fresh.pl); this one's is 'triggers', so a change is
# seen at the next lookup even with a long refresh time.
is($gov->safe_psql('postgres', q{SELECT change_check FROM pgpriv.datasets WHERE dataset = 'tax'}), 'triggers',
	'the dataset is checked for changes by triggers');
$gov->append_conf('postgresql.conf', 'pgpriv.pir_refresh_seconds = 3600');
$gov->reload;
my $pir_present = "SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($present) . ") AS t(code text, grade text, paid numeric)";
pir_rows($pir_present);
my $epoch_refresh = $gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'tax'});
$gov->safe_psql('postgres', "UPDATE public.tax SET grade = 'Y' WHERE code = " . lit($present));
$row{$present}[0] = 'Y';
is_deeply(pir_rows($pir_present), plain_rows($present),
	'with the trigger check the change is seen at once, pir_refresh_seconds notwithstanding');
cmp_ok($gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'tax'}), '>', $epoch_refresh,
	'and builds a new epoch');
$gov->safe_psql('postgres', q{SELECT pgpriv.publish('tax', (SELECT query FROM pgpriv.datasets WHERE dataset = 'tax'), 'code')});
is_deeply(pir_rows($pir_present), plain_rows($present),
	'after a republish the lookup is exact');
$gov->append_conf('postgresql.conf', 'pgpriv.pir_refresh_seconds = 0');
$gov->reload;

# A damaged or missing cache file is rebuilt (new epoch), never served.
sub pir_file
{
	my @f = glob($gov->data_dir . '/pgpriv_pir/*.*');
	@f = grep { !/\.tmp$/ } @f;
	is(scalar(@f), 1, 'one PIR database file per (dataset, peer)');
	return $f[0];
}
my $file = pir_file();
{
	open my $fh, '+<', $file or die $!;
	binmode $fh;
	seek($fh, 200, 0);
	read($fh, my $b, 1);
	seek($fh, 200, 0);
	print $fh chr(ord($b) ^ 1);
	close $fh;
}
my $epoch_mid = $gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'tax'});
is_deeply(
	pir_rows("SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($present) . ") AS t(code text, grade text, paid numeric)"),
	plain_rows($present), 'a damaged database file is rebuilt and the lookup is exact');
cmp_ok($gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'tax'}),
	'>', $epoch_mid, 'the damaged file gave way to a new epoch');
unlink(pir_file()) or die $!;
is_deeply(
	pir_rows("SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($codes[5]) . ") AS t(code text, grade text, paid numeric)"),
	plain_rows($codes[5]), 'a missing database file is rebuilt and the lookup is exact');
pir_file();

# ---------------------------------------------------------------------------
# 4. Hint signature
# ---------------------------------------------------------------------------
my $other_key = $bank->safe_psql('postgres',
	q{SELECT pg_catalog.encode(signing_key, 'hex') FROM pgpriv.identity_card()});
$bank->safe_psql('postgres', "ALTER SERVER gov OPTIONS (SET signing_key '$other_key')");
fails_with($bank, "SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($present) . ") AS t(code text)",
	'28000', qr/signing_key/, 'a peer whose signing key is not the pinned one fails authentication');
$bank->safe_psql('postgres', "ALTER SERVER gov OPTIONS (SET signing_key '$signing_key')");
fails_with($bank, "SELECT * FROM pgpriv.pir('gov_nokey', 'tax', " . lit($present) . ") AS t(code text)",
	'22023', qr/signing_key/, 'a peer without a signing_key option');

# ---------------------------------------------------------------------------
# 5. The serving functions' refusals (called directly as the peer role)
# ---------------------------------------------------------------------------
my $as_bank = [ '-U', 'bank_role' ];
my $setup = version_exchange() . q{CALL pgpriv.serve_admit('tax', 'pir', 'run1', 1);
SELECT epoch, cols FROM pgpriv.serve_pir_setup('tax', 'run1') \gset
};
fails_with($gov, $setup . q{SELECT pgpriv.serve_pir_answer('tax', 'run1', :epoch + 1, '\x00000000');},
	'55000', qr/epoch/, 'a stale epoch', extra => $as_bank);
fails_with($gov, $setup . q{SELECT pgpriv.serve_pir_answer('tax', 'run1', :epoch, '\x000000');},
	'08P01', qr/queries/, 'a query of the wrong length', extra => $as_bank);
fails_with($gov,
	$setup . q{SELECT length(pgpriv.serve_pir_answer('tax', 'run1', :epoch, pg_catalog.decode(pg_catalog.repeat('00', 3 * 4 * :cols), 'hex')));},
	'08P01', qr/two queries/, 'more than two queries per admitted key', extra => $as_bank);
fails_with($gov, q{SELECT * FROM pgpriv.serve_pir_setup('tax', 'never-admitted');},
	'08P01', qr/not admitted/, 'setup of a run never admitted', extra => $as_bank);

# ---------------------------------------------------------------------------
# 6. Permits and budgets, through admission
# ---------------------------------------------------------------------------
fails_with($bank, "SELECT * FROM pgpriv.pir('gov', 'nopermit_ds', " . lit($present) . ") AS t(code text)",
	'42501', qr/pir/, 'pir without a pir permit');
fails_with($bank, "SELECT * FROM pgpriv.pir('gov', 'tax', " . lit($present) . ") AS t(code text, note text)",
	'42501', qr/note/, 'a column the permit does not reveal');
my $six = 'ARRAY[' . join(',', map { lit($_) } @codes[ 0 .. 5 ]) . ']::text[]';
fails_with($bank, "SELECT * FROM pgpriv.pir('gov', 'budget_ds', $six) AS t(code text)",
	'54000', qr/max_keys/, 'more keys than the budget');
my $five = 'ARRAY[' . join(',', map { lit($_) } @codes[ 0 .. 4 ]) . ']::text[]';
is($bank->safe_psql('postgres', "SELECT count(*) FROM pgpriv.pir('gov', 'budget_ds', $five) AS t(code text, grade text)"),
	'5', 'keys within the budget are served');

done_testing();
