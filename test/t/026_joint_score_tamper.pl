# joint_score against a modified peer: malformed and out-of-order messages
# sent to gov's serving functions as the peer role directly, and a tampering
# owner (database "tamper") whose serve_mpc_flight is wrapped by a PL/pgSQL
# function that corrupts its input or its reply.
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
# 5. Malformed and out-of-order messages
# ---------------------------------------------------------------------------
my $as_peer = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_role password=pw_bank";
{
	my ($rc, $out, $err) = $gov->psql('postgres', q{SELECT pgpriv.serve_mpc_flight('nosuchrun', '\x00'::bytea)},
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:/, 'as the peer role: a flight for a run that is not open, one byte (08P01)');
	# A well-formed flight (type 26, items: step 0 of 1 step, one empty step).
	my $msg = unpack('H*', pack('C C N N', 1, 26, 2, 0) . pack('N', 8) . pack('N N', 0, 1) . pack('N', 0));
	($rc, $out, $err) = $gov->psql('postgres', qq{SELECT pgpriv.serve_mpc_flight('nosuchrun', '\\x$msg'::bytea)},
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:/, 'as the peer role: a well-formed flight for a run that is not open (08P01)');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT 1', connstr => $as_peer);
	is($out, '1', 'control: the peer role logs in and runs queries on gov');
}

# The tampering owner: database "tamper" on gov, whose serve_mpc_flight is a
# wrapper around the real one, corrupting call number at_call as the
# control row says.  Every call is counted per run; replies are kept for
# the replay case; each applied tampering is written to the server log.
$gov->safe_psql('tamper', q{
	CREATE TABLE public.tamper_ctl (case_id int, mode text, at_call int);
	INSERT INTO public.tamper_ctl VALUES (0, 'none', 0);
	CREATE TABLE public.tamper_calls (rid text PRIMARY KEY, calls int NOT NULL, case_id int);
	CREATE TABLE public.tamper_prev (rid text PRIMARY KEY, reply bytea);
	CREATE TABLE public.tamper_log (case_id int, n int, first_step bigint, steps bigint, msg_len int, reply_len int, reply_md5 text);
	ALTER FUNCTION pgpriv.serve_mpc_flight(text, bytea) RENAME TO real_mpc_flight;
	CREATE FUNCTION pgpriv.serve_mpc_flight(run text, msg bytea) RETURNS bytea
	  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	  DECLARE
	    c record;
	    n int;
	    m bytea := msg;
	    r bytea;
	    p bytea;
	    mid int;
	  BEGIN
	    SELECT t.case_id, t.mode, t.at_call INTO c FROM public.tamper_ctl AS t;
	    INSERT INTO public.tamper_calls AS k (rid, calls, case_id) VALUES (run, 1, c.case_id)
	      ON CONFLICT (rid) DO UPDATE SET calls = k.calls + 1 RETURNING k.calls INTO n;
	    IF c.mode = 'flip_step' AND n = c.at_call THEN
	      RAISE LOG 'pgpriv-tamper case % applied % at call %', c.case_id, c.mode, n;
	      m := set_byte(m, 17, get_byte(m, 17) # 1);
	    END IF;
	    r := pgpriv.real_mpc_flight(run, m);
	    INSERT INTO public.tamper_log VALUES (c.case_id, n,
	      CASE WHEN length(msg) >= 22 THEN (get_byte(msg, 14)::bigint << 24) + (get_byte(msg, 15) << 16) + (get_byte(msg, 16) << 8) + get_byte(msg, 17) END,
	      CASE WHEN length(msg) >= 22 THEN (get_byte(msg, 18)::bigint << 24) + (get_byte(msg, 19) << 16) + (get_byte(msg, 20) << 8) + get_byte(msg, 21) END,
	      length(msg), length(r), md5(r));
	    IF c.mode = 'replay' THEN
	      SELECT x.reply INTO p FROM public.tamper_prev AS x WHERE x.rid = run;
	      INSERT INTO public.tamper_prev AS x (rid, reply) VALUES (run, r)
	        ON CONFLICT (rid) DO UPDATE SET reply = EXCLUDED.reply;
	    END IF;
	    IF n = c.at_call AND c.mode NOT IN ('flip_step', 'none') THEN
	      RAISE LOG 'pgpriv-tamper case % applied % at call % (reply of % bytes)', c.case_id, c.mode, n, length(r);
	      mid := length(r) / 2;
	      r := CASE c.mode
	        WHEN 'truncate' THEN substr(r, 1, length(r) - 1 - length(r) / 4)
	        WHEN 'flip_type' THEN set_byte(r, 1, get_byte(r, 1) # 1)
	        WHEN 'flip_mid' THEN set_byte(r, mid, get_byte(r, mid) # 4)
	        WHEN 'replay' THEN p
	        WHEN 'null' THEN NULL
	        WHEN 'empty' THEN ''::bytea
	        ELSE r END;
	    END IF;
	    RETURN r;
	  END $$;
});
{
	my $tq = 'SELECT code, income, has_loan FROM applicants WHERE id <= 100 ORDER BY id';
	my $want = model([ @apps[ 0 .. 99 ] ], $main_local, \%w_main);
	my $t = median_threshold($want);
	my $sql_for = sub {
		my ($peer, $thr) = @_;
		return js_sql($peer, 'scores', $tq, $w_main_json, $thr ? fmt4($t) : undef);
	};
	my $digest = sub {
		my ($peer, $thr) = @_;
		return js_digest($peer, 'scores', $tq, $w_main_json, $thr ? fmt4($t) : undef);
	};
	my $nrows = scalar(@$want);
	# References from the real owner, checked against the model.
	my (%ref, %ref_lines);
	for my $thr (0, 1) {
		my $got = run_lines($bank, $sql_for->('gov', $thr), 'tamper reference');
		check_run('reference run for the tampering cases' . ($thr ? ' (threshold)' : ''), $got, $want, $thr ? $t : undef);
		$ref_lines{$thr} = $got;
		($ref{$thr}) = $bank->safe_psql('postgres', $digest->('gov', $thr)) =~ /^digest:(\w+)$/;
	}
	my $case = 0;
	my %calls;
	my $set_case = sub {
		my ($mode, $at) = @_;
		$case++;
		$gov->safe_psql('tamper', "UPDATE public.tamper_ctl SET case_id = $case, mode = '$mode', at_call = $at");
	};
	my $calls_of_case = sub {
		return $gov->safe_psql('tamper', "SELECT coalesce(max(calls), 0) FROM public.tamper_calls WHERE case_id = $case");
	};
	# Controls: the wrapper passes an honest run through unchanged.
	my %md5;
	for my $thr (0, 1) {
		$set_case->('none', 0);
		my ($rc, $out, $err) = vpsql($bank, $digest->('tamper', $thr), on_error_stop => 0, timeout => 300);
		is($err, '', 'tamper control' . ($thr ? ' (threshold)' : '') . ': the wrapped owner serves an honest run');
		is(($out =~ /^digest:(\w+)$/m)[0], $ref{$thr}, 'tamper control' . ($thr ? ' (threshold)' : '') . ': same result as the real owner');
		$calls{$thr} = $calls_of_case->();
		note("flights per run (100 rows" . ($thr ? ', threshold' : '') . "): $calls{$thr}; call:first step:steps:msg bytes:reply bytes:reply md5 = "
			  . $gov->safe_psql('tamper', "SELECT string_agg(concat_ws(':', n, first_step, steps, msg_len, reply_len, left(reply_md5, 8)), ' ' ORDER BY n)
			   FROM public.tamper_log WHERE case_id = $case"));
		$md5{$thr} = [ undef, split /\n/, $gov->safe_psql('tamper', "SELECT reply_md5 FROM public.tamper_log WHERE case_id = $case ORDER BY n") ];
	}
	cmp_ok($calls{0}, '>=', 1, 'the asker calls serve_mpc_flight');
	my ($n0, $n1) = ($calls{0}, $calls{1});
	my $mid0 = int(($n0 + 1) / 2);
	my @cases = (
		[ 'flip_step', 1,     0, 'the first flight\'s step index changed (out of order)' ],
		[ 'flip_step', $n0,   0, 'the last flight\'s step index changed' ],
		[ 'flip_step', $n1,   1, 'the last flight\'s step index changed (threshold)' ],
		[ 'truncate',  1,     0, 'the first reply truncated' ],
		[ 'truncate',  $n0,   0, 'the last reply truncated' ],
		[ 'truncate',  int(($n1 + 1) / 2), 1, 'a middle reply truncated (threshold)' ],
		[ 'flip_type', 1,     0, 'the first reply\'s message type changed' ],
		[ 'flip_type', $n1,   1, 'the last reply\'s message type changed (threshold)' ],
		[ 'null',      1,     0, 'the first reply NULL' ],
		[ 'null',      $n0,   0, 'the last reply NULL' ],
		[ 'empty',     1,     0, 'the first reply empty' ],
		[ 'empty',     $n1,   1, 'the last reply empty (threshold)' ],
	);
	push @cases, [ 'flip_step', 2, 0, 'the second flight\'s step index changed' ] if $n0 >= 2;
	# Replays where the replayed reply differs from the real one.
	for my $thr (0, 1) {
		my @diff = grep { $md5{$thr}[$_] ne $md5{$thr}[ $_ - 1 ] } 2 .. $#{ $md5{$thr} };
		my %seen;
		for my $n (grep { defined && !$seen{$_}++ } @diff[ 0, -1 ]) {
			push @cases, [ 'replay', $n, $thr, "the reply of flight " . ($n - 1) . " replayed for flight $n" . ($thr ? ' (threshold)' : '') ];
		}
	}
	# A flipped payload byte may decode (a wrong result) or not (08P01).
	my @payload = ([ 'flip_mid', 1, 0, 'a payload byte of the first reply flipped' ],
		[ 'flip_mid', $mid0, 0, 'a payload byte of a middle reply flipped' ],
		[ 'flip_mid', $n0, 0, 'a payload byte of the last reply flipped' ],
		[ 'flip_mid', $n1, 1, 'a payload byte of the last reply flipped (threshold)' ]);
	for my $c (@cases, @payload) {
		my ($mode, $at, $thr, $what) = @$c;
		my $payload = $mode eq 'flip_mid';
		$set_case->($mode, $at);
		my ($rc, $out, $err) = vpsql($bank,
			"SELECT 'pid:' || pg_backend_pid();\n" . $sql_for->('tamper', $thr) . ";\n"
			  . "SELECT 'pid:' || pg_backend_pid();\nSELECT 'alive:' || 1;\n" . $digest->('gov', $thr) . ";\n",
			on_error_stop => 0, timeout => 300);
		my $applied = $gov->log_contains(qr/pgpriv-tamper case $case applied \Q$mode\E at call $at\b/);
		ok($applied, "tampering owner, $what: the tampering was applied (case $case)");
		if ($payload) {
			my $result = () = $out =~ /^[0-9a-f]*\|/mg;
			ok($err =~ /ERROR:\s+08P01:/ || ($err eq '' && $result == $nrows),
				"tampering owner, $what: 08P01 or a result") or diag("stderr: $err");
			note("$what: " . ($err =~ /08P01/ ? '08P01' : "a result of $result rows"));
		}
		else {
			like($err, qr/ERROR:\s+08P01:/, "tampering owner, $what: SQLSTATE 08P01")
			  or diag('stdout (start): ' . substr($out, 0, 200));
		}
		my ($detail) = $err =~ /ERROR:\s+08P01:\s*(.*)/;
		note("case $case ($mode at $at): " . ($detail // 'no error'));
		if ($err !~ /ERROR/) {
			my @rows = grep { /^[0-9a-f]*\|/ } split /\n/, $out;
			my $differ = grep { $rows[$_] ne ($ref_lines{$thr}[$_] // '') } 0 .. $#rows;
			note("case $case ($mode at $at) returned a result: " . ($differ ? "$differ of " . scalar(@rows) . ' rows differ from the honest result' : 'the honest result'));
		}
		my @pids = $out =~ /^pid:(\d+)$/mg;
		ok(@pids == 2 && $pids[0] == $pids[1] && $out =~ /^alive:1$/m,
			"tampering owner, $what: the bank's backend is alive (SELECT 1)");
		is(($out =~ /^digest:(\w+)$/m)[0], $ref{$thr}, "tampering owner, $what: the next honest run against gov works");
	}
	$set_case->('none', 0);
	my ($rc, $out, $err) = vpsql($bank, $digest->('tamper', 0), on_error_stop => 0, timeout => 300);
	is(($out =~ /^digest:(\w+)$/m)[0], $ref{0}, 'after all cases the wrapped owner serves an honest run again');
}
ok(!$bank->log_contains(qr/terminated by signal/), 'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');


note(sprintf('total time %.1f s', time - $t_start));
done_testing();
