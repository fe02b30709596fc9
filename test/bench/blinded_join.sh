#!/usr/bin/env bash
# test/bench/blinded_join.sh — blinded join between two local clusters.
#
# Prints, in one run:
#   - psi_fetch of BENCH_KEYS asker keys against BENCH_ROWS owner rows: wall
#     time of the first run (owner builds its encrypted table) and of a second,
#     cached run, each as a ratio to the single-core cost of the protocol's
#     crypto measured in the same run (per key: first run 2 HashToGroup + 4
#     scalar multiplications; cached run 1 + 3).  Goals: first <= 0.75,
#     cached <= 0.6.
#   - psi_count over the same sets, with its own ratio (2 + 4 per key).
#   - each backend's peak memory (VmHWM), and a plain SQL join of the same
#     data inside one database, for scale.
#   - the same psi_fetch (first and cached) and psi_count runs over an
#     emulated bank-bureau line (test/bench/link.sh: 100 Mbit/s, 10 ms one way).
# With BENCH_BIG=1 it also runs psi of 1M x 1M keys (goal <= 60 s).
#
# Needs pgpriv installed (make install); builds test/bench/unit_costs itself.
# Run as root or as a user that can run initdb.
set -euo pipefail
. "$(dirname "$0")/pair.sh"

KEYS=${BENCH_KEYS:-100000}
ROWS=${BENCH_ROWS:-100000}
bench_ports 55470 link

bench_pair bench
bench_peers bank_zs

gov <<SQL
$(enterprise_sql "$ROWS")
SELECT pgpriv.publish('tax', 'SELECT credit_code, tax_grade, tax_paid, ss_headcount FROM public.enterprise', 'credit_code');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi_fetch', '{tax_grade,tax_paid,ss_headcount}');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi_count');
SQL
# Half the asker's keys are in the dataset.
bench_applicants "$KEYS"

bench_unit_costs
echo "single-core unit costs: HashToGroup ${hash_to_group_us} us, scalar multiplication ${scalarmult_us} us"
first_base=$(calc "$KEYS * (2 * $hash_to_group_us + 4 * $scalarmult_us) / 1000000")
cached_base=$(calc "$KEYS * (1 * $hash_to_group_us + 3 * $scalarmult_us) / 1000000")

# One bank session for all runs; before it ends it records its own peak
# memory and that of its serving backend on gov (which lives as long as the
# bank's cached connection).
gov_hwm_script gov_hwm_kb

# timed_runs SERVER PREFIX: the SQL of the two psi_fetch runs and the
# psi_count on SERVER (gov: loopback, gov_link: the emulated line), printing
# PREFIXt0..PREFIXt3, PREFIXfetched1, PREFIXfetched2 and PREFIXcount.
timed_runs() {
	local server=$1 p=$2
	cat <<SQL
SELECT '${p}t0=' || extract(epoch FROM clock_timestamp());
SELECT '${p}fetched1=' || count(*) FROM pgpriv.psi_fetch('$server', 'tax', 'SELECT credit_code FROM applicants')
  AS t(credit_code text, tax_grade text, tax_paid numeric, ss_headcount int);
SELECT '${p}t1=' || extract(epoch FROM clock_timestamp());
SELECT '${p}fetched2=' || count(*) FROM pgpriv.psi_fetch('$server', 'tax', 'SELECT credit_code FROM applicants')
  AS t(credit_code text, tax_grade text, tax_paid numeric, ss_headcount int);
SELECT '${p}t2=' || extract(epoch FROM clock_timestamp());
SELECT '${p}count=' || pgpriv.psi_count('$server', 'tax', 'SELECT credit_code FROM applicants');
SELECT '${p}t3=' || extract(epoch FROM clock_timestamp());
SQL
}

out=$(bank <<SQL
$(timed_runs gov '')
$(hwm_sql bank_hwm_kb)
SELECT 'bytes_first=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'psi_fetch' ORDER BY id LIMIT 1;
SELECT 'bytes_cached=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'psi_fetch' ORDER BY id DESC LIMIT 1;
\\! sh $work/govhwm.sh
SQL
)
eval "$(echo "$out" | grep -E '^[a-z_0-9]+=')"

expected=$(gov -c "SELECT count(*) FROM enterprise WHERE credit_code IN (SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' FROM generate_series(1, $KEYS) AS i)")
join_t0=$(now)
gov -c "CREATE TEMP TABLE k AS SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' AS credit_code FROM generate_series(1, $KEYS) AS i; SELECT count(*) FROM enterprise JOIN k USING (credit_code)" >/dev/null
join_s=$(calc "$(now) - $join_t0")

first_s=$(calc "$t1 - $t0")
cached_s=$(calc "$t2 - $t1")
count_s=$(calc "$t3 - $t2")
printf '\npsi_fetch %d asker keys x %d owner rows (%d matches; plain join says %d)\n' "$KEYS" "$ROWS" "$fetched1" "$expected"
printf '  first run : %7.2f s   crypto baseline %7.2f s   ratio %.2f (goal <= 0.75)\n' "$first_s" "$first_base" "$(calc "$first_s / $first_base")"
printf '  cached run: %7.2f s   crypto baseline %7.2f s   ratio %.2f (goal <= 0.60)\n' "$cached_s" "$cached_base" "$(calc "$cached_s / $cached_base")"
printf '  bytes on the wire: first %s, cached %s\n' "$bytes_first" "$bytes_cached"
printf 'psi_count same sets: %7.2f s   ratio %.2f to its crypto (2 HashToGroup + 4 mult per key); count %s\n' \
	"$count_s" "$(calc "$count_s / $first_base")" "$count"
printf 'peak memory: bank backend %s kB, gov serving backend %s kB\n' "$bank_hwm_kb" "$gov_hwm_kb"
printf 'plain SQL join of the same data in one database: %.3f s\n' "$join_s"
[ "$fetched1" = "$expected" ] && [ "$fetched2" = "$expected" ] && [ "$count" = "$expected" ] || { echo "RESULT MISMATCH"; exit 1; }

# The same runs over the emulated line (a server of its own: nothing cached yet).
link_start "$LINK_PORT" "$GOV_PORT"
out=$(bank <<SQL
$(timed_runs gov_link l)
SELECT 'lbytes_count=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'psi_count' ORDER BY id DESC LIMIT 1;
SQL
)
link_stop
eval "$(echo "$out" | grep -E '^[a-z_0-9]+=')"
printf '%s:\n' "$(link_label)"
printf '  psi_fetch first run %7.2f s (%.1f x loopback), cached run %7.2f s (%.1f x); psi_count %7.2f s (%.1f x, %s bytes)\n' \
	"$(calc "$lt1 - $lt0")" "$(calc "($lt1 - $lt0) / $first_s")" "$(calc "$lt2 - $lt1")" "$(calc "($lt2 - $lt1) / $cached_s")" \
	"$(calc "$lt3 - $lt2")" "$(calc "($lt3 - $lt2) / $count_s")" "$lbytes_count"
[ "$lfetched1" = "$expected" ] && [ "$lfetched2" = "$expected" ] && [ "$lcount" = "$expected" ] || { echo "RESULT MISMATCH over the link"; exit 1; }

if [ "${BENCH_BIG:-0}" = 1 ]; then
	gov -c "CREATE TABLE big AS SELECT 'E' || i AS k FROM generate_series(1, 1000000) AS i;
	        SELECT pgpriv.publish('big', 'SELECT k FROM public.big', 'k');
	        SELECT pgpriv.permit('big', 'bank_zs', 'psi');" >/dev/null
	bank -c "CREATE TABLE bigkeys AS SELECT 'E' || (i * 2) AS k FROM generate_series(1, 1000000) AS i" >/dev/null
	gov_hwm_script big_gov_hwm
	big=$(bank <<SQL
SELECT 'big_t0=' || extract(epoch FROM clock_timestamp());
SELECT 'big_n=' || count(*) FROM pgpriv.psi('gov', 'big', 'SELECT k FROM bigkeys');
SELECT 'big_t1=' || extract(epoch FROM clock_timestamp());
$(hwm_sql big_hwm)
\\! sh $work/govhwm.sh
SQL
)
	eval "$(echo "$big" | grep -E '^[a-z_0-9]+=')"
	printf 'psi 1M x 1M: %.1f s (goal <= 60 s), %s matches; peak memory bank %s kB, gov %s kB\n' \
		"$(calc "$big_t1 - $big_t0")" "$big_n" "$big_hwm" "$big_gov_hwm"
fi
