# psi_count against a modified asker (issue #10, finding 6).
#
# The attacker is a psql session that talks to the owner's serving functions
# directly, as the asker's role, and masks each of its keys with a secret of
# its own (pgpriv.oprf_blind(key, s_i) = s_i·H(key)), which is what let a
# modified asker of the old protocol link every returned element to its key.
# Asserts that:
#   - the owner sends back nothing of the asker's masked keys (the old
#     attack's candidates s_i·w appear nowhere in what it sent, and the
#     'asker' part is refused);
#   - all the attacker gets is one number per run: returning T = s_1·B counts
#     the one key the attacker chose (input substitution, the ideal
#     functionality), and the count is not given twice;
#   - T that is not |B| distinct, valid, non-identity elements, of the right
#     message type, after the run's keys are masked, is refused with 08P01,
#     the run ends and no completed run is audited;
#   - an honest psi_count still equals a plaintext count.
use strict;
use warnings;
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

# The owner's dataset: 30 keys C001..C030.
my @owner_keys = map { sprintf('C%03d', $_) } 1 .. 30;
$gov->safe_psql('postgres', q{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE TABLE public.firms AS SELECT 'C' || lpad(i::text, 3, '0') AS code FROM generate_series(1, 30) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code FROM public.firms', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_count');
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
});

# The attacker's keys: four in the dataset, six not.
my @asked = qw(C003 C007 C011 C020 X01 X02 X03 X04 X05 X06);
my %in_owner = map { $_ => 1 } @owner_keys;
my $plain_count = grep { $in_owner{$_} } @asked;
is($plain_count, 4, 'plaintext model: 4 of the 10 asked keys are in the dataset');

my $attacker_connstr = $gov->connstr('postgres') . ' user=bank_role';

# Run a script in one session as the asker's role on the owner.
sub attack
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $gov->psql('postgres', "\\set ON_ERROR_STOP 1\n$sql",
		connstr => $attacker_connstr, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return ($rc, $out, $err);
}

# Admission, begin, the asker's keys each masked with its own secret s_i,
# finish, and B pulled into the temporary table bel(j, w).
sub prelude
{
	my ($run, $keys, %opt) = @_;
	my $arr = 'ARRAY[' . join(', ', map { "'$_'" } @$keys) . ']::text[]';
	my $n = scalar @$keys;
	# One secret for all keys (an honest asker) or one per key (the attack).
	my $secret = $opt{one_secret} ? '(SELECT pgpriv.oprf_random_scalar())' : 'pgpriv.oprf_random_scalar()';
	my $sql = version_exchange() . qq{
CALL pgpriv.serve_admit('tax', 'psi_count', '$run', $n);
CREATE TEMP TABLE mine AS
  SELECT i, k, $secret AS s FROM unnest($arr) WITH ORDINALITY AS u(k, i);
SELECT owner_keys FROM pgpriv.serve_count_begin('tax', '$run') \\gset
SELECT 'pushed:' || pgpriv.serve_count_push('$run', '\\x0101'::bytea || int4send(count(*)::int4) || int4send(32)
  || string_agg(pgpriv.oprf_blind(convert_to(k, 'UTF8'), s), ''::bytea ORDER BY i)) FROM mine;
};
	return $sql if $opt{no_finish};
	$sql .= qq{
SELECT 'finished:' || pgpriv.serve_count_finish('$run');
CREATE TEMP TABLE got AS SELECT pgpriv.serve_count_pull('$run', 'owner', 0, 1000) AS msg;
CREATE TEMP TABLE bel AS SELECT j, substr(msg, 11 + 32 * j, 32) AS w FROM got, generate_series(0, :owner_keys - 1) AS j;
SELECT 'owner_keys:' || :owner_keys;
};
	return $sql;
}

# A message of T from a query yielding (ord, e) rows.
sub return_msg
{
	my ($run, $rows, $type) = @_;
	$type //= '05';
	return qq{SELECT 'returned:' || pgpriv.serve_count_return('$run', '\\x01$type'::bytea || int4send(count(*)::int4)
  || int4send(32) || string_agg(e, ''::bytea ORDER BY ord)) FROM ($rows) AS t(ord, e);};
}

# $setup runs as it should; $bad is refused with 08P01 and ends the run, so
# that asking for the count in the same session afterwards is refused too.
sub refused
{
	my ($run, $setup, $bad, $re, $name) = @_;
	my ($rc, $out, $err) = attack("$setup\n\\set ON_ERROR_STOP 0\n$bad\n"
		. "SELECT 'count:' || pgpriv.serve_count_result('$run');\n");
	my @states = $err =~ /ERROR:\s+(\w{5}):/g;
	my $ok = is(scalar(@states), 2, "$name: two errors, the bad message's and then the count's");
	diag("rc=$rc\nstdout: $out\nstderr: $err") unless $ok;
	my ($first, $second) = split /(?=^(?:psql:\S+ )?ERROR:)/m, $err =~ s/^.*?(?=(?:psql:\S+ )?ERROR:)//sr, 2;
	is($states[0], '08P01', "$name: SQLSTATE 08P01");
	like($first // '', $re, "$name: the error says why");
	unlike($err, qr/[0-9a-f]{64}/, "$name: no element in the errors");
	is($states[1], '08P01', "$name: the count is then refused (08P01)");
	like($second // '', qr/No psi_count run "\Q$run\E" is open/, "$name: the run was ended");
	unlike($out, qr/^count:/m, "$name: no count was given");
	is($gov->safe_psql('postgres',
		"SELECT count(*) FROM pgpriv.audit WHERE side = 'owner' AND outcome = 'ok' AND detail = 'run $run'"),
		'0', "$name: no completed run is audited");
	return $out;
}

# ---------------------------------------------------------------------------
# Control: an honest asker, played by hand with one secret for every key.
# ---------------------------------------------------------------------------
{
	my ($rc, $out, $err) = attack(prelude('hand-honest', \@asked, one_secret => 1)
		. return_msg('hand-honest', q{SELECT row_number() OVER (ORDER BY x), x FROM
		    (SELECT pgpriv.oprf_evaluate((SELECT s FROM mine WHERE i = 1), w) AS x FROM bel) AS s})
		. qq{\nSELECT 'count:' || pgpriv.serve_count_result('hand-honest');});
	is($err, '', 'honest asker by hand: no error');
	like($out, qr/^owner_keys:30$/m, 'honest asker by hand: the owner announces its 30 keys');
	like($out, qr/^count:$plain_count$/m, 'honest asker by hand: the owner counts the plaintext intersection');
}

# ---------------------------------------------------------------------------
# The per-key attack.
# ---------------------------------------------------------------------------
{
	# Everything the owner sent in the run is B (one message) and counts.
	# The old attack tested s_i·w (w in B) against the asker's elements the
	# owner returned masked with b: those are b·s_i·H(x_i), so for the four
	# keys in the dataset they would have been there to find.
	my ($rc, $out, $err) = attack(prelude('atk-1', \@asked) . qq{
SELECT 'candidates:' || count(*) FROM mine, bel;
SELECT 'found:' || count(*) FROM mine, bel, got WHERE position(pgpriv.oprf_evaluate(s, w) IN msg) > 0;
SELECT 'bytes_from_owner:' || length(msg) FROM got;
});
	is($err, '', 'per-key attack: the run proceeds');
	like($out, qr/^candidates:300$/m, 'per-key attack: 10 keys x 30 owner elements to test');
	like($out, qr/^found:0$/m, 'per-key attack: none of the old attack\'s candidates is in what the owner sent');
	like($out, qr/^bytes_from_owner:970$/m, 'per-key attack: the owner sent B only (30 elements and a header)');
}

# The one number: T = s_1·B counts key 1 alone (input substitution).
for my $case ([ 'atk-in', [ 'C003', @asked[ 1 .. 9 ] ], 1 ], [ 'atk-out', [ 'X01', @asked[ 1 .. 9 ] ], 0 ]) {
	my ($run, $keys, $want) = @$case;
	my ($rc, $out, $err) = attack(prelude($run, $keys)
		. return_msg($run, q{SELECT row_number() OVER (ORDER BY x), x FROM
		    (SELECT pgpriv.oprf_evaluate((SELECT s FROM mine WHERE i = 1), w) AS x FROM bel) AS s})
		. qq{\nSELECT 'count:' || pgpriv.serve_count_result('$run');});
	is($err, '', "$run: T = s_1·B is accepted");
	like($out, qr/^count:$want$/m, "$run: the count is key 1's membership ($want), one number for the run");
	my ($rc2, $out2, $err2) = attack("SELECT pgpriv.serve_count_result('$run');");
	like($err2, qr/ERROR:\s+08P01:/, "$run: the count is not given a second time");
}

# T = {s_i·w : every i, every w} would test every key: it is too many.
refused('atk-all', prelude('atk-all', \@asked),
	return_msg('atk-all', q{SELECT row_number() OVER (ORDER BY x), x FROM
	    (SELECT pgpriv.oprf_evaluate(s, w) AS x FROM mine, bel) AS s}),
	qr/More than the 30 elements sent/, 'T with every key\'s secret applied to B (300 elements)');

# ---------------------------------------------------------------------------
# Malformed T.
# ---------------------------------------------------------------------------
my $t1 = q{SELECT row_number() OVER (ORDER BY x), x FROM
  (SELECT pgpriv.oprf_evaluate((SELECT s FROM mine WHERE i = 1), w) AS x FROM bel) AS s};
refused('bad-dup', prelude('bad-dup', \@asked)
	. return_msg('bad-dup', q{SELECT j, pgpriv.oprf_evaluate((SELECT s FROM mine WHERE i = 1), (SELECT w FROM bel WHERE j = 0)) FROM bel}),
	"SELECT pgpriv.serve_count_result('bad-dup');",
	qr/not distinct/, 'T of one element repeated 30 times');
refused('bad-few', prelude('bad-few', \@asked)
	. return_msg('bad-few', "SELECT * FROM ($t1) AS a(o, x) WHERE o > 1"),
	"SELECT pgpriv.serve_count_result('bad-few');",
	qr/29 of the 30 elements sent were returned/, 'T one element short');
refused('bad-more', prelude('bad-more', \@asked),
	return_msg('bad-more', "$t1 UNION ALL SELECT 31, pgpriv.hash_to_group('extra'::bytea)"),
	qr/More than the 30 elements sent/, 'T one element too many');
refused('bad-more2', prelude('bad-more2', \@asked)
	. return_msg('bad-more2', $t1),
	return_msg('bad-more2', q{SELECT 1, pgpriv.hash_to_group('extra'::bytea)}),
	qr/More than the 30 elements sent/, 'T complete, then one more batch');
refused('bad-point', prelude('bad-point', \@asked),
	return_msg('bad-point', "SELECT o, CASE WHEN o = 7 THEN decode(repeat('ff', 32), 'hex') ELSE x END FROM ($t1) AS a(o, x)"),
	qr/Element 7 is not a valid ristretto255 element/, 'T with an invalid point');
refused('bad-identity', prelude('bad-identity', \@asked),
	return_msg('bad-identity', "SELECT o, CASE WHEN o = 3 THEN decode(repeat('00', 32), 'hex') ELSE x END FROM ($t1) AS a(o, x)"),
	qr/Element 3 is the identity/, 'T with the identity');
refused('bad-type', prelude('bad-type', \@asked), return_msg('bad-type', $t1, '04'),
	qr/Message type 4, expected 5/, 'T with the wrong message type');
refused('bad-asker-part', prelude('bad-asker-part', \@asked),
	"SELECT pgpriv.serve_count_pull('bad-asker-part', 'asker', 0, 10);",
	qr/part "asker" are not available/, 'pulling the asker\'s masked keys back');
refused('bad-early', prelude('bad-early', \@asked, no_finish => 1),
	return_msg('bad-early', q{SELECT 1, pgpriv.hash_to_group('x'::bytea)}),
	qr/before the run's keys were masked/, 'T before the run\'s keys are masked');

# A peer that catches the owner's error in a subtransaction (a DO block with
# an exception handler) to carry on the run from the state the bad message
# left: the error ended the run all the same.
{
	my ($rc, $out, $err) = attack(prelude('caught', \@asked) . q{
DO $$
BEGIN
  PERFORM pgpriv.serve_count_return('caught', '\x0104000000000000000020'::bytea);
EXCEPTION WHEN others THEN
  RAISE NOTICE 'caught: %', SQLSTATE;
END $$;
\set ON_ERROR_STOP 0
} . return_msg('caught', $t1) . qq{\nSELECT 'count:' || pgpriv.serve_count_result('caught');\n});
	like($err, qr/caught: 08P01/, 'caught error: the bad message was refused (08P01) inside the peer\'s handler');
	like($err, qr/ERROR:\s+08P01:.*No psi_count run "caught" is open/s,
		'caught error: the run ended with it, so the next message finds no run');
	unlike($out, qr/^count:/m, 'caught error: no count was given');
}

# ---------------------------------------------------------------------------
# The real asker: same answer as the plaintext model, through the new flow.
# ---------------------------------------------------------------------------
$bank->safe_psql('postgres', 'CREATE TABLE public.asked (code text)');
$bank->safe_psql('postgres', 'INSERT INTO public.asked VALUES ' . join(', ', map { "('$_')" } @asked));
is($bank->safe_psql('postgres', q{SELECT pgpriv.psi_count('gov', 'tax', 'SELECT code FROM public.asked')}),
	$plain_count, 'psi_count equals the plaintext count');
is($bank->safe_psql('postgres', q{SELECT pgpriv.psi_count('gov', 'tax', 'SELECT code FROM public.asked WHERE false')}),
	'0', 'psi_count of no keys is 0');
is($gov->safe_psql('postgres',
	q{SELECT keys_out FROM pgpriv.audit WHERE side = 'owner' AND capability = 'psi_count' AND outcome = 'ok' ORDER BY id DESC LIMIT 1}),
	$plain_count, 'the owner\'s audit records the count it computed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');
is($gov->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', 'gov\'s audit chain verifies');

done_testing();
