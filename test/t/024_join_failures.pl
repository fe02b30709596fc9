# Blinded join: failures.  gov serves bank_a: the progress view while the
# owner builds its table, the owner's backend lost mid-run (table build and
# evaluation), a cancel while waiting for the owner (also inside a caught
# subtransaction), and a lying peer whose serving functions return
# malformed messages.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/tools';
use PgprivTest;
use JoinFixture;

# gov serves bank_a and bank_b; random data and its plain model (test/tools/JoinFixture.pm).
join_fixture();

# ---------------------------------------------------------------------------
# 5. Peer lost mid-run; 6. cancel mid-run; 8. progress
# ---------------------------------------------------------------------------
# A dataset whose query waits: the owner is slow while it builds its table.
$gov->safe_psql('postgres', q{
	CREATE TABLE public.slow_conf (secs float8);
	INSERT INTO public.slow_conf VALUES (0);
	CREATE FUNCTION public.slow_gate() RETURNS boolean LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_sleep((SELECT secs FROM public.slow_conf)); RETURN true; END $$;
	SELECT pgpriv.publish('slow_ds', 'SELECT code, grade FROM public.tax WHERE (SELECT public.slow_gate())', 'code');
	SELECT pgpriv.permit('slow_ds', 'bank_a_role', 'psi');
	SELECT pgpriv.publish('lost_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('lost_ds', 'bank_a_role', 'psi');
});
my $gov_serving = q{SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE usename = 'bank_a_role' AND application_name = 'pgpriv' AND state = 'active'
	   AND query LIKE '%serve_psi_table%'};
my $kill_serving = q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	 WHERE usename = 'bank_a_role' AND application_name = 'pgpriv'};
# Before a run whose serving backend is to be killed: the backends of earlier
# sessions are gone, so the only one left is the run's.
my $gov_quiet = q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'bank_a_role'};

# 8. Progress while the owner builds its table.
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 4');
{
	my $bg = bg_psql($bank_a, $psi_sql->('gov', 'slow_ds', $small_q) . ";\n", 'bg_progress');
	ok(wait_for($gov, $gov_serving, 60), 'progress: the owner is serving the slow run');
	ok(wait_for($bank_a, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE capability = 'psi' AND peer = 'gov' AND dataset = 'slow_ds' AND phase LIKE 'asker:%'}, 10),
		'progress: the asker shows a row for the running psi');
	my $row = $bank_a->safe_psql('postgres', q{SELECT phase || '|' || done || '|' || coalesce(total::text, '') || '|' || keys
		 FROM pgpriv.progress WHERE dataset = 'slow_ds'});
	note("asker progress: $row");
	my %d;
	my $ndistinct = grep { defined $_ && !$d{$_}++ } @small_keys;
	like($row, qr/\|$ndistinct$/, "progress: the asker row counts the run's $ndistinct distinct keys");
	ok(wait_for($gov, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE role = 'bank_a_role' AND dataset = 'slow_ds' AND phase LIKE 'owner:%'}, 10),
		'progress: the owner shows a row for the table it builds');
	note('owner progress: ' . $gov->safe_psql('postgres', q{SELECT phase || '|' || done || '|' || total FROM pgpriv.progress}));
	my ($out, $err) = bg_finish($bg);
	is($err, '', 'progress: the slow run succeeds');
	is(scalar(lines($out)), scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }), 'progress: the slow run is correct');
	is($bank_a->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'progress: no asker row after the run');
	is($gov->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'progress: no owner row after the run');
}

# 5a. The owner's backend is terminated while it builds the table.
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 60');
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost (table build): no earlier serving session is left');
	my $bg = bg_psql($bank_a, qq{SELECT 'pid:' || pg_backend_pid();
		@{[ $psi_sql->('gov', 'slow_ds', $small_q) ]};
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'again:' || count(*) FROM pgpriv.psi('gov', 'tax', \$q\$$small_q\$q\$);
	}, 'bg_lost1');
	ok(wait_for($gov, $gov_serving, 60), 'peer lost (table build): the owner is serving');
	is($gov->safe_psql('postgres', $kill_serving), '1', 'peer lost (table build): its backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "gov"/, 'peer lost (table build): class 08 error naming the peer');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost (table build): the asker backend survives');
	like($out, qr/^again:\d+$/m, 'peer lost (table build): the next psi in the same session reconnects and works');
	my ($again) = $out =~ /^again:(\d+)$/m;
	is($again, scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }), 'peer lost (table build): and is correct');
	is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE dataset = 'slow_ds' AND side = 'asker' AND outcome = 'ok'}),
		'1', 'peer lost (table build): no asker audit row claims success for the lost run');
	like(audit_failed($bank_a, q{dataset = 'slow_ds'}), qr/^failed: peer lost/,
		'peer lost (table build): the asker audits the lost run as failed');
}
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 0');

# 5b. The owner's backend is terminated while it evaluates the blinded keys,
# after the asker downloaded the table (its cache write must be undone).
$bank_a->safe_psql('postgres', q{
	CREATE TABLE big_keys AS SELECT 'BIG-' || g AS code FROM generate_series(1, 40000) g;
});
{
	ok(wait_for($gov, $gov_quiet, 30), 'peer lost (evaluation): no earlier serving session is left');
	my $bg = bg_psql($bank_a, qq{SELECT 'pid:' || pg_backend_pid();
		SET pgpriv.batch_size = 16;
		SET pgpriv.psi_protocol = 'table';  -- 40 000 keys would run over ot (022 covers that)
		SELECT count(*) FROM pgpriv.psi('gov', 'lost_ds', 'SELECT code FROM big_keys');
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'peer_table:' || count(*) FROM pgpriv.peer_table WHERE dataset = 'lost_ds';
		RESET pgpriv.batch_size;
		SELECT 'again:' || count(*) FROM pgpriv.psi('gov', 'lost_ds', \$q\$$small_q\$q\$);
	}, 'bg_lost2');
	my $in_phase = wait_for($bank_a, q{SELECT count(*) = 1 FROM pgpriv.progress
		 WHERE dataset = 'lost_ds' AND phase LIKE 'asker:%evaluat%' AND done >= 64}, 60);
	ok($in_phase, 'peer lost (evaluation): the asker is in the evaluation phase');
	my $row = $bank_a->safe_psql('postgres', q{SELECT done || '|' || total FROM pgpriv.progress WHERE dataset = 'lost_ds'});
	note("asker progress: $row");
	like($row, qr/^\d+\|40000$/, 'progress: the evaluation phase counts done of all 40000 keys');
	is($gov->safe_psql('postgres', $kill_serving), '1', 'peer lost (evaluation): its backend is terminated');
	my ($out, $err) = bg_finish($bg);
	like($err, qr/ERROR:\s+08\d\d\d:.*peer "gov"/, 'peer lost (evaluation): class 08 error naming the peer');
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'peer lost (evaluation): the asker backend survives');
	like($out, qr/^peer_table:0$/m, 'peer lost (evaluation): no partial table is left in pgpriv.peer_table');
	my ($again) = $out =~ /^again:(\d+)$/m;
	is($again, scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }),
		'peer lost (evaluation): the next psi reconnects and is correct');
	isnt($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.peer_table WHERE dataset = 'lost_ds'}),
		'0', 'control: a successful run does leave the table in pgpriv.peer_table');
	is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit WHERE dataset = 'lost_ds' AND side = 'asker' AND keys_in = 40000 AND outcome = 'ok'}),
		'0', 'peer lost (evaluation): no asker audit row claims success for the lost run');
	like(audit_failed($bank_a, q{dataset = 'lost_ds' AND keys_in = 40000}), qr/^failed: peer lost \(08\d\d\d\)$/,
		'peer lost (evaluation): the asker audits it as failed: peer lost, though its transaction aborted');
	is($bank_a->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'no asker progress row left');
}

# 6. Cancel while waiting for the owner.
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 60');
{
	my $bg = bg_psql($bank_a, qq{SELECT 'pid:' || pg_backend_pid();
		@{[ $psi_sql->('gov', 'slow_ds', $small_q) ]};
		SELECT 'pid:' || pg_backend_pid();
		SELECT 'after:' || 1;
	}, 'bg_cancel');
	ok(wait_for($gov, $gov_serving, 60), 'cancel: the owner is serving');
	usleep(1_000_000);
	my $t0 = time;
	is($bank_a->safe_psql('postgres', q{SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bg_cancel'}),
		'1', 'cancel: pg_cancel_backend sent');
	my ($out, $err) = bg_finish($bg);
	my $elapsed = time - $t0;
	note(sprintf('cancel took %.3f s', $elapsed));
	like($err, qr/ERROR:\s+57014:/, 'cancel: the query ends with SQLSTATE 57014');
	cmp_ok($elapsed, '<=', 2.0, sprintf('cancel: it ends promptly (%.3f s)', $elapsed));
	my @pids = $out =~ /^pid:(\d+)$/mg;
	ok(@pids == 2 && $pids[0] == $pids[1], 'cancel: the asker backend survives');
	like($out, qr/^after:1$/m, 'cancel: the session runs the next query');
	is($bank_a->safe_psql('postgres', 'SELECT count(*) FROM pgpriv.progress'), '0', 'cancel: no progress row left');
	# The asker drops its busy connection and cancels the peer's command.
	ok(wait_for($gov, q{SELECT count(*) = 0 FROM pg_stat_activity
		 WHERE usename = 'bank_a_role' AND state = 'active' AND query LIKE '%serve_psi_table%'}, 10),
		'cancel: the owner stops serving the cancelled run');
	$gov->safe_psql('postgres', $kill_serving);
}
# 6b. A run cancelled inside a subtransaction that the caller's PL/pgSQL
# catches: the connection it left mid-command is dropped when the
# subtransaction aborts, so the next run of the same transaction reconnects
# (instead of finding a command still in progress).
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 5');
{
	my ($ret, $out, $err) = $bank_a->psql('postgres', qq{
		SET statement_timeout = '1500ms';
		DO \$do\$
		DECLARE n bigint;
		BEGIN
			BEGIN
				PERFORM pg_catalog.count(*) FROM pgpriv.psi('gov', 'slow_ds', \$q\$$small_q\$q\$);
			EXCEPTION WHEN query_canceled THEN
				RAISE NOTICE 'caught: cancelled';
			END;
			SELECT pg_catalog.count(*) INTO n FROM pgpriv.psi('gov', 'tax', \$q\$$small_q\$q\$);
			RAISE NOTICE 'again: %', n;
		END \$do\$;
	});
	like($err, qr/caught: cancelled/, 'subtransaction: the cancelled run is caught by the caller');
	my ($again) = $err =~ /again: (\d+)/;
	is($again, scalar(@{ model_join(\@small_keys, \@gov_rows)->{psi} }),
		'subtransaction: the next run of the same transaction reconnects and is correct');
	$gov->safe_psql('postgres', $kill_serving);
}
$gov->safe_psql('postgres', 'UPDATE public.slow_conf SET secs = 0');
is_list([ lines($bank_a->safe_psql('postgres', $psi_sql->('gov', 'slow_ds', $small_q))) ],
	model_join(\@small_keys, \@gov_rows)->{psi}, 'after cancel and lost peers, psi on the same dataset works');

# ---------------------------------------------------------------------------
# 7. A lying peer: database "liar" with pgpriv's identity (it authenticates)
#    but look-alike serving functions that return crafted messages.
# ---------------------------------------------------------------------------
# Values the liar needs, computed with the real primitives: the liar
# "evaluates" with the key 1 (it echoes blinded elements), so its table tags
# are OPRF(1, key)[0..16); for psi_count it masks with b = 1 and counts as
# the real owner does.
my $one = '01' . ('00' x 31);
my ($tag_a) = $gov->safe_psql('postgres',
	qq{SELECT encode(substr(pgpriv.oprf('\\x$one'::bytea, convert_to('LIAR-A', 'UTF8')), 1, 16), 'hex')});
my @owner_pts = sort split /\n/, $gov->safe_psql('postgres',
	q{SELECT encode(pgpriv.hash_to_group(convert_to(k, 'UTF8')), 'hex') FROM unnest('{LIAR-A,LIAR-Z}'::text[]) k});
my $liar_keys_opt = liar_database($gov, 'liar');
$gov->safe_psql('liar', qq{
	CREATE TABLE public.liar_mode (mode text);
	INSERT INTO public.liar_mode VALUES ('ok');
	GRANT SELECT ON public.liar_mode TO PUBLIC;
	CREATE FUNCTION public.u32(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(v), 8, '0'), 'hex') \$\$;
	CREATE FUNCTION public.hdr(ver int, typ int, cnt bigint, size bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
	  AS \$\$ SELECT decode(lpad(to_hex(ver), 2, '0') || lpad(to_hex(typ), 2, '0'), 'hex') || public.u32(cnt) || public.u32(size) \$\$;
	CREATE FUNCTION public.mode() RETURNS text LANGUAGE sql STABLE AS \$\$ SELECT mode FROM public.liar_mode \$\$;
	GRANT USAGE ON SCHEMA pgpriv TO PUBLIC;

	CREATE FUNCTION pgpriv.serve_columns(dataset text, capability text) RETURNS text[]
	  LANGUAGE sql AS \$\$ SELECT CASE WHEN capability = 'psi_fetch' THEN '{grade}'::text[] ELSE '{}'::text[] END \$\$;

	CREATE PROCEDURE pgpriv.serve_admit(dataset text, capability text, run text, nkeys bigint)
	  LANGUAGE plpgsql AS \$\$ BEGIN NULL; END \$\$;

	CREATE FUNCTION pgpriv.serve_psi_table(dataset text, capability text, run text)
	  RETURNS TABLE(version text, entries bigint, chunks integer, columns text[], batch_limit integer)
	  LANGUAGE plpgsql AS \$\$
	  DECLARE m text := public.mode();
	  BEGIN
	    version := md5(m || capability);
	    entries := CASE m WHEN 'table_order' THEN 2 WHEN 'table_count' THEN 2 ELSE 1 END;
	    chunks := 1;
	    columns := CASE WHEN capability = 'psi_fetch' THEN '{grade}'::text[] ELSE '{}'::text[] END;
	    batch_limit := 65536;
	    IF m = 'desc_version' THEN version := 'abc'; END IF;
	    IF m = 'desc_chunks' THEN chunks := 0; END IF;
	    RETURN NEXT;
	  END \$\$;

	CREATE FUNCTION pgpriv.serve_psi_chunk(dataset text, capability text, run text, version text, chunk integer)
	  RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    tag bytea := decode('$tag_a', 'hex');
	    entry bytea := CASE WHEN capability = 'psi_fetch' THEN tag || decode(repeat('ab', 44), 'hex') ELSE tag END;
	  BEGIN
	    RETURN CASE m
	      WHEN 'table_order' THEN public.hdr(1, 3, 2, 0) || public.u32(16) || decode(repeat('ff', 16), 'hex')
	                                                     || public.u32(16) || decode(repeat('00', 16), 'hex')
	      WHEN 'table_short_entry' THEN public.hdr(1, 3, 1, 0) || public.u32(15) || substr(tag, 1, 15)
	      WHEN 'table_huge_length' THEN public.hdr(1, 3, 1, 0) || public.u32(4294967295) || tag
	      WHEN 'table_trailing' THEN public.hdr(1, 3, 1, 0) || public.u32(16) || tag || '\\x00'::bytea
	      WHEN 'table_type' THEN public.hdr(1, 2, 1, 0) || public.u32(16) || tag
	      WHEN 'table_fixed' THEN public.hdr(1, 3, 1, 16) || tag
	      ELSE public.hdr(1, 3, 1, 0) || public.u32(length(entry)) || entry
	    END;
	  END \$\$;

	CREATE FUNCTION pgpriv.serve_oprf(dataset text, capability text, run text, blinded bytea)
	  RETURNS bytea LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    n bigint := (get_byte(blinded, 2)::bigint << 24) + (get_byte(blinded, 3) << 16)
	              + (get_byte(blinded, 4) << 8) + get_byte(blinded, 5);
	    items bytea := substr(blinded, 11);
	  BEGIN
	    RETURN CASE m
	      WHEN 'oprf_truncated' THEN public.hdr(1, 2, n, 32) || substr(items, 1, length(items) - 5)
	      WHEN 'oprf_fewer' THEN public.hdr(1, 2, n - 1, 32) || substr(items, 1, 32 * (n - 1)::int)
	      WHEN 'oprf_more' THEN public.hdr(1, 2, n + 1, 32) || items || substr(items, 1, 32)
	      WHEN 'oprf_invalid_point' THEN public.hdr(1, 2, n, 32) || decode(repeat('ff', 32 * n::int), 'hex')
	      WHEN 'oprf_identity' THEN public.hdr(1, 2, n, 32) || decode(repeat('00', 32 * n::int), 'hex')
	      WHEN 'oprf_version' THEN public.hdr(2, 2, n, 32) || items
	      WHEN 'oprf_type' THEN public.hdr(1, 1, n, 32) || items
	      WHEN 'oprf_item_size' THEN public.hdr(1, 2, n, 33) || items
	      WHEN 'oprf_huge_count' THEN public.hdr(1, 2, 4294967295, 32)
	      WHEN 'oprf_short_header' THEN '\\x0102'::bytea
	      WHEN 'oprf_null' THEN NULL
	      ELSE public.hdr(1, 2, n, 32) || items
	    END;
	  END \$\$;

	CREATE FUNCTION pgpriv.serve_count_begin(dataset text, run text)
	  RETURNS TABLE(batch_limit integer, owner_keys bigint)
	  LANGUAGE plpgsql AS \$\$
	  BEGIN
	    PERFORM set_config('liar.asker', '', false);
	    batch_limit := 65536;
	    owner_keys := CASE public.mode() WHEN 'count_negative' THEN -1 ELSE 2 END;
	    RETURN NEXT;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_push(run text, batch bytea) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  DECLARE buf text := current_setting('liar.asker') || encode(substr(batch, 11), 'hex');
	  BEGIN
	    PERFORM set_config('liar.asker', buf, false);
	    RETURN length(buf) / 64;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_finish(run text) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  BEGIN
	    RETURN CASE public.mode() WHEN 'count_changed' THEN 3 ELSE 2 END;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_pull(run text, part text, start bigint, count integer) RETURNS bytea
	  LANGUAGE plpgsql AS \$\$
	  DECLARE
	    m text := public.mode();
	    p1 bytea := decode('$owner_pts[0]', 'hex');
	    p2 bytea := decode('$owner_pts[1]', 'hex');
	  BEGIN
	    PERFORM set_config('liar.returned', '', false);
	    RETURN CASE m
	      WHEN 'count_unsorted' THEN public.hdr(1, 4, 2, 32) || p2 || p1
	      WHEN 'count_duplicate' THEN public.hdr(1, 4, 2, 32) || p1 || p1
	      WHEN 'count_invalid_point' THEN public.hdr(1, 4, 2, 32) || decode(repeat('fe', 32) || repeat('ff', 32), 'hex')
	      WHEN 'count_type' THEN public.hdr(1, 2, 2, 32) || p1 || p2
	      ELSE public.hdr(1, 4, 2, 32) || p1 || p2
	    END;
	  END \$\$;
	CREATE FUNCTION pgpriv.serve_count_return(run text, batch bytea) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  DECLARE buf text := current_setting('liar.returned') || encode(substr(batch, 11), 'hex');
	  BEGIN
	    PERFORM set_config('liar.returned', buf, false);
	    RETURN length(buf) / 64 + CASE public.mode() WHEN 'count_ack' THEN 1 ELSE 0 END;
	  END \$\$;
	-- The honest count with b = 1: the returned elements a·H(y) that are among the asker's a·H(x).
	CREATE FUNCTION pgpriv.serve_count_result(run text) RETURNS bigint
	  LANGUAGE plpgsql AS \$\$
	  DECLARE
	    asked bytea := decode(current_setting('liar.asker'), 'hex');
	    ret bytea := decode(current_setting('liar.returned'), 'hex');
	    c bigint;
	  BEGIN
	    SELECT count(*) INTO c
	      FROM generate_series(0, length(ret) / 32 - 1) AS i
	     WHERE substr(ret, 1 + 32 * i, 32) IN
	           (SELECT substr(asked, 1 + 32 * j, 32) FROM generate_series(0, length(asked) / 32 - 1) AS j);
	    RETURN CASE public.mode() WHEN 'count_high' THEN 3 ELSE c END;
	  END \$\$;
});
$bank_a->safe_psql('postgres', qq{
	CREATE SERVER liar FOREIGN DATA WRAPPER pgpriv
	  OPTIONS (host '127.0.0.1', port '$gov_port', dbname 'liar', $liar_keys_opt);
	CREATE USER MAPPING FOR CURRENT_USER SERVER liar OPTIONS (user 'bank_a_role', password 'pw_a');
});

my $liar_keys = q{SELECT unnest('{LIAR-A,LIAR-B}'::text[])};
sub liar_case
{
	my ($mode, $sql) = @_;
	$gov->safe_psql('liar', 'UPDATE public.liar_mode SET mode = ' . lit($mode));
	my ($rc, $out, $err) = $bank_a->psql('postgres',
		"SELECT 'pid:' || pg_backend_pid();\n$sql;\nSELECT 'pid:' || pg_backend_pid();\n",
		on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my @pids = $out =~ /^pid:(\d+)$/mg;
	return ($out, $err, @pids == 2 && $pids[0] == $pids[1]);
}

# Controls: the liar's plumbing is right, so each bad case differs from a
# good reply in one thing only.
{
	my ($out, $err, $alive) = liar_case('ok', $psi_sql->('liar', 'x', $liar_keys));
	is($err, '', 'liar control: a well-formed psi reply is accepted');
	like($out, qr/^\Q${\ hexkey('LIAR-A')}\E$/m, 'liar control: psi matches the key the liar\'s table holds');
	unlike($out, qr/^\Q${\ hexkey('LIAR-B')}\E$/m, 'liar control: and not the other');
	($out, $err, $alive) = liar_case('ok', $count_sql->('liar', 'x', $liar_keys));
	is($err, '', 'liar control: a well-formed psi_count reply is accepted');
	like($out, qr/^1$/m, 'liar control: psi_count counts the one common key');
}

my @liar_cases = (
	[ 'desc_version',      'psi',       'table description with a malformed version' ],
	[ 'desc_chunks',       'psi',       'table description with zero chunks' ],
	[ 'table_order',       'psi',       'table entries out of tag order' ],
	[ 'table_count',       'psi',       'table with fewer entries than announced' ],
	[ 'table_short_entry', 'psi',       'table entry shorter than a tag' ],
	[ 'table_huge_length', 'psi',       'table entry with an impossible length' ],
	[ 'table_trailing',    'psi',       'table chunk with trailing bytes' ],
	[ 'table_type',        'psi',       'table chunk with the wrong message type' ],
	[ 'table_fixed',       'psi',       'table chunk with fixed-size items' ],
	[ 'ok',                'psi_fetch', 'table entry whose tag matches but does not open' ],
	[ 'oprf_truncated',    'psi',       'evaluated batch shorter than its header says' ],
	[ 'oprf_fewer',        'psi',       'fewer evaluated elements than blinded ones' ],
	[ 'oprf_more',         'psi',       'more evaluated elements than blinded ones' ],
	[ 'oprf_invalid_point', 'psi',      'evaluated element that is not a point (0xff...)' ],
	[ 'oprf_identity',     'psi',       'evaluated element that is the identity' ],
	[ 'oprf_version',      'psi',       'evaluated batch with wire version 2' ],
	[ 'oprf_type',         'psi',       'evaluated batch with the wrong message type' ],
	[ 'oprf_item_size',    'psi',       'evaluated batch with 33-byte items' ],
	[ 'oprf_huge_count',   'psi',       'evaluated batch announcing 2^32-1 items' ],
	[ 'oprf_short_header', 'psi',       'evaluated batch shorter than a header' ],
	[ 'oprf_null',         'psi',       'evaluated batch that is NULL' ],
	[ 'count_unsorted',    'psi_count', 'psi_count owner part not sorted' ],
	[ 'count_duplicate',   'psi_count', 'psi_count owner part not distinct' ],
	[ 'count_invalid_point', 'psi_count', 'psi_count owner part with invalid points' ],
	[ 'count_type',        'psi_count', 'psi_count owner part with the wrong message type' ],
	[ 'count_ack',         'psi_count', 'psi_count acknowledging more returned elements than sent' ],
	[ 'count_high',        'psi_count', 'psi_count result above the keys asked and held' ],
	[ 'count_negative',    'psi_count', 'psi_count with a negative dataset size' ],
	[ 'count_changed',     'psi_count', 'psi_count dataset size changing during the run' ],
);
my %seen_case;
for my $c (@liar_cases) {
	my ($mode, $cap, $what) = @$c;
	next if $seen_case{"$mode/$cap"}++;
	my $sql = $cap eq 'psi' ? $psi_sql->('liar', 'x', $liar_keys)
	  : $cap eq 'psi_count' ? $count_sql->('liar', 'x', $liar_keys)
	  : q{SELECT * FROM pgpriv.psi_fetch('liar', 'x', $q$SELECT 'LIAR-A'$q$) AS t(code text, grade text)};
	my ($out, $err, $alive) = liar_case($mode, $sql);
	my $ok = like($err, qr/ERROR:\s+08P01:.*peer "liar"/, "lying peer, $what: SQLSTATE 08P01 naming the peer");
	diag("stdout: $out\nstderr: $err") unless $ok;
	my ($detail) = $err =~ /DETAIL:\s+(.*)/;
	note("$mode: " . ($detail // '(no detail)'));
	ok($alive, "lying peer, $what: the asker backend survives");
}
$gov->safe_psql('liar', q{UPDATE public.liar_mode SET mode = 'ok'});
is($bank_a->safe_psql('postgres', 'SELECT 1'), '1', 'the bank still answers after all lying-peer cases');
is($bank_a->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.peer_table WHERE server = 'liar' AND capability = 'psi_fetch'}),
	'0', 'a table that failed to open is not cached');
ok(!$bank_a->log_contains(qr/terminated by signal|server process .* was terminated/),
	'no backend of the bank crashed');
ok(!$gov->log_contains(qr/terminated by signal/), 'no backend of gov crashed');

# The audit chains still verify on every party.
for my $node ($gov, $bank_a, $bank_b) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't',
		$node->name . ': the audit chain verifies');
}

done_testing();
