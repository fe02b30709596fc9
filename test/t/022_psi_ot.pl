# psi and psi_fetch over the OT-extension protocols (pgpriv.psi_protocol =
# ot, which runs RR22, rr22 and kkrt, KKRT16) between two clusters: results
# equal a plaintext join computed here on random data (duplicates on both
# sides, NULL keys, empty sets, several extension calls and tag batches),
# every protocol and the table agree, the auto rule picks what docs/psi.md
# says, the audit and progress name the protocol that ran, the budget is
# charged for the cuckoo table size (kkrt) or the OKVS size (rr22), and a
# modified asker talking to the serving functions directly is refused (08P01,
# 54000) without anything changing.  Cancel and peer loss mid-run end the run
# cleanly.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

test_seed(20261203);

my ($gov, $bank) = pgpriv_pair();
my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);
$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw_bank'});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw_bank');
});

# ---------------------------------------------------------------------------
# Random data
# ---------------------------------------------------------------------------
my %used;
sub fresh_key
{
	for (;;) {
		my $k = 'K';
		$k .= ('A' .. 'Z', '0' .. '9')[ int(rand(36)) ] for 1 .. 9;
		$k .= "\xe4\xb8\x8a\xe6\xb5\xb7" if rand() < 0.1;    # some UTF-8 keys
		next if $used{$k}++;
		return $k;
	}
}
my @gov_keys = map { fresh_key() } 1 .. 20000;
my @gov_rows;
for my $k (@gov_keys) {
	my $r = rand();
	my $n = $r < 0.6 ? 1 : $r < 0.9 ? 2 : 3;
	for (1 .. $n) {
		push @gov_rows, {
			code  => $k,
			grade => rand() < 0.1 ? undef : 'G' . int(rand(1e6)),
			paid  => rand() < 0.1 ? undef : sprintf('%d.%02d', int(rand(1e6)), int(rand(100))),
			note  => 'secret-note-' . int(rand(1e9)) };
	}
}
push @gov_rows, { code => undef, grade => 'null-key', paid => '1.00', note => 'n' } for 1 .. 5;
my @bank_keys = ((map { $gov_keys[ int(rand(@gov_keys)) ] } 1 .. 9000), (map { fresh_key() } 1 .. 27000));
push @bank_keys, map { $bank_keys[ int(rand(@bank_keys)) ] } 1 .. 2000;    # duplicates
push @bank_keys, (undef) x 30;                                           # NULL keys
for (my $i = @bank_keys - 1; $i > 0; $i--) {
	my $j = int(rand($i + 1));
	@bank_keys[ $i, $j ] = @bank_keys[ $j, $i ];
}

{
	my $sql = "CREATE TABLE public.tax (code text, grade text, paid numeric, note text);\n";
	for (my $i = 0; $i < @gov_rows; $i += 5000) {
		my $last = $i + 4999 > $#gov_rows ? $#gov_rows : $i + 4999;
		$sql .= 'INSERT INTO public.tax VALUES '
		  . join(",\n", map { '(' . join(', ', lit($_->{code}), lit($_->{grade}), lit($_->{paid}), lit($_->{note})) . ')' }
			  @gov_rows[ $i .. $last ]) . ";\n";
	}
	$gov->safe_psql('postgres', $sql . q{
		SELECT pgpriv.publish('tax', 'SELECT code, grade, paid, note FROM public.tax', 'code');
		SELECT pgpriv.publish('empty_ds', 'SELECT code, grade, paid FROM public.tax WHERE false', 'code');
		SELECT pgpriv.publish('capped', 'SELECT code, grade FROM public.tax', 'code');
		SELECT pgpriv.permit('tax', 'bank_role', 'psi');
		SELECT pgpriv.permit('tax', 'bank_role', 'psi_fetch', '{grade,paid}');
		SELECT pgpriv.permit('empty_ds', 'bank_role', 'psi');
		SELECT pgpriv.permit('empty_ds', 'bank_role', 'psi_fetch', '{grade,paid}');
		SELECT pgpriv.permit('capped', 'bank_role', 'psi', '{}', 5000);
		SELECT pgpriv.publish('capped2', 'SELECT code, grade FROM public.tax', 'code');
		SELECT pgpriv.permit('capped2', 'bank_role', 'psi', '{}', 5000);
	});
	my $id = 0;
	$sql = "CREATE TABLE applicants (id int PRIMARY KEY, code text);\n";
	for (my $i = 0; $i < @bank_keys; $i += 5000) {
		my $last = $i + 4999 > $#bank_keys ? $#bank_keys : $i + 4999;
		$sql .= 'INSERT INTO applicants VALUES '
		  . join(",\n", map { '(' . (++$id) . ', ' . lit($_) . ')' } @bank_keys[ $i .. $last ]) . ";\n";
	}
	$bank->safe_psql('postgres', $sql);
}

# The plaintext join: distinct asker keys present in the dataset; for
# psi_fetch one row per (key, owner row).
sub model_join
{
	my ($bank_list) = @_;
	my %by_key;
	for my $r (@gov_rows) { push @{ $by_key{ $r->{code} } }, $r if defined $r->{code}; }
	my %seen;
	my @match = grep { defined $_ && !$seen{$_}++ && exists $by_key{$_} } @$bank_list;
	my @fetch;
	for my $k (@match) {
		push @fetch, join('|', hexkey($k), map { defined $_ ? "v:$_" : 'NULL' } $_->{grade}, $_->{paid})
		  for @{ $by_key{$k} };
	}
	return { psi => [ map { hexkey($_) } @match ], fetch => \@fetch };
}

my $psi_sql = sub {
	my ($ds, $q, $proto) = @_;
	return "SET pgpriv.psi_protocol = '$proto'; "
	  . qq{SELECT encode(convert_to(key, 'UTF8'), 'hex') FROM pgpriv.psi('gov', '$ds', \$q\$$q\$q\$)};
};
my $fetch_sql = sub {
	my ($ds, $q, $proto) = @_;
	return "SET pgpriv.psi_protocol = '$proto'; "
	  . qq{SELECT encode(convert_to(code, 'UTF8'), 'hex') || '|' || coalesce('v:' || grade, 'NULL')
	  || '|' || coalesce('v:' || paid::text, 'NULL')
	  FROM pgpriv.psi_fetch('gov', '$ds', \$q\$$q\$q\$) AS t(code text, grade text, paid numeric)};
};
# The OKVS size of an RR22 run of n keys (crypto/okvs.c: ⌈1.23·n⌉, at least 8, + 64).
sub okvs_columns
{
	my ($n) = @_;
	my $b = $n * 1.23;
	my $m = int($b);
	$m++ if $m < $b;
	$m = 8 if $m < 8;
	return $m + 64;
}
sub distinct_keys
{
	my %d;
	return scalar grep { defined $_ && !$d{$_}++ } @_;
}
# The protocol an asker setting runs: ot is the best one, RR22.
my %runs = (table => 'table', ot => 'rr22', rr22 => 'rr22', kkrt => 'kkrt');
my $last_detail = sub {
	my ($node, $side, $cap) = @_;
	return $node->safe_psql('postgres', qq{SELECT detail FROM pgpriv.audit
		 WHERE side = '$side' AND capability = '$cap' AND outcome = 'ok' ORDER BY id DESC LIMIT 1});
};

# ---------------------------------------------------------------------------
# 1. Correctness over ot: ~36 000 distinct keys (9 extension chunks, two
# calls) against 20 000 owner keys (two tag batches)
# ---------------------------------------------------------------------------
my $all_q = 'SELECT code FROM applicants';
my $model = model_join(\@bank_keys);
note(sprintf('gov rows %d, bank rows %d, matches %d, fetch rows %d',
		scalar(@gov_rows), scalar(@bank_keys), scalar(@{ $model->{psi} }), scalar(@{ $model->{fetch} })));
cmp_ok(scalar(@{ $model->{psi} }), '>', 5000, 'the random data has a sizeable intersection');

my $t0 = time;
is_list([ lines($bank->safe_psql('postgres', $psi_sql->('tax', $all_q, 'ot'))) ], $model->{psi},
	'psi over ot returns exactly the distinct matching keys');
note(sprintf('psi over ot: %.2f s', time - $t0));
like($last_detail->($bank, 'asker', 'psi'), qr/protocol rr22 \(\d+ keys in \d+ OKVS columns\)/,
	'ot runs RR22: the asker\'s audit row says protocol rr22, its keys and OKVS columns');
like($last_detail->($gov, 'owner', 'psi'), qr/protocol rr22, 20000 owner keys/,
	'the owner\'s audit row says protocol rr22 and its distinct keys');
$t0 = time;
is_list([ lines($bank->safe_psql('postgres', $fetch_sql->('tax', $all_q, 'ot'))) ], $model->{fetch},
	'psi_fetch over ot returns one row per (key, owner row) with exact values and NULLs');
note(sprintf('psi_fetch over ot: %.2f s', time - $t0));
{
	my %d;
	my $n = grep { defined $_ && !$d{$_}++ } @bank_keys;
	my $keys_in = $bank->safe_psql('postgres', q{SELECT keys_in FROM pgpriv.audit
		 WHERE side = 'asker' AND capability = 'psi_fetch' ORDER BY id DESC LIMIT 1});
	my $used = $gov->safe_psql('postgres', q{SELECT keys_in FROM pgpriv.audit
		 WHERE side = 'owner' AND capability = 'psi_fetch' AND outcome = 'ok' ORDER BY id DESC LIMIT 1});
	is($keys_in, okvs_columns($n), "the run was charged its OKVS size (⌈1.23 × $n⌉ + 64 columns)");
	is($used, $keys_in, 'the owner served exactly the admitted columns');
	my $run = $bank->safe_psql('postgres', q{SELECT run_id FROM pgpriv.audit
		 WHERE side = 'asker' AND capability = 'psi_fetch' ORDER BY id DESC LIMIT 1});
	is($bank->safe_psql('postgres', qq{SELECT count(*) || ':' || count(*) FILTER (WHERE disputed IS NOT NULL)
		 FROM pgpriv.receipts WHERE run_id = '$run'}), '2:0',
		'the run ends with both parties\' signed receipts, undisputed (same bins, bytes and transcript)');
}

# The same over KKRT16, forced.
$t0 = time;
is_list([ lines($bank->safe_psql('postgres', $psi_sql->('tax', $all_q, 'kkrt'))) ], $model->{psi},
	'psi over kkrt returns exactly the distinct matching keys');
note(sprintf('psi over kkrt: %.2f s', time - $t0));
like($last_detail->($bank, 'asker', 'psi'), qr/protocol kkrt \(\d+ keys in \d+ bins\)/,
	'the asker\'s audit row says protocol kkrt, its keys and bins');
like($last_detail->($gov, 'owner', 'psi'), qr/protocol kkrt, 20000 owner keys/,
	'the owner\'s audit row says protocol kkrt and its distinct keys');
is_list([ lines($bank->safe_psql('postgres', $fetch_sql->('tax', $all_q, 'kkrt'))) ], $model->{fetch},
	'psi_fetch over kkrt returns one row per (key, owner row) with exact values and NULLs');
{
	my $n = distinct_keys(@bank_keys);
	my $keys_in = $bank->safe_psql('postgres', q{SELECT keys_in FROM pgpriv.audit
		 WHERE side = 'asker' AND capability = 'psi_fetch' ORDER BY id DESC LIMIT 1});
	cmp_ok($keys_in, '>=', 2 * $n, "kkrt: the run was charged its cuckoo table (at least 2 × $n bins at this size)");
}

# ---------------------------------------------------------------------------
# 2. ot, rr22, kkrt and table agree; the auto rule
# ---------------------------------------------------------------------------
my $sub_q = 'SELECT code FROM applicants WHERE id <= 6000';
my $sub_model = model_join([ @bank_keys[ 0 .. 5999 ] ]);
for my $proto (qw(table ot rr22 kkrt)) {
	is_list([ lines($bank->safe_psql('postgres', $psi_sql->('tax', $sub_q, $proto))) ], $sub_model->{psi},
		"6000 keys: psi over $proto equals the plaintext join");
	like($last_detail->($bank, 'asker', 'psi'), qr/protocol $runs{$proto}\b/, "6000 keys: the audit says $runs{$proto}");
	is_list([ lines($bank->safe_psql('postgres', $fetch_sql->('tax', $sub_q, $proto))) ], $sub_model->{fetch},
		"6000 keys: psi_fetch over $proto equals the plaintext join");
}
# auto: below PSI_OT_MIN_KEYS the table; a cached table 34 000 entries is
# less than 64 × 6000, so ot.
$bank->safe_psql('postgres', $psi_sql->('tax', 'SELECT code FROM applicants WHERE id <= 100', 'auto'));
like($last_detail->($bank, 'asker', 'psi'), qr/protocol table/, 'auto: 100 keys run over the table');
$bank->safe_psql('postgres', $psi_sql->('tax', $sub_q, 'auto'));
like($last_detail->($bank, 'asker', 'psi'), qr/protocol rr22/, 'auto: 6000 keys against a 34 000-entry cached table run over ot (rr22)');
is($bank->safe_psql('postgres', q{LOAD 'pgpriv'; SHOW pgpriv.psi_protocol}), 'auto', 'the default is auto');
fails_with($bank, q{LOAD 'pgpriv'; SET pgpriv.psi_protocol = fast}, '22023', qr/psi_protocol/, 'an unknown protocol name');

# The owner's pgpriv.serve_ot = off: auto keeps to the table (it reads the
# owner's setting), a forced ot run is refused by name (0A000), and so is a
# modified asker calling serve_ot_begin itself; the peer's login cannot set
# it back on (superuser only).  The results stay those of the plaintext join.
$gov->safe_psql('postgres', q{LOAD 'pgpriv'; ALTER SYSTEM SET pgpriv.serve_ot = off; SELECT pg_reload_conf()});
ok(wait_for($gov, q{LOAD 'pgpriv'; SELECT current_setting('pgpriv.serve_ot') = 'off'}, 10),
	'serve_ot: the owner has turned ot off');
is_list([ lines($bank->safe_psql('postgres', $psi_sql->('tax', $sub_q, 'auto'))) ], $sub_model->{psi},
	'serve_ot off: auto over 6000 keys still equals the plaintext join');
like($last_detail->($bank, 'asker', 'psi'), qr/protocol table/, 'serve_ot off: auto ran over the table');
fails_with($bank, $psi_sql->('tax', $sub_q, 'ot'), '0A000', qr/pgpriv\.serve_ot is off/,
	'serve_ot off: a forced ot run is refused, naming the setting');
{
	my ($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('tax', 'psi', 'ot-off-run', 8192);\n"
		  . "SELECT pgpriv.serve_ot_begin('tax', 'psi', 'ot-off-run', '\\x00'::bytea);",
		connstr => "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_role password=pw_bank",
		on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+0A000:.*serve_ot is off/, 'serve_ot off: serve_ot_begin called directly is refused (0A000)');
	($rc, $out, $err) = $gov->psql('postgres', version_exchange() . 'SET pgpriv.serve_ot = on;',
		connstr => "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_role password=pw_bank",
		on_error_stop => 0);
	like($err, qr/permission denied to set parameter "pgpriv\.serve_ot"/, 'serve_ot: the peer\'s login cannot set it');
}
$gov->safe_psql('postgres', q{LOAD 'pgpriv'; ALTER SYSTEM RESET pgpriv.serve_ot; SELECT pg_reload_conf()});
ok(wait_for($gov, q{LOAD 'pgpriv'; SELECT current_setting('pgpriv.serve_ot') = 'on'}, 10),
	'serve_ot: back on (the default)');

# ---------------------------------------------------------------------------
# 3. Empty and small sets
# ---------------------------------------------------------------------------
for my $proto (qw(ot kkrt)) {
	is($bank->safe_psql('postgres', $psi_sql->('tax', 'SELECT code FROM applicants WHERE false', $proto)), '',
		"$proto: an empty asker set returns nothing");
	is($bank->safe_psql('postgres', $psi_sql->('tax', 'SELECT NULL::text FROM generate_series(1, 5)', $proto)), '',
		"$proto: an asker set of NULLs returns nothing");
	is($bank->safe_psql('postgres', $psi_sql->('empty_ds', $all_q, $proto)), '', "$proto: psi against an empty dataset");
	is($bank->safe_psql('postgres', $fetch_sql->('empty_ds', $all_q, $proto)), '', "$proto: psi_fetch against an empty dataset");
	like($last_detail->($gov, 'owner', 'psi_fetch'), qr/protocol $runs{$proto}, the dataset has no key/,
		"$proto: the owner audits the empty run as complete");
	my $k = $gov_keys[7];
	is_list([ lines($bank->safe_psql('postgres', $fetch_sql->('tax', 'SELECT ' . lit($k), $proto))) ],
		model_join([$k])->{fetch}, "$proto: one asker key that matches");
	is($bank->safe_psql('postgres', $psi_sql->('tax', q{SELECT 'no-such-key'}, $proto)), '',
		"$proto: one asker key that does not match");
}

# ---------------------------------------------------------------------------
# 4. Budget: charged for the bins (kkrt) or the OKVS columns (rr22)
# ---------------------------------------------------------------------------
# 3000 keys fit max_keys 5000 as keys, but their 6000 bins do not.
fails_with($bank, $psi_sql->('capped', 'SELECT code FROM applicants WHERE id <= 3000', 'kkrt'), '54000', qr/max_keys/,
	'kkrt: 3000 keys (6000 bins) under max_keys 5000 are refused');
is_list([ lines($bank->safe_psql('postgres', $psi_sql->('capped', 'SELECT code FROM applicants WHERE id <= 2000', 'kkrt'))) ],
	model_join([ @bank_keys[ 0 .. 1999 ] ])->{psi}, 'kkrt: 2000 keys (4000 bins) under max_keys 5000 run, correctly');
{
	# rr22: n distinct keys cost ⌈1.23 n⌉ + 64 columns.
	my $over = okvs_columns(distinct_keys(@bank_keys[ 0 .. 4499 ]));
	my $under = okvs_columns(distinct_keys(@bank_keys[ 0 .. 3499 ]));
	ok($over > 5000 && $under <= 5000 && distinct_keys(@bank_keys[ 0 .. 4499 ]) < 5000,
		"premise: the first 4500 rows' keys fit max_keys 5000 as keys, not as $over columns; 3500 rows need $under");
	fails_with($bank, $psi_sql->('capped2', 'SELECT code FROM applicants WHERE id <= 4500', 'ot'), '54000', qr/max_keys/,
		"ot (rr22): keys under max_keys 5000 but $over OKVS columns are refused");
	is_list([ lines($bank->safe_psql('postgres', $psi_sql->('capped2', 'SELECT code FROM applicants WHERE id <= 3500', 'ot'))) ],
		model_join([ @bank_keys[ 0 .. 3499 ] ])->{psi}, "ot (rr22): $under OKVS columns under max_keys 5000 run, correctly");
	is($gov->safe_psql('postgres', q{SELECT keys_in FROM pgpriv.audit
		 WHERE side = 'owner' AND dataset = 'capped2' AND outcome = 'ok' ORDER BY id DESC LIMIT 1}), $under,
		'ot (rr22): the owner charged the run its OKVS columns');
}

# ---------------------------------------------------------------------------
# 5. A modified asker, calling the serving functions itself
# ---------------------------------------------------------------------------
{
	my $as_peer = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_role password=pw_bank";
	# WIRE_OT_HELLO (35), one variable item: the 72-byte KKRT hello with count n.
	my $hello = sub {
		my ($n, $body) = @_;
		my $kkrt = pack('CCnVV', 1, 0x41, 0, 0, $n) . ($body // ("\x00" x 60));
		return "'\\x" . unpack('H*', pack('CCNN', 1, 35, 1, 0) . pack('N', length($kkrt)) . $kkrt) . "'::bytea";
	};
	my $run = sub {
		my ($sql) = @_;
		my ($rc, $out, $err) = $gov->psql('postgres', version_exchange() . $sql,
			connstr => $as_peer, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
		return ($out, $err);
	};
	my ($out, $err) = $run->("SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'no-run', " . $hello->(10) . '));');
	like($err, qr/ERROR:\s+08P01:.*not admitted/s, 'modified asker: ot without admission is refused (08P01)');

	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-1', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-1', " . $hello->(1000) . '));');
	like($err, qr/ERROR:\s+08P01:.*More keys than the 100 admitted/s,
		'modified asker: a hello of 1000 keys (2000 bins) after admitting 100 is refused (08P01)');

	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-2', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-2', " . $hello->(10, "\xff" x 60) . '));');
	like($err, qr/ERROR:\s+08P01:/, 'modified asker: a hello with a garbage base-OT message is refused (08P01)');

	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-3', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-3', '\\x0123'::bytea));");
	like($err, qr/ERROR:\s+08P01:/, 'modified asker: a truncated message is refused (08P01)');

	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-4', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_tags('tax', 'psi', 'liar-4', 0));\n"
		  . "SELECT length(pgpriv.serve_ot_extend('tax', 'psi', 'liar-4', '\\x01250000000100000000'::bytea));");
	like($err, qr/ERROR:\s+08P01:.*no OT-extension step/s, 'modified asker: tags before any extension are refused (08P01)');

	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-5', 100);\n"
		  . "SELECT pgpriv.serve_ot_begin('tax', 'psi', 'liar-5', NULL) IS NULL;\n"
		  . "SELECT pgpriv.serve_ot_tags('tax', 'psi', NULL, 0) IS NULL;");
	is($out, "t\nt", 'the serving functions are NULL-safe (STRICT)');

	# The same against the RR22 path (the owner dispatches on the hello's
	# frame type): WIRE_OT_HELLO with one 100-byte RR22 hello of count n, its
	# share, and the VOLE hello inside (count m, share, base-OT A).
	my $ristretto_base = pack('H*', 'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76');
	my $rr_hello = sub {
		my ($n, $m, $point) = @_;
		my $vole = pack('CCnVV', 1, 0x51, 0, 0, $m) . ("\x22" x 16) . pack('CCnVV', 1, 1, 0, 0, 128) . $point;
		my $rr = pack('CCnVV', 1, 0x61, 0, 0, $n) . ("\x11" x 16) . $vole;
		return "'\\x" . unpack('H*', pack('CCNN', 1, 35, 1, 0) . pack('N', length($rr)) . $rr) . "'::bytea";
	};
	my $wire_u = sub {
		my ($item) = @_;
		return "'\\x" . unpack('H*', pack('CCNN', 1, 37, 1, 0) . pack('N', length($item)) . $item) . "'::bytea";
	};
	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-r1', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-r1', "
		  . $rr_hello->(1000, okvs_columns(1000), $ristretto_base) . '));');
	like($err, qr/ERROR:\s+08P01:.*More keys than the 100 admitted/s,
		'modified asker (rr22): a hello of 1000 keys (1294 columns) after admitting 100 is refused (08P01)');
	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-r2', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-r2', "
		  . $rr_hello->(2**31, 77, $ristretto_base) . '));');
	like($err, qr/ERROR:\s+08P01:.*OT-extension run of 2147483648 keys/s,
		'modified asker (rr22): a hello of 2^31 keys is refused before anything is allocated (08P01)');
	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-r3', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-r3', "
		  . $rr_hello->(10, 77, "\xff" x 32) . '));');
	like($err, qr/ERROR:\s+08P01:/, 'modified asker (rr22): a hello with a garbage base-OT point is refused (08P01)');
	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-r4', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-r4', "
		  . $rr_hello->(10, 78, $ristretto_base) . '));');
	like($err, qr/ERROR:\s+08P01:.*count/s, 'modified asker (rr22): a VOLE length other than the OKVS size is refused (08P01)');
	($out, $err) = $run->("CALL pgpriv.serve_admit('tax', 'psi', 'liar-r5', 100);\n"
		  . "SELECT length(pgpriv.serve_ot_begin('tax', 'psi', 'liar-r5', "
		  . $rr_hello->(10, 77, $ristretto_base) . "));\n"
		  . "SELECT length(pgpriv.serve_ot_extend('tax', 'psi', 'liar-r5', "
		  . $wire_u->(pack('CCnVV', 1, 0x65, 0, 0, 77) . ("\x00" x (16 * 77))) . "));\n"
		  . "SELECT length(pgpriv.serve_ot_extend('tax', 'psi', 'liar-r5', "
		  . $wire_u->(pack('CCnVV', 1, 0x63, 0, 0, 77) . ("\x00" x 100)) . "));\n"
		  . "SELECT length(pgpriv.serve_ot_tags('tax', 'psi', 'liar-r5', 0));");
	like($out, qr/^\d+$/, 'modified asker (rr22): a well-formed hello is answered');
	my @errs = $err =~ /ERROR:\s+(\w+):/g;
	is(join(',', @errs), '08P01,08P01,08P01',
		'modified asker (rr22): a D chunk before the VOLE, a short VOLE message, tags before the extension: 08P01 each')
	  or diag($err);
	($out, $err) = $run->("CALL pgpriv.serve_admit('capped', 'psi', 'liar-r6', 6000);");
	like($err, qr/ERROR:\s+54000:.*max_keys/s, 'modified asker: admitting more than max_keys is refused (54000)');

	is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit
		 WHERE side = 'owner' AND dataset = 'tax' AND detail LIKE 'run liar-%' AND outcome = 'ok'}), '0',
		'modified asker: no refused run is audited as served');
	# A real run right after, in a fresh session: unaffected.
	is_list([ lines($bank->safe_psql('postgres', $psi_sql->('tax', 'SELECT code FROM applicants WHERE id <= 50', 'ot'))) ],
		model_join([ @bank_keys[ 0 .. 49 ] ])->{psi}, 'an honest run after the modified asker\'s is correct');
}

# ---------------------------------------------------------------------------
# 5b. A modified owner: gov's database "liar" runs the real serving functions
# but corrupts serve_ot_tags' reply; the asker refuses it (08P01), reports
# no success, and its session goes on.
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', 'CREATE DATABASE liar');
$gov->safe_psql('liar', q{
	CREATE EXTENSION pgpriv;
	CREATE TABLE public.one (code text, grade text);
	INSERT INTO public.one VALUES ('ONE-KEY', 'the-grade'), ('ONE-KEY', 'second-row');
	SELECT pgpriv.publish('one', 'SELECT code, grade FROM public.one', 'code');
	SELECT pgpriv.permit('one', 'bank_role', 'psi');
	SELECT pgpriv.permit('one', 'bank_role', 'psi_fetch', '{grade}');
	CREATE TABLE public.liar_mode (m text);
	INSERT INTO public.liar_mode VALUES ('honest');
	GRANT SELECT ON public.liar_mode TO PUBLIC;
	ALTER EXTENSION pgpriv DROP FUNCTION pgpriv.serve_ot_tags(text, text, text, integer);
	ALTER FUNCTION pgpriv.serve_ot_tags(text, text, text, integer) RENAME TO _real_ot_tags;
	CREATE FUNCTION pgpriv.serve_ot_tags(dataset text, capability text, run text, batch integer)
	  RETURNS bytea LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	  DECLARE
	    r bytea := pgpriv._real_ot_tags(dataset, capability, run, batch);
	    m text := (SELECT l.m FROM public.liar_mode AS l);
	  BEGIN
	    RETURN CASE m
	      WHEN 'truncated' THEN substr(r, 1, length(r) - 1)
	      WHEN 'type' THEN set_byte(r, 1, 36)
	      WHEN 'batch' THEN set_byte(r, 18, get_byte(r, 18) + 1)
	      WHEN 'sealed' THEN set_byte(r, length(r) - 1, get_byte(r, length(r) - 1) # 1)
	      ELSE r
	    END;
	  END $$;
});
{
	my $liar_pins = pinned_keys($gov, 'liar');
	$bank->safe_psql('postgres', qq{
		CREATE SERVER liar FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'liar', $liar_pins);
		CREATE USER MAPPING FOR CURRENT_USER SERVER liar OPTIONS (user 'bank_role', password 'pw_bank');
	});
	for my $proto (qw(ot kkrt)) {
		my $liar_fetch = qq{SET pgpriv.psi_protocol = '$proto';
		SELECT code || ':' || grade FROM pgpriv.psi_fetch('liar', 'one', \$\$SELECT 'ONE-KEY'\$\$) AS t(code text, grade text)
		 ORDER BY 1};
		is($bank->safe_psql('postgres', $liar_fetch), "ONE-KEY:second-row\nONE-KEY:the-grade",
			"control: the look-alike owner in honest mode serves psi_fetch over $proto");
		my $ok_before = $bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE peer = 'liar' AND outcome = 'ok'});
		for my $case ([ 'truncated', qr/malformed message from peer "liar"/ ],
			[ 'type', qr/malformed message from peer "liar"/ ],
			[ 'batch', qr/Tag batch 1 where 0 was asked/ ],
			[ 'sealed', qr/does not open/ ]) {
			my ($mode, $re) = @$case;
			$gov->safe_psql('liar', "UPDATE public.liar_mode SET m = '$mode'");
			fails_with($bank, $liar_fetch, '08P01', $re, "modified owner ($proto, $mode)");
		}
		is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE peer = 'liar' AND outcome = 'ok'}),
			$ok_before, "modified owner ($proto): no refused run is audited as a success");
		$gov->safe_psql('liar', "UPDATE public.liar_mode SET m = 'honest'");
		is($bank->safe_psql('postgres', $liar_fetch), "ONE-KEY:second-row\nONE-KEY:the-grade",
			"$proto: after the refusals the next run is served and correct");
	}
}

# ---------------------------------------------------------------------------
# 6. Progress, cancel and peer loss mid-run
# ---------------------------------------------------------------------------
$bank->safe_psql('postgres', q{CREATE TABLE big AS SELECT 'BIG-' || g AS code FROM generate_series(1, 400000) g});
$gov->safe_psql('postgres', q{
	CREATE TABLE public.bigtax AS SELECT 'BIG-' || (2 * g) AS code, 'x' || g AS grade FROM generate_series(1, 400000) g;
	SELECT pgpriv.publish('bigtax', 'SELECT code, grade FROM public.bigtax', 'code');
	SELECT pgpriv.permit('bigtax', 'bank_role', 'psi');
});
my $kill_serving = q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	 WHERE usename = 'bank_role' AND application_name = 'pgpriv'};
{
	my $bg = bg_psql($bank, qq{SELECT 'pid:' || pg_backend_pid();
		SET pgpriv.psi_protocol = ot;
		SELECT 'n:' || count(*) FROM pgpriv.psi('gov', 'bigtax', 'SELECT code FROM big');
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'again:' || count(*) FROM pgpriv.psi('gov', 'bigtax', 'SELECT code FROM big WHERE code < ''BIG-2''');
	}, 'bg_lost');
	ok(wait_for($bank, q{SELECT count(*) = 1 FROM pgpriv.progress WHERE dataset = 'bigtax' AND phase LIKE 'asker (rr22):%'
		   AND phase NOT LIKE '%base%'}, 120),
		'progress: the asker shows its ot run (rr22) and phase');
	note('asker progress: ' . $bank->safe_psql('postgres', q{SELECT phase || '|' || done || '|' || total FROM pgpriv.progress}));
	ok(wait_for($gov, q{SELECT count(*) = 1 FROM pgpriv.progress WHERE dataset = 'bigtax' AND phase LIKE 'owner (rr22):%'}, 120),
		'progress: the owner shows the ot run (rr22)');
	is($gov->safe_psql('postgres', $kill_serving), '1', 'peer lost: the serving backend is terminated mid-run');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "gov"/, 'peer lost: class 08 error naming the peer');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost: the asker backend survives');
	my $want = grep { $_ % 2 == 0 && "BIG-$_" lt 'BIG-2' } 1 .. 400000;
	like($out, qr/^again:$want$/m, 'peer lost: the next ot run in the same session reconnects and is correct');
	like(audit_failed($bank, q{dataset = 'bigtax'}), qr/^failed: peer lost/, 'peer lost: the asker audits the run as failed');
	is($bank->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'peer lost: no asker progress row left');
}
{
	my $bg = bg_psql($bank, qq{SELECT 'pid:' || pg_backend_pid();
		SET pgpriv.psi_protocol = ot;
		SELECT count(*) FROM pgpriv.psi('gov', 'bigtax', 'SELECT code FROM big');
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'after:' || count(*) FROM pgpriv.psi('gov', 'bigtax', 'SELECT code FROM big WHERE code < ''BIG-2''');
	}, 'bg_cancel');
	ok(wait_for($bank, q{SELECT count(*) = 1 FROM pgpriv.progress WHERE dataset = 'bigtax' AND phase LIKE 'asker (rr22):%'
		   AND phase NOT LIKE '%base%'}, 120),
		'cancel: the ot run is under way');
	my $t = time;
	is($bank->safe_psql('postgres', q{SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bg_cancel'}),
		'1', 'cancel: pg_cancel_backend sent');
	my ($out, $err) = bg_finish($bg);
	my $elapsed = time - $t;
	note(sprintf('cancel took %.3f s', $elapsed));
	like($err, qr/ERROR:\s+57014:/, 'cancel: the run ends with 57014');
	cmp_ok($elapsed, '<=', 5.0, 'cancel: promptly');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'cancel: the asker backend survives');
	my $want = grep { $_ % 2 == 0 && "BIG-$_" lt 'BIG-2' } 1 .. 400000;
	like($out, qr/^after:$want$/m, 'cancel: the next ot run in the same session is correct');
}

$gov->stop;
$bank->stop;
done_testing();
