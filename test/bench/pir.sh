#!/usr/bin/env bash
# test/bench/pir.sh — private lookup (pgpriv.pir) between two local clusters.
#
# Prints, in one run, for a dataset of BENCH_PIR_ROWS owner rows (default 1M):
#   - hint build time: the first pgpriv.pir_sync (owner builds D and the hint
#     H = D·A, signs it; the asker downloads and checks it)
#   - end-to-end latency of one pgpriv.pir lookup of one key, hint already
#     synced (median of BENCH_PIR_REPS lookups, present and absent keys
#     alternating), as a ratio to one plain full-table scan of the same table
#     on the owner (SELECT count(*) ... WHERE tax_grade = 'nope', median of as
#     many runs, warm cache).  Goal: <= 0.5 with the default settings.
#   - hint, query and answer sizes (from the layout in pgpriv.served_pir) and
#     the bytes one lookup moved (the asker's audit row).
#   - the load average before the run and after the scans: on a shared
#     machine both sides of the ratio slow down, and the lookup (two threads
#     on each side) more than the one-thread scan.
# Every lookup's answer is checked against the plain row.
# Then the core benchmark (test/bench/bench_pir: answer pass vs a plain pass
# over D for 100 MB and 1 GB, hint build, sizes) unless BENCH_PIR_CORE=0.
#
# Needs pgpriv installed (make install).  Run as root or as a user that can run initdb.
set -euo pipefail
. "$(dirname "$0")/pair.sh"

ROWS=${BENCH_PIR_ROWS:-1000000}
REPS=${BENCH_PIR_REPS:-15}
bench_ports 55474

bench_pair bench-pir
bench_peers bank_zs signing_key
# Default settings: the owner's change check (triggers) tells each lookup
# whether the dataset changed without reading it.  BENCH_PIR_REFRESH sets
# pgpriv.pir_refresh_seconds (which applies only to datasets whose check is
# 'reread').
if [ -n "${BENCH_PIR_REFRESH:-}" ]; then
	echo "pgpriv.pir_refresh_seconds = $BENCH_PIR_REFRESH" >> "$work/gov/data/postgresql.conf"
	as_pg pg_ctl -D "$work/gov/data" reload >/dev/null
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

code() { printf "9131%013dX" "$1"; }

gov <<SQL
$(enterprise_sql "$ROWS")
VACUUM ANALYZE enterprise;
SELECT pgpriv.publish('tax', 'SELECT credit_code, tax_grade, tax_paid, ss_headcount FROM public.enterprise', 'credit_code');
SELECT pgpriv.permit('tax', 'bank_zs', 'pir', '{tax_grade,tax_paid,ss_headcount}');
SQL

# One bank session: the first pir_sync (hint build + download), then REPS
# single-key lookups, each timed inside the session.
script="SELECT 'sync0=' || extract(epoch FROM clock_timestamp());
SELECT pgpriv.pir_sync('gov', 'tax') IS NOT NULL AS synced;
SELECT 'sync1=' || extract(epoch FROM clock_timestamp());
"
expect=()
for r in $(seq 1 "$REPS"); do
	if [ $((r % 2)) = 1 ]; then i=$(( (r * 104729) % ROWS + 1 )); else i=$((ROWS + r)); fi
	k=$(code "$i")
	if [ "$i" -le "$ROWS" ]; then
		expect+=("$k|$(gov -c "SELECT tax_grade || '|' || tax_paid || '|' || ss_headcount FROM enterprise WHERE credit_code = '$k'")")
	else
		expect+=("$k|")
	fi
	script+="SELECT 'l${r}_0=' || extract(epoch FROM clock_timestamp());
SELECT 'got${r}=' || coalesce((SELECT string_agg(concat_ws('|', credit_code, tax_grade, tax_paid, ss_headcount), ',')
  FROM pgpriv.pir('gov', 'tax', '$k') AS t(credit_code text, tax_grade text, tax_paid numeric, ss_headcount int)), '$k|');
SELECT 'l${r}_1=' || extract(epoch FROM clock_timestamp());
"
done
script+="SELECT 'lookup_bytes_in=' || bytes_in || ' lookup_bytes_out=' || bytes_out FROM pgpriv.audit
  WHERE capability = 'pir' AND side = 'asker' AND keys_in = 1 ORDER BY id DESC LIMIT 1;
"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(echo "$script" | bank)
eval "$(echo "$out" | grep -E '^[a-z_0-9]+=[0-9.]+$' )"
eval "$(echo "$out" | grep -E '^lookup_bytes_in=')"
lat=()
for r in $(seq 1 "$REPS"); do
	got=$(echo "$out" | sed -n "s/^got${r}=//p")
	if [ "$got" != "${expect[$((r - 1))]}" ]; then
		echo "RESULT MISMATCH for lookup $r: got '$got', want '${expect[$((r - 1))]}'"; exit 1
	fi
	s=$(eval "echo \$l${r}_0"); e=$(eval "echo \$l${r}_1")
	lat+=("$(calc "$e - $s")")
done
lookup_s=$(printf '%s\n' "${lat[@]}" | median)
sync_s=$(calc "$sync1 - $sync0")

# The baseline: one plain full-table scan on the owner, warm, median of REPS.
scan_script="SET max_parallel_workers_per_gather = 0;"
for r in $(seq 1 "$REPS"); do
	scan_script+="SELECT 's${r}_0=' || extract(epoch FROM clock_timestamp());
SELECT 'n${r}=' || count(*) FROM enterprise WHERE tax_grade = 'nope';
SELECT 's${r}_1=' || extract(epoch FROM clock_timestamp());
"
done
scan_out=$(echo "$scan_script" | gov)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
eval "$(echo "$scan_out" | grep -E '^[a-z_0-9]+=[0-9.]+$')"
scans=()
for r in $(seq 1 "$REPS"); do
	s=$(eval "echo \$s${r}_0"); e=$(eval "echo \$s${r}_1")
	scans+=("$(calc "$e - $s")")
done
scan_s=$(printf '%s\n' "${scans[@]}" | median)
table_mb=$(gov -c "SELECT round(pg_table_size('enterprise') / 1048576.0, 1)")

change_check=$(gov -c "SELECT change_check FROM pgpriv.datasets WHERE dataset = 'tax'")
owner_reads=$(gov -c "SELECT reads FROM pgpriv.served_check WHERE dataset = 'tax' AND capability = 'pir'")
eval "$(gov -c "SELECT 'L_rows=' || rows || ' L_cols=' || cols || ' L_slot=' || slot_bytes || ' L_spc=' || slots_per_col || ' epoch=' || epoch
  FROM pgpriv.served_pir WHERE dataset = 'tax'")"
d_mb=$(calc "$L_rows * $L_cols / 1000000")
hint_mb=$(calc "$L_rows * 1024 * 4 / 1000000")
query_kb=$(calc "$L_cols * 4 / 1000")
answer_kb=$(calc "$L_rows * 4 / 1000")

printf '\npir over %d owner rows (table %s MB; D = %d x %d bytes = %.1f MB, %d slots of %d bytes per column)\n' \
	"$ROWS" "$table_mb" "$L_rows" "$L_cols" "$d_mb" "$L_spc" "$L_slot"
printf '  hint build + download (first pir_sync): %.2f s\n' "$sync_s"
printf '  one-key lookup, hint synced: median %.3f s over %d (each: %s)\n' "$lookup_s" "$REPS" "$(printf '%.3f ' "${lat[@]}")"
printf '  plain full-table scan on the owner: median %.3f s (each: %s)\n' "$scan_s" "$(printf '%.3f ' "${scans[@]}")"
printf '  ratio lookup / scan: %.2f (goal <= 0.5), owner pgpriv.pir_refresh_seconds = %s, change check: %s\n' \
	"$(calc "$lookup_s / $scan_s")" "${BENCH_PIR_REFRESH:-default}" "$change_check"
printf '  the owner read the dataset %s time(s) for the sync and %d lookups\n' "$owner_reads" "$REPS"
printf '  load average (1, 5, 15 min): %s before the run (the first pir_sync adds its own), %s after the scans\n' "$load_before" "$load_after"
printf '  sizes: hint %.1f MB, query %.1f KB (two per key), answer %.1f KB (two per key)\n' "$hint_mb" "$query_kb" "$answer_kb"
printf '  one lookup moved: %s bytes in, %s bytes out (asker audit)\n' "${lookup_bytes_in:-?}" "${lookup_bytes_out:-?}"

# The owner's answer pass against a plain pass over D, for D of 100 MB and
# 1 GB, with hint build times and sizes (the PIR core, no server), so that one
# run prints every figure of the PIR benchmark.  BENCH_PIR_CORE=0 skips it.
if [ "${BENCH_PIR_CORE:-1}" = 1 ]; then
	printf '\n'
	make -s -C "$SRC_DIR" PG_CONFIG="$PG_CONFIG" test/bench/bench_pir
	"$SRC_DIR/test/bench/bench_pir"
fi
