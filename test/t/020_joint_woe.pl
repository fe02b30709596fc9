# joint_woe (issue #11, part 4): weight of evidence and information value of
# the bureau's columns against the bank's labels.  The bank's labels never
# leave it in clear (encrypted, with a proof of being 0 or 1); the bureau's
# values never leave it (only quantile edges and per-bin counts).
#
# Reference: a plaintext model in this file joins the two tables, cuts each
# column at the documented quantiles and counts events per bin; WOE and IV
# follow from the counts by the documented formula.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(sum0);
use lib 'test/tools';
use PgprivTest;

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
pgpriv_setup($_) for ($gov, $bank);
my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);

# The bureau: 300 firms; tax paid with ties, an age that is NULL for two of
# the bank's firms (a bin below min_group), and two firms listed twice.
my (%tax, %age);
for my $i (1 .. 300) {
	my $k = sprintf('F%03d', $i);
	$tax{$k} = 1000 + ($i * 7919) % 97 * 10;
	$age{$k} = $i % 23;
}
$age{'F005'} = undef;
$age{'F010'} = undef;
my @dups = ('F007', 'F008');
my $rows = join(",\n", map { "('$_', $tax{$_}, " . ($age{$_} // 'NULL') . ')' } sort keys %tax);
$rows .= ",\n" . join(",\n", map { "('$_', 1, 1)" } @dups);
$gov->safe_psql('postgres', qq{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE ROLE other_bank LOGIN PASSWORD 'pw';
	CREATE TABLE public.firms (code text, tax numeric, age integer, secret integer DEFAULT 7);
	INSERT INTO public.firms (code, tax, age) VALUES $rows;
	SELECT pgpriv.publish('firms', 'SELECT code, tax, age, secret FROM public.firms', 'code');
	SELECT pgpriv.permit('firms', 'bank_role', 'train', '{tax,age}', min_group => 3);
	SELECT pgpriv.permit('firms', 'bank_role', 'psi');
});

# The bank: 180 borrowers, 150 known to the bureau (F001..F150) and 30 not
# (X001..X030); a default label following the tax paid, with noise; two
# borrowers without a label.
my %label;
for my $i (1 .. 150) {
	my $k = sprintf('F%03d', $i);
	$label{$k} = ($tax{$k} < 1400 ? 1 : 0) ^ ($i % 11 == 0 ? 1 : 0);
}
$label{ sprintf('X%03d', $_) } = $_ % 2 for 1 .. 30;
my $loans = join(",\n", map {
	my $v = ($_ eq 'F149' || $_ eq 'F150') ? 'NULL' : ($label{$_} ? 'true' : 'false');
	"('$_', $v)"
} sort keys %label);
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.loans (code text, defaulted boolean);
	INSERT INTO public.loans VALUES $loans;
});

# --- the plaintext model -------------------------------------------------
my %dup = map { $_ => 1 } @dups;
my @train = grep { exists $tax{$_} && !$dup{$_} && $_ ne 'F149' && $_ ne 'F150' } sort keys %label;
my $events_total = sum0(map { $label{$_} } @train);
my $non_total = @train - $events_total;

sub model
{
	my ($col, $bins, $min_group, @edges) = @_;
	my %val = $col eq 'tax' ? %tax : %age;
	my @have = grep { defined $val{$_} } @train;
	my @sorted = sort { $a <=> $b } map { $val{$_} } @have;
	if (!@edges) {
		for my $q (1 .. $bins - 1) {
			my $i = int($q * @sorted / $bins);
			$i = $#sorted if $i > $#sorted;
			push @edges, $sorted[$i] if !@edges || $sorted[$i] > $edges[-1];
		}
		pop @edges if @edges && $edges[-1] >= $sorted[-1];
	}
	my (@n, @e);
	for my $k (@train) {
		my $b = 0;
		if (defined $val{$k}) {
			$b = 1;
			$b++ while $b <= @edges && $val{$k} > $edges[ $b - 1 ];
		}
		$n[$b]++;
		$e[$b] += $label{$k};
	}
	my @out;
	for my $b (0 .. @edges + 1) {
		my $rows = $n[$b] // 0;
		next if $rows == 0;
		my $lower = $b <= 1 ? '' : $edges[ $b - 2 ];
		my $upper = ($b == 0 || $b == @edges + 1) ? '' : $edges[ $b - 1 ];
		if ($rows < $min_group) {
			push @out, join('|', $col, $b, $lower, $upper, '', '', '', '', '');
			next;
		}
		my $ev = $e[$b] // 0;
		my $ne = $rows - $ev;
		my $de = ($ev || 0.5) / $events_total;
		my $dn = ($ne || 0.5) / $non_total;
		my $woe = log($dn / $de);
		push @out, join('|', $col, $b, $lower, $upper, $rows, $ev, $ne, sprintf('%.9f', $woe),
			sprintf('%.9f', ($dn - $de) * $woe));
	}
	return @out;
}

my $q = q{SELECT column_name, bin, lower, upper, rows, events, non_events,
                 pg_catalog.round(woe::numeric, 9), pg_catalog.round(iv::numeric, 9)
            FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, defaulted FROM public.loans', 'defaulted', %s)
           ORDER BY 1, 2};
my $got = $bank->safe_psql('postgres', sprintf($q, q{'{"bins": 4}'}));
my @want = (model('age', 4, 3), model('tax', 4, 3));
note("joint_woe, 4 bins:\n$got");
is($got, join("\n", @want), 'per column and bin: edges, rows, events, non-events, WOE and IV match the plaintext model');
like($got, qr/^age\|0\|\|\|\|\|\|\|$/m, 'the bin of the 2 rows without an age (below min_group 3) is withheld');

$got = $bank->safe_psql('postgres', sprintf($q, q{'{"bins": 10, "columns": ["tax"]}'}));
is($got, join("\n", model('tax', 10, 3)), 'ten bins of one named column match the model');

$got = $bank->safe_psql('postgres', sprintf($q, q{'{"bins": 3, "edges": {"tax": [1200, 1500.5]}}'}));
is($got, join("\n", model('age', 3, 3), model('tax', 3, 3, 1200, 1500.5)),
	'edges given for one column are used as given; the other column gets quantile bins');

my $total_iv = $bank->safe_psql('postgres', q{
	SELECT pg_catalog.round(pg_catalog.sum(iv)::numeric, 6)
	  FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, defaulted::int AS y FROM public.loans', 'y')
	 WHERE column_name = 'tax'});
my @tax10 = map { [ split /\|/, $_, -1 ] } model('tax', 10, 3);
is($total_iv, sprintf('%.6f', sum0(map { $_->[8] eq '' ? 0 : $_->[8] } @tax10)),
	'an integer 0/1 label works; the default of 10 bins gives the model\'s total IV');

# --- what the asker may not do ---------------------------------------------
sub fails_with
{
	my ($node, $sql, $state, $what) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql", on_error_stop => 0);
	like($err, qr/ERROR:\s+$state/, $what) or diag($err);
	return $err;
}
my $call = q{SELECT * FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, defaulted FROM public.loans', %s)};
fails_with($bank, sprintf($call, q{'defaulted', '{"columns": ["secret"]}'}), '42501', 'a column outside the permit is refused by the owner');
fails_with($bank, sprintf($call, q{'defaulted', '{"bins": 1}'}), '22023', 'one bin is refused');
fails_with($bank, sprintf($call, q{'defaulted', '{"bin": 4}'}), '22023', 'an unknown option is refused');
fails_with($bank, sprintf($call, q{'nope'}), '42703', 'a label column keys_query lacks is refused');
fails_with($bank, sprintf($call, q{'defaulted', '{"edges": {"tax": [5, 3]}}'}), '22023', 'edges that do not increase are refused');
fails_with($bank, sprintf($call, q{'defaulted', '{"columns": ["age"], "edges": {"tax": [5]}}'}), '22023', 'edges of a column not binned are refused');
fails_with($bank, q{SELECT * FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, 2 AS y FROM public.loans', 'y')},
	'22023', 'a label other than 0/1 is refused before anything is sent');
fails_with($bank, q{SELECT * FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, defaulted FROM public.loans WHERE code < ''F003''', 'defaulted')},
	'42501', 'fewer matched rows than min_group: refused by the owner');

# --- audit: both sides, and no label or value in any row ---------------------
my $owner_audit = $gov->safe_psql('postgres',
	q{SELECT outcome, keys_in, keys_out FROM pgpriv.audit WHERE capability = 'train' AND side = 'owner' AND outcome = 'ok' ORDER BY id LIMIT 1});
is($owner_audit, 'ok|178|' . scalar(@train), 'the owner audits the run: rows asked and rows matched');
my $asker_audit = $bank->safe_psql('postgres',
	q{SELECT outcome, keys_in, keys_out FROM pgpriv.audit WHERE capability = 'train' AND side = 'asker' AND outcome = 'ok' ORDER BY id LIMIT 1});
is($asker_audit, 'ok|178|' . scalar(@train), 'the asker audits the run');
my $details = $gov->safe_psql('postgres', q{SELECT pg_catalog.string_agg(detail, ' ') FROM pgpriv.audit WHERE capability = 'train'})
  . $bank->safe_psql('postgres', q{SELECT pg_catalog.string_agg(detail, ' ') FROM pgpriv.audit WHERE capability = 'train'});
unlike($details, qr/true|false|defaulted|F0\d\d/, 'no label, label column or key in any audit detail');

# --- a modified asker, from psql on the bureau ------------------------------
# Terms: 4 bins of column tax (no edges given); the asker's key: the generator's encoding;
# one row whose ciphertext is (G, G) — an encryption of 1 under a key whose
# secret is 1, or of anything else under other keys — with random scalars
# as its proof.
my $g = 'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76';
sub msg
{
	my ($type, @items) = @_;
	return sprintf('%02x%02x%08x%08x', 1, $type, scalar(@items), 0) . join('', map { sprintf('%08x', length($_) / 2) . $_ } @items);
}
my $terms = msg(28, sprintf('%08x%08x', 4, 1), unpack('H*', 'tax'), '');
my $begin = msg(28, sprintf('%08x%08x', 4, 1), unpack('H*', 'tax'), '', $g);
my $fake_proof = join('', map { sprintf('%02x', ($_ * 37) % 97) } 1 .. 96) . ('00' x 32);
my $row = msg(29, $g . $g . $fake_proof . unpack('H*', 'F001'));
my $err = fails_with($gov, qq{
	\\c postgres bank_role
	SELECT * FROM pgpriv.serve_version('0.2.0', 2);
	CALL pgpriv.serve_admit('firms', 'train', 'attack1', 1, '\\x$terms');
	SELECT pgpriv.serve_woe_begin('firms', 'attack1', '\\x$begin');
	SELECT pgpriv.serve_woe_push('attack1', '\\x$row');
}, '08P01', 'a label whose proof does not verify is refused (08P01)');
like($err, qr/proof does not verify/, '... and the error says so');
$err = fails_with($gov, qq{
	\\c postgres bank_role
	SELECT * FROM pgpriv.serve_version('0.2.0', 2);
	CALL pgpriv.serve_admit('firms', 'train', 'attack2', 1, '\\x$terms');
	SELECT pgpriv.serve_woe_finish('attack2');
}, '08P01', 'a finish without begin is refused');
like($err, qr/No train run "attack2" is open/, '... because no run is open (the terms were admitted)');
fails_with($gov, qq{
	\\c postgres other_bank
	SELECT * FROM pgpriv.serve_version('0.2.0', 2);
	CALL pgpriv.serve_admit('firms', 'train', 'attack3', 1, '\\x$terms');
}, '42501', 'a role without a train permit is refused at admission');

done_testing();
