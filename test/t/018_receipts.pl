# Signed receipts (issue #13, part 2; docs/receipts.md): at the end of every
# run each side signs a statement of it with its Ed25519 identity key and
# gives it to the other; both keep both.  Every capability's receipts verify
# on both sides with the other side's public signing key, both sides' digests
# of the run's messages agree, forgeries are refused, a changed stored
# receipt makes audit_verify() fail, a modified owner whose receipt does not
# verify makes the asker's run fail (08P01), and no secret is in a receipt.
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
my $key_q = q{SELECT pg_catalog.encode(signing_key, 'hex') FROM pgpriv.identity_card()};
my $gov_key  = $gov->safe_psql('postgres', $key_q);
my $bank_key = $bank->safe_psql('postgres', $key_q);

# The bureau's firms F01..F30; the bank asks for F01..F40.
my (%grade, %tax, %ind);
for my $i (1 .. 30) {
	my $k = sprintf('F%02d', $i);
	$grade{$k} = ('A', 'B', 'C')[ $i % 3 ];
	$tax{$k} = 1000 + 37 * $i;
	$ind{$k} = $i % 7;
}
my $firms = join(",\n", map { "('$_', '$grade{$_}', $tax{$_}, $ind{$_})" } sort keys %grade);
$gov->safe_psql('postgres', qq{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE TABLE public.firms (code text, grade text, tax bigint, ind integer);
	INSERT INTO public.firms VALUES $firms;
	SELECT pgpriv.publish('firms', 'SELECT code, grade, tax, ind FROM public.firms', 'code');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_count');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_fetch', '{grade,tax}');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_sum', '{tax}');
	SELECT pgpriv.permit('firms', 'bank_role', 'pir', '{grade,tax}');
	SELECT pgpriv.permit('firms', 'bank_role', 'secure_sum', '{tax}');
	SELECT pgpriv.permit('firms', 'bank_role', 'mpc', '{ind}');
	CREATE TABLE public.unpermitted (code text);
	SELECT pgpriv.publish('closed', 'SELECT code FROM public.unpermitted', 'code');
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.asked AS SELECT 'F' || lpad(i::text, 2, '0') AS code FROM generate_series(1, 40) AS i;
});

# --- the plaintext model ------------------------------------------------------
my @held = sort keys %grade;
my $tax_total = 0;
$tax_total += $tax{$_} for @held;

sub fails_with
{
	my ($node, $sql, $state, $label) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	like($err, qr/ERROR:\s+$state/, $label);
	return $err;
}

# The run of the asker's newest completed run.
sub last_asker_run
{
	return $bank->safe_psql('postgres',
		q{SELECT run_id FROM pgpriv.audit WHERE side = 'asker' AND outcome = 'ok' ORDER BY id DESC LIMIT 1});
}

# The run's receipts on both sides: each statement verifies with the signer's
# public key as the other side's identity_card() gives it; the digests agree.
sub check_receipts
{
	my ($label, $run, $cap, $keys_in, $keys_out, $owners) = @_;
	$owners //= 1;
	isnt($run, '', "$label: the asker's audit row has a run_id");
	for my $n ($bank, $gov) {
		my $who = $n->name;
		is($n->safe_psql('postgres', qq{SELECT pg_catalog.count(*) > 0 FROM pgpriv.audit WHERE run_id = '$run'}),
			't', "$label: $who has audit rows of run $run");
		is($n->safe_psql('postgres', qq{
			SELECT pg_catalog.string_agg(s->>'signer' || ':' ||
			         pgpriv.verify_receipt(s, CASE s->>'signer' WHEN 'asker' THEN '\\x$bank_key'::bytea
			                                                    ELSE '\\x$gov_key'::bytea END)::text,
			         ',' ORDER BY s->>'signer')
			  FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s}),
			'asker:true,owner:true', "$label: $who holds both statements, each verifying with its signer's key");
		is($n->safe_psql('postgres', qq{
			SELECT pgpriv.verify_receipt(pgpriv.receipt('$run'), '\\x$bank_key')
			   AND pgpriv.verify_receipt(pgpriv.receipt('$run'), '\\x$gov_key')}),
			't', "$label: $who: the whole receipt verifies with both keys");
		is($n->safe_psql('postgres', qq{
			SELECT pg_catalog.count(DISTINCT s->>'transcript') || '/' || pg_catalog.count(s->>'transcript')
			  FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s}),
			'1/2', "$label: $who: both statements carry the same transcript digest");
		is($n->safe_psql('postgres', qq{
			SELECT pg_catalog.count(*) FROM pgpriv.receipts WHERE run_id = '$run' AND disputed IS NOT NULL}),
			'0', "$label: $who disputes nothing");
		is($n->safe_psql('postgres', qq{
			SELECT pg_catalog.string_agg(s->>'signer' || ':' || (s->>'outcome') || ':' || coalesce(s->>'disputed', '-')
			         || ':' || (s->>'capability') || ':' || (s->>'dataset') || ':' || (s->>'run_id'), ',' ORDER BY s->>'signer')
			  FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s}),
			"asker:ok:-:$cap:firms:$run,owner:ok:-:$cap:firms:$run", "$label: $who: outcomes, capability, dataset, run");
	}
	my $digest_q = qq{SELECT s->>'transcript' FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s
	                   WHERE s->>'signer' = 'owner'};
	is($bank->safe_psql('postgres', $digest_q), $gov->safe_psql('postgres', $digest_q),
		"$label: the owner's digest is the same in both databases");
	cmp_ok($bank->safe_psql('postgres', qq{
		SELECT (pgpriv.receipt('$run')->'statements'->0->>'messages')::int}), '>', 0,
		"$label: the digest covers the run's messages");
	is($bank->safe_psql('postgres', qq{
		SELECT (s->>'keys_in') || '/' || coalesce(s->>'keys_out', '-') FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s
		 WHERE s->>'signer' = 'asker'}), "$keys_in/$keys_out", "$label: the asker's statement counts its keys in and out");
	# A regulator checks one side's export with public keys only, elsewhere.
	my $export = $gov->safe_psql('postgres', qq{SELECT pgpriv.receipt('$run')::text});
	is($bank->safe_psql('postgres', qq{
		SELECT pgpriv.verify_receipt(\$j\$$export\$j\$::jsonb, '\\x$gov_key')
		   AND pgpriv.verify_receipt(\$j\$$export\$j\$::jsonb, '\\x$bank_key')}), 't',
		"$label: the owner's export verifies in the other database");
	is($bank->safe_psql('postgres', qq{SELECT pg_catalog.count(*) FROM pgpriv.receipts WHERE run_id = '$run'}),
		1 + $owners, "$label: the asker keeps its own statement and the owner's");
}

# --- every capability -----------------------------------------------------------
is($bank->safe_psql('postgres',
		q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'firms', 'SELECT code FROM public.asked')}),
	scalar(@held), 'psi: the 30 held keys');
my $psi_run = last_asker_run();
check_receipts('psi', $psi_run, 'psi', 40, 30);

is($bank->safe_psql('postgres', q{SELECT pgpriv.psi_count('gov', 'firms', 'SELECT code FROM public.asked')}),
	scalar(@held), 'psi_count');
check_receipts('psi_count', last_asker_run(), 'psi_count', 40, 30);

is($bank->safe_psql('postgres', q{
	SELECT pg_catalog.string_agg(code || ':' || grade || ':' || tax, ',' ORDER BY code)
	  FROM pgpriv.psi_fetch('gov', 'firms', 'SELECT code FROM public.asked') AS t(code text, grade text, tax bigint)}),
	join(',', map { "$_:$grade{$_}:$tax{$_}" } @held), 'psi_fetch');
check_receipts('psi_fetch', last_asker_run(), 'psi_fetch', 40, 30);

is($bank->safe_psql('postgres',
		q{SELECT matched || '|' || total::bigint FROM pgpriv.psi_sum('gov', 'firms', 'tax', 'SELECT code FROM public.asked')}),
	scalar(@held) . "|$tax_total", 'psi_sum');
check_receipts('psi_sum', last_asker_run(), 'psi_sum', 40, 30);

is($bank->safe_psql('postgres',
		q{SELECT pg_catalog.string_agg(code || ':' || tax, ',' ORDER BY code) FROM pgpriv.pir('gov', 'firms', '{F05,F33}'::text[]) AS t(code text, grade text, tax bigint)}),
	"F05:$tax{F05}", 'pir');
check_receipts('pir', last_asker_run(), 'pir', 2, 1);

is($bank->safe_psql('postgres', q{
	SELECT pg_catalog.sum(total)::bigint FROM pgpriv.secure_sum('{gov}', 'firms', 'tax', 'SELECT code FROM public.asked')}),
	$tax_total, 'secure_sum');
check_receipts('secure_sum', last_asker_run(), 'secure_sum', 40, 30);

my $score_sum = 0;
$score_sum += 2 * $ind{$_} for @held;
is($bank->safe_psql('postgres', q{
	SELECT pg_catalog.round(pg_catalog.sum(score))::bigint FROM pgpriv.joint_score('gov', 'firms', 'SELECT code FROM public.asked', '{"ind": 2}')}),
	$score_sum, 'joint_score');
check_receipts('joint_score', last_asker_run(), 'mpc', 40, 30);

is($bank->safe_psql('postgres', q{
	SELECT pg_catalog.sum(failures) FROM pgpriv.mpc_selftest('gov', 'firms', 1000, 10)}), '0', 'mpc_selftest');
check_receipts('mpc_selftest', last_asker_run(), 'mpc', 0, 0);

# --- forgeries are refused ------------------------------------------------------
my $r = qq{pgpriv.receipt('$psi_run')};
my $asker_s = qq{(SELECT s FROM pg_catalog.jsonb_array_elements($r->'statements') AS s WHERE s->>'signer' = 'asker')};
my $owner_s = qq{(SELECT s FROM pg_catalog.jsonb_array_elements($r->'statements') AS s WHERE s->>'signer' = 'owner')};
my %forged = (
	'a changed count'    => [ qq{pg_catalog.jsonb_set($owner_s, '{keys_in}', '39')}, $gov_key ],
	'a changed keys_out' => [ qq{pg_catalog.jsonb_set($asker_s, '{keys_out}', '29')}, $bank_key ],
	'a changed outcome'  => [ qq{pg_catalog.jsonb_set($owner_s, '{outcome}', '"failed: run not completed"')}, $gov_key ],
	'a changed digest'   => [ qq{pg_catalog.jsonb_set($owner_s, '{transcript}', pg_catalog.to_jsonb(pg_catalog.repeat('0', 64)))}, $gov_key ],
	'another key\'s signature' => [ qq{pg_catalog.jsonb_set($owner_s, '{signature}', $asker_s->'signature')}, $gov_key ],
	'the asker\'s statement passed off as the owner\'s' =>
	  [ qq{pg_catalog.jsonb_set(pg_catalog.jsonb_set($asker_s, '{signer}', '"owner"'), '{owner_key}', pg_catalog.to_jsonb('$bank_key'::text))}, $bank_key ],
	'a swapped signer key' => [ qq{pg_catalog.jsonb_set($owner_s, '{owner_key}', pg_catalog.to_jsonb('$bank_key'::text))}, $bank_key ],
	'checked with the wrong key' => [ $owner_s, $bank_key ],
	'a field removed'    => [ qq{$owner_s - 'dataset'}, $gov_key ],
	'a count as text'    => [ qq{pg_catalog.jsonb_set($owner_s, '{keys_in}', pg_catalog.to_jsonb(($owner_s->>'keys_in')::text))}, $gov_key ],
	'not an object'      => [ q{'[1, 2]'::jsonb}, $gov_key ],
);
is($bank->safe_psql('postgres', "SELECT pgpriv.verify_receipt($owner_s, '\\x$gov_key')"), 't',
	'the genuine owner statement verifies (the forgeries below start from it)');
for my $what (sort keys %forged) {
	my ($expr, $key) = @{ $forged{$what} };
	is($bank->safe_psql('postgres', "SELECT pgpriv.verify_receipt($expr, '\\x$key')"), 'f', "forged: $what is refused");
}
is($bank->safe_psql('postgres', qq{SELECT pgpriv.verify_receipt($owner_s, '\\x00')}), 'f', 'a key of the wrong length is false');
is($bank->safe_psql('postgres', qq{SELECT pgpriv.verify_receipt(NULL, '\\x$gov_key') IS NULL}), 't', 'NULL in, NULL out');

# --- stored receipts that were changed --------------------------------------------
for my $case ([ $bank, 'owner', 'the owner\'s statement kept by the asker' ],
			  [ $bank, 'asker', 'the asker\'s own statement' ],
			  [ $gov, 'asker', 'the asker\'s statement kept by the owner' ],
			  [ $gov, 'owner', 'the owner\'s own statement' ]) {
	my ($n, $signer, $what) = @$case;
	is($n->safe_psql('postgres', qq{
		BEGIN;
		SET LOCAL pgpriv.audit_maintenance = on;
		UPDATE pgpriv.receipt_log
		   SET statement = pg_catalog.convert_to(pg_catalog.replace(pg_catalog.convert_from(statement, 'UTF8'),
		                                           'keys_in=2:40', 'keys_in=2:39'), 'UTF8')
		 WHERE run_id = '$psi_run' AND signer = '$signer';
		SELECT valid::text || ' ' || (reason LIKE 'receipt %') FROM pgpriv.audit_verify();
		ROLLBACK;}), 'false true', "audit_verify fails on a changed stored receipt: $what");
}
for my $n ($bank, $gov) {
	is($n->safe_psql('postgres', q{SELECT valid FROM pgpriv.audit_verify()}), 't', $n->name . ': audit_verify() passes');
}
my ($rc, $out, $err) = $bank->psql('postgres', qq{UPDATE pgpriv.receipt_log SET disputed = 'x' WHERE run_id = '$psi_run'});
like($err, qr/append-only/, 'the receipts are append-only');

# --- no secret in a receipt ---------------------------------------------------------
for my $n ($bank, $gov) {
	my $receipts = $n->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(pg_catalog.convert_from(statement, 'UTF8') || pgpriv._receipt_json(statement, signature)::text, '')
		  FROM pgpriv.receipt_log});
	my $secrets = $n->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(pg_catalog.encode(pg_catalog.substr(sign_secret_key, 1, 32), 'hex') || ',' ||
		                             pg_catalog.encode(secret_key, 'hex'), ',') FROM pgpriv.identity_keys});
	for my $s (split /,/, $secrets) {
		ok(index($receipts, $s) < 0, $n->name . ': no identity secret in a receipt');
	}
	unlike($receipts, qr/F0[1-9]|F[1-4][0-9]|public\.asked|public\.firms|SELECT/, $n->name . ': no key, label or query in a receipt');
}
my $oprf = $gov->safe_psql('postgres', q{SELECT pg_catalog.string_agg(pg_catalog.encode(k.secret, 'hex'), ',') FROM pgpriv.oprf_key AS k});
my $gov_receipts = $gov->safe_psql('postgres', q{SELECT pg_catalog.string_agg(pg_catalog.encode(statement, 'hex'), '') FROM pgpriv.receipt_log});
ok($oprf ne '' && !grep { index($gov_receipts, $_) >= 0 } split /,/, $oprf, 'no OPRF key in the owner\'s receipts');

# SELECT expr (of s, one statement) from the statements that signer made of run, on node.
my $statement_of = sub {
	my ($node, $run, $signer, $expr) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT $expr
		  FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s WHERE s->>'signer' = '$signer'});
};

# --- a modified owner --------------------------------------------------------------------
# The owner's superuser swaps serve_receipt for look-alikes around the real one
# (kept as public.real_serve_receipt), and puts the real one back.
my $keep_real_serve_receipt = sub {
	$gov->safe_psql('postgres', q{
		CREATE FUNCTION public.real_serve_receipt(run text, s bytea, sig bytea)
		  RETURNS TABLE(owner_statement bytea, owner_signature bytea)
		  AS 'pgpriv', 'pgpriv_serve_receipt' LANGUAGE C STRICT SECURITY DEFINER
		  SET search_path = pg_catalog, pg_temp;
	});
};
my $fake_serve_receipt = sub {
	my ($body) = @_;
	$gov->safe_psql('postgres', qq{
		CREATE OR REPLACE FUNCTION pgpriv.serve_receipt(run text, asker_statement bytea, asker_signature bytea)
		  RETURNS TABLE(owner_statement bytea, owner_signature bytea)
		  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
		  AS \$\$ $body \$\$;
	});
};
my $restore_serve_receipt = sub {
	$gov->safe_psql('postgres', q{
		CREATE OR REPLACE FUNCTION pgpriv.serve_receipt(run text, asker_statement bytea, asker_signature bytea)
		  RETURNS TABLE(owner_statement bytea, owner_signature bytea)
		  AS 'pgpriv', 'pgpriv_serve_receipt' LANGUAGE C VOLATILE STRICT SECURITY DEFINER
		  SET search_path = pg_catalog, pg_temp;
		DROP FUNCTION public.real_serve_receipt(text, bytea, bytea);
	});
};
$keep_real_serve_receipt->();
my %liar = (
	'a bad signature' => q{SELECT r.owner_statement, pg_catalog.decode(pg_catalog.repeat('ab', 64), 'hex') FROM public.real_serve_receipt(run, asker_statement, asker_signature) AS r},
	'no receipt' => q{SELECT r.owner_statement, r.owner_signature FROM public.real_serve_receipt(run, asker_statement, asker_signature) AS r WHERE false},
	'a changed statement' => q{SELECT pg_catalog.convert_to(pg_catalog.replace(pg_catalog.convert_from(r.owner_statement, 'UTF8'), 'outcome=2:ok', 'outcome=2:OK'), 'UTF8'), r.owner_signature FROM public.real_serve_receipt(run, asker_statement, asker_signature) AS r},
	'a malformed statement' => q{SELECT '\x00'::bytea, r.owner_signature FROM public.real_serve_receipt(run, asker_statement, asker_signature) AS r},
	'the asker\'s own statement sent back' => q{SELECT asker_statement, asker_signature FROM public.real_serve_receipt(run, asker_statement, asker_signature) AS r},
);
for my $what (sort keys %liar) {
	$fake_serve_receipt->($liar{$what});
	my $before = $bank->safe_psql('postgres', q{SELECT pg_catalog.max(id) FROM pgpriv.audit_log});
	fails_with($bank, q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'firms', 'SELECT code FROM public.asked')},
		'08P01', "a modified owner returning $what: the asker's run fails with 08P01");
	is(audit_failed($bank, "capability = 'psi' AND id > $before"),
		'failed: peer misbehaved (08P01)', "$what: the asker audits its failed run");
}
$restore_serve_receipt->();
# The asker's own signed statement of a failed run (written by the failure recorder).
my $failed_run = $bank->safe_psql('postgres', q{
	SELECT run_id FROM pgpriv.audit_log WHERE side = 'asker' AND outcome LIKE 'failed:%' ORDER BY id DESC LIMIT 1});
ok($bank->poll_query_until('postgres', qq{SELECT pg_catalog.count(*) > 0 FROM pgpriv.receipt_log WHERE run_id = '$failed_run' AND own}),
	'the asker signs its own statement of the failed run');
is($statement_of->($bank, $failed_run, 'asker', qq{(s->>'outcome') || ' ' || pgpriv.verify_receipt(s, '\\x$bank_key')}),
	'failed: peer misbehaved (08P01) true', 'the failed run\'s asker statement verifies and says why');
is($statement_of->($gov, $failed_run, 'owner',
		qq{(s->>'outcome') || ' ' || coalesce(s->>'disputed', '-') || ' ' || pgpriv.verify_receipt(s, '\\x$gov_key')}),
	'ok - true', 'the owner kept its own signed statement of that run');
# The failure statement carries the run's transcript so far: the same digest
# and message count as the owner's statement, and the login role.
my $stmt_fields = sub {
	my ($node, $run, $signer) = @_;
	return $statement_of->($node, $run, $signer,
		q{coalesce(s->>'messages', '-') || ' ' || coalesce(s->>'transcript', '-') || ' ' || coalesce(s->>'asker_role', '-')});
};
my $asker_view = $stmt_fields->($bank, $failed_run, 'asker');
like($asker_view, qr/^[1-9][0-9]* [0-9a-f]{64} \S+$/, 'the failed run\'s asker statement has its message count, digest and role');
is($asker_view, $stmt_fields->($gov, $failed_run, 'owner'),
	'the failed run: the asker\'s digest, count and role are the owner\'s');
is($bank->safe_psql('postgres',
		q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'firms', 'SELECT code FROM public.asked')}),
	scalar(@held), 'the real serve_receipt back: psi runs again');
check_receipts('psi after the liars', last_asker_run(), 'psi', 40, 30);

# --- a refused run ---------------------------------------------------------------------------
fails_with($bank, q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'closed', 'SELECT code FROM public.asked')},
	'42501', 'a run without a permit is refused');
my $refused_run = $gov->safe_psql('postgres', q{
	SELECT run_id FROM pgpriv.audit WHERE side = 'owner' AND outcome LIKE 'refused:%' ORDER BY id DESC LIMIT 1});
isnt($refused_run, '', 'the owner audits the refusal with the run id');
is($statement_of->($gov, $refused_run, 'owner', qq{(s->>'outcome') || ' ' || pgpriv.verify_receipt(s, '\\x$gov_key')}),
	'refused: no permit (42501) true', 'the owner signs its statement of the refused run');
ok($bank->poll_query_until('postgres', qq{
	SELECT pgpriv.verify_receipt(pgpriv.receipt('$refused_run'), '\\x$bank_key')
	   AND pgpriv.receipt('$refused_run')->'statements'->0->>'outcome' = 'failed: refused (42501)'}),
	'the asker signs its own statement of the refused run, under the same run id');
# The two statements of the refusal were exchanged on the refusal's way back:
# each side holds the other's, which verifies with the other's key.
ok($bank->poll_query_until('postgres', qq{
	SELECT pg_catalog.count(*) = 2 FROM pgpriv.receipt_log WHERE run_id = '$refused_run'}),
	'the asker keeps both statements of the refused run');
is($statement_of->($bank, $refused_run, 'owner', qq{(s->>'outcome') || ' ' || pgpriv.verify_receipt(s, '\\x$gov_key')}),
	'refused: no permit (42501) true', 'the asker holds the owner\'s signed statement of the refusal');
is($statement_of->($gov, $refused_run, 'asker', qq{(s->>'outcome') || ' ' || pgpriv.verify_receipt(s, '\\x$bank_key') || ' '
	       || (pgpriv.receipt('$refused_run')->'disputed' = 'null'::jsonb)}),
	'failed: refused (42501) true true', 'the owner holds the asker\'s signed statement of the refusal, undisputed');
# A modified owner whose receipt of the refusal does not verify: the asker
# still gets the refusal's own SQLSTATE, keeps only its own statement.
$keep_real_serve_receipt->();
$fake_serve_receipt->($liar{'a bad signature'});
fails_with($bank, q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'closed', 'SELECT code FROM public.asked')},
	'42501', 'a refusal whose receipt is forged is still the refusal (42501)');
my $forged_refusal = $gov->safe_psql('postgres', q{
	SELECT run_id FROM pgpriv.audit WHERE side = 'owner' AND outcome LIKE 'refused:%' ORDER BY id DESC LIMIT 1});
isnt($forged_refusal, $refused_run, 'a second refused run');
ok($bank->poll_query_until('postgres', qq{
	SELECT pg_catalog.count(*) > 0 FROM pgpriv.receipt_log WHERE run_id = '$forged_refusal'}),
	'the asker signs its statement of the second refusal');
is($bank->safe_psql('postgres', qq{
	SELECT pg_catalog.string_agg(signer || ':' || own, ',') FROM pgpriv.receipt_log WHERE run_id = '$forged_refusal'}),
	'asker:true', 'the forged owner statement of a refusal is not kept');
$restore_serve_receipt->();
like($stmt_fields->($bank, $refused_run, 'asker'), qr/^[0-9]+ [0-9a-f]{64} \S+$/,
	'the refused run\'s asker statement has its message count, digest and role');
is($stmt_fields->($bank, $refused_run, 'asker'), $stmt_fields->($gov, $refused_run, 'owner'),
	'the refused run: both statements carry the same transcript digest, count and role');

for my $n ($bank, $gov) {
	is($n->safe_psql('postgres', q{SELECT valid::text || coalesce(' ' || reason, '') FROM pgpriv.audit_verify()}), 'true',
		$n->name . ': audit_verify() passes at the end');
}

# --- who may read receipts -------------------------------------------------------------------
$bank->safe_psql('postgres', q{CREATE ROLE other LOGIN});
is($bank->safe_psql('postgres', qq{SET ROLE other; SELECT pgpriv.receipt('$psi_run') IS NULL}), 't',
	'another role sees no receipt of the analyst\'s run');
is($bank->safe_psql('postgres', q{SET ROLE other; SELECT pg_catalog.count(*) FROM pgpriv.receipts}), '0',
	'nor any row of pgpriv.receipts');

done_testing();
