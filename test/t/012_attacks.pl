# 012_attacks.pl — each attack of the security review, played as the
# attacker would (the peer's login role in psql, a modified client, a local
# low-privilege role on the asker), and shown to fail.
#
#   1. a peer shadows pg_catalog types with pg_temp domains whose checks run
#      its code, then calls the serving routines
#   2. NULL arguments to the serving procedure
#   3. a local role on the asker puts its own operators first on its
#      search_path and calls secure_sum and psi
#   4. secure_sum's min_parties with participants of the asker's own making
#   5. budgets: the peer's TimeZone, one OPRF key per capability, runs of no keys
#   6. owner resources: settings a peer could raise, more elements than admitted
#   7. audit: a removed tail
#   8. an impostor owner behind a pinned key
#   9. errors found before admission charge nothing
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
my $gov_port  = $gov->port;
my $bank_port = $bank->port;
my $gov_pins  = pinned_keys($gov);

$gov->safe_psql('postgres', q{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE TABLE public.tax (code text, grade text, paid numeric);
	INSERT INTO public.tax SELECT 'K' || i, 'G' || (i % 5), i * 10 FROM generate_series(1, 200) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code, grade, paid FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi', max_keys => 1000);
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_count');
	SELECT pgpriv.permit('tax', 'bank_role', 'psi_fetch', '{grade}', max_keys => 1000);
	SELECT pgpriv.permit('tax', 'bank_role', 'pir', '{grade}', max_keys => 1000);
	SELECT pgpriv.permit('tax', 'bank_role', 'mpc', '{paid}');
	SELECT pgpriv.permit('tax', 'bank_role', 'secure_sum', '{paid}', min_parties => 3);
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.asked (code text);
	INSERT INTO public.asked SELECT 'K' || i FROM generate_series(1, 50) AS i;
});

sub is_superuser
{
	my ($node, $role) = @_;
	return $node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = '$role'");
}

# A blinded element the peer could send: any valid ristretto255 point.
my $element = $gov->safe_psql('postgres',
	q{SELECT encode(pgpriv.hash_to_group('\x01'::bytea), 'hex')});
my $one_element = "'\\x0101000000010000 0020$element'";
$one_element =~ s/ //g;
my $two_elements = "'\\x0101000000020000 0020$element$element'";
$two_elements =~ s/ //g;

# ---------------------------------------------------------------------------
# 1. A peer shadows pg_catalog's types with pg_temp domains.
# ---------------------------------------------------------------------------
my $trap = q{
	CREATE FUNCTION pg_temp.evil() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
	  RAISE NOTICE 'EVIL RAN AS %', current_user;
	  ALTER ROLE bank_role SUPERUSER;
	  RETURN true;
	END $$;
	CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.evil());
	CREATE DOMAIN pg_temp.name AS pg_catalog.name CHECK (pg_temp.evil());
	CREATE DOMAIN pg_temp.bytea AS pg_catalog.bytea CHECK (pg_temp.evil());
	CREATE DOMAIN pg_temp.int8 AS pg_catalog.int8 CHECK (pg_temp.evil());
	CREATE DOMAIN pg_temp.int4 AS pg_catalog.int4 CHECK (pg_temp.evil());
	CREATE DOMAIN pg_temp.date AS pg_catalog.date CHECK (pg_temp.evil());
	-- pg_temp not named in the path: it is searched first for types
	SET search_path = public;
};
{
	# Control: the trap is live — a cast to the unqualified type runs it.
	my ($rc, $out, $err) = vpsql($gov, $trap . q{SELECT 'x'::text;}, user => 'bank_role');
	like($err, qr/EVIL RAN AS bank_role/, 'control: an unqualified cast in the peer\'s session runs its domain check');
	is(is_superuser($gov, 'bank_role'), 'f', 'control: as itself the peer cannot make itself superuser');
}
{
	my ($rc, $out, $err) = vpsql($gov, $trap . version_exchange() . qq{
		CALL pgpriv.serve_admit('tax', 'psi', 'r1', 1);
		SELECT length(pgpriv.serve_oprf('tax', 'psi', 'r1', $one_element));
		SELECT pgpriv.serve_columns('tax', 'psi_fetch');
		SELECT length(proof) FROM pgpriv.serve_hello(('\\x' || repeat('09', 64))::pg_catalog.bytea);
		CALL pgpriv.serve_admit('tax', 'psi_fetch', 'r2', 1);
		SELECT version FROM pgpriv.serve_psi_table('tax', 'psi_fetch', 'r2');
		CALL pgpriv.serve_admit('tax', 'secure_sum', 'r3', 1);
		CALL pgpriv.serve_admit('tax', 'pir', 'r4', 1);
		SELECT epoch FROM pgpriv.serve_pir_setup('tax', 'r4');
	}, user => 'bank_role', on_error_stop => 0);
	unlike($err, qr/EVIL RAN/, 'no serving routine runs the peer\'s pg_temp domains') or diag($err);
	is(is_superuser($gov, 'bank_role'), 'f', 'the peer is still not a superuser');
	like($out, qr/^\d+$/m, 'the serving routines still work in a trapped session');
}

# ---------------------------------------------------------------------------
# 2. NULL arguments to the serving procedure: an error, not a crash.
# ---------------------------------------------------------------------------
my $started = $gov->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
for my $args ("NULL, 'psi', 'x', 1", "'tax', NULL, 'x', 1", "'tax', 'psi', NULL, 1", "'tax', 'psi', 'x', NULL") {
	fails_with($gov, version_exchange() . "CALL pgpriv.serve_admit($args)", '22004', qr/must not be NULL/,
		"serve_admit($args)", user => 'bank_role');
}
# An asker that skipped the version exchange (a 0.1.0 one, or modified) is
# refused before anything else (the 0.1.0 build itself: 014_upgrade).
fails_with($gov, "CALL pgpriv.serve_admit('tax', 'psi', 'x', 1)", '0A000',
	qr/peer speaks pgpriv 0\.1\.0 or older \(no version exchange\); this server runs 0\.2\.0, protocol 2/,
	'serve_admit without the version exchange', user => 'bank_role');
fails_with($gov, q{SELECT length(proof) FROM pgpriv.serve_hello(('\x' || pg_catalog.repeat('09', 64))::pg_catalog.bytea)},
	'0A000', qr/no version exchange/, 'serve_hello without the version exchange', user => 'bank_role');
is($gov->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'the owner did not restart');

# ---------------------------------------------------------------------------
# 3. A local low-privilege role on the asker with its own operators first.
# ---------------------------------------------------------------------------
$bank->safe_psql('postgres', q{
	CREATE ROLE clerk LOGIN PASSWORD 'clerk';
	CREATE SCHEMA evil AUTHORIZATION clerk;
	GRANT USAGE ON FOREIGN SERVER gov TO clerk;
	CREATE USER MAPPING FOR clerk SERVER gov OPTIONS (user 'bank_role', password 'pw');
	GRANT SELECT ON public.asked TO clerk;
});
my $ops = '';
for my $t (qw(text name bytea bigint integer date)) {
	(my $f = "eq_$t") =~ s/ /_/g;
	$ops .= qq{
	CREATE FUNCTION evil.$f(a $t, b $t) RETURNS boolean LANGUAGE plpgsql AS \$\$
	BEGIN
	  RAISE NOTICE 'EVIL RAN AS %', current_user;
	  ALTER ROLE clerk SUPERUSER;
	  RETURN a::pg_catalog.text OPERATOR(pg_catalog.=) b::pg_catalog.text;
	END \$\$;
	CREATE OPERATOR evil.= (LEFTARG = $t, RIGHTARG = $t, FUNCTION = evil.$f);
	};
}
$bank->safe_psql('postgres', $ops, extra_params => [ '-U', 'clerk' ]);
{
	my ($rc, $out, $err) = vpsql($bank, q{
		SET search_path = evil, pg_catalog;
		SELECT count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.asked');
		SELECT count(*) FROM pgpriv.psi('gov', 'tax', 'SELECT code FROM public.asked');
		SELECT count(*) FROM pgpriv.secure_sum('{gov}', 'tax', 'paid', 'SELECT code FROM public.asked');
		SELECT count(*) FROM pgpriv.pir('gov', 'tax', 'K1') AS t(code text, grade text);
		SELECT pgpriv.psi_count('gov', 'tax', 'SELECT code FROM public.asked');
	}, user => 'clerk');
	unlike($err, qr/EVIL RAN AS (?!clerk)/, 'pgpriv never runs the clerk\'s operators with other rights') or diag($err);
	is(is_superuser($bank, 'clerk'), 'f', 'the clerk is still not a superuser');
	like($out, qr/^50$/m, 'psi works for the clerk (twice: download, then the cache)');
}

# ---------------------------------------------------------------------------
# 4. secure_sum: participants of the asker's own making do not count.
# ---------------------------------------------------------------------------
# Two "banks" that are databases of the asker's own cluster, publishing an
# empty dataset of the same name: without the fix the owner's figure would
# be alone in the total.
$bank->safe_psql('postgres', q{CREATE ROLE puppet_login LOGIN PASSWORD 'pp'});
my %ppins;
for my $p (qw(puppet1 puppet2)) {
	$bank->safe_psql('postgres', "CREATE DATABASE $p");
	$bank->safe_psql($p, q{
		CREATE EXTENSION pgpriv;
		CREATE TABLE public.tax (code text, paid numeric);
		SELECT pgpriv.publish('tax', 'SELECT code, paid FROM public.tax', 'code');
		SELECT pgpriv.permit('tax', 'puppet_login', 'secure_sum', '{paid}');
	});
	$ppins{$p} = pinned_keys($bank, $p);
	$bank->safe_psql('postgres', qq{
		CREATE SERVER $p FOREIGN DATA WRAPPER pgpriv
		  OPTIONS (host '127.0.0.1', port '$bank_port', dbname '$p', $ppins{$p});
		CREATE USER MAPPING FOR CURRENT_USER SERVER $p OPTIONS (user 'puppet_login', password 'pp');
	});
}
my $sum_k1 = q{SELECT total FROM pgpriv.secure_sum('{gov,puppet1,puppet2}', 'tax', 'paid', $$SELECT 'K1'$$)};
fails_with($bank, $sum_k1, '42501', qr/needs at least 3 contributing parties this party knows, this run has 1/,
	'secure_sum with two sock-puppet participants');
like($gov->safe_psql('postgres', q{SELECT outcome FROM pgpriv.audit_log
	 WHERE side = 'owner' AND capability = 'secure_sum' ORDER BY id DESC LIMIT 1}),
	qr/^refused: .*contributing parties this party knows/, 'the refusal is audited at admission');
# Control: once the owner itself declares the two as peers, they count.
for my $p (qw(puppet1 puppet2)) {
	$gov->safe_psql('postgres', qq{CREATE SERVER $p FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$bank_port', dbname '$p', $ppins{$p})});
}
is($bank->safe_psql('postgres', $sum_k1), '10.0000', 'control: participants the owner declared count');

# ---------------------------------------------------------------------------
# 5. Budgets.
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('tax', 'bank_role', 'psi', max_keys => 5)});
my $used_before = $gov->safe_psql('postgres', q{SELECT coalesce(sum(keys_used), 0) FROM pgpriv.budgets
	 WHERE dataset = 'tax' AND capability = 'psi'});
{
	my ($rc, $out, $err) = vpsql($gov, version_exchange() . q{
		SET TimeZone = 'Etc/GMT-14';
		CALL pgpriv.serve_admit('tax', 'psi', 'tz1', 4);
		SET TimeZone = 'Etc/GMT+12';
		CALL pgpriv.serve_admit('tax', 'psi', 'tz2', 4);
	}, user => 'bank_role');
	like($err, qr/54000: budget exceeded/, 'a peer that changes its TimeZone gets no second day');
}
is($gov->safe_psql('postgres', q{SELECT day = (now() AT TIME ZONE 'UTC')::date FROM pgpriv.budget
	 WHERE dataset = 'tax' AND capability = 'psi' ORDER BY day DESC LIMIT 1}), 't', 'the budget day is the UTC date');

# One OPRF key per capability: the same element evaluated under psi, psi_fetch and pir differs.
{
	my %ev;
	for my $cap (qw(psi_fetch pir psi_count)) {
		next if $cap eq 'psi_count';
		my ($rc, $out, $err) = vpsql($gov, version_exchange() . qq{
			CALL pgpriv.serve_admit('tax', '$cap', 'cap_$cap', 1);
			SELECT encode(pgpriv.serve_oprf('tax', '$cap', 'cap_$cap', $one_element), 'hex');
		}, user => 'bank_role');
		($ev{$cap}) = $out =~ /([0-9a-f]{84})/;
		diag($err) unless defined $ev{$cap};
	}
	$gov->safe_psql('postgres', q{SELECT pgpriv.permit('tax', 'bank_role', 'psi', max_keys => 1000)});
	my ($rc, $out, $err) = vpsql($gov, version_exchange() . qq{
		CALL pgpriv.serve_admit('tax', 'psi', 'cap_psi', 1);
		SELECT encode(pgpriv.serve_oprf('tax', 'psi', 'cap_psi', $one_element), 'hex');
	}, user => 'bank_role');
	($ev{psi}) = $out =~ /([0-9a-f]{84})/;
	ok(defined $ev{psi} && defined $ev{psi_fetch} && defined $ev{pir}, 'the peer got one evaluation per capability');
	ok($ev{psi} ne $ev{psi_fetch} && $ev{psi} ne $ev{pir} && $ev{psi_fetch} ne $ev{pir},
		'each capability evaluates under its own key: a psi evaluation opens no psi_fetch payload');
}

# A run of no keys is refused (it would download the sealed table for free).
for my $cap (qw(psi psi_fetch psi_count secure_sum)) {
	fails_with($gov, version_exchange() . "CALL pgpriv.serve_admit('tax', '$cap', 'zero_$cap', 0)", '22023',
		qr/must ask at least one key/, "a $cap run of no keys", user => 'bank_role');
}

# ---------------------------------------------------------------------------
# 6. Owner resources.
# ---------------------------------------------------------------------------
for my $guc (qw(pgpriv.batch_size pgpriv.crypto_threads pgpriv.max_run_keys)) {
	# With the module loaded: refused outright.
	fails_with($gov, "SELECT pgpriv.oprf_random_scalar() IS NOT NULL; SET $guc = 100", '42501',
		qr/permission denied to set parameter/, "the peer cannot raise $guc", user => 'bank_role');
	# Set before the module loads (a placeholder): dropped when it loads.
	my ($rc, $out, $err) = vpsql($gov, "SET $guc = 100; SELECT pgpriv.oprf_random_scalar() IS NOT NULL; SHOW $guc",
		user => 'bank_role');
	unlike($out, qr/^100$/m, "a placeholder value of $guc set by the peer does not survive the module's load");
}
fails_with($gov, version_exchange() . qq{CALL pgpriv.serve_admit('tax', 'psi', 'over', 1);
	SELECT pgpriv.serve_oprf('tax', 'psi', 'over', $two_elements)}, '08P01',
	qr/More keys than the 1 admitted/, 'more elements than admitted are refused before any is evaluated',
	user => 'bank_role');

# A run that fails after admission is on record as failed once the session
# admits its next run.
vpsql($gov, version_exchange() . qq{CALL pgpriv.serve_admit('tax', 'psi', 'abandoned', 1);
	SELECT pgpriv.serve_oprf('tax', 'psi', 'abandoned', $two_elements);
	CALL pgpriv.serve_admit('tax', 'psi', 'next', 1);}, user => 'bank_role', on_error_stop => 0);
is($gov->safe_psql('postgres', q{SELECT outcome FROM pgpriv.audit_log WHERE detail LIKE 'run abandoned,%'}),
	'failed: run not completed', 'the abandoned run is audited as failed');

# ---------------------------------------------------------------------------
# 7. Audit: a removed tail shows.
# ---------------------------------------------------------------------------
is($gov->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', 'the chain verifies');
$gov->safe_psql('postgres', q{
	SET pgpriv.audit_maintenance = on;
	DELETE FROM pgpriv.audit_log WHERE id > (SELECT max(id) - 2 FROM pgpriv.audit_log);
});
is($gov->safe_psql('postgres', q{SELECT valid || '|' || (reason LIKE '%newest rows were removed%') FROM pgpriv.audit_verify()}),
	'false|true', 'deleting the newest rows is reported by audit_verify');

# ---------------------------------------------------------------------------
# 8. An impostor behind the pinned key gets nothing.
# ---------------------------------------------------------------------------
# The impostor runs the real serving functions (a complete owner with data
# and permits of its own) but cannot prove the identity the bank pinned.
$gov->safe_psql('postgres', 'CREATE DATABASE impostor');
$gov->safe_psql('impostor', q{
	CREATE EXTENSION pgpriv;
	CREATE TABLE public.tax (code text, grade text, paid numeric);
	SELECT pgpriv.publish('tax', 'SELECT code, grade, paid FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', c, CASE WHEN c IN ('psi_count') THEN '{}' ELSE '{paid}' END::text[])
	  FROM unnest('{psi_count,pir,mpc}'::text[]) AS c;
});
my $imp_pins = pinned_keys($gov, 'impostor');
$bank->safe_psql('postgres', qq{
	CREATE SERVER imp FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'impostor', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER imp OPTIONS (user 'bank_role', password 'pw');
});
fails_with($bank, q{SELECT pgpriv.psi_count('imp', 'tax', 'SELECT code FROM public.asked')}, '28000',
	qr/peer "imp" failed authentication/, 'psi_count with an impostor');
fails_with($bank, q{SELECT * FROM pgpriv.pir('imp', 'tax', 'K1') AS t(code text, paid numeric)}, '28000',
	qr/peer "imp" failed authentication/, 'pir with an impostor');
fails_with($bank, q{SELECT * FROM pgpriv.joint_score('imp', 'tax', 'SELECT code FROM public.asked', '{"paid": 1}')},
	'28000', qr/peer "imp" failed authentication/, 'joint_score (which sends keys in clear) with an impostor');
is($gov->safe_psql('impostor', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'owner'}), '0',
	'the impostor was sent no run at all');
# Its real X25519 key with a wrong signing key is refused too.
$bank->safe_psql('postgres', "ALTER SERVER imp OPTIONS (SET public_key '" . ($imp_pins =~ /public_key '([0-9a-f]+)'/)[0]
	. "', SET signing_key '" . ('ab' x 32) . "')");
fails_with($bank, q{SELECT pgpriv.psi_count('imp', 'tax', 'SELECT code FROM public.asked')}, '28000',
	qr/signing_key/, 'a pinned signing key the peer does not hold');
# Control: with its own keys pinned, the same peer is served.
$bank->safe_psql('postgres', "ALTER SERVER imp OPTIONS (SET signing_key '" . ($imp_pins =~ /signing_key '([0-9a-f]+)'/)[0] . "')");
is($bank->safe_psql('postgres', q{SELECT pgpriv.psi_count('imp', 'tax', 'SELECT code FROM public.asked')}), '0',
	'control: the peer whose keys are pinned is served');
# A server that pins no key is not used.
$bank->safe_psql('postgres', "ALTER SERVER imp OPTIONS (DROP public_key, DROP signing_key)");
fails_with($bank, q{SELECT pgpriv.psi_count('imp', 'tax', 'SELECT code FROM public.asked')}, '28000',
	qr/pins no key/, 'a server that pins no key');
is($gov->safe_psql('postgres', q{SELECT fingerprint = pgpriv._fingerprint(public_key || signing_key) FROM pgpriv.identity_card()}),
	't', 'the identity card\'s fingerprint covers both keys');

# ---------------------------------------------------------------------------
# 9. A column definition list that asks for more than the permit costs nothing.
# ---------------------------------------------------------------------------
my $budget_sql = q{SELECT capability || '=' || coalesce(sum(keys_used), 0) FROM pgpriv.budgets
	 WHERE dataset = 'tax' AND capability IN ('psi_fetch', 'pir') GROUP BY capability ORDER BY capability};
my $before = $gov->safe_psql('postgres', $budget_sql);
fails_with($bank, q{SELECT * FROM pgpriv.psi_fetch('gov', 'tax', 'SELECT code FROM public.asked')
	AS t(code text, paid numeric)}, '42501', qr/column "paid" of dataset "tax" is not permitted/,
	'psi_fetch of a column outside the permit');
fails_with($bank, q{SELECT * FROM pgpriv.pir('gov', 'tax', 'K1') AS t(code text, paid numeric)}, '42501',
	qr/column "paid" of dataset "tax" is not permitted/, 'pir of a column outside the permit');
is($gov->safe_psql('postgres', $budget_sql), $before, 'neither charged any key');

done_testing();
