#!/usr/bin/env bash
# test/bench/joint_woe.sh — joint_woe between two local clusters.
#
# Prints, in one run, for BENCH_WOE_ROWS bank borrowers (default 20 000, all
# known to the bureau, labels correlated with one column) against a bureau
# table of twice as many rows and BENCH_WOE_COLUMNS numeric columns (default
# 5), BENCH_WOE_BINS bins (default 10):
#   - joint_woe's wall time, as a ratio to the same counts computed in plain
#     SQL in one database over a copy of both tables (percentile edges per
#     column, then rows and events per bin — the baseline), measured in the
#     same run;
#   - the bytes on the wire (the asker's audit row) and per training row;
#   - joint_woe again through test/tools/link_relay.pl, an emulated line of
#     BENCH_LINK_MBIT Mbit/s (default 100) with BENCH_LINK_DELAY_MS one-way
#     delay (default 10 ms): what a bank–bureau line adds;
# and checks that every bin's rows and events equal the plain computation.
#
# Needs pgpriv installed (make install).  Run as root or as a user that can run initdb.
set -euo pipefail
. "$(dirname "$0")/pair.sh"

ROWS=${BENCH_WOE_ROWS:-20000}
COLS=${BENCH_WOE_COLUMNS:-5}
BINS=${BENCH_WOE_BINS:-10}
bench_ports 55490 link

bench_pair bench-woe
bench_peers bank_zs

cols=""; perm=""
for j in $(seq 1 "$COLS"); do
	cols="$cols, round(((i::bigint * (7919 + $j * 104729)) % 100000)::numeric / 100, 2) AS c$j"
	perm="$perm${perm:+,}c$j"
done
gov <<SQL
CREATE TABLE indicators AS
  SELECT '9131' || lpad(i::text, 13, '0') || 'X' AS credit_code $cols
    FROM generate_series(1, $((ROWS * 2))) AS i;
SELECT pgpriv.publish('ind', 'SELECT credit_code, $perm FROM public.indicators', 'credit_code');
SELECT pgpriv.permit('ind', 'bank_zs', 'train', '{$perm}', min_group => 1);
SQL
# Labels: mostly 1 when c1 is low, with noise.
bank <<SQL
CREATE TABLE loans AS
  SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' AS credit_code,
         (((i * 2)::bigint * (7919 + 104729)) % 100000 < 30000) <> (i % 7 = 0) AS defaulted
    FROM generate_series(1, $ROWS) AS i;
SQL

# The baseline: both tables in one database, the same edges and counts in plain SQL.
gov -c "CREATE TABLE loans AS SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' AS credit_code,
         (((i * 2)::bigint * (7919 + 104729)) % 100000 < 30000) <> (i % 7 = 0) AS defaulted
    FROM generate_series(1, $ROWS) AS i" >/dev/null
plain_sql() {
	local j=$1
	cat <<SQL
WITH t AS (SELECT i.c$j AS x, l.defaulted::int AS y FROM loans AS l JOIN indicators AS i USING (credit_code)),
     s AS (SELECT x, y, row_number() OVER (ORDER BY x) - 1 AS pos, count(*) OVER () AS m FROM t),
     e AS MATERIALIZED (SELECT array_agg(DISTINCT s.x ORDER BY s.x) FILTER (WHERE s.x < s.top) AS edges
            FROM (SELECT x, pos, m, max(x) OVER () AS top FROM s) AS s, generate_series(1, $BINS - 1) AS q
           WHERE s.pos = least(floor(q * m::numeric / $BINS), m - 1)),
     b AS (SELECT t.y, 1 + (SELECT count(*) FROM unnest(e.edges) AS g WHERE t.x > g) AS bin FROM t, e)
SELECT 'c$j|' || bin || '|' || count(*) || '|' || sum(y) FROM b GROUP BY bin ORDER BY bin;
SQL
}
t0=$(date +%s.%N)
expected=$(for j in $(seq 1 "$COLS"); do plain_sql "$j" | gov; done)
t1=$(date +%s.%N)
plain=$(calc "$t1 - $t0")

run_woe() {
	local server=$1
	bank <<SQL
SELECT 't0=' || extract(epoch FROM clock_timestamp());
CREATE TEMP TABLE r AS SELECT * FROM pgpriv.joint_woe('$server', 'ind', 'SELECT credit_code, defaulted FROM loans',
                                                     'defaulted', '{"bins": $BINS}');
SELECT 't1=' || extract(epoch FROM clock_timestamp());
SELECT 'bytes=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'train' ORDER BY id DESC LIMIT 1;
SELECT 'got=' || string_agg(column_name || '|' || bin || '|' || rows || '|' || events, ' ' ORDER BY column_name, bin) FROM r;
$(hwm_sql bank_hwm_kb)
SQL
}
eval "$(run_woe gov | grep -E '^[a-z_0-9]+=' | sed -E "s/^([a-z_0-9]+)=(.*)$/\1='\2'/")"
wall=$(calc "$t1 - $t0")
want=$(echo "$expected" | tr '\n' ' ' | sed 's/ $//')
printf '\njoint_woe, %d borrowers x %d bureau rows, %d columns, %d bins\n' "$ROWS" "$((ROWS * 2))" "$COLS" "$BINS"
printf '  loopback  wall %7.2f s   plain SQL over a copy of both tables %6.2f s   ratio %.1f\n' "$wall" "$plain" "$(calc "$wall / $plain")"
printf '  bytes on the wire %s (%.1f per training row); asker backend peak memory %s kB\n' \
	"$bytes" "$(calc "$bytes / $ROWS")" "$bank_hwm_kb"
[ "$got" = "$want" ] || { echo "RESULT MISMATCH"; echo "got:  $got"; echo "want: $want"; exit 1; }
echo "  every bin's rows and events equal the plain computation"

link_start "$LINK_PORT" "$GOV_PORT"
eval "$(run_woe gov_link | grep -E '^[a-z_0-9]+=' | sed -E "s/^([a-z_0-9]+)=(.*)$/\1='\2'/")"
link=$(calc "$t1 - $t0")
printf '  %s (link_relay.pl): wall %7.2f s (%.1f x loopback; the bytes alone take %.2f s at that rate)\n' \
	"$(link_label)" "$link" "$(calc "$link / $wall")" "$(calc "$bytes * 8 / ($LINK_MBIT * 1000000)")"
[ "$got" = "$want" ] || { echo "RESULT MISMATCH over the link"; exit 1; }
