# What a bank DBA expects of daily operation (issue #13, part 5):
#   - the first call after the peer restarted reconnects by itself (the
#     cached connection is found dead before anything is sent), in the same
#     session that used the old connection;
#   - a peer that is gone is a clean 08001 naming the peer, and is found
#     again once it is back;
#   - a value that does not convert to the type the analyst declared in
#     psi_fetch's column definition list names the column;
#   - peer_permits shows the analyst what the peer offers its role (columns
#     with types, limits, budget left today, a ready column definition
#     list), and a lying peer's answer is refused (08P01);
#   - a peer that dies while the asker blinds its keys is noticed during the
#     blinding (08006 within a couple of seconds), not at the next call;
#   - PIR cache files are per database: two databases of one cluster serving
#     a dataset of the same name to the same role keep their epochs;
#   - DROP SERVER drops what was cached from that peer;
#   - the asker's audit records failed runs (peer lost, refused, timed out,
#     cancelled, its own backend terminated) although their transactions
#     abort.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
pgpriv_setup($_) for ($gov, $bank);
my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);

$gov->safe_psql('postgres', q{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE TABLE public.firms AS SELECT 'C' || lpad(i::text, 3, '0') AS code FROM generate_series(1, 40) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code FROM public.firms', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi');
	CREATE TABLE public.grades AS SELECT 'C' || lpad(i::text, 3, '0') AS code, 'A' || i AS grade FROM generate_series(1, 40) AS i;
	SELECT pgpriv.publish('grades', 'SELECT code, grade FROM public.grades', 'code');
	SELECT pgpriv.permit('grades', 'bank_role', 'psi_fetch', '{grade}', max_keys => 500);
	CREATE TABLE public.other AS SELECT 'C001' AS code, 1 AS secret;
	SELECT pgpriv.publish('other', 'SELECT code, secret FROM public.other', 'code');
	CREATE ROLE bank_other LOGIN;
	SELECT pgpriv.permit('other', 'bank_other', 'psi_fetch', '{secret}');
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.applicants AS SELECT 'C' || lpad(i::text, 3, '0') AS code FROM generate_series(31, 50) AS i;
});

# Plaintext model: applicants C031..C050 against firms C001..C040.
my $want = 10;

# --- a restart between two calls of one session ------------------------------
# One psql session on the bank: a psi, the owner's restart (through its node
# object, while the session stays open), the same psi again.  The second
# call must not see the dead connection of the first.
my $q = q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.applicants')};
my $session = psql_session($bank);
my ($out, $err) = session_run($session, qq{SELECT pg_catalog.pg_backend_pid() AS pid \\gset
$q;});
$gov->restart;
my ($out2, $err2) = session_run($session, qq{$q;
SELECT pg_catalog.pg_backend_pid() = :pid;});
$out .= $out2;
$err .= $err2;
my $rc = session_close($session);
is($rc, 0, 'the session that used the old connection runs on after the restart')
  or diag($err);
my @lines = split /\n/, $out;
is(scalar(@lines), 3, 'two counts and the same-session check') or diag($out);
is($lines[0], $want, 'the count before the restart equals the plaintext model');
is($lines[1], $want, 'the first call after the restart reconnects by itself and equals the model');
is($lines[2], 't', 'both calls ran in one bank session (the cached connection was replaced)');
unlike($err, qr/lost connection/, 'no lost-connection error');

# The owner served the second run on a new connection: two completed psi runs.
is($gov->safe_psql('postgres',
		q{SELECT pg_catalog.count(*) FROM pgpriv.audit WHERE capability = 'psi' AND outcome = 'ok' AND keys_in = 20}),
	'2', 'the owner audited both runs (20 keys asked each)');

# --- a peer that is gone stays an error, and is found again ----------------
# (one bank session again; the owner stopped and started through its node.)
$session = psql_session($bank, 'postgres', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
($out, $err) = session_run($session, "$q;");
$gov->stop('fast');
($out2, $err2) = session_run($session, "$q;");
$out .= $out2;
$err .= $err2;
$gov->start;
($out2, $err2) = session_run($session, "$q;");
$out .= $out2;
$err .= $err2;
session_close($session);
chomp $out;
like($err, qr/08001/, 'with the owner stopped, the call fails with 08001');
like($err, qr/could not connect to peer "gov"/, 'and the error names the peer');
is($out, "$want\n$want", 'the calls before the stop and after the start both equal the model');

# --- a conversion error names the column --------------------------------------
($rc, $out, $err) = $bank->psql('postgres',
	q{SELECT * FROM pgpriv.psi_fetch('gov', 'grades', 'SELECT code FROM public.applicants;') AS t(code text, grade integer)},
	on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/22P02/, 'a grade that is not an integer is 22P02');
like($err, qr/column "grade" \(integer\) of the column definition list/, 'and the error names the column and its declared type');
is($bank->safe_psql('postgres',
		q{SELECT pg_catalog.string_agg(grade, ',' ORDER BY code) FROM pgpriv.psi_fetch('gov', 'grades', 'SELECT code FROM public.applicants') AS t(code text, grade text)}),
	join(',', map { "A$_" } 31 .. 40), 'declared as text, the same rows arrive (plaintext model: A31..A40)');

# --- peer_permits -----------------------------------------------------------
# After the psi_fetch runs above (20 keys each, two of them admitted and
# charged: the failed conversion ran after admission), the bank reads what
# gov offers bank_role.  Independent model: the permits made above, the
# types of public.grades, 500 - keys used.
my $used = $gov->safe_psql('postgres',
	q{SELECT keys FROM pgpriv.budget WHERE dataset = 'grades' AND peer_role = 'bank_role' AND capability = 'psi_fetch'});
is($bank->safe_psql('postgres', q{
	SELECT pg_catalog.string_agg(pg_catalog.concat_ws('|', dataset, capability, columns, column_types,
	                             max_keys, keys_used_today, keys_left_today, column_definition), E'\n')
	  FROM pgpriv.peer_permits('gov')}),
	"grades|psi_fetch|{grade}|{text}|500|$used|" . (500 - $used) . "|t(key text, grade text)\n" .
	"tax|psi|{}|{}|0",
	'peer_permits lists the two permits of bank_role, with types, budget and a column definition list');
is($bank->safe_psql('postgres', q{
	SELECT keys_left_today IS NULL AND max_keys IS NULL FROM pgpriv.peer_permits('gov') WHERE dataset = 'tax'}),
	't', 'no max_keys: no daily limit shown');
my $def = $bank->safe_psql('postgres', q{SELECT column_definition FROM pgpriv.peer_permits('gov') WHERE dataset = 'grades'});
is($bank->safe_psql('postgres',
		"SELECT pg_catalog.count(*) FROM pgpriv.psi_fetch('gov', 'grades', 'SELECT code FROM public.applicants') AS $def"),
	'10', 'the column definition list it gives runs as is');
unlike($bank->safe_psql('postgres', q{SELECT pg_catalog.string_agg(dataset, ',') FROM pgpriv.peer_permits('gov')}),
	qr/other/, "another role's permit is not shown");

# A peer that lies: serve_permits replaced by modified code on a look-alike.
my $liar_pins = liar_database($gov, 'liar');
$bank->safe_psql('postgres', qq{
	CREATE SERVER liar FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'liar', $liar_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER liar OPTIONS (user 'bank_role', password 'pw');
});
my @lies = (
	[ 'a type that would end the column definition list',
	  q{SELECT 'd'::text, 'psi_fetch'::text, '{c}'::text[], '{"text) AS t(k text); DROP TABLE x; --"}'::text[], 1::bigint, NULL::int, NULL::int, 0::bigint} ],
	[ 'more types than columns',
	  q{SELECT 'd'::text, 'psi_fetch'::text, '{c}'::text[], '{text,int}'::text[], 1::bigint, NULL::int, NULL::int, 0::bigint} ],
	[ 'an unknown capability',
	  q{SELECT 'd'::text, 'everything'::text, '{}'::text[], '{}'::text[], NULL::bigint, NULL::int, NULL::int, 0::bigint} ],
	[ 'a negative limit',
	  q{SELECT 'd'::text, 'psi'::text, '{}'::text[], '{}'::text[], -5::bigint, NULL::int, NULL::int, 0::bigint} ],
	[ 'a NULL column list',
	  q{SELECT 'd'::text, 'psi'::text, NULL::text[], '{}'::text[], NULL::bigint, NULL::int, NULL::int, 0::bigint} ],
	[ 'a flood of permits',
	  q{SELECT 'd' || i, 'psi'::text, '{}'::text[], '{}'::text[], NULL::bigint, NULL::int, NULL::int, 0::bigint FROM generate_series(1, 10001) AS i} ],
	[ 'too few columns',
	  q{SELECT 'd'::text, 'psi'::text} ],
);
for my $lie (@lies) {
	my ($what, $body) = @$lie;
	my $cols = $what eq 'too few columns'
	  ? 'dataset text, capability text'
	  : 'dataset text, capability text, columns text[], column_types text[], max_keys bigint, '
	  . 'min_parties int, min_group int, keys_used_today bigint';
	$gov->safe_psql('liar', qq{
		DROP FUNCTION IF EXISTS pgpriv.serve_permits();
		CREATE FUNCTION pgpriv.serve_permits() RETURNS TABLE($cols) LANGUAGE sql AS \$\$ $body \$\$;
	});
	($rc, $out, $err) = $bank->psql('postgres', q{SELECT * FROM pgpriv.peer_permits('liar')},
		on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/08P01|42703/, "a lying peer's permit list ($what) is refused");
	like($err, qr/peer "liar"/, "  and the error names the peer ($what)");
}

# --- PIR files per database ---------------------------------------------------
# A second database on gov's cluster publishes a dataset of the same name for
# the same role; lookups alternate between the two.  Each keeps its epoch 1.
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('grades', 'bank_role', 'pir', '{grade}')});
$gov->safe_psql('postgres', 'CREATE DATABASE gov2');
$gov->safe_psql('gov2', q{
	CREATE EXTENSION pgpriv;
	CREATE TABLE public.grades AS SELECT 'C' || lpad(i::text, 3, '0') AS code, 'Z' || i AS grade FROM generate_series(1, 40) AS i;
	SELECT pgpriv.publish('grades', 'SELECT code, grade FROM public.grades', 'code');
	SELECT pgpriv.permit('grades', 'bank_role', 'pir', '{grade}');
});
my $gov2_pins = pinned_keys($gov, 'gov2');
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov2 FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'gov2', $gov2_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov2 OPTIONS (user 'bank_role', password 'pw');
});
my @pir_seen;
for my $round (1 .. 2) {
	for my $srv (qw(gov gov2)) {
		push @pir_seen, $bank->safe_psql('postgres',
			"SELECT grade FROM pgpriv.pir('$srv', 'grades', 'C007') AS t(code text, grade text)");
	}
}
is(join(',', @pir_seen), 'A7,Z7,A7,Z7', 'each database answers from its own rows');
is($gov->safe_psql('postgres', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'grades'}) . ','
	 . $gov->safe_psql('gov2', q{SELECT epoch FROM pgpriv.served_pir WHERE dataset = 'grades'}),
	'1,1', 'neither database rebuilt the other one\'s PIR file (both still at epoch 1)');

# --- a peer that dies during the asker's local work -------------------------
# 300 000 keys take the asker several seconds to blind (tens of microseconds
# each); the owner's serving backend is terminated as soon as the asker's
# progress shows the blinding phase.
$bank->safe_psql('postgres', q{
	CREATE TABLE public.many AS SELECT 'K' || i AS code FROM generate_series(1, 300000) AS i});
my ($bout, $berr) = ('', '');
my $started = time;
my $bg = IPC::Run::start(
	[ $bank->installed_command('psql'), '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $bank->connstr('postgres'),
	  '-c', q{SET pgpriv.psi_protocol = 'table'},
	  '-c', q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.many')} ],
	'<', \undef, '>', \$bout, '2>', \$berr, IPC::Run::timeout(300));
my $blinding = 0;
for (1 .. 1200) {
	if ($bank->safe_psql('postgres',
			q{SELECT pg_catalog.count(*) FROM pgpriv.progress WHERE phase LIKE 'asker: blinding%' AND done < total}) eq '1') {
		$blinding = 1;
		last;
	}
	usleep(25_000);
}
ok($blinding, 'the asker is blinding its 300 000 keys');
my $killed = time;
# How long this machine (a sanitized build is several times slower) takes to
# reach the peer and start blinding: the statement_timeout below must fire
# after that.
my $to_blinding = $killed - $started;
$gov->safe_psql('postgres',
	q{SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = 'pgpriv'});
my $still_blinding = $bank->safe_psql('postgres',
	q{SELECT pg_catalog.count(*) FROM pgpriv.progress WHERE phase LIKE 'asker: blinding%'});
$bg->finish;
my $noticed = time - $killed;
like($berr, qr/08006/, 'the asker fails with 08006') or diag($berr);
like($berr, qr/lost connection to peer "gov"/, 'naming the peer it lost');
is($still_blinding, '1', 'the peer died while the asker was still blinding');
cmp_ok($noticed, '<', 2.5, 'noticed during the blinding, within 2.5 s of the kill (the check runs every 200 ms)');
note(sprintf('peer death noticed after %.2f s', $noticed));
like(audit_failed($bank, q{dataset = 'tax' AND keys_in = 300000}), qr/^failed: peer lost \(08006\)$/,
	"the asker's audit records the lost run (its transaction aborted)");

# --- the asker's audit of failed runs -------------------------------------------
# Refused: 600 keys against psi_fetch's max_keys of 500 a day.
($rc, $out, $err) = $bank->psql('postgres',
	q{SELECT pg_catalog.count(*) FROM pgpriv.psi_fetch('gov', 'grades', 'SELECT code FROM public.many LIMIT 600') AS t(code text, grade text)},
	on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/54000/, 'over budget: 54000');
like(audit_failed($bank, q{dataset = 'grades' AND keys_in = 600}), qr/^failed: refused \(54000\)$/,
	'the refused run is audited as failed: refused');
# Timed out: statement_timeout fires while 300 000 keys are blinded (or
# later in the run; after the peer was reached in any case).
my $timeout_ms = int(1000 * $to_blinding) + 1000;
$timeout_ms = 1500 if $timeout_ms < 1500;
note("statement_timeout for the timed-out run: $timeout_ms ms");
($rc, $out, $err) = $bank->psql('postgres',
	qq{SET pgpriv.psi_protocol = 'table'; SET statement_timeout = '${timeout_ms}ms'; SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.many')},
	on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/57014.*statement timeout/s, 'statement_timeout: 57014');
like(audit_failed($bank, q{dataset = 'tax' AND keys_in = 300000 AND outcome LIKE '%timed out%'}),
	qr/^failed: timed out \(57014\)$/, 'the timed-out run is audited as failed: timed out');
# Cancelled and terminated: the bank's own backend, during the blinding.
for my $how (qw(cancel terminate)) {
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ $bank->installed_command('psql'), '-XAtq', '-v', 'VERBOSITY=verbose',
		  '-d', $bank->connstr('postgres') . " application_name=asker_$how",
		  '-c', q{SET pgpriv.psi_protocol = 'table'},
		  '-c', q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.many')} ],
		'<', \undef, '>', \$o, '2>', \$e, IPC::Run::timeout(300));
	my $in = 0;
	for (1 .. 1200) {
		if ($bank->safe_psql('postgres',
				q{SELECT pg_catalog.count(*) FROM pgpriv.progress WHERE phase LIKE 'asker: blinding%'}) eq '1') {
			$in = 1;
			last;
		}
		usleep(25_000);
	}
	ok($in, "$how: the asker is blinding");
	$bank->safe_psql('postgres',
		"SELECT pg_catalog.pg_${how}_backend(pid) FROM pg_catalog.pg_stat_activity WHERE application_name = 'asker_$how'");
	$h->finish;
	my $want = $how eq 'cancel' ? qr/^failed: cancelled \(57014\)$/ : qr/^failed: terminated \(57P01\)$/;
	like(audit_failed($bank, "dataset = 'tax' AND keys_in = 300000 AND outcome LIKE '%" . ($how eq 'cancel' ? 'cancelled' : 'terminated') . "%'"),
		$want, "$how: the run is audited as " . ($how eq 'cancel' ? 'cancelled' : 'terminated'));
}
is($bank->safe_psql('postgres', q{SELECT valid FROM pgpriv.audit_verify()}), 't',
	'the rows written by the worker keep the audit chain valid');
is($bank->safe_psql('postgres', q{SELECT pg_catalog.count(*) FROM pgpriv.audit_log WHERE side = 'asker' AND outcome LIKE 'failed:%' AND actor <> 'postgres'}),
	'0', 'the failure rows name the analyst who ran them, not the worker');

# --- DROP SERVER drops what was cached from the peer ---------------------------
my $cached = q{SELECT (SELECT pg_catalog.count(*) FROM pgpriv.peer_table WHERE server = 'gov2') || ','
	|| (SELECT pg_catalog.count(*) FROM pgpriv.peer_pir WHERE server = 'gov2') || ','
	|| (SELECT pg_catalog.count(*) FROM pgpriv.peer_pir WHERE server = 'gov')};
is($bank->safe_psql('postgres', $cached), '0,1,1', 'the bank holds PIR hints of gov and gov2');
$bank->safe_psql('postgres', 'DROP SERVER gov2 CASCADE');
is($bank->safe_psql('postgres', $cached), '0,0,1', "DROP SERVER gov2 drops gov2's hint and keeps gov's");

done_testing();
