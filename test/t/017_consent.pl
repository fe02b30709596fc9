# Applicant-authorised use (issue #13, part 1): a permit's authorised_by
# query narrows what every capability serves to the keys an applicant has
# consented to, for that bank and purpose, until the consent expires; a
# withdrawal is in force from the next run.
#
# The bureau (gov) keeps a consent register the way its portal would: one
# row per (applicant, bank role, purpose) with valid_until.  The bank asks
# for 40 applicants; the plaintext model below says which of them each
# capability may return.
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

# The bureau's firms F01..F50: grade, tax paid (exact integers), an indicator.
my (%grade, %tax, %ind);
for my $i (1 .. 50) {
	my $k = sprintf('F%02d', $i);
	$grade{$k} = ('A', 'B', 'C')[ $i % 3 ];
	$tax{$k} = 1000 + 37 * $i;
	$ind{$k} = $i % 7;
}
my $firms = join(",\n", map { "('$_', '$grade{$_}', $tax{$_}, $ind{$_})" } sort keys %grade);

# Consent: F01..F20 consented to bank_role for every purpose; F21..F25
# consented but expired; F26..F30 consented to another bank only; F31..F35
# consented to bank_role for psi only.
my @caps = qw(psi psi_count psi_fetch psi_sum pir secure_sum mpc);
my @consent;
for my $i (1 .. 20) {
	push @consent, map { sprintf("('F%02d', 'bank_role', '%s', now() + interval '30 days')", $i, $_) } @caps;
}
push @consent, map { my $i = $_; map { sprintf("('F%02d', 'bank_role', '%s', now() - interval '1 day')", $i, $_) } @caps } 21 .. 25;
push @consent, map { my $i = $_; map { sprintf("('F%02d', 'other_bank', '%s', now() + interval '30 days')", $i, $_) } @caps } 26 .. 30;
push @consent, map { sprintf("('F%02d', 'bank_role', 'psi', now() + interval '30 days')", $_) } 31 .. 35;

my $consent_q = q{SELECT c.code FROM public.consent AS c WHERE c.bank_role = $1 AND c.purpose = $2 AND c.valid_until > pg_catalog.now()};
(my $consent_lit = $consent_q) =~ s/'/''/g;
$gov->safe_psql('postgres', qq{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE TABLE public.firms (code text, grade text, tax bigint, ind integer);
	INSERT INTO public.firms VALUES $firms;
	CREATE TABLE public.consent (code text, bank_role name, purpose text, valid_until timestamptz);
	INSERT INTO public.consent VALUES @{[ join(",\n", @consent) ]};
	SELECT pgpriv.publish('firms', 'SELECT code, grade, tax, ind FROM public.firms', 'code');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi', authorised_by => '$consent_lit');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_count', authorised_by => '$consent_lit');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_fetch', '{grade,tax}', authorised_by => '$consent_lit');
	SELECT pgpriv.permit('firms', 'bank_role', 'psi_sum', '{tax}', authorised_by => '$consent_lit');
	SELECT pgpriv.permit('firms', 'bank_role', 'pir', '{grade,tax}', authorised_by => '$consent_lit');
	SELECT pgpriv.permit('firms', 'bank_role', 'secure_sum', '{tax}', authorised_by => '$consent_lit');
	SELECT pgpriv.permit('firms', 'bank_role', 'mpc', '{ind}', authorised_by => '$consent_lit');
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.asked AS SELECT 'F' || lpad(i::text, 2, '0') AS code FROM generate_series(1, 40) AS i;
});

# --- the plaintext model ------------------------------------------------------
my @asked = map { sprintf('F%02d', $_) } 1 .. 40;
sub allowed
{
	my ($cap, %withdrawn) = @_;
	return grep {
		my ($n) = /(\d+)/;
		!$withdrawn{$_} && ($n <= 20 || ($cap eq 'psi' && $n >= 31 && $n <= 35))
	} @asked;
}

sub check_all
{
	my ($label, %withdrawn) = @_;
	my @psi = allowed('psi', %withdrawn);
	my @all = allowed('psi_fetch', %withdrawn);

	is($bank->safe_psql('postgres',
			q{SELECT pg_catalog.string_agg(key, ',' ORDER BY key) FROM pgpriv.psi('gov', 'firms', 'SELECT code FROM public.asked')}),
		join(',', @psi), "$label: psi returns only consented keys (psi purpose includes F31-F35)");
	is($bank->safe_psql('postgres', q{SELECT pgpriv.psi_count('gov', 'firms', 'SELECT code FROM public.asked')}),
		scalar(allowed('psi_count', %withdrawn)), "$label: psi_count counts only consented keys");
	is($bank->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(code || ':' || grade || ':' || tax, ',' ORDER BY code)
		  FROM pgpriv.psi_fetch('gov', 'firms', 'SELECT code FROM public.asked') AS t(code text, grade text, tax bigint)}),
		join(',', map { "$_:$grade{$_}:$tax{$_}" } @all), "$label: psi_fetch returns rows of consented keys only");
	my $sum = 0;
	$sum += $tax{$_} for @all;
	is($bank->safe_psql('postgres',
			q{SELECT matched || '|' || total::bigint FROM pgpriv.psi_sum('gov', 'firms', 'tax', 'SELECT code FROM public.asked')}),
		scalar(@all) . "|$sum", "$label: psi_sum matches and sums consented keys only");
	is($bank->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(key || ':' || total::bigint, ',' ORDER BY key)
		  FROM pgpriv.secure_sum('{gov}', 'firms', 'tax', 'SELECT code FROM public.asked') WHERE contributors = 1}),
		join(',', map { "$_:$tax{$_}" } @all), "$label: secure_sum has gov contribute for consented keys only");
	is($bank->safe_psql('postgres', q{
		SELECT pg_catalog.string_agg(key || ':' || round(score), ',' ORDER BY key)
		  FROM pgpriv.joint_score('gov', 'firms', 'SELECT code FROM public.asked', '{"ind": 2}') WHERE score IS NOT NULL}),
		join(',', map { "$_:" . (2 * $ind{$_}) } @all), "$label: joint_score scores consented keys only");
	# pir: one consented key, one expired, one another bank's, one psi-only.
	my %want = map { $_ => 1 } @all;
	for my $k (qw(F05 F22 F27 F33)) {
		is($bank->safe_psql('postgres',
				"SELECT pg_catalog.count(*) FROM pgpriv.pir('gov', 'firms', '$k') AS t(code text, grade text, tax bigint)"),
			$want{$k} ? '1' : '0', "$label: pir of $k " . ($want{$k} ? 'finds the row' : 'finds nothing'));
	}
}

check_all('consent as registered');

# --- withdrawal: in force from the next run -----------------------------------
$gov->safe_psql('postgres', q{DELETE FROM public.consent WHERE code IN ('F01', 'F02', 'F03')});
check_all('after F01-F03 withdrew', F01 => 1, F02 => 1, F03 => 1);

# A new consent is in force at once too.
$gov->safe_psql('postgres', q{
	INSERT INTO public.consent SELECT 'F01', 'bank_role', p, now() + interval '1 day'
	  FROM pg_catalog.unnest('{psi,psi_count,psi_fetch,psi_sum,pir,secure_sum,mpc}'::text[]) AS p});
check_all('after F01 consented again', F02 => 1, F03 => 1);

# --- what the peer can and cannot see -----------------------------------------
is($gov->safe_psql('postgres', q{SET ROLE bank_role; SELECT pg_catalog.count(*) FROM pgpriv.permits WHERE authorised_by IS NOT NULL}),
	'0', "the peer role does not see the consent query text in pgpriv.permits");
my ($rc, $out, $err) = $gov->psql('postgres', q{SET ROLE bank_role; SELECT * FROM public.consent}, on_error_stop => 0);
like($err, qr/permission denied/, 'the peer role cannot read the consent register');

# A permit without authorised_by serves every key, as before.
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('firms', 'bank_role', 'psi')});
is($bank->safe_psql('postgres',
		q{SELECT pg_catalog.count(*) FROM pgpriv.psi('gov', 'firms', 'SELECT code FROM public.asked')}),
	'40', 'permit again without authorised_by: all 40 asked keys are in the dataset');

done_testing();
