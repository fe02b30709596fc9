# joint_score: the errors a user sees and their SQLSTATEs, values the owner
# cannot encode, the max_keys budget (each row one key), a peer lost mid-run
# and a cancel (120 000 rows with a threshold).
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;
use ScoreFixture;

my $t_start = time;
# gov and bank, random data, its plain model and the main weights (test/tools/ScoreFixture.pm).
score_fixture();

# ---------------------------------------------------------------------------
# 4. Errors
# ---------------------------------------------------------------------------
my $small_q = 'SELECT code, income, has_loan FROM applicants WHERE id <= 50 ORDER BY id';
for my $c ([ '[1, 2]', 'weights an array' ], [ '"f1"', 'weights a string' ], [ '3', 'weights a number' ],
	[ '{"f1": "1.5"}', 'a weight that is a string' ], [ '{"f1": null}', 'a weight that is null' ],
	[ '{"f1": true}', 'a weight that is a boolean' ], [ '{"f1": {"x": 1}}', 'a weight that is an object' ],
	[ '{"income": 1.5, "has_loan": 2}', 'no peer column' ], [ '{}', 'no names at all' ]) {
	fails_with($bank, js_sql('gov', 'scores', $small_q, $c->[0]), '22023', undef, $c->[1]);
}
fails_with($bank, js_sql('gov', 'scores', $small_q, undef), '22023', undef, 'NULL weights');
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 8192.5}'), '22003', qr/f1/, 'weight 8192.5', secrets => ['8192.5']);
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1, "income": -8192}'), '22003', qr/income/, 'weight -8192');
fails_with($bank, js_sql('gov', 'scores', 'SELECT code, 9000.2468 AS big FROM applicants WHERE id <= 5', '{"f1": 1, "big": 1}'),
	'22003', qr/big/, 'a local feature of 9000.2468', secrets => ['9000.2468']);
fails_with($bank, js_sql('gov', 'scores', $small_q, $w_main_json, '1000000000000'), '22003', undef,
	'a threshold too large for the exact comparison');
fails_with($bank, js_sql('gov', 'scores', $small_q, $w_main_json, "'NaN'"), '22023', qr/NaN/,
	'a NaN threshold');
fails_with($bank, js_sql('gov', 'scores', 'DELETE FROM applicants RETURNING code', '{"f1": 1}'), '42809',
	qr/single SELECT/, 'a keys_query that modifies data');
is($bank->safe_psql('postgres', q{SELECT count(*) FROM applicants}) > 0 ? 'kept' : 'gone', 'kept',
	'the refused keys_query changed nothing');
{
	# Keys the owner has no row for: all NULL, and no computation at all.
	my $lines = run_lines($bank, js_sql('gov', 'scores', q{SELECT 'nobody-' || id FROM applicants WHERE id <= 7},
		'{"f1": 1}'), 'keys the owner does not have');
	is(scalar(grep { /^[^|]*\|N\|N$/ } @$lines), 7, 'keys the owner does not have: 7 rows, score and flag NULL');
	like($gov->safe_psql('postgres', q{SELECT outcome || ' ' || keys_in || ' ' || keys_out FROM pgpriv.audit
		WHERE capability = 'mpc' AND side = 'owner' ORDER BY id DESC LIMIT 1}), qr/^ok 7 0$/,
		'keys the owner does not have: the owner completes the run at once (7 keys, 0 usable)');
	my ($rc, $out, $err) = vpsql($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1, "f2": 1e-9}'), on_error_stop => 0, timeout => 300);
	like($err, qr/WARNING:.*f2.*rounds to zero/, 'a weight below the resolution gives a warning naming it');
}
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1.5, "secret": 2.5}'), '42501', qr/scores/,
	'a peer column outside the permit');
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"nosuchcolumn": 1.5}'), '42501', qr/scores/,
	'a peer column the dataset does not have');
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"code": 1.5}'), '42501', qr/scores/,
	'the key column named as a weight (the first column is not a feature)');
fails_with($bank, js_sql('gov', 'psi_only', $small_q, '{"f1": 1.5}'), '42501', qr/(?=.*psi_only)(?=.*mpc)/,
	'a dataset with a psi permit only (names dataset and capability)');
$gov->safe_psql('postgres', q{SELECT pgpriv.revoke_permit('scores', 'bank_role', 'mpc')});
fails_with($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1.5}'), '42501', qr/(?=.*scores)(?=.*mpc)/,
	'after revoke_permit (names dataset and capability)');
fails_with($bank, q{SELECT * FROM pgpriv.mpc_selftest('gov', 'scores', 100, 10)}, '42501', qr/scores/,
	'mpc_selftest after revoke_permit');
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('scores', 'bank_role', 'mpc', '{f1,f2,f3,f4,f5,f6}')});
is(scalar(@{ run_lines($bank, js_sql('gov', 'scores', $small_q, '{"f1": 1.5}'), 'permitted again') }),
	50, 'permitted again: the run works');

# Owner values that cannot be encoded: the owner refuses, naming the column
# and never the value.
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('badtext', 'SELECT code, f1::text AS ftxt FROM public.features UNION ALL SELECT ''BADKEY-1'', ''n/a-73915''', 'code');
	SELECT pgpriv.permit('badtext', 'bank_role', 'mpc', '{ftxt}');
	SELECT pgpriv.publish('bigval', 'SELECT code, f1 FROM public.features UNION ALL SELECT ''BIGKEY-1'', 9123.4567', 'code');
	SELECT pgpriv.permit('bigval', 'bank_role', 'mpc', '{f1}');
});
fails_with($bank, js_sql('gov', 'badtext', q{SELECT code FROM applicants WHERE id <= 20 UNION ALL SELECT 'BADKEY-1'}, '{"ftxt": 2.5}'),
	'22P02', qr/ftxt/, 'an owner value that is not a number', secrets => ['n/a-73915', '73915']);
is(scalar(@{ run_lines($bank, js_sql('gov', 'badtext', 'SELECT code FROM applicants WHERE id <= 20', '{"ftxt": 2.5}'),
			'badtext control') }), 20, 'control: the numeric text of that column is accepted');
fails_with($bank, js_sql('gov', 'bigval', q{SELECT code FROM applicants WHERE id <= 20 UNION ALL SELECT 'BIGKEY-1'}, '{"f1": 2.5}'),
	'22003', qr/f1/, 'an owner value of 9123.4567', secrets => ['9123.4567']);

# The max_keys budget: each row counts as one key.
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('budget', 'SELECT code, f1 FROM public.features', 'code');
	SELECT pgpriv.permit('budget', 'bank_role', 'mpc', '{f1}', max_keys => 100);
});
$bank->safe_psql('postgres', q{CREATE TABLE bkeys AS SELECT g AS id, 'BUD-' || g AS code FROM generate_series(1, 200) g});
my $used = q{SELECT coalesce(sum(keys_used), 0) FROM pgpriv.budgets
	WHERE dataset = 'budget' AND peer_role = 'bank_role' AND capability = 'mpc' AND day = CURRENT_DATE};
my $bq = sub { my ($lo, $hi, $dup) = @_;
	return "SELECT code FROM bkeys WHERE id BETWEEN $lo AND $hi UNION ALL SELECT code FROM bkeys WHERE id BETWEEN $lo AND " . ($lo + $dup - 1); };
is(scalar(@{ run_lines($bank, js_sql('gov', 'budget', $bq->(1, 50, 10), '{"f1": 1.5}'), 'budget: 60 rows') }), 60,
	'budget: 60 rows (10 duplicated) within max_keys 100');
is($gov->safe_psql('postgres', $used), '60', 'budget: charged one key per row (60)');
fails_with($bank, js_sql('gov', 'budget', $bq->(51, 81, 10), '{"f1": 1.5}'), '54000', qr/max_keys/,
	'41 more rows exceed max_keys 100');
is($gov->safe_psql('postgres', $used), '60', 'budget: the refused run charged nothing');
is(scalar(@{ run_lines($bank, js_sql('gov', 'budget', $bq->(51, 80, 10), '{"f1": 1.5}'), 'budget: 40 more') }), 40,
	'budget: 40 more rows fill it exactly');
is($gov->safe_psql('postgres', $used), '100', 'budget: used up');
is(scalar(lines($bank->safe_psql('postgres', q{SELECT part FROM pgpriv.mpc_selftest('gov', 'budget', 1000, 100)}))), 4,
	'mpc_selftest works on a dataset whose budget is used up');
is($gov->safe_psql('postgres', $used), '100', 'mpc_selftest charges no keys');

# ---------------------------------------------------------------------------
# 6. Peer lost mid-run, and a cancel (120 000 rows with a threshold: a few
#    seconds, long enough to be caught in the middle on a fast machine)
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	CREATE TABLE public.big AS
	  SELECT 'B-' || g AS code,
	         ((g * 7919) % 20001 - 10000) / 10.0 AS c1, ((g * 104729) % 20001 - 10000) / 100.0 AS c2,
	         ((g * 31) % 1001 - 500) / 4.0 AS c3, (g % 2 = 0) AS c4,
	         round(((g * 613) % 16001 - 8000) / 3.0, 4) AS c5, (g % 977)::int AS c6,
	         ((g * 17) % 2001 - 1000) / 8.0 AS c7, round(((g * 7) % 3001) / 7.0, 4) AS c8
	    FROM generate_series(1, 120000::bigint) g;
	SELECT pgpriv.publish('big', 'SELECT code, c1, c2, c3, c4, c5, c6, c7, c8 FROM public.big', 'code');
	SELECT pgpriv.permit('big', 'bank_role', 'mpc', '{c1,c2,c3,c4,c5,c6,c7,c8}');
});
$bank->safe_psql('postgres', q{CREATE TABLE big_apps AS SELECT g AS id, 'B-' || g AS code FROM generate_series(1, 120000) g});
my $big_sql = q{SELECT count(*) FROM pgpriv.joint_score('gov', 'big', 'SELECT code FROM big_apps',
	'{"c1": 0.5, "c2": -1.25, "c3": 2, "c4": -3.5, "c5": 0.125, "c6": 0.01, "c7": -0.75, "c8": 1.5}', 12.5)};
my $again_sql = q{SELECT 'again:' || count(score) FROM pgpriv.joint_score('gov', 'scores', 'SELECT code FROM applicants', '{"f1": 1.5}')};
my $again_want = scalar(grep { !$_->{null} } @{ model(\@apps, sub { {} }, { f1 => 15000 }) });
my $gov_quiet = q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_role'};
my $bank_running = q{SELECT count(*) = 1 FROM pgpriv.progress WHERE capability = 'joint_score' AND dataset = 'big'};
# Mid-run: the asker is in the two-party computation and has done some of its steps.
my $bank_mid = q{SELECT count(*) = 1 FROM pgpriv.progress WHERE capability = 'joint_score' AND dataset = 'big'
	 AND phase LIKE 'asker: two-party%' AND done >= 3};
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost: no earlier serving session is left on gov');
	my $bg = bg_psql($bank, "SELECT 'pid:' || pg_backend_pid();\n$big_sql;\nSELECT 'pid:' || pg_backend_pid();\n$again_sql;\n",
		'bg_js_lost');
	ok(wait_for($bank, $bank_running, 60), 'peer lost: pgpriv.progress shows the run (capability joint_score)');
	ok(wait_for($bank, $bank_mid, 60), 'peer lost: the run is in its two-party computation');
	note('asker progress: ' . $bank->safe_psql('postgres', q{SELECT concat_ws('|', phase, done, total, bytes_in, bytes_out) FROM pgpriv.progress}));
	ok(wait_for($gov, q{SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'bank_role'
		 AND application_name = 'pgpriv' AND state = 'active'}, 60), 'peer lost: gov is serving the run');
	is($gov->safe_psql('postgres', q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE usename = 'bank_role' AND application_name = 'pgpriv'}), '1', 'peer lost: gov\'s serving backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:/, 'peer lost: the bank gets a class 08 error') or diag("stdout: $out");
	unlike($out, qr/^\d+$/m, 'peer lost: no result');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost: the bank\'s backend survives');
	is(($out =~ /^again:(\d+)$/m)[0], $again_want, 'peer lost: the next run in the same session works and is right');
	is($bank->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'peer lost: no progress row left');
	is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'asker' AND dataset = 'big' AND outcome = 'ok'}),
		'0', 'peer lost: no asker audit row claims the lost run');
	like(audit_failed($bank, q{dataset = 'big'}), qr/^failed: peer lost/, 'peer lost: the asker audits the run as failed: peer lost');
}
{
	ok(wait_for($gov, $gov_quiet, 30), 'cancel: no earlier serving session is left on gov');
	my $bg = bg_psql($bank, "SELECT 'pid:' || pg_backend_pid();\n$big_sql;\nSELECT 'pid:' || pg_backend_pid();\nSELECT 'after:' || 1;\n$again_sql;\n",
		'bg_js_cancel');
	ok(wait_for($bank, $bank_mid, 60), 'cancel: the run is in its two-party computation');
	note('asker progress: ' . $bank->safe_psql('postgres', q{SELECT concat_ws('|', phase, done, total, bytes_in, bytes_out) FROM pgpriv.progress}));
	usleep(300_000);
	my $t1 = time;
	is($bank->safe_psql('postgres', q{SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bg_js_cancel'}),
		'1', 'cancel: pg_cancel_backend sent to the bank backend');
	my ($out, $err) = bg_finish($bg);
	my $elapsed = time - $t1;
	like($err, qr/ERROR:\s+57014:/, 'cancel: the run ends with SQLSTATE 57014') or diag("stdout: $out");
	cmp_ok($elapsed, '<=', 3.0, sprintf('cancel: it returns promptly (%.3f s)', $elapsed));
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1] && $out =~ /^after:1$/m, 'cancel: the session goes on');
	is(($out =~ /^again:(\d+)$/m)[0], $again_want, 'cancel: a new run in the same session works and is right');
	ok(wait_for($gov, q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_role' AND state = 'active'}, 15),
		'cancel: gov stops serving the cancelled run');
	is($bank->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log WHERE side = 'asker' AND dataset = 'big' AND outcome = 'ok'}),
		'0', 'cancel: no asker audit row claims the cancelled run');
	# The lost run's row is on record already: wait for the cancelled one's, then read both.
	audit_failed($bank, q{dataset = 'big' AND outcome LIKE 'failed: cancelled%'});
	like(audit_failed($bank, q{dataset = 'big'}), qr/failed: peer lost[^;]*;failed: cancelled \(57014\)$/,
		'cancel: the asker audits the cancelled run as failed: cancelled (after the lost one)');
}

for my $node ($gov, $bank) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't', $node->name . ': the audit chain verifies');
}
ok(!$bank->log_contains(qr/terminated by signal/), 'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');

note(sprintf('total time %.1f s', time - $t_start));
done_testing();
