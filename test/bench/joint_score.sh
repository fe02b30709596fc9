#!/usr/bin/env bash
# test/bench/joint_score.sh — the two-party engine between two local clusters
# (pgpriv.mpc_selftest and pgpriv.joint_score), against baselines measured in
# the same run.
#
# A "gov" cluster publishes a dataset of BENCH_MPC_ROWS enterprises with
# numeric indicators and permits capability mpc on them; a "bank" cluster
# holds as many applicants (a few absent from the dataset, a few NULL values,
# NULL and duplicated keys) with its own features.  Prints, in one run:
#
#   (a) pgpriv.mpc_selftest with BENCH_MPC_TRIPLES Beaver triples and
#       BENCH_MPC_COMPARISONS comparisons, over the serving functions between
#       the two clusters: Beaver triples per second (goal >= 100 000), bytes
#       per triple (goal <= 2 600), online multiplications per second,
#       comparisons per second (goal >= 30 000), bytes per comparison, and
#       the self-test's failure counts (must be 0);
#   (b) the same engine in one process (test/bench/bench_mpc, built here:
#       two threads, messages in memory, no PostgreSQL), the same counts, and
#       the ratio SQL-between-clusters / in-process for each rate;
#   (c) pgpriv.joint_score over all applicants with 20 features (20 - K
#       gov columns and K bank columns, K = BENCH_MPC_BANK_FEATURES, default
#       4; 0 = all 20 from the gov), in score mode and in threshold mode,
#       end-to-end seconds, against the baseline: the same score computed in
#       plain SQL on one cluster over a copy of both tables (a LEFT JOIN and
#       the sum of weight times value, in numeric), and the ratio; then every
#       row is checked against that plaintext: rows in keys_query order, a
#       NULL exactly where the plaintext is NULL, no score further from the
#       plaintext than the bound of docs/joint_score.md
#           sum_j (|x_j| + |w_j|)·2^-17 + k·2^-34 + 5·10^-7,
#       and every flag equal to (plaintext >= threshold) wherever the
#       plaintext is further than that bound from the threshold (the
#       threshold is the median plaintext score, so about half the rows pass).
#       joint_score does not use Beaver triples: each product of an owner's
#       column and the asker's weight is one product of inputs (Gilboa's OT
#       multiplication), and the asker's own columns are added to its share
#       locally, so (c) costs per row the owner's columns only (plus one
#       comparison in threshold mode).
#
#   (d) the score-mode run again over an emulated bank–bureau line
#       (test/bench/link.sh: 100 Mbit/s, 10 ms one way), its scores equal to (c)'s.
#
# The load average (uptime) is printed at the start and at the end: the
# machine may be shared, and the rates of (a) and (b) move with it.
#
# Knobs (environment): BENCH_MPC_ROWS (100000), BENCH_MPC_TRIPLES (1000000),
# BENCH_MPC_COMPARISONS (100000), BENCH_MPC_BANK_FEATURES (4),
# BENCH_MPC_SKIP_SCORE=1 (only (a) and (b)), BENCH_GOV_PORT (55486),
# BENCH_BANK_PORT (55487), PGPRIV_KEEP=1 (keep the scratch directory).
# Clusters talk over loopback with sslmode=disable.
#
# Needs pgpriv installed (make install); builds test/bench/bench_mpc itself.
# Run as root or as a user that can run initdb.
set -euo pipefail
. "$(dirname "$0")/pair.sh"

ROWS=${BENCH_MPC_ROWS:-100000}
TRIPLES=${BENCH_MPC_TRIPLES:-1000000}
CMPS=${BENCH_MPC_COMPARISONS:-100000}
NBANK=${BENCH_MPC_BANK_FEATURES:-4}
bench_ports 55486 link
NFEAT=20
NGOV=$((NFEAT - NBANK))
if [ "$NBANK" -lt 0 ] || [ "$NGOV" -lt 1 ]; then
	echo "BENCH_MPC_BANK_FEATURES must be 0..19" >&2
	exit 2
fi

load() { uptime | sed 's/.*load average/load average/'; }
echo "start: $(load) ($(nproc) cores)"

bench_pair bench-mpc
bench_peers bank_mpc

# ------------------------------------------------------------------ data
# Feature j (gov g01.., bank b01..): its type, the expression drawing it, and
# its weight (deterministic, three decimals in [-2.5, 2.5], never 0).  Gov
# columns cycle through integer counts, numeric with 4 decimals (two scales,
# up to ±8000, near the |x| < 8192 limit), float8 and numeric(10,2); bank
# columns through an amount, a count, a float8 ratio and a boolean.
gov_ddl= gov_expr= gov_names= bank_ddl= bank_expr= bank_names=
json= plain= bound= sumw=0
for j in $(seq 1 "$NFEAT"); do
	w=$(awk -v j="$j" 'BEGIN { w = ((j * 7919) % 2001 - 1000) / 400; if (w == 0) w = 0.5; printf "%.3f", w }')
	aw=${w#-}
	if [ "$j" -le "$NGOV" ]; then
		name=$(printf 'g%02d' "$j")
		case $((j % 4)) in
		1) type=integer; expr="floor(random() * 13)::integer" ;;
		2) type='numeric(12,4)'
		   if [ $((j % 8)) = 2 ]; then s=8000; else s=40; fi
		   expr="round(((random() * 2 - 1) * $s)::numeric, 4)" ;;
		3) type='double precision'; expr="(random() * 2 - 1) * 900" ;;
		0) type='numeric(10,2)'; expr="round((random() * 100)::numeric, 2)" ;;
		esac
		# A few NULLs in the second gov column: those rows score NULL.
		[ "$j" != 2 ] || expr="CASE WHEN random() < 0.005 THEN NULL ELSE $expr END"
		gov_ddl+=", $name $type"; gov_expr+=", $expr"; gov_names+="${gov_names:+,}$name"
		x="g.$name::numeric"
	else
		k=$((j - NGOV))
		name=$(printf 'b%02d' "$k")
		case $((k % 4)) in
		1) type='numeric(12,2)'; expr="round((random() * 50)::numeric, 2)" ;;
		2) type=integer; expr="floor(random() * 241)::integer" ;;
		3) type='double precision'; expr="random() * 2 - 1" ;;
		0) type=boolean; expr="random() < 0.3" ;;
		esac
		[ "$k" != 1 ] || expr="CASE WHEN random() < 0.002 THEN NULL ELSE $expr END"
		bank_ddl+=", $name $type"; bank_expr+=", $expr"; bank_names+=", $name"
		if [ "$type" = boolean ]; then x="a.$name::integer::numeric"; else x="a.$name::numeric"; fi
	fi
	json+="${json:+, }\"$name\": $w"
	plain+="${plain:+ + }$x * $w"
	bound+="${bound:+ + }abs($x)"
	sumw=$(calc "$sumw + $aw")
done
json="{$json}"
# 2^-17 = 0.00000762939453125 and 2^-34 = 0.0000000000582076609134674072265625, exactly.
bound="($bound + $sumw) * 0.00000762939453125 + $NFEAT * 0.0000000000582076609134674072265625 + 0.0000005"
if [ "$NBANK" = 0 ]; then split="all $NFEAT from the gov"; else split="$NGOV gov + $NBANK bank columns"; fi

gov >/dev/null <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.66);
CREATE TABLE features (credit_code text PRIMARY KEY $gov_ddl);
INSERT INTO features
  SELECT '9131' || lpad(i::text, 13, '0') || 'X' $gov_expr FROM generate_series(1, $ROWS) AS i;
VACUUM ANALYZE features;
SELECT pgpriv.publish('features', 'SELECT credit_code, $gov_names FROM public.features', 'credit_code');
SELECT pgpriv.permit('features', 'bank_mpc', 'mpc', '{$gov_names}', max_keys => 1000000000);
SQL

# The bank's applicants, in the order id: a permutation of the gov's codes,
# 2% of them codes the gov does not have, a duplicated key every 9973 rows
# and three rows with a NULL key.  ord numbers the rows with a key: it is
# the position joint_score must return them at.
bank >/dev/null <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.77);
CREATE TABLE applicants (id integer PRIMARY KEY, credit_code text $bank_ddl, ord bigint);
INSERT INTO applicants
  SELECT i, CASE WHEN i IN ($ROWS / 4 + 1, $ROWS / 2 + 1, 3 * $ROWS / 4 + 1) THEN NULL
                 WHEN i % 9973 = 0 THEN '9131' || lpad('1', 13, '0') || 'X'
                 WHEN i % 50 = 7 THEN '9132' || lpad(i::text, 13, '0') || 'Y'
                 ELSE '9131' || lpad((1 + (i::bigint * 7919) % $ROWS)::text, 13, '0') || 'X' END
         $bank_expr, NULL
    FROM generate_series(1, $ROWS) AS i;
UPDATE applicants AS a SET ord = r.ord
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM applicants WHERE credit_code IS NOT NULL) AS r
 WHERE r.id = a.id;
CREATE TABLE gov_features (credit_code text PRIMARY KEY $gov_ddl);
SQL
gov -c "COPY features TO STDOUT" | bank -c "COPY gov_features FROM STDIN"
bank -c "VACUUM ANALYZE applicants" -c "VACUUM ANALYZE gov_features" >/dev/null
asked=$(bank -c "SELECT count(*) FROM applicants WHERE credit_code IS NOT NULL")
keys_query="SELECT credit_code $bank_names FROM applicants ORDER BY id"

# --------------------------------------------------- (a) mpc_selftest over SQL
sel=$(bank -F '|' -c "SELECT part, items, failures, seconds, bytes, per_second, bytes_per_item
                        FROM pgpriv.mpc_selftest('gov', 'features', $TRIPLES, $CMPS)")
field() { echo "$sel" | awk -F '|' -v p="$1" -v f="$2" '$1 == p { print $f }'; }
sq_setup_s=$(field setup 4); sq_setup_b=$(field setup 5); sq_setup_n=$(field setup 2)
sq_tps=$(field beaver_triples 6); sq_bpt=$(field beaver_triples 7); sq_tfail=$(field beaver_triples 3)
sq_mps=$(field multiplications 6); sq_bpm=$(field multiplications 7); sq_mfail=$(field multiplications 3)
sq_cps=$(field comparisons 6); sq_bpc=$(field comparisons 7); sq_cfail=$(field comparisons 3)
sq_t_s=$(field beaver_triples 4); sq_c_s=$(field comparisons 4)

# ------------------------------------------------ (b) the engine in-process
make -s -C "$SRC_DIR" PG_CONFIG="$PG_CONFIG" test/bench/bench_mpc
inproc=$("$SRC_DIR"/test/bench/bench_mpc "$TRIPLES" "$CMPS")
ip_tps=$(echo "$inproc" | awk '/^Beaver triples/ { for (i = 1; i <= NF; i++) if ($i == "triples/s") print $(i - 1) }')
ip_tcpu=$(echo "$inproc" | awk '/triples\/s\]/ { gsub(/\[cpu: /, ""); print $1; exit }')
ip_bpt=$(echo "$inproc" | awk '/bytes\/triple/ { print $1 }')
ip_mps=$(echo "$inproc" | awk '/^online multiplications/ { for (i = 1; i <= NF; i++) if ($i == "mult/s,") print $(i - 1) }')
ip_cps=$(echo "$inproc" | awk '/^comparisons, offline \+ online/ { for (i = 1; i <= NF; i++) if ($i == "cmp/s") print $(i - 1) }')
ip_ccpu=$(echo "$inproc" | awk '/cmp\/s\]/ { gsub(/\[cpu: /, ""); print $1; exit }')
ip_bpc=$(echo "$inproc" | awk '/^comparisons, offline \+ online/ { for (i = 1; i <= NF; i++) if ($i == "bytes/cmp,") print $(i - 1) }')

goal() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "MISSED"; fi; }
printf '\n(a) pgpriv.mpc_selftest between two clusters (loopback, sslmode=disable) vs (b) bench_mpc in one process\n'
printf '    %d Beaver triples, %d comparisons; base OT setup over SQL: %s base OTs, %.3f s, %s bytes\n' \
	"$TRIPLES" "$CMPS" "$sq_setup_n" "$sq_setup_s" "$sq_setup_b"
printf '    %-26s %14s %14s %8s   %s\n' "" "SQL, 2 clusters" "in-process" "ratio" "goal (SQL)"
printf '    %-26s %14.0f %14.0f %8.2f   >= 100000 %s   (%.2f s; in-process cpu rate %s)\n' "Beaver triples / s" \
	"$sq_tps" "$ip_tps" "$(calc "$sq_tps / $ip_tps")" "$(goal "$sq_tps >= 100000")" "$sq_t_s" "$ip_tcpu"
printf '    %-26s %14.1f %14.1f %8.2f   <= 2600 %s\n' "bytes / triple" \
	"$sq_bpt" "$ip_bpt" "$(calc "$sq_bpt / $ip_bpt")" "$(goal "$sq_bpt <= 2600")"
printf '    %-26s %14.0f %14.0f %8.2f   (%.1f bytes / multiplication over SQL)\n' "online multiplications / s" \
	"$sq_mps" "$ip_mps" "$(calc "$sq_mps / $ip_mps")" "$sq_bpm"
printf '    %-26s %14.0f %14.0f %8.2f   >= 30000 %s   (%.2f s; in-process cpu rate %s)\n' "comparisons / s" \
	"$sq_cps" "$ip_cps" "$(calc "$sq_cps / $ip_cps")" "$(goal "$sq_cps >= 30000")" "$sq_c_s" "$ip_ccpu"
printf '    %-26s %14.1f %14.1f %8.2f\n' "bytes / comparison" \
	"$sq_bpc" "$ip_bpc" "$(calc "$sq_bpc / $ip_bpc")"
printf '    self-test failures: triples %s, multiplications %s, comparisons %s (must be 0)\n' \
	"$sq_tfail" "$sq_mfail" "$sq_cfail"
fail=0
[ "$sq_tfail" = 0 ] && [ "$sq_mfail" = 0 ] && [ "$sq_cfail" = 0 ] || fail=1

if [ "${BENCH_MPC_SKIP_SCORE:-}" = 1 ]; then
	echo "end: $(load)"
	[ "$fail" = 0 ] || { echo "SELF-TEST FAILURES"; exit 1; }
	exit 0
fi

# ------------------------------------------------- (c) joint_score end to end
# Each mode: the secure run, then the plain baseline, in one bank session.
run_mode() {	# $1 = threshold SQL literal or NULL; $2 = table suffix
	local out
	if [ "$1" = NULL ]; then out="($plain) AS score"; else out="($plain) >= $1 AS flag"; fi
	bank <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT 't0=' || extract(epoch FROM clock_timestamp());
CREATE TABLE js_$2 AS
  SELECT j.ord, j.key, j.score, j.flag
    FROM pgpriv.joint_score('gov', 'features', \$q\$$keys_query\$q\$, '$json'::jsonb, $1)
         WITH ORDINALITY AS j(key, score, flag, ord);
SELECT 't1=' || extract(epoch FROM clock_timestamp());
SELECT 'bytes=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'mpc' AND side = 'asker'
 ORDER BY id DESC LIMIT 1;
SELECT 't2=' || extract(epoch FROM clock_timestamp());
CREATE TABLE plain_$2 AS
  SELECT a.ord, $out
    FROM applicants AS a LEFT JOIN gov_features AS g USING (credit_code)
   WHERE a.credit_code IS NOT NULL;
SELECT 't3=' || extract(epoch FROM clock_timestamp());
SQL
}

# The plaintext reference with each row's error bound (not timed).
bank >/dev/null <<SQL
CREATE TABLE ref AS
  SELECT a.ord, a.credit_code, ($plain) AS score, ($bound) AS bound
    FROM applicants AS a LEFT JOIN gov_features AS g USING (credit_code)
   WHERE a.credit_code IS NOT NULL;
SQL
threshold=$(bank -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY score)::numeric, 2) FROM ref")

bytes=0
eval "$(run_mode NULL score | grep -E '^[a-z_0-9]+=')"
s_sec=$(calc "$t1 - $t0"); s_plain=$(calc "$t3 - $t2"); s_bytes=$bytes
eval "$(run_mode "$threshold" flag | grep -E '^[a-z_0-9]+=')"
f_sec=$(calc "$t1 - $t0"); f_plain=$(calc "$t3 - $t2"); f_bytes=$bytes

eval "$(bank -F ' ' <<SQL
SELECT 's_rows=' || count(j.ord), 's_order=' || count(*) FILTER (WHERE j.key IS DISTINCT FROM r.credit_code),
       's_null=' || count(*) FILTER (WHERE (j.score IS NULL) <> (r.score IS NULL)),
       's_nulls=' || count(*) FILTER (WHERE r.score IS NULL),
       's_beyond=' || count(*) FILTER (WHERE abs(j.score - r.score) > r.bound),
       's_maxerr=' || coalesce(max(abs(j.score - r.score)), 0)::float8,
       's_flagset=' || count(j.flag)
  FROM js_score AS j FULL JOIN ref AS r USING (ord);
SELECT 'f_rows=' || count(j.ord), 'f_order=' || count(*) FILTER (WHERE j.key IS DISTINCT FROM r.credit_code),
       'f_null=' || count(*) FILTER (WHERE (j.flag IS NULL) <> (r.score IS NULL)),
       'f_near=' || count(*) FILTER (WHERE abs(r.score - $threshold) <= r.bound),
       'f_wrong=' || count(*) FILTER (WHERE abs(r.score - $threshold) > r.bound AND j.flag <> (r.score >= $threshold)),
       'f_near_wrong=' || count(*) FILTER (WHERE abs(r.score - $threshold) <= r.bound AND j.flag <> (r.score >= $threshold)),
       'f_yes=' || count(*) FILTER (WHERE j.flag), 'f_scoreset=' || count(j.score)
  FROM js_flag AS j FULL JOIN ref AS r USING (ord);
SQL
)"

printf '\n(c) pgpriv.joint_score over %d applicants (%d rows with a key), %d features (%s)\n' \
	"$ROWS" "$asked" "$NFEAT" "$split"
printf '    baseline: the same score in plain SQL on one cluster over a copy of both tables (LEFT JOIN, sum of w*x in numeric)\n'
printf '    %-28s %10s %10s %8s %14s %12s\n' "" "secure" "plain SQL" "ratio" "bytes" "bytes / row"
printf '    %-28s %8.2f s %8.3f s %8.1f %14s %12.0f\n' "score mode" "$s_sec" "$s_plain" \
	"$(calc "$s_sec / $s_plain")" "$s_bytes" "$(calc "$s_bytes / $asked")"
printf '    %-28s %8.2f s %8.3f s %8.1f %14s %12.0f\n' "threshold mode (t = $threshold)" "$f_sec" "$f_plain" \
	"$(calc "$f_sec / $f_plain")" "$f_bytes" "$(calc "$f_bytes / $asked")"
printf '    check, score mode:     %s rows (keys_query order: %s out of place); %s NULL (plaintext: %s);\n' \
	"$s_rows" "$s_order" "$((s_nulls + s_null))" "$s_nulls"
printf '                           %s beyond the error bound (must be 0), largest error %s\n' "$s_beyond" "$s_maxerr"
printf '    check, threshold mode: %s rows (%s out of place), %s yes; %s wrong away from the threshold (must be 0);\n' \
	"$f_rows" "$f_order" "$f_yes" "$f_wrong"
printf '                           %s NULL mismatches; %s rows within the bound of the threshold, %s of them differ (allowed)\n' \
	"$f_null" "$f_near" "$f_near_wrong"

# ------------------------------------------------- (d) over the emulated line
link_start "$LINK_PORT" "$GOV_PORT"
eval "$(bank <<SQL | grep -E '^[a-z_0-9]+='
SET max_parallel_workers_per_gather = 0;
SELECT 'l0=' || extract(epoch FROM clock_timestamp());
CREATE TABLE js_link AS
  SELECT j.ord, j.key, j.score
    FROM pgpriv.joint_score('gov_link', 'features', \$q\$$keys_query\$q\$, '$json'::jsonb, NULL)
         WITH ORDINALITY AS j(key, score, flag, ord);
SELECT 'l1=' || extract(epoch FROM clock_timestamp());
SELECT 'l_differ=' || count(*) FILTER (WHERE l.score IS DISTINCT FROM j.score OR l.key IS DISTINCT FROM j.key)
  FROM js_link AS l FULL JOIN js_score AS j USING (ord);
SQL
)"
link_stop
printf '\n(d) score mode over %s: %.2f s (%.1f x loopback; its %s bytes alone take %.2f s); %s rows differ from (c) (must be 0)\n' \
	"$(link_label)" "$(calc "$l1 - $l0")" "$(calc "($l1 - $l0) / $s_sec")" "$s_bytes" \
	"$(calc "$s_bytes * 8 / ($LINK_MBIT * 1000000)")" "$l_differ"
echo "end: $(load)"
[ "$l_differ" = 0 ] || { echo "SCORES OVER THE LINE DIFFER"; fail=1; }

[ "$s_rows" = "$asked" ] && [ "$f_rows" = "$asked" ] || { echo "ROW COUNT MISMATCH"; fail=1; }
[ "$s_order" = 0 ] && [ "$f_order" = 0 ] || { echo "ROWS OUT OF ORDER"; fail=1; }
[ "$s_null" = 0 ] && [ "$f_null" = 0 ] || { echo "NULL MISMATCH"; fail=1; }
[ "$s_beyond" = 0 ] || { echo "SCORES BEYOND THE ERROR BOUND"; fail=1; }
[ "$f_wrong" = 0 ] || { echo "WRONG FLAGS"; fail=1; }
[ "$s_flagset" = 0 ] && [ "$f_scoreset" = 0 ] || { echo "flag set in score mode or score set in threshold mode"; fail=1; }
[ "$fail" = 0 ] || exit 1
