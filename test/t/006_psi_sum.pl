# psi_sum between two clusters: gov owns a dataset of amounts, bank asks.
# Covers count and total against a model of random data (negative and
# decimal values, NULL values, duplicated and unicode keys, empty sets),
# min_group, permits (psi_fetch stays refused when only psi_sum is
# permitted), the one decryption per run, malformed messages from either
# side (08P01), the budget through admission, and the owner lost mid-run.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

test_seed(20240613);

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
for my $n ($gov, $bank) {
	pgpriv_setup($n);
}
my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);
$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw'});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
});

# ---------------------------------------------------------------------------
# Random data: amounts in units of 10^-4
# ---------------------------------------------------------------------------
my %used;
sub fresh_key { return random_key(\%used); }
my @special = awkward_keys(\%used);
my @pool = ((map { fresh_key() } 1 .. 300), @special);

sub random_units
{
	my $u = rand() < 0.3 ? int(rand(100)) * 10000 : int(rand(1e6));
	return rand() < 0.25 ? -$u : $u;
}

my (@rows, %held, %sum);
for my $k (@pool) {
	next if rand() < 0.4;
	$held{$k} = 1;
	for (1 .. (rand() < 0.2 ? 2 + int(rand(2)) : 1)) {
		my $u = rand() < 0.1 ? undef : random_units();
		push @rows, [ $k, $u ];
		$sum{$k} += $u if defined $u;
	}
}
# A key whose only value is NULL: it matches and adds nothing.
my $null_key = fresh_key();
push @rows, [ $null_key, undef ];
$held{$null_key} = 1;
push @rows, [ fresh_key(), random_units() ] for 1 .. 40;    # never asked
push @rows, [ undef, random_units() ];                        # a NULL key is ignored
for (@rows) { $held{ $_->[0] } = 1 if defined $_->[0]; }

$gov->safe_psql('postgres',
	"CREATE TABLE public.loans (code text, amount numeric, note text);\nINSERT INTO public.loans VALUES "
	  . join(",\n", map { '(' . lit($_->[0]) . ', ' . (defined $_->[1] ? lit(fmt_units($_->[1], 4)) : 'NULL') . ", 'n')" } @rows)
	  . ";\n");
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('loans', 'SELECT code, amount, note FROM public.loans', 'code');
	SELECT pgpriv.permit('loans', 'bank_role', 'psi_sum', '{amount}');
	SELECT pgpriv.publish('empty', 'SELECT code, amount FROM public.loans WHERE false', 'code');
	SELECT pgpriv.permit('empty', 'bank_role', 'psi_sum', '{amount}');
});

my @asked = ((map { $pool[ int(rand(@pool)) ] } 1 .. 200), @special, $null_key, map { fresh_key() } 1 .. 20);
push @asked, map { $asked[ int(rand(@asked)) ] } 1 .. 20;    # duplicates count once
$bank->safe_psql('postgres',
	"CREATE TABLE asked (code text);\nINSERT INTO asked VALUES "
	  . join(', ', map { '(' . lit($_) . ')' } @asked, undef) . ";\n");

sub model
{
	my (@keys) = @_;
	my %seen;
	my ($n, $t) = (0, 0);
	for my $k (grep { !$seen{$_}++ } @keys) {
		next unless $held{$k};
		$n++;
		$t += $sum{$k} // 0;
	}
	return "$n|" . fmt_units($t, 4);
}

my $sum_sql = sub {
	my ($ds, $q, $col) = @_;
	$col //= 'amount';
	return qq{SELECT matched || '|' || total FROM pgpriv.psi_sum('gov', '$ds', '$col', \$q\$$q\$q\$)};
};

# ---------------------------------------------------------------------------
# 1. Count and total equal the plain ones
# ---------------------------------------------------------------------------
my $want = model(@asked);
note("asked " . scalar(@asked) . " keys; model says $want");
my $t0 = time;
is($bank->safe_psql('postgres', $sum_sql->('loans', 'SELECT code FROM asked')), $want,
	'psi_sum equals the plain count and sum (negative, decimal, NULL values, unicode and duplicated keys)');
note(sprintf('psi_sum took %.2f s', time - $t0));
is($gov->safe_psql('postgres', q{SELECT count(DISTINCT code) || '|' || coalesce(sum(amount), 0)::numeric(30,4)
	  FROM public.loans WHERE code IN (} . join(',', map { lit($_) } @asked) . ')'), $want,
	'the model agrees with SQL on the owner\'s table');
my @neg_keys = grep { $held{$_} && defined $sum{$_} && $sum{$_} < 0 } @pool;
is($bank->safe_psql('postgres', $sum_sql->('loans', 'SELECT unnest(ARRAY[' . join(',', map { lit($_) } @neg_keys) . '])')),
	model(@neg_keys), 'a negative total (' . scalar(@neg_keys) . ' keys with negative sums)');
is($bank->safe_psql('postgres', $sum_sql->('loans', 'SELECT ' . lit($null_key))), '1|0.0000',
	'a key whose values are all NULL counts as matched and adds 0');
is($bank->safe_psql('postgres', $sum_sql->('loans', 'SELECT code FROM asked WHERE false')), '0|0.0000',
	'no keys asked: 0 matches, total 0');
is($bank->safe_psql('postgres', $sum_sql->('loans', q{SELECT 'nobody-has-this'})), '0|0.0000',
	'no key matches: 0 matches, total 0');
is($bank->safe_psql('postgres', $sum_sql->('empty', 'SELECT code FROM asked')), '0|0.0000',
	'an empty dataset: 0 matches, total 0');
is($bank->safe_psql('postgres', q{SELECT pg_typeof(matched)::text || ',' || pg_typeof(total)::text
	  FROM pgpriv.psi_sum('gov', 'loans', 'amount', 'SELECT 1')}), 'bigint,numeric', 'result types');
is($gov->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE outcome = 'admitted') || ',' ||
	  count(*) FILTER (WHERE outcome = 'ok') FROM pgpriv.audit_log
	 WHERE side = 'owner' AND capability = 'psi_sum' AND dataset = 'loans'}), '5,5',
	'the owner audits each run\'s admission and completion');
my ($n_matched) = split /\|/, $want;
is($gov->safe_psql('postgres', q{SELECT keys_out FROM pgpriv.audit_log
	 WHERE side = 'owner' AND capability = 'psi_sum' AND outcome = 'ok' ORDER BY id LIMIT 1}), $n_matched,
	'the owner\'s completion row records the match count it was told (its documented leakage)');

# ---------------------------------------------------------------------------
# 2. Permits: min_group refused (issue #10, finding 4), columns, psi_fetch, budget
# ---------------------------------------------------------------------------
for my $k (2, $n_matched + 1) {
	fails_with($gov, qq{SELECT pgpriv.permit('loans', 'bank_role', 'psi_sum', '{amount}', min_group => $k)}, '0A000',
		qr/psi_sum cannot enforce min_group against a modified asker.*HINT:.*psi_count.*secure_sum/s,
		"a psi_sum permit with min_group $k");
}
is($gov->safe_psql('postgres', q{SELECT coalesce(min_group, 0) FROM pgpriv.permits WHERE dataset = 'loans' AND capability = 'psi_sum'}),
	'0', 'the refused permit changed nothing');
# A permit row from before the refusal: admission refuses the run, audited, nothing charged.
$gov->safe_psql('postgres', q{UPDATE pgpriv.permit SET min_group = 5 WHERE capability = 'psi_sum'
	AND dataset = 'loans'});
fails_with($bank, $sum_sql->('loans', 'SELECT code FROM asked'), '0A000',
	qr/peer "gov".*psi_sum cannot enforce min_group against a modified asker/s, 'a run under an old min_group permit');
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'owner' AND capability = 'psi_sum'
	 AND outcome LIKE 'refused: psi_sum cannot enforce min_group%(0A000)'}), '1',
	'the refusal is on record in the owner\'s audit');
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('loans', 'bank_role', 'psi_sum', '{amount}', min_group => 1)});
is($bank->safe_psql('postgres', $sum_sql->('loans', 'SELECT code FROM asked')), $want, 'min_group 1 is accepted (it limits nothing)');
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('loans', 'bank_role', 'psi_sum', '{amount}')});

fails_with($bank, $sum_sql->('loans', 'SELECT code FROM asked', 'note'), '42501',
	qr/may not sum column "note" of dataset "loans"/, 'a column outside the permit');
fails_with($bank, q{SELECT * FROM pgpriv.psi_fetch('gov', 'loans', 'SELECT code FROM asked') AS t(code text, amount numeric)},
	'42501', qr/psi_fetch/, 'psi_fetch stays refused when only psi_sum is permitted');
fails_with($bank, q{SELECT pgpriv.psi_count('gov', 'loans', 'SELECT code FROM asked')},
	'42501', qr/psi_count/, 'psi_count too');
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('psi_only', 'SELECT code, amount FROM public.loans', 'code');
	SELECT pgpriv.permit('psi_only', 'bank_role', 'psi');
	SELECT pgpriv.publish('budget', 'SELECT code, amount FROM public.loans', 'code');
	SELECT pgpriv.permit('budget', 'bank_role', 'psi_sum', '{amount}', max_keys => 30);
});
fails_with($bank, $sum_sql->('psi_only', 'SELECT code FROM asked'), '42501', qr/psi_sum/,
	'a psi permit does not allow psi_sum');
is($bank->safe_psql('postgres', $sum_sql->('budget', 'SELECT code FROM asked LIMIT 20')),
	model(@asked[0 .. 19]), 'within the max_keys budget');
fails_with($bank, $sum_sql->('budget', 'SELECT code FROM asked LIMIT 20 OFFSET 20'), '54000', qr/max_keys 30/,
	'the budget is enforced at admission');
is($gov->safe_psql('postgres', q{SELECT sum(keys_used) FROM pgpriv.budgets WHERE dataset = 'budget'}),
	scalar(keys %{ { map { $_ => 1 } @asked[0 .. 19] } }), 'the refused run charged nothing');

# Values that cannot be added exactly are refused, never rounded.
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('inexact', 'SELECT ''k'' AS code, 0.00001::numeric AS amount', 'code');
	SELECT pgpriv.permit('inexact', 'bank_role', 'psi_sum', '{amount}');
	SELECT pgpriv.publish('huge', 'SELECT ''k'' AS code, 43980465.1104::numeric AS amount FROM generate_series(1, 10)', 'code');
	SELECT pgpriv.permit('huge', 'bank_role', 'psi_sum', '{amount}');
	SELECT pgpriv.publish('edge', 'SELECT ''k'' AS code, 1.0000::numeric AS amount', 'code');
	SELECT pgpriv.permit('edge', 'bank_role', 'psi_sum', '{amount}');
});
fails_with($bank, $sum_sql->('inexact', q{SELECT 'k'}), '22003', qr/more than 4 decimal places/, 'a value with 5 decimals');
# 10 × 43 980 465.1104 = 439 804 651.104: beyond 2^42 - 1 units, the bound before limbs.
is($bank->safe_psql('postgres', $sum_sql->('huge', q{SELECT 'k'})), '1|439804651.1040',
	'a total beyond the old bound of 2^42 - 1 units');

# Totals of real money: per-key totals up to a bigint at scale 4, run totals
# well beyond 2^63 units, either sign; the reference is the owner's own SQL sum.
$gov->safe_psql('postgres', q{
	CREATE TABLE public.big (code text, amount numeric);
	INSERT INTO public.big VALUES
	  ('b1', 922337203685477.5807), ('b2', 922337203685477.5807), ('b3', 900000000000000.1234),
	  ('b4', 400000000000000), ('b4', 500000000000000.5), ('b5', -922337203685477.5808),
	  ('b6', -922337203685477.5808), ('b7', 0.0001), ('ov', 922337203685477.5807), ('ov', 0.0001);
	SELECT pgpriv.publish('big', 'SELECT code, amount FROM public.big WHERE code <> ''ov''', 'code');
	SELECT pgpriv.permit('big', 'bank_role', 'psi_sum', '{amount}');
	SELECT pgpriv.publish('over', 'SELECT code, amount FROM public.big WHERE code = ''ov''', 'code');
	SELECT pgpriv.permit('over', 'bank_role', 'psi_sum', '{amount}');
});
for my $c ([ 'b1,b2,b3,b4', 'four totals near 2^63 units, 3.6e15 in all' ],
	[ 'b5,b6', 'two totals of -2^63 units' ],
	[ 'b1,b2,b3,b4,b5,b6,b7,nobody', 'mixed signs, near-cancelling, with a non-match' ]) {
	my ($keys, $what) = @$c;
	my $arr = join(',', map { lit($_) } split /,/, $keys);
	my $plain = $gov->safe_psql('postgres',
		"SELECT count(DISTINCT code) || '|' || coalesce(sum(amount), 0)::numeric(40,4) FROM public.big WHERE code <> 'ov' AND code IN ($arr)");
	is($bank->safe_psql('postgres', $sum_sql->('big', "SELECT unnest(ARRAY[$arr])")), $plain, "real money: $what ($plain)");
}
fails_with($bank, $sum_sql->('over', q{SELECT 'ov'}), '22003', qr/per-key total of column "amount" is out of range/,
	'a per-key total beyond a bigint at scale 4 is refused by the owner');
is($bank->safe_psql('postgres', $sum_sql->('edge', q{SELECT 'k'})), '1|1.0000', 'a one-row total');

# ---------------------------------------------------------------------------
# 3. The asker's messages, by hand: one decryption per run; malformed → 08P01
# ---------------------------------------------------------------------------
my @pts = split /\n/, $gov->safe_psql('postgres',
	q{SELECT encode(pgpriv.hash_to_group(convert_to(k, 'UTF8')), 'hex') FROM unnest('{p1,p2,p3,p4}'::text[]) k});
my $as_peer = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_role password=pw";
sub total_msg
{
	my ($matched, $ct_hex) = @_;
	# One ciphertext per 16-bit limb (4), after the 8-byte count: items of 264 bytes.
	return "'\\x0114" . '00000001' . '00000108' . sprintf('%016x', $matched) . ($ct_hex x 4) . "'::bytea";
}
sub by_hand
{
	my ($run, @tail) = @_;
	return $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('loans', 'psi_sum', '$run', 1);\n"
		  . "SELECT batch_limit FROM pgpriv.serve_psi_sum_begin('loans', '$run', 'amount', '\\x$pts[0]'::bytea);\n"
		  . "SELECT pgpriv.serve_psi_sum_push('$run', '\\x01010000000100000020$pts[1]'::bytea);\n"
		  . "SELECT pgpriv.serve_psi_sum_finish('$run');\n"
		  . join('', map { "$_;\n" } @tail),
		connstr => $as_peer, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
}
{
	my $dec = "SELECT length(pgpriv.serve_psi_sum_decrypt('hand-1', " . total_msg(1, $pts[2] . $pts[3]) . '))';
	my ($rc, $out, $err) = by_hand('hand-1', $dec, $dec);
	like($out, qr/^138$/m, 'by hand: the first decryption is served (4 partials of 32 bytes, one per limb)');
	like($err, qr/ERROR:\s+55000:.*already had its one decryption/, 'by hand: a second decryption of the run is refused (55000)');
	$dec = "SELECT length(pgpriv.serve_psi_sum_decrypt('hand-0', " . total_msg(0, $pts[2] . $pts[3]) . '))';
	($rc, $out, $err) = by_hand('hand-0', $dec, $dec);
	like($out, qr/^10$/m, 'by hand: 0 matches claimed: nothing is decrypted (a header, no partial)');
	like($err, qr/ERROR:\s+55000:.*already had its one decryption/, 'by hand: and the run is spent (55000)');
	($rc, $out, $err) = by_hand('hand-2',
		"SELECT pgpriv.serve_psi_sum_decrypt('hand-2', " . total_msg(0, ('ff' x 32) . $pts[3]) . ')');
	like($err, qr/ERROR:\s+08P01:.*not a canonical ristretto255 element/s, 'by hand: an invalid ciphertext from the asker (08P01)');
	($rc, $out, $err) = by_hand('hand-3',
		"SELECT pgpriv.serve_psi_sum_decrypt('hand-3', " . total_msg(0, $pts[2] . ('00' x 32)) . ')');
	like($err, qr/ERROR:\s+08P01:.*identity/s, 'by hand: an identity in the asker\'s ciphertext (08P01)');
	($rc, $out, $err) = by_hand('hand-4',
		"SELECT pgpriv.serve_psi_sum_decrypt('hand-4', " . total_msg(2, $pts[2] . $pts[3]) . ')');
	like($err, qr/ERROR:\s+08P01:.*2 matches claimed among 1 keys asked/s, 'by hand: more matches claimed than keys asked (08P01)');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('loans', 'psi_sum', 'hand-5', 1);\n"
		  . "SELECT batch_limit FROM pgpriv.serve_psi_sum_begin('loans', 'hand-5', 'amount', '\\x" . ('ff' x 32) . "'::bytea);\n",
		connstr => $as_peer, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:.*key share is not a canonical/s, 'by hand: an invalid key share from the asker (08P01)');
	($rc, $out, $err) = $gov->psql('postgres',
		"SELECT pgpriv.serve_psi_sum_begin('loans', 'hand-6', 'amount', '\\x$pts[0]'::bytea);\n",
		connstr => $as_peer, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:.*not admitted/s, 'by hand: a run that was not admitted is refused (08P01)');
}

# ---------------------------------------------------------------------------
# 4. A lying owner: database "liar" with pgpriv's identity (it authenticates)
#    and look-alike serving functions
# ---------------------------------------------------------------------------
# The liar masks with b = 1: its entry for LIAR-A is H(LIAR-A), which the asker matches.
my ($h_liar) = $gov->safe_psql('postgres', q{SELECT encode(pgpriv.hash_to_group(convert_to('LIAR-A', 'UTF8')), 'hex')});
my $liar_pins = liar_database($gov, 'liar');
$gov->safe_psql('liar', qq{
	CREATE TABLE public.liar_mode (mode text);
	INSERT INTO public.liar_mode VALUES ('ok');
	GRANT SELECT ON public.liar_mode TO PUBLIC;
	CREATE FUNCTION public.u32(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(v), 8, '0'), 'hex') \$\$;
	CREATE FUNCTION public.hdr(typ int, cnt bigint, size bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT '\\x01'::bytea || decode(lpad(to_hex(typ), 2, '0'), 'hex') || public.u32(cnt) || public.u32(size) \$\$;
	CREATE FUNCTION public.mode() RETURNS text LANGUAGE sql STABLE AS \$\$ SELECT mode FROM public.liar_mode \$\$;
	GRANT USAGE ON SCHEMA pgpriv TO PUBLIC;
	CREATE PROCEDURE pgpriv.serve_admit(dataset text, capability text, run text, nkeys bigint)
	  LANGUAGE plpgsql AS \$\$ BEGIN NULL; END \$\$;
	CREATE FUNCTION pgpriv.serve_psi_sum_begin(dataset text, run text, value_column text, asker_share bytea)
	  RETURNS TABLE(batch_limit integer, owner_keys bigint, owner_share bytea) LANGUAGE plpgsql AS \$\$
	  BEGIN
	    PERFORM set_config('liar.asker', '', false);
	    batch_limit := 65536;
	    owner_keys := 1;
	    owner_share := CASE public.mode() WHEN 'share_invalid' THEN decode(repeat('ff', 32), 'hex')
	                     WHEN 'share_identity' THEN decode(repeat('00', 32), 'hex')
	                     WHEN 'share_cancels' THEN NULL ELSE decode('$pts[0]', 'hex') END;
	    RETURN NEXT;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_psi_sum_push(run text, batch bytea) RETURNS bigint LANGUAGE plpgsql AS \$\$
	  DECLARE buf text := current_setting('liar.asker') || encode(substr(batch, 11), 'hex');
	  BEGIN
	    PERFORM set_config('liar.asker', buf, false);
	    RETURN length(buf) / 64;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_psi_sum_finish(run text) RETURNS bigint LANGUAGE sql AS \$\$ SELECT 1::bigint \$\$;
	CREATE FUNCTION pgpriv.serve_psi_sum_pull(run text, part text, start bigint, count integer) RETURNS bytea
	  LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    buf bytea := decode(current_setting('liar.asker'), 'hex');
	    n int := length(buf) / 32;
	    sorted bytea;
	    ct bytea := decode(repeat('$pts[2]$pts[3]', 4), 'hex');
	  BEGIN
	    IF part = 'asker' THEN
	      SELECT coalesce(string_agg(e, ''::bytea ORDER BY e), ''::bytea) INTO sorted
	        FROM (SELECT substr(buf, 1 + 32 * i, 32) AS e FROM generate_series(0, n - 1) AS i) AS s;
	      RETURN public.hdr(4, n, 32) || sorted;
	    END IF;
	    RETURN CASE m
	      WHEN 'ct_invalid' THEN public.hdr(19, 1, 288) || decode('$h_liar', 'hex') || substr(ct, 1, 128) || decode(repeat('ff', 32) || '$pts[3]', 'hex') || substr(ct, 193)
	      WHEN 'ct_identity' THEN public.hdr(19, 1, 288) || decode('$h_liar', 'hex') || substr(ct, 1, 192) || decode('$pts[2]' || repeat('00', 32), 'hex')
	      WHEN 'entries_type' THEN public.hdr(4, 1, 288) || decode('$h_liar', 'hex') || ct
	      WHEN 'entries_short' THEN public.hdr(19, 1, 288) || decode('$h_liar', 'hex') || substr(ct, 1, 255)
	      ELSE public.hdr(19, 1, 288) || decode('$h_liar', 'hex') || ct
	    END;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_psi_sum_decrypt(run text, total bytea) RETURNS bytea LANGUAGE plpgsql AS \$\$
	  BEGIN
	    RETURN CASE public.mode()
	      WHEN 'partial_invalid' THEN public.hdr(21, 4, 32) || decode(repeat('$pts[1]', 2) || repeat('ff', 32) || '$pts[1]', 'hex')
	      WHEN 'partial_identity' THEN public.hdr(21, 4, 32) || decode(repeat('00', 32) || repeat('$pts[1]', 3), 'hex')
	      WHEN 'partial_three' THEN public.hdr(21, 3, 32) || decode(repeat('$pts[1]', 3), 'hex')
	      WHEN 'partial_none' THEN public.hdr(21, 0, 32)
	      WHEN 'partial_range' THEN public.hdr(21, 4, 32) || decode(repeat('$pts[1]', 4), 'hex')
	      WHEN 'refusal_empty' THEN public.hdr(22, 0, 4)
	      ELSE public.hdr(21, 4, 32) || decode(repeat('ff', 128), 'hex')
	    END;
	  END \$\$;
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER liar FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'liar', $liar_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER liar OPTIONS (user 'bank_role', password 'pw');
});
for my $c ([ 'share_invalid', 'an owner key share that is not a point' ],
	[ 'share_identity', 'an owner key share that is the identity' ],
	[ 'share_cancels', 'no owner key share' ],
	[ 'ct_invalid', 'a ciphertext that is not a point' ],
	[ 'ct_identity', 'a ciphertext holding the identity' ],
	[ 'entries_type', 'entries with the wrong message type' ],
	[ 'entries_short', 'an entry shorter than announced' ],
	[ 'partial_invalid', 'a partial decryption that is not a point' ],
	[ 'partial_identity', 'a partial decryption that is the identity' ],
	[ 'partial_three', 'three partial decryptions for four limbs' ],
	[ 'partial_none', 'no partial decryption although a key matched' ],
	[ 'partial_range', 'partial decryptions that leave limb sums out of range' ],
	[ 'refusal_empty', 'a refusal without its min_group' ]) {
	my ($mode, $what) = @$c;
	$gov->safe_psql('liar', 'UPDATE public.liar_mode SET mode = ' . lit($mode));
	my ($rc, $out, $err) = $bank->psql('postgres',
		"SELECT 'pid:' || pg_backend_pid();\n"
		  . q{SELECT * FROM pgpriv.psi_sum('liar', 'x', 'amount', $q$SELECT 'LIAR-A'$q$);} . "\n"
		  . "SELECT 'pid:' || pg_backend_pid();\n",
		on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my $ok = like($err, qr/ERROR:\s+08P01:.*peer "liar"/s, "lying owner, $what: SQLSTATE 08P01 naming the peer");
	diag("stdout: $out\nstderr: $err") unless $ok;
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], "lying owner, $what: the asker backend survives");
}

# ---------------------------------------------------------------------------
# 5. The owner lost mid-run: class 08 naming it, no result
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	CREATE FUNCTION public.slow_gate() RETURNS boolean LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_sleep(60); RETURN true; END $$;
	SELECT pgpriv.publish('slow', 'SELECT code, amount FROM public.loans WHERE (SELECT public.slow_gate())', 'code');
	SELECT pgpriv.permit('slow', 'bank_role', 'psi_sum', '{amount}');
});
{
	my $file = PostgreSQL::Test::Utils::tempdir() . '/lost.sql';
	open my $fh, '>', $file or die $!;
	print $fh "SELECT 'pid:' || pg_backend_pid();\n" . $sum_sql->('slow', 'SELECT code FROM asked') . ";\n"
	  . "SELECT 'pid:' || pg_backend_pid();\n" . $sum_sql->('edge', q{SELECT 'k'}) . ";\n";
	close $fh;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $bank->installed_command('psql'), '-XAtq', '-v', 'VERBOSITY=verbose',
			'-d', $bank->connstr('postgres'), '-f', $file ], '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(120));
	my $deadline = time + 60;
	my $seen = 0;
	while (!$seen && time < $deadline) {
		$seen = $gov->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity
			 WHERE usename = 'bank_role' AND state = 'active' AND query LIKE '%serve_psi_sum_begin%'}) eq 't';
		usleep(50_000) unless $seen;
	}
	ok($seen, 'owner lost: gov is reading its slow dataset');
	is($gov->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE usename = 'bank_role' AND query LIKE '%serve_psi_sum_begin%'}), '1', 'owner lost: its serving backend is terminated');
	$h->finish;
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "gov"/, 'owner lost: class 08 error naming the peer');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'owner lost: the asker backend survives');
	like($out, qr/^1\|1\.0000$/m, 'owner lost: the next run in the same session reconnects and works');
	is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'asker' AND dataset = 'slow' AND outcome = 'ok'}),
		'0', 'owner lost: no asker audit row claims the lost run');
	like(audit_failed($bank, q{dataset = 'slow' AND capability = 'psi_sum'}), qr/^failed: peer lost/,
		'owner lost: the asker audits the run as failed: peer lost');
	is($bank->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'no progress row left');
}

for my $n ($gov, $bank) {
	is($n->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', $n->name . ': the audit chain verifies');
}
ok(!grep({ $_->log_contains(qr/terminated by signal/) } ($gov, $bank)), 'no backend crashed');

done_testing();
