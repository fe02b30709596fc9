# joint_train (issue #11): vertical logistic regression of the bank's labels
# on the bureau's columns and the bank's own, on secret shares.
#
# Synthetic credit data: the label follows a known logistic model of three
# bureau columns and two bank columns (drawn with a fixed seed).  The model
# joint_train returns is scored on a holdout THROUGH joint_score with the
# returned jsonb as it is; its AUC must be within 0.01 of a plaintext
# logistic regression (Newton–IRLS, in this file) trained on the same
# joined rows.  Then every error path, the audit rows, and a wire capture.
use strict;
use warnings;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;

test_seed(20261203);

my $gov  = PostgreSQL::Test::Cluster->new('gov');
my $bank = PostgreSQL::Test::Cluster->new('bank');
pgpriv_setup($_) for ($gov, $bank);
my $gov_port = $gov->port;
my $gov_pins = pinned_keys($gov);

sub gauss { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()); }
sub r4 { return sprintf('%.4f', $_[0]); }

# --- data ---------------------------------------------------------------------
my $NTRAIN = 1600;
my $NHOLD = 800;
my (%x, %b, %y);
for my $i (1 .. $NTRAIN + $NHOLD) {
	my $k = sprintf('F%05d', $i);
	$x{$k} = [ r4(10 + 3 * gauss()), r4(50 + 8 * gauss()), r4(2 * gauss()) ];
	$b{$k} = [ r4(5 + 2 * gauss()), r4(500 + 100 * gauss()) ];
	my $z = -0.3 + 0.35 * ($x{$k}[0] - 10) - 0.1 * ($x{$k}[1] - 50) + 0.5 * $x{$k}[2]
	  + 0.4 * ($b{$k}[0] - 5) + 0.006 * ($b{$k}[1] - 500);
	$y{$k} = rand() < 1 / (1 + exp(-$z)) ? 1 : 0;
}
# Keys the bureau cannot answer: one listed twice, two with a NULL, ten unknown.
my %dup = ('F00007' => 1);
my %nullx = ('F00011' => 1, 'F00012' => 1);
my @unknown = map { sprintf('X%05d', $_) } 1 .. 10;
my @train_keys = map { sprintf('F%05d', $_) } 1 .. $NTRAIN;
my @hold_keys = map { sprintf('F%05d', $_) } $NTRAIN + 1 .. $NTRAIN + $NHOLD;

my $firms = join(",\n", map {
	my $k = $_;
	"('$k', $x{$k}[0], " . ($nullx{$k} ? 'NULL' : $x{$k}[1]) . ", $x{$k}[2])"
} sort keys %x);
$firms .= ",\n('F00007', 1, 1, 1)";
$gov->safe_psql('postgres', qq{
	CREATE ROLE bank_role LOGIN PASSWORD 'pw';
	CREATE TABLE public.firms (code text, x1 numeric, x2 numeric, x3 numeric, secret integer DEFAULT 7);
	INSERT INTO public.firms (code, x1, x2, x3) VALUES $firms;
	SELECT pgpriv.publish('firms', 'SELECT code, x1, x2, x3, secret FROM public.firms', 'code');
	SELECT pgpriv.permit('firms', 'bank_role', 'train', '{x1,x2,x3}', min_group => 50);
	SELECT pgpriv.permit('firms', 'bank_role', 'mpc', '{x1,x2,x3}');
});
my $loans = join(",\n", map { "('$_', " . ($y{$_} ? 'true' : 'false') . ", $b{$_}[0], $b{$_}[1])" } @train_keys);
$loans .= ",\n" . join(",\n", map { "('$_', true, 5, 500)" } @unknown);
my $hold = join(",\n", map { "('$_', $b{$_}[0], $b{$_}[1])" } @hold_keys);
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'postgres', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov OPTIONS (user 'bank_role', password 'pw');
	CREATE TABLE public.loans (code text, defaulted boolean, b1 numeric, b2 numeric);
	INSERT INTO public.loans VALUES $loans;
	CREATE TABLE public.holdout (code text, b1 numeric, b2 numeric);
	INSERT INTO public.holdout VALUES $hold;
});

# --- the plaintext reference: logistic regression by Newton–IRLS ---------------
my @usable = grep { !$dup{$_} && !$nullx{$_} } @train_keys;
sub features { my $k = shift; return [ 1, @{ $x{$k} }, @{ $b{$k} } ]; }
sub solve
{
	my ($A, $v) = @_;
	my $n = @$v;
	my @M = map { [ @{ $A->[$_] }, $v->[$_] ] } 0 .. $n - 1;
	for my $c (0 .. $n - 1) {
		my ($p) = sort { abs($M[$b][$c]) <=> abs($M[$a][$c]) } $c .. $n - 1;
		@M[ $c, $p ] = @M[ $p, $c ];
		for my $r (0 .. $n - 1) {
			next if $r == $c;
			my $f = $M[$r][$c] / $M[$c][$c];
			$M[$r][$_] -= $f * $M[$c][$_] for $c .. $n;
		}
	}
	return [ map { $M[$_][$n] / $M[$_][$_] } 0 .. $n - 1 ];
}
my @beta = (0) x 6;
for my $it (1 .. 25) {
	my @H = map { [ (0) x 6 ] } 1 .. 6;
	my @g = (0) x 6;
	for my $k (@usable) {
		my $f = features($k);
		my $z = 0;
		$z += $beta[$_] * $f->[$_] for 0 .. 5;
		my $p = 1 / (1 + exp(-$z));
		for my $i (0 .. 5) {
			$g[$i] += ($y{$k} - $p) * $f->[$i];
			$H[$i][$_] += $p * (1 - $p) * $f->[$i] * $f->[$_] for 0 .. 5;
		}
	}
	my $d = solve(\@H, \@g);
	$beta[$_] += $d->[$_] for 0 .. 5;
}
note('reference model: ' . join(' ', map { sprintf('%.4f', $_) } @beta));

sub auc
{
	my ($score) = @_;			# key => score, over the holdout
	my @k = sort { $score->{$a} <=> $score->{$b} } keys %$score;
	my ($rank, $sum_pos, $npos) = (0, 0, 0);
	for my $i (0 .. $#k) {
		if ($y{ $k[$i] }) { $sum_pos += $i + 1; $npos++; }
	}
	my $nneg = @k - $npos;
	return ($sum_pos - $npos * ($npos + 1) / 2) / ($npos * $nneg);
}
my %ref_score;
for my $k (@hold_keys) {
	my $f = features($k);
	$ref_score{$k} = 0;
	$ref_score{$k} += $beta[$_] * $f->[$_] for 0 .. 5;
}
my $auc_ref = auc(\%ref_score);

# --- joint_train, then joint_score with its result as it is -------------------
my $train_sql = q{SELECT pgpriv.joint_train('gov', 'firms', 'SELECT code, defaulted, b1, b2 FROM public.loans', 'defaulted', %s)};
my $t0 = time;
my ($rc, $model, $err) = $bank->psql('postgres', sprintf($train_sql, q{'{"epochs": 20, "batch_size": 64, "learning_rate": 0.5}'}));
note(sprintf('joint_train took %.2f s', time - $t0));
is($rc, 0, 'joint_train runs') or diag($err);
like($err, qr/trained on ${\ scalar(@usable)} rows; 13 of the keys asked had no usable row/,
	'the notice counts the training rows and the keys left out (unknown, listed twice, NULL)');
note("model: $model");
my %w = $model =~ /"(\w+)": (-?[\d.e+-]+)/g;
is(join(',', sort keys %w), 'b1,b2,intercept,x1,x2,x3', 'the model names the peer\'s columns, the own ones and the intercept');

my $scored = $bank->safe_psql('postgres', qq{
	SELECT key || '|' || score FROM pgpriv.joint_score('gov', 'firms',
	  'SELECT code, b1, b2, 1 AS intercept FROM public.holdout', '$model')});
my %score = map { split /\|/ } split /\n/, $scored;
is(scalar(keys %score), $NHOLD, 'joint_score scores every holdout row with the returned jsonb as it is');
my $maxdiff = 0;
for my $k (@hold_keys) {
	my $s = $w{intercept} + $w{x1} * $x{$k}[0] + $w{x2} * $x{$k}[1] + $w{x3} * $x{$k}[2]
	  + $w{b1} * $b{$k}[0] + $w{b2} * $b{$k}[1];
	$maxdiff = abs($s - $score{$k}) if abs($s - $score{$k}) > $maxdiff;
}
cmp_ok($maxdiff, '<', 0.01, sprintf('joint_score\'s score is the model\'s log-odds, intercept included (max difference %.2g)', $maxdiff));
my $auc_mpc = auc(\%score);
note(sprintf('holdout AUC: joint_train %.4f, plaintext IRLS %.4f', $auc_mpc, $auc_ref));
cmp_ok(abs($auc_mpc - $auc_ref), '<', 0.01, sprintf('holdout AUC within 0.01 of plaintext logistic regression (%.4f vs %.4f)', $auc_mpc, $auc_ref));
cmp_ok($auc_mpc, '>', 0.75, 'and the model is a real one');
my @signs = map { $w{$_} > 0 ? '+' : '-' } qw(x1 x2 x3 b1 b2);
is(join('', @signs), '+-+++', 'every weight has the sign of the true model');

# Only bureau columns, full batch, l2: still a model.
my $m2 = $bank->safe_psql('postgres', sprintf(
	q{SELECT pgpriv.joint_train('gov', 'firms', 'SELECT code, defaulted::int AS y FROM public.loans', 'y', %s)},
	q{'{"features": ["x1", "x3"], "batch_size": 0, "epochs": 30, "l2": 0.01, "intercept": "one", "feature_bits": 10}'}));
like($m2, qr/^\{"x1": [\d.e-]+, "x3": [\d.e-]+, "one": -?[\d.e-]+\}$/, 'features option, no own column, an intercept named "one"');

# --- audit ---------------------------------------------------------------------
is($gov->safe_psql('postgres', q{SELECT outcome || '|' || keys_in || '|' || keys_out FROM pgpriv.audit WHERE capability = 'train' AND side = 'owner' AND outcome = 'ok' ORDER BY id LIMIT 1}),
	'ok|' . ($NTRAIN + 10) . '|' . scalar(@usable), 'the owner audits the run: keys asked, training rows');
is($bank->safe_psql('postgres', q{SELECT outcome || '|' || keys_in || '|' || keys_out FROM pgpriv.audit WHERE capability = 'train' AND side = 'asker' AND outcome = 'ok' ORDER BY id LIMIT 1}),
	'ok|' . ($NTRAIN + 10) . '|' . scalar(@usable), 'the asker audits the run');
my $details = $gov->safe_psql('postgres', q{SELECT pg_catalog.string_agg(detail, ' ') FROM pgpriv.audit WHERE capability = 'train'})
  . $bank->safe_psql('postgres', q{SELECT pg_catalog.string_agg(detail, ' ') FROM pgpriv.audit WHERE capability = 'train'});
my $wtext = join('|', map { quotemeta(substr($_, 0, 6)) } grep { length($_) >= 6 } values %w);
unlike($details, qr/defaulted|true|false|F0\d{4}|$wtext/, 'no label, key or weight in any audit detail');

# --- errors ----------------------------------------------------------------------
my $call = q{SELECT pgpriv.joint_train('gov', 'firms', 'SELECT code, defaulted FROM public.loans', %s)};
fails_with($bank, sprintf($call, q{'defaulted', '{"features": ["secret"]}'}), '42501', undef, 'a column outside the permit is refused by the owner');
fails_with($bank, q{SELECT pgpriv.joint_train('gov', 'nothing', 'SELECT code, defaulted FROM public.loans', 'defaulted')},
	'42501', undef, 'no permit on the dataset');
fails_with($bank, q{SELECT pgpriv.joint_train('gov', 'firms', 'SELECT code, defaulted FROM public.loans WHERE code < ''F00040''', 'defaulted')},
	'42501', qr/min_group/, 'fewer training rows than min_group: refused by the owner');
fails_with($bank, q{SELECT pgpriv.joint_train('gov', 'firms', 'SELECT code, 2 AS y FROM public.loans', 'y')},
	'22023', undef, 'a label other than 0/1');
fails_with($bank, q{SELECT pgpriv.joint_train('gov', 'firms', 'SELECT code, NULLIF(defaulted, true) AS y FROM public.loans', 'y')},
	'22004', undef, 'a NULL label');
fails_with($bank, sprintf($call, q{'nope'}), '42703', undef, 'a label column keys_query lacks');
fails_with($bank, sprintf($call, q{'defaulted', '{"epochs": 0}'}), '22023', undef, 'epochs 0');
fails_with($bank, sprintf($call, q{'defaulted', '{"learning_rate": "fast"}'}), '22023', undef, 'a learning rate that is not a number');
fails_with($bank, sprintf($call, q{'defaulted', '{"epoch": 3}'}), '22023', undef, 'an unknown option');
fails_with($bank, sprintf($call, q{'defaulted', '{"feature_bits": 40}'}), '22023', undef, 'feature_bits out of range');
fails_with($bank, sprintf($call, q{'defaulted', '{"intercept": "x1"}'}), '22023', undef, 'an intercept named as a peer column');

# A modified asker, from psql on the bureau: a step out of the schedule, and a finish before the end.
sub msg
{
	my ($type, @items) = @_;
	return sprintf('%02x%02x%08x%08x', 1, $type, scalar(@items), 0) . join('', map { sprintf('%08x', length($_) / 2) . $_ } @items);
}
my $head = sprintf('%08x' x 6, 1, 0, 8, 1, 64, 64) . unpack('H*', pack('d>', 0.5)) . unpack('H*', pack('d>', 0)) . ('00' x 8);
my $terms = msg(31, $head, unpack('H*', 'x1'));
my $begin = msg(31, $head, unpack('H*', 'x1'), map { unpack('H*', sprintf('F%05d', $_)) } 1 .. 60);
my $step = msg(33, sprintf('%08x' x 4, 3, 0, 0, 60), '', '');
fails_with($gov, qq{
	\\c postgres bank_role
	@{[ version_exchange() ]}
	CALL pgpriv.serve_admit('firms', 'train', 'attack1', 60, '\\x$terms');
	SELECT pgpriv.serve_train_begin('firms', 'attack1', '\\x$begin') IS NOT NULL;
	SELECT pgpriv.serve_train_step('attack1', '\\x$step');
}, '08P01', qr/out of its schedule/, 'a step out of the owner\'s schedule is refused');
fails_with($gov, qq{
	\\c postgres bank_role
	@{[ version_exchange() ]}
	CALL pgpriv.serve_admit('firms', 'train', 'attack2', 60, '\\x$terms');
	SELECT pgpriv.serve_train_begin('firms', 'attack2', '\\x$begin') IS NOT NULL;
	SELECT pgpriv.serve_train_finish('attack2');
}, '08P01', qr/before its last step/, 'a finish before the last step is refused: no weight share leaves');
fails_with($gov, qq{
	\\c postgres bank_role
	@{[ version_exchange() ]}
	CALL pgpriv.serve_admit('firms', 'train', 'attack3', 60, '\\x$terms');
	SELECT pgpriv.serve_train_begin('firms', 'attack3', '\\x$begin') IS NOT NULL;
	SELECT pgpriv.serve_train_begin('firms', 'attack3', '\\x$begin') IS NOT NULL;
}, '08P01', qr/begun already/, 'a second begin of the run is refused');

# --- peer lost, cancel ------------------------------------------------------------
my $long = sprintf($train_sql, q{'{"epochs": 1000, "batch_size": 16}'});
my $mid = q{SELECT count(*) = 1 FROM pgpriv.progress WHERE capability = 'joint_train' AND phase LIKE 'asker: two-party%' AND done >= 3};
my $gov_quiet = q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_role' AND state = 'active'};
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost: no serving session busy on gov');
	my $bg = bg_psql($bank, "SELECT 'pid:' || pg_backend_pid();\n$long;\nSELECT 'pid:' || pg_backend_pid();\n", 'bg_jt_lost');
	ok(wait_for($bank, $mid, 60), 'peer lost: the run is training');
	ok($gov->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE usename = 'bank_role' AND application_name = 'pgpriv'}) >= 1, 'peer lost: gov\'s serving backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:/, 'peer lost: the bank gets a class 08 error') or diag("stdout: $out");
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost: the bank\'s backend survives');
	# Earlier failed runs of this file are on record already: wait for this one's row.
	like(audit_failed($bank, q{capability = 'train' AND outcome LIKE 'failed: peer lost%'}), qr/^failed: peer lost \(08\d\d\d\)$/,
		'peer lost: the asker audits the run as failed');
}
{
	ok(wait_for($gov, $gov_quiet, 30), 'cancel: no serving session busy on gov');
	my $bg = bg_psql($bank, "SELECT 'pid:' || pg_backend_pid();\n$long;\nSELECT 'after:' || 1;\n", 'bg_jt_cancel');
	ok(wait_for($bank, $mid, 60), 'cancel: the run is training');
	my $t1 = time;
	is($bank->safe_psql('postgres', q{SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bg_jt_cancel'}),
		'1', 'cancel: pg_cancel_backend sent to the bank backend');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+57014:/, 'cancel: the run ends with SQLSTATE 57014') or diag("stdout: $out");
	cmp_ok(time - $t1, '<=', 5.0, 'cancel: it returns promptly');
	like($out, qr/^after:1$/m, 'cancel: the session goes on');
	ok(wait_for($gov, $gov_quiet, 15), 'cancel: gov stops serving the cancelled run');
}

# --- the wire: no label, feature or weight in the clear ------------------------------
my ($relay, $relay_port, $capture) = capture_relay($gov);
$bank->safe_psql('postgres', qq{
	CREATE SERVER gov_cap FOREIGN DATA WRAPPER pgpriv OPTIONS (host '127.0.0.1', port '$relay_port', dbname 'postgres', sslmode 'disable', $gov_pins);
	CREATE USER MAPPING FOR CURRENT_USER SERVER gov_cap OPTIONS (user 'bank_role', password 'pw');
});
my $mcap = $bank->safe_psql('postgres', q{SELECT pgpriv.joint_train('gov_cap', 'firms', 'SELECT code, defaulted, b1, b2 FROM public.loans', 'defaulted', '{"epochs": 2}')});
$relay->kill_kill;
my $cap = $capture->();
cmp_ok(length($cap), '>', 100000, sprintf('the capture holds the run (%d bytes)', length($cap)));
like($cap, qr/F00001/, 'control: the keys are in the capture (joint_train sends them, as joint_score does)');
my %wc = $mcap =~ /"(\w+)": (-?[\d.e+-]+)/g;
my @pat;
for my $k (@train_keys[ 0 .. 199 ]) {
	push @pat, [ "bank feature of $k", $_ ] for @{ $b{$k} };
	push @pat, [ "bureau feature of $k", $_ ] for @{ $x{$k} };
}
my $found = '';
for my $p (@pat) {
	my $v = $p->[1];
	my $enc = int($v * 65536 + ($v < 0 ? -0.5 : 0.5));
	for my $needle ($v, pack('q<', $enc), pack('q>', $enc)) {
		next if length($needle) < 5;
		$found .= "$p->[0] ($v); " if index($cap, $needle) >= 0;
	}
}
for my $n (keys %wc) {
	my $v = $wc{$n};
	my $enc = int($v * 65536 + ($v < 0 ? -0.5 : 0.5));
	for my $needle (substr($v, 0, 8), pack('q<', $enc), pack('q>', $enc)) {
		$found .= "weight $n; " if length($needle) >= 6 && index($cap, $needle) >= 0;
	}
}
is($found, '', 'no feature value of either side (text, or fixed point at 2^16, 8 bytes either order) nor any weight is on the wire');
my $labels = pack('b*', join('', map { $y{$_} } @train_keys));
ok(index($cap, substr($labels, 0, 16)) < 0 && index($cap, 'defaulted') < 0, 'the labels (packed in key order) and the label column are not on the wire');

for my $node ($gov, $bank) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', $node->name . ': the audit chain verifies');
}
ok(!$bank->log_contains(qr/terminated by signal/), 'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');
done_testing();
