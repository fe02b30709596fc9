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

# --- consent: a train permit with authorised_by serves only consented keys,
# and a withdrawal is in force from the next run
$gov->safe_psql('postgres', q{
	CREATE TABLE public.consent (code text, bank_role name, purpose text);
	INSERT INTO public.consent SELECT 'F' || pg_catalog.lpad(i::text, 3, '0'), 'bank_role', 'train'
	  FROM pg_catalog.generate_series(1, 100) AS i;
	SELECT pgpriv.publish('firms_c', 'SELECT code, tax, age FROM public.firms', 'code');
	SELECT pgpriv.permit('firms_c', 'bank_role', 'train', '{tax}', min_group => 3,
	  authorised_by => 'SELECT c.code FROM public.consent AS c WHERE c.bank_role = $1 AND c.purpose = $2');
});
my $cq = q{SELECT column_name, bin, lower, upper, rows, events, non_events,
                  pg_catalog.round(woe::numeric, 9), pg_catalog.round(iv::numeric, 9)
             FROM pgpriv.joint_woe('gov', 'firms_c', 'SELECT code, defaulted FROM public.loans', 'defaulted', '{"bins": 4}')
            ORDER BY 1, 2};
{
	my @all = @train;
	@train = grep { my ($n) = /F(\d+)/; defined $n && $n <= 100 } @all;
	($events_total, $non_total) = (sum0(map { $label{$_} } @train), 0);
	$non_total = @train - $events_total;
	is($bank->safe_psql('postgres', $cq), join("\n", model('tax', 4, 3)),
		'consent: only the consented training rows are binned and counted');
	$gov->safe_psql('postgres', q{DELETE FROM public.consent WHERE code <= 'F050'});
	@train = grep { my ($n) = /F(\d+)/; defined $n && $n > 50 && $n <= 100 } @all;
	$events_total = sum0(map { $label{$_} } @train);
	$non_total = @train - $events_total;
	is($bank->safe_psql('postgres', $cq), join("\n", model('tax', 4, 3)),
		'consent withdrawn for 50 firms: the next run leaves them out');
	@train = @all;
	$events_total = sum0(map { $label{$_} } @train);
	$non_total = @train - $events_total;
}

# --- receipts: both sides sign the run, and each verifies with public keys only
my $run = $bank->safe_psql('postgres',
	q{SELECT run_id FROM pgpriv.audit WHERE side = 'asker' AND capability = 'train' AND outcome = 'ok' ORDER BY id DESC LIMIT 1});
my %sk = map { $_->name => $_->safe_psql('postgres', q{SELECT pg_catalog.encode(signing_key, 'hex') FROM pgpriv.identity_card()}) } ($gov, $bank);
for my $n ($bank, $gov) {
	is($n->safe_psql('postgres', qq{
		SELECT pgpriv.verify_receipt(pgpriv.receipt('$run'), '\\x$sk{bank}')
		   AND pgpriv.verify_receipt(pgpriv.receipt('$run'), '\\x$sk{gov}')
		   AND (SELECT pg_catalog.count(DISTINCT s->>'transcript') = 1 AND pg_catalog.count(*) = 2
		          FROM pg_catalog.jsonb_array_elements(pgpriv.receipt('$run')->'statements') AS s)}),
		't', $n->name . ": the train run's receipt holds both statements, verifying with both keys, one transcript digest");
}
unlike($gov->safe_psql('postgres', qq{SELECT pgpriv.receipt('$run')::text}), qr/true|false|defaulted/,
	'no label in the receipt');

# --- what the asker may not do ---------------------------------------------
my $call = q{SELECT * FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, defaulted FROM public.loans', %s)};
fails_with($bank, sprintf($call, q{'defaulted', '{"columns": ["secret"]}'}), '42501', undef, 'a column outside the permit is refused by the owner');
fails_with($bank, sprintf($call, q{'defaulted', '{"bins": 1}'}), '22023', undef, 'one bin is refused');
fails_with($bank, sprintf($call, q{'defaulted', '{"bin": 4}'}), '22023', undef, 'an unknown option is refused');
fails_with($bank, sprintf($call, q{'nope'}), '42703', undef, 'a label column keys_query lacks is refused');
fails_with($bank, sprintf($call, q{'defaulted', '{"edges": {"tax": [5, 3]}}'}), '22023', undef, 'edges that do not increase are refused');
fails_with($bank, sprintf($call, q{'defaulted', '{"columns": ["age"], "edges": {"tax": [5]}}'}), '22023', undef, 'edges of a column not binned are refused');
fails_with($bank, q{SELECT * FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, 2 AS y FROM public.loans', 'y')},
	'22023', undef, 'a label other than 0/1 is refused before anything is sent');
fails_with($bank, q{SELECT * FROM pgpriv.joint_woe('gov', 'firms', 'SELECT code, defaulted FROM public.loans WHERE code < ''F003''', 'defaulted')},
	'42501', undef, 'fewer matched rows than min_group: refused by the owner');

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
fails_with($gov, qq{
	\\c postgres bank_role
	@{[ version_exchange() ]}
	CALL pgpriv.serve_admit('firms', 'train', 'attack1', 1, '\\x$terms');
	SELECT pgpriv.serve_woe_begin('firms', 'attack1', '\\x$begin');
	SELECT pgpriv.serve_woe_push('attack1', '\\x$row');
}, '08P01', qr/proof does not verify/, 'a label whose proof does not verify is refused');
fails_with($gov, qq{
	\\c postgres bank_role
	@{[ version_exchange() ]}
	CALL pgpriv.serve_admit('firms', 'train', 'attack2', 1, '\\x$terms');
	SELECT pgpriv.serve_woe_finish('attack2');
}, '08P01', qr/No train run "attack2" is open/, 'a finish without begin is refused (the terms were admitted)');
fails_with($gov, qq{
	\\c postgres other_bank
	@{[ version_exchange() ]}
	CALL pgpriv.serve_admit('firms', 'train', 'attack3', 1, '\\x$terms');
}, '42501', undef, 'a role without a train permit is refused at admission');

# --- a lying owner: look-alike serving functions in database liar -----------
# serve_woe_finish answers one column, "tax", with edge 100 and three bins;
# the label sums are built from the asker's own key PK (taken from the begin
# message): (G, PK) decrypts to 0, (G, G) to G − PK, no small count.
my $liar_pins = liar_database($gov, 'liar');
$gov->safe_psql('liar', qq{
	CREATE TABLE public.liar_mode (mode text);
	INSERT INTO public.liar_mode VALUES ('zero');
	GRANT SELECT ON public.liar_mode TO PUBLIC;
	CREATE TABLE public.liar_pk (pk bytea);
	GRANT SELECT, INSERT, DELETE ON public.liar_pk TO PUBLIC;
	CREATE FUNCTION public.u32(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(v), 8, '0'), 'hex') \$\$;
	CREATE FUNCTION public.u64(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(v), 16, '0'), 'hex') \$\$;
	CREATE FUNCTION public.item(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT public.u32(length(b)) || b \$\$;
	GRANT USAGE ON SCHEMA pgpriv TO PUBLIC;
	CREATE PROCEDURE pgpriv.serve_admit(dataset text, capability text, run text, nkeys bigint, terms bytea)
	  LANGUAGE plpgsql AS \$\$ BEGIN NULL; END \$\$;
	CREATE FUNCTION pgpriv.serve_columns(dataset text, capability text) RETURNS text[]
	  LANGUAGE sql AS \$\$ SELECT '{tax}'::text[] \$\$;
	CREATE FUNCTION pgpriv.serve_woe_begin(dataset text, run text, msg bytea) RETURNS integer
	  LANGUAGE plpgsql AS \$\$
	  BEGIN
	    DELETE FROM public.liar_pk;
	    INSERT INTO public.liar_pk VALUES (substr(msg, length(msg) - 31, 32));
	    PERFORM set_config('liar.rows', '0', false);
	    RETURN 1000;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_woe_push(run text, msg bytea) RETURNS bigint LANGUAGE plpgsql AS \$\$
	  DECLARE n bigint := current_setting('liar.rows')::bigint
	                      + ('x' || encode(substr(msg, 3, 4), 'hex'))::bit(32)::bigint;
	  BEGIN
	    PERFORM set_config('liar.rows', n::text, false);
	    RETURN n;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_woe_finish(run text) RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := (SELECT mode FROM public.liar_mode);
	    pk bytea := (SELECT pk FROM public.liar_pk);
	    g bytea := decode('$g', 'hex');
	    zero bytea := g || pk;
	    junk bytea := g || g;
	    head bytea;
	    bins bytea;
	  BEGIN
	    head := public.u64(CASE m WHEN 'too_many_matched' THEN 100000 ELSE 3 END) || public.u64(0) || zero;
	    bins := public.item(public.u64(0) || '\\x00'::bytea || decode(repeat('00', 64), 'hex'))
	         || public.item(public.u64(CASE m WHEN 'rows_exceed' THEN 3 ELSE 1 END) || '\\x00'::bytea
	                        || CASE m WHEN 'sum_junk' THEN junk ELSE zero END)
	         || public.item(public.u64(2) || '\\x00'::bytea || zero);
	    RETURN '\\x01'::bytea || '\\x1e'::bytea || public.u32(CASE m WHEN 'missing_bin' THEN 5 ELSE 6 END) || public.u32(0)
	      || public.item(CASE m WHEN 'head_short' THEN substr(head, 1, 79) ELSE head END)
	      || public.item(convert_to(CASE m WHEN 'wrong_column' THEN 'age' ELSE 'tax' END, 'UTF8'))
	      || public.item(convert_to(CASE m WHEN 'edges_bad' THEN E'100\\n50' ELSE '100' END, 'UTF8'))
	      || CASE m WHEN 'missing_bin' THEN substr(bins, 1, 2 * 77) ELSE bins END;
	  END \$\$;
});
$bank->safe_psql('postgres', qq{
	CREATE SERVER liar FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'liar', $liar_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER liar OPTIONS (user 'bank_role', password 'pw');
});
my $lq = q{SELECT column_name, bin, rows, events FROM pgpriv.joint_woe('liar', 'firms', 'SELECT code, defaulted FROM public.loans', 'defaulted', '{"columns": ["tax"]}') ORDER BY bin};
is($bank->safe_psql('postgres', $lq), "tax|1|1|0\ntax|2|2|0",
	'a lying owner whose answer adds up is believed (it can always lie about its data): counts of 0 events');
for my $lie (qw(too_many_matched rows_exceed sum_junk missing_bin head_short wrong_column edges_bad)) {
	$gov->safe_psql('liar', "UPDATE public.liar_mode SET mode = '$lie'");
	fails_with($bank, $lq, '08P01', undef, "a lying owner ($lie) is refused");
}

done_testing();
