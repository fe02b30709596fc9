# Blinded join: permits and budgets.  gov serves bank_a and bank_b: what a
# missing permit, a column not permitted, another bank's role and the day's
# max_keys budget refuse (every asked key charged, refused runs charged
# nothing), and a lying asker that calls gov's serving functions directly.
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
# 3. Permissions
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('nopermit_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('nopermit_ds', 'bank_a_role', 'psi');
});
fails_with($bank_a, $count_sql->('gov', 'nopermit_ds', $small_q), '42501',
	qr/psi_count.*nopermit_ds|nopermit_ds.*psi_count/, 'psi_count without a psi_count permit');
fails_with($bank_a, $fetch_sql->('gov', 'nopermit_ds', $small_q), '42501',
	qr/psi_fetch.*nopermit_ds|nopermit_ds.*psi_fetch/, 'psi_fetch without a psi_fetch permit');
fails_with($bank_a, $psi_sql->('gov', 'no_such_dataset', $small_q), '42501',
	qr/no_such_dataset/, 'psi on a dataset that does not exist');
fails_with($bank_a, qq{SELECT * FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text, note text)},
	'42501', qr/note/, 'psi_fetch asking a column that is not permitted');
fails_with($bank_a, qq{SELECT * FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text, grade text, code2 text)},
	'42501', qr/code2/, 'psi_fetch asking a column the dataset does not have');

# Only some permitted columns, in another order.
{
	my %by_key;
	push @{ $by_key{ $_->{code} } }, $_ for grep { defined $_->{code} } @gov_rows;
	my %seen;
	my @want;
	for my $k (grep { defined $_ && !$seen{$_}++ } @small_keys) {
		push @want, join('|', hexkey($k), defined $_->{staff} ? $_->{staff} : 'NULL',
			defined $_->{grade} ? $_->{grade} : 'NULL') for @{ $by_key{$k} || [] };
	}
	is_list([ lines($bank_a->safe_psql('postgres', qq{
		SELECT encode(convert_to(code, 'UTF8'), 'hex') || '|' || coalesce(staff::text, 'NULL') || '|' || coalesce(grade, 'NULL')
		  FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text, staff int, grade text)})) ],
		\@want, 'psi_fetch of a subset of the permitted columns, in another order');
	is($bank_a->safe_psql('postgres', qq{
		SELECT count(*) FROM pgpriv.psi_fetch('gov', 'tax', \$q\$$small_q\$q\$) AS t(code text)}),
		scalar(@want), 'psi_fetch of the key alone');
}

# The peer role reads nothing on gov directly.
my $as_a = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_a_role password=pw_a";
{
	my ($rc, $out, $err) = $gov->psql('postgres', 'SELECT count(*) FROM public.tax', connstr => $as_a);
	like($err, qr/permission denied for table tax/, 'the peer role cannot SELECT the raw gov table');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT count(*) FROM pgpriv.oprf_key', connstr => $as_a);
	like($err, qr/permission denied/, 'the peer role cannot read the OPRF keys');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT count(*) FROM pgpriv.served_table', connstr => $as_a);
	like($err, qr/permission denied/, 'the peer role cannot read the served tables');
	($rc, $out, $err) = $gov->psql('postgres', 'SELECT 1', connstr => $as_a);
	is($out, '1', 'control: the peer role does log in over TCP with its password');
}

# bank_b logs in as another role: bank_a's permits are not its.
$bank_b->safe_psql('postgres',
	"CREATE TABLE applicants (id int PRIMARY KEY, code text);\n"
	  . "INSERT INTO applicants SELECT id, code FROM (VALUES "
	  . join(",\n", map { '(' . $_ . ', ' . lit($bank_keys[ $_ - 1 ]) . ')' } 1 .. 400) . ") AS v(id, code);\n");
my @b_keys = @bank_keys[ 0 .. 399 ];
fails_with($bank_b, $psi_sql->('gov', 'tax', $all_q), '42501', qr/bank_b_role.*psi|psi.*bank_b_role/,
	'bank_b cannot use bank_a\'s psi permit');
fails_with($bank_b, $fetch_sql->('gov', 'tax', $all_q), '42501', qr/psi_fetch/,
	'bank_b cannot use bank_a\'s psi_fetch permit');
fails_with($bank_b, $count_sql->('gov', 'tax', $all_q), '42501', qr/psi_count/,
	'bank_b cannot use bank_a\'s psi_count permit');
$gov->safe_psql('postgres', q{SELECT pgpriv.permit('tax', 'bank_b_role', 'psi')});
is_list([ lines($bank_b->safe_psql('postgres', $psi_sql->('gov', 'tax', $all_q))) ],
	model_join(\@b_keys, \@gov_rows)->{psi}, 'bank_b with its own psi permit gets the right keys');
fails_with($bank_b, $fetch_sql->('gov', 'tax', $all_q), '42501', qr/psi_fetch/,
	'bank_b with a psi permit still cannot psi_fetch');
isnt($gov->safe_psql('postgres', q{SELECT encode(pgpriv._oprf_key('tax', 'bank_a_role'), 'hex')}),
	$gov->safe_psql('postgres', q{SELECT encode(pgpriv._oprf_key('tax', 'bank_b_role'), 'hex')}),
	'bank_a and bank_b are served under different OPRF keys');

# ---------------------------------------------------------------------------
# 4. Budget (max_keys per day)
# ---------------------------------------------------------------------------
$gov->safe_psql('postgres', q{
	SELECT pgpriv.publish('budget_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('budget_ds', 'bank_a_role', 'psi', max_keys => 50);
	SELECT pgpriv.permit('budget_ds', 'bank_a_role', 'psi_count', max_keys => 50);
	SELECT pgpriv.publish('budget2_ds', 'SELECT code, grade FROM public.tax', 'code');
	SELECT pgpriv.permit('budget2_ds', 'bank_a_role', 'psi', max_keys => 40);
});
$bank_a->safe_psql('postgres', q{
	CREATE TABLE bkeys (id int PRIMARY KEY, code text);
	INSERT INTO bkeys SELECT g, 'BUD-' || g FROM generate_series(1, 200) g;
	INSERT INTO bkeys VALUES (1000, } . lit($gov_keys[1]) . q{);
});
my $used_sql = sub {
	my ($ds, $cap) = @_;
	return qq{SELECT coalesce(sum(keys_used), 0) FROM pgpriv.budgets
	  WHERE dataset = '$ds' AND peer_role = 'bank_a_role' AND capability = '$cap' AND day = CURRENT_DATE};
};
my $range = sub {    # keys lo..hi, each twice, plus a NULL
	my ($lo, $hi) = @_;
	return "SELECT code FROM bkeys WHERE id BETWEEN $lo AND $hi UNION ALL SELECT code FROM bkeys WHERE id BETWEEN $lo AND $hi UNION ALL SELECT NULL";
};
fails_with($bank_a, $psi_sql->('gov', 'budget_ds', $range->(1, 51)), '54000', qr/max_keys/,
	'psi asking 51 distinct keys under max_keys 50');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '0', 'the refused run charged nothing');
$bank_a->safe_psql('postgres', $psi_sql->('gov', 'budget_ds', $range->(1, 20)));
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '20',
	'a run within budget is charged its distinct keys (duplicates and NULLs not counted)');
$bank_a->safe_psql('postgres', $psi_sql->('gov', 'budget_ds', $range->(21, 40)));
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '40', 'the budget accumulates over the day');
fails_with($bank_a, $psi_sql->('gov', 'budget_ds', $range->(41, 51)), '54000', qr/max_keys 50/,
	'11 more keys exceed the day\'s remaining budget');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '40', 'the refused run charged nothing');
is_list([ lines($bank_a->safe_psql('postgres', $psi_sql->('gov', 'budget_ds', $range->(41, 49) . ' UNION ALL SELECT code FROM bkeys WHERE id = 1000'))) ],
	[ hexkey($gov_keys[1]) ],
	'a run that fills the budget exactly works and is correct');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '50', 'the budget is now used up');
fails_with($bank_a, $psi_sql->('gov', 'budget_ds', q{SELECT 'BUD-51'}), '54000', qr/max_keys/,
	'one more key is refused');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi')), '50', 'still 50');

fails_with($bank_a, $count_sql->('gov', 'budget_ds', $range->(1, 51)), '54000', qr/max_keys 50/,
	'psi_count asking 51 keys under max_keys 50');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi_count')), '0', 'the refused psi_count charged nothing');
is($bank_a->safe_psql('postgres', $count_sql->('gov', 'budget_ds', $range->(1, 30))), '0',
	'psi_count within budget works (each capability has its own budget)');
is($gov->safe_psql('postgres', $used_sql->('budget_ds', 'psi_count')), '30', 'psi_count budget charged 30');

# A run spanning several messages (small pgpriv.batch_size on the asker):
# refused as a whole, nothing charged.
fails_with($bank_a, 'SET pgpriv.batch_size = 16; ' . $psi_sql->('gov', 'budget2_ds', $range->(1, 41)),
	'54000', qr/max_keys 40/, 'psi of 41 keys in batches of 16 under max_keys 40');
is($gov->safe_psql('postgres', $used_sql->('budget2_ds', 'psi')), '0',
	'a refused multi-batch run charged nothing');
is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit
	 WHERE side = 'owner' AND dataset = 'budget2_ds' AND capability = 'psi' AND keys_in > 0
	   AND outcome <> 'refused: over the max_keys budget (54000)'}), '0',
	'and the owner evaluated none of its keys (its audit shows only the refusal)');

# A lying asker, talking to gov's serving functions directly as its peer
# role: nothing is evaluated for a run that was not admitted, and no more
# keys than were admitted (and charged).
{
	my $pts = $gov->safe_psql('postgres', q{
		SELECT encode(pgpriv.hash_to_group('\x01'::bytea) || pgpriv.hash_to_group('\x02'::bytea), 'hex')});
	my $msg = sub {
		my ($n) = @_;
		return sprintf("'\\x0101%08x00000020%s'::bytea", $n, substr($pts, 0, 64 * $n));
	};
	my $as_peer = "host=127.0.0.1 port=$gov_port dbname=postgres user=bank_a_role password=pw_a";
	my ($rc, $out, $err) = $gov->psql('postgres',
		"SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-0', " . $msg->(1) . '))',
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:.*not admitted/s, 'lying asker: a run that was not admitted is refused (08P01)');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('budget2_ds', 'psi', 'lying-run-1', 1);\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-1', " . $msg->(2) . '))',
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+08P01:/, 'lying asker: more elements than admitted are refused (08P01)');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('budget2_ds', 'psi', 'lying-run-2', 2);\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-2', " . $msg->(1) . "));\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-2', " . $msg->(1) . "));\n"
		  . "SELECT length(pgpriv.serve_oprf('budget2_ds', 'psi', 'lying-run-2', " . $msg->(1) . "));\n",
		connstr => $as_peer, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	is($out, "42\n42", 'lying asker: batches within the admitted count are served');
	like($err, qr/ERROR:\s+08P01:/, 'lying asker: a batch beyond the admitted count is refused (08P01)');
	is($gov->safe_psql('postgres', $used_sql->('budget2_ds', 'psi')), '3',
		'lying asker: the admitted counts (1 + 2) were charged, nothing more');
	($rc, $out, $err) = $gov->psql('postgres',
		version_exchange() . "CALL pgpriv.serve_admit('budget2_ds', 'psi', 'lying-run-3', 38)",
		connstr => $as_peer, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:\s+54000:.*max_keys 40/, 'lying asker: an admission beyond the budget is refused (54000)');
	is($gov->safe_psql('postgres', $used_sql->('budget2_ds', 'psi')), '3',
		'lying asker: a refused admission charges nothing');
	is($gov->safe_psql('postgres', q{SELECT count(*) FROM pgpriv.audit_log
		 WHERE side = 'owner' AND dataset = 'budget2_ds' AND detail = 'run lying-run-3'
		   AND outcome LIKE 'refused: over the max_keys budget%'}), '1',
		'the refused admission is on record in the owner\'s audit log');
}

# Refusals are audited on the owner's side even though the run fails.
is($gov->safe_psql('postgres', q{SELECT count(*) > 0 FROM pgpriv.audit_log
	 WHERE side = 'owner' AND outcome = 'refused: no permit (42501)'}), 't',
	'a run refused for lack of a permit is on record in the owner\'s audit log');

# The audit chains still verify on every party.
for my $node ($gov, $bank_a, $bank_b) {
	is($node->safe_psql('postgres', 'SELECT valid FROM pgpriv.audit_verify()'), 't',
		$node->name . ': the audit chain verifies');
}

done_testing();
