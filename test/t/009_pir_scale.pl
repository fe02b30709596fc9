# Private lookup (pir) at scale and against a lying owner.
#
# 1. 1000 random keys (500 present, 500 absent) over a 100 000-row dataset,
#    in one keys[] lookup and a few single-key lookups: every answer equals
#    the plain lookup; then 10^4 lookups (five calls of 2000 keys) with zero
#    decoding failures.
# 2. A lying owner: gov's superuser renames the real serve_pir_answer and
#    serve_pir_hint and puts look-alikes in their place that tamper with what
#    they return (truncate it, flip a hint byte, damage the records behind the
#    tags, damage everything).  The asker must fail with 08P01 or return no
#    row — never a wrong row.
use strict;
use warnings;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

test_seed(20261127);

my ($gov, $bank) = pgpriv_pair("fsync = off\nlog_statement = none");
my $gov_port = $gov->port;
my $signing_key = $gov->safe_psql('postgres',
	q{SELECT pg_catalog.encode(signing_key, 'hex') FROM pgpriv.identity_card()});
$gov->safe_psql('postgres', q{CREATE ROLE bank_role LOGIN PASSWORD 'pw_b';});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', signing_key '$signing_key', sslmode 'disable');
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw_b');
});

# ---------------------------------------------------------------------------
# 1. 100 000 rows, 1000 random keys
# ---------------------------------------------------------------------------
my $n = 100_000;
my $t0 = time;
$gov->safe_psql('postgres', qq{
	CREATE TABLE public.tax AS
	  SELECT '9132' || lpad(i::text, 12, '0') || chr(65 + i % 26) AS code,
	         (ARRAY['A','B','C','D'])[1 + i % 4] AS grade,
	         CASE WHEN i % 97 = 0 THEN NULL ELSE round((i::bigint * 7919 % 1000000)::numeric / 100, 2) END AS paid
	    FROM generate_series(1, $n) AS i;
	SELECT pgpriv.publish('tax', 'SELECT code, grade, paid FROM public.tax', 'code');
	SELECT pgpriv.permit('tax', 'bank_role', 'pir', '{grade,paid}');
});
sub code_of { my ($i) = @_; return sprintf('9132%012d%s', $i, chr(65 + $i % 26)); }
sub row_of
{
	my ($i) = @_;
	return undef if $i < 1 || $i > $n;
	my $paid = $i % 97 == 0 ? '' : sprintf('%.2f', (($i * 7919) % 1000000) / 100);
	return join('|', code_of($i), ('A', 'B', 'C', 'D')[ $i % 4 ], $paid);
}

my (@ask, @want);
for (1 .. 500) {
	my $i = 1 + int(rand($n));
	push @ask, code_of($i);
	push @want, row_of($i);
}
for (1 .. 500) {
	# absent: outside the range, or a present number with the wrong letter
	my $i = 1 + int(rand($n));
	push @ask, rand() < 0.5 ? code_of($n + $i) : sprintf('9132%012d%s', $i, chr(97 + $i % 26));
}
my $arr = 'ARRAY[' . join(',', map { lit($_) } @ask) . ']::text[]';
my $out = $bank->safe_psql('postgres', "SELECT pgpriv.pir_sync('gov', 'tax')");
note(sprintf('setup and hint sync of %d rows: %.1f s', $n, time - $t0));
$t0 = time;
$out = $bank->safe_psql('postgres',
	"SELECT concat_ws('|', code, grade, coalesce(paid::text, '')) FROM pgpriv.pir('gov', 'tax', $arr)
	   AS t(code text, grade text, paid numeric)");
note(sprintf('lookup of 1000 keys: %.1f s', time - $t0));
my %want_count;
$want_count{$_}++ for @want;
my %got_count;
$got_count{$_}++ for grep { $_ ne '' } split /\n/, $out;
# A key asked twice yields its row twice.
is_deeply(\%got_count, \%want_count, '1000 random keys (500 present, 500 absent) over 100 000 rows: exactly the plain rows');
is($gov->safe_psql('postgres', 'SELECT count(*) FROM public.tax WHERE code = ANY (' . $arr . ')'),
	scalar(@want), 'control: the plain lookup finds the 500 present keys');

my $single_ok = 0;
for my $j (0 .. 9) {
	my $i = $j % 2 ? 1 + int(rand($n)) : $n + 1 + int(rand($n));
	my $got = $bank->safe_psql('postgres',
		'SELECT concat_ws(\'|\', code, grade, coalesce(paid::text, \'\')) FROM pgpriv.pir(\'gov\', \'tax\', '
		  . lit(code_of($i)) . ') AS t(code text, grade text, paid numeric)');
	$single_ok++ if $got eq (row_of($i) // '');
}
is($single_ok, 10, 'ten single-key lookups (present and absent) are exact');
is($gov->safe_psql('postgres', q{SELECT max(keys_in) FROM pgpriv.audit WHERE side = 'owner' AND capability = 'pir'}),
	'1000', 'the owner\'s audit records a lookup of 1000 keys');

# 10^4 lookups (five keys[] calls of 2000 keys, half present, half absent):
# a decoding failure would lose a present row, change its payload or make
# an absent key appear, so exact answers mean zero decoding failures.
{
	my ($lost, $wrong, $phantom, $asked) = (0, 0, 0, 0);
	$t0 = time;
	for my $call (1 .. 5) {
		my (@keys, %expect);
		for (1 .. 1000) {
			my $i = 1 + int(rand($n));
			push @keys, code_of($i);
			$expect{ code_of($i) } = row_of($i);
			push @keys, code_of($n + $i);
		}
		$asked += @keys;
		my $list = 'ARRAY[' . join(',', map { lit($_) } @keys) . ']::text[]';
		my %got;
		for my $l (split /\n/, $bank->safe_psql('postgres',
				"SELECT DISTINCT concat_ws('|', code, grade, coalesce(paid::text, '')) FROM pgpriv.pir('gov', 'tax', $list)
				   AS t(code text, grade text, paid numeric)")) {
			my ($code) = split /\|/, $l;
			$got{$code} = $l;
		}
		for my $code (keys %expect) {
			if (!exists $got{$code}) { $lost++; }
			elsif ($got{$code} ne $expect{$code}) { $wrong++; }
		}
		$phantom += grep { !exists $expect{$_} } keys %got;
	}
	note(sprintf('10^4 lookups in five calls: %.1f s', time - $t0));
	is($asked, 10_000, '10^4 keys looked up');
	is("$lost/$wrong/$phantom", '0/0/0',
		'10^4 lookups: no present row lost, none wrong, no absent key answered (zero decoding failures)');
}

# ---------------------------------------------------------------------------
# 2. A lying owner
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	CREATE TABLE public.small AS
	  SELECT 'SMALL-' || i AS code, 'grade-' || i AS grade FROM generate_series(1, 300) AS i;
	SELECT pgpriv.publish('small', 'SELECT code, grade FROM public.small', 'code');
	SELECT pgpriv.permit('small', 'bank_role', 'pir', '{grade}');
});
my $small_sql = q{SELECT code || '|' || grade FROM pgpriv.pir('gov', 'small', 'SMALL-42') AS t(code text, grade text)};
is($bank->safe_psql('postgres', $small_sql), 'SMALL-42|grade-42', 'the honest owner answers the small dataset');
my ($rows, $slot) = split /\|/, $gov->safe_psql('postgres',
	q{SELECT rows || '|' || slot_bytes FROM pgpriv.served_pir WHERE dataset = 'small'});
note("small dataset: D has $rows rows, slots of $slot bytes");

$gov->safe_psql('postgres', qq{
	CREATE TABLE public.liar_mode (mode text, rows int, slot int);
	INSERT INTO public.liar_mode VALUES ('ok', $rows, $slot);
	GRANT SELECT ON public.liar_mode TO PUBLIC;
	ALTER FUNCTION pgpriv.serve_pir_answer(text, text, bigint, bytea) RENAME TO serve_pir_answer_real;
	ALTER FUNCTION pgpriv.serve_pir_hint(text, text, bigint, integer) RENAME TO serve_pir_hint_real;
	CREATE FUNCTION pgpriv.serve_pir_answer(dataset text, run text, epoch bigint, queries bytea)
	  RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    a bytea := pgpriv.serve_pir_answer_real(dataset, run, epoch, queries);
	    m public.liar_mode := (SELECT l FROM public.liar_mode AS l);
	    w int;
	  BEGIN
	    IF m.mode = 'truncate' THEN
	      RETURN substr(a, 1, length(a) - 1);
	    ELSIF m.mode = 'extend' THEN
	      RETURN a || '\\x00000000'::bytea;
	    ELSIF m.mode IN ('body', 'all') THEN
	      -- add Delta = 2^24 to answer words: the decoded byte of that row of D
	      -- moves by one; 'body' spares the tag bytes of every slot.
	      FOR w IN 0 .. length(a) / 4 - 1 LOOP
	        IF m.mode = 'all' OR (w % m.rows) % m.slot >= 16 THEN
	          a := set_byte(a, 4 * w + 3, (get_byte(a, 4 * w + 3) + 1) % 256);
	        END IF;
	      END LOOP;
	    END IF;
	    RETURN a;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_pir_hint(dataset text, run text, epoch bigint, chunk integer)
	  RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    h bytea := pgpriv.serve_pir_hint_real(dataset, run, epoch, chunk);
	    m text := (SELECT mode FROM public.liar_mode);
	  BEGIN
	    IF m = 'hint' THEN
	      RETURN set_byte(h, 100, (get_byte(h, 100) + 1) % 256);
	    ELSIF m = 'hintcut' THEN
	      RETURN substr(h, 1, length(h) - 1);
	    END IF;
	    RETURN h;
	  END \$\$;
});

sub liar_case
{
	my ($mode, $drop_hint) = @_;
	$gov->safe_psql('postgres', 'UPDATE public.liar_mode SET mode = ' . lit($mode));
	$bank->safe_psql('postgres', q{DELETE FROM pgpriv.peer_pir}) if $drop_hint;
	my ($rc, $o, $e) = $bank->psql('postgres', $small_sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return ($rc, $o // '', $e // '');
}

{
	my ($rc, $o, $e) = liar_case('ok', 1);
	is($o, 'SMALL-42|grade-42', 'liar control: through the look-alikes, an untampered answer is exact');
	is($rc, 0, 'liar control: no error') or diag($e);
}
for my $c (
	[ 'truncate', 0, qr/PIR answer has \d+ bytes/, 'an answer one byte short' ],
	[ 'extend',   0, qr/PIR answer has \d+ bytes/, 'an answer four bytes too long' ],
	[ 'body',     0, qr/does not open/, 'records damaged behind intact tags' ],
	[ 'hint',     1, qr/signed hash/, 'a hint with one byte changed' ],
	[ 'hintcut',  1, qr/hint|malformed/, 'a hint chunk one byte short' ])
{
	my ($mode, $drop, $re, $name) = @$c;
	my ($rc, $o, $e) = liar_case($mode, $drop);
	ok($rc != 0 && $e =~ /ERROR:\s+08P01:/, "lying owner, $name: 08P01") or diag("rc=$rc out=$o err=$e");
	like($e, $re, "lying owner, $name: the error says why");
	is($o, '', "lying owner, $name: no row");
}
{
	# Every decoded byte off by one: the tags no longer match, so the key
	# looks absent — no row, and never a wrong one.
	my ($rc, $o, $e) = liar_case('all', 0);
	note("all words tampered: rc=$rc, rows '" . $o . "', error: " . ($e =~ /(ERROR:.*)/ ? $1 : 'none'));
	is($o, '', 'lying owner, every answer word changed: no row (never a wrong row)');
}
{
	my ($rc, $o, $e) = liar_case('ok', 1);
	is($o, 'SMALL-42|grade-42', 'after the lies, an honest answer is exact again');
}

done_testing();
