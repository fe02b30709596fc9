#!/usr/bin/env bash
# test/bench/psi_sum.sh — psi_sum between two local clusters.
#
# Prints, in one run: psi_sum of BENCH_KEYS asker keys against BENCH_ROWS
# owner rows (half the keys match; amounts in [0, 100) with two decimals),
# wall time as a ratio to the single-core cost of the run's scalar
# multiplications measured in the same run (test/bench/unit_costs):
#
#   baseline = (2·N + 6·M)·t_mult + 8·M·t_base
#
# N distinct asker keys, M distinct owner keys; per asker key a·H(x) (asker)
# and b·a·H(x) (owner); per owner key b·H(y) (owner), a·b·H(y) (asker), and
# the ElGamal encryption of each of its total's 4 limbs, r·G, l·G (fixed
# base) + r·PK (variable base).  The run's constant handful of
# multiplications (key shares, 4 re-randomisations, 8 partial decryptions),
# HashToGroup (N + M), the matched ciphertexts' additions and the 4 limb
# logarithms are not in the baseline: they are part of what the ratio
# measures.  Goal <= 1.0 using both cores.  Also prints the bytes per owner
# key: (bytes on the wire − 64·N) / M.  Then the same run over an emulated
# bank–bureau line (test/bench/link.sh: 100 Mbit/s, 10 ms one way).
#
# Needs pgpriv installed (make install); builds test/bench/unit_costs itself.
# Run as root or as a user that can run initdb.
set -euo pipefail
. "$(dirname "$0")/pair.sh"

KEYS=${BENCH_KEYS:-100000}
ROWS=${BENCH_ROWS:-100000}
bench_ports 55480 link

bench_pair bench-psi-sum
bench_peers bank_zs

gov <<SQL
CREATE TABLE enterprise AS
  SELECT '9131' || lpad(i::text, 13, '0') || 'X' AS credit_code,
         round((i * 7919 % 10000)::numeric / 100, 2) AS tax_paid
    FROM generate_series(1, $ROWS) AS i;
SELECT pgpriv.publish('tax', 'SELECT credit_code, tax_paid FROM public.enterprise', 'credit_code');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi_sum', '{tax_paid}');
SQL
bench_applicants "$KEYS"

bench_unit_costs
echo "single-core unit costs: scalar multiplication ${scalarmult_us} us, fixed-base ${scalarmult_base_us} us, addition ${add_us} us"
base=$(calc "((2 * $KEYS + 6 * $ROWS) * $scalarmult_us + 8 * $ROWS * $scalarmult_base_us) / 1000000")

out=$(bank <<SQL
SELECT 't0=' || extract(epoch FROM clock_timestamp());
SELECT 'result=' || matched || '/' || total FROM pgpriv.psi_sum('gov', 'tax', 'tax_paid', 'SELECT credit_code FROM applicants');
SELECT 't1=' || extract(epoch FROM clock_timestamp());
SELECT 'bytes=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'psi_sum' ORDER BY id DESC LIMIT 1;
$(hwm_sql bank_hwm_kb)
SQL
)
eval "$(echo "$out" | grep -E '^[a-z_0-9]+=')"
expected=$(gov -c "SELECT count(*) || '/' || sum(tax_paid)::numeric(30,4) FROM enterprise WHERE credit_code IN (SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' FROM generate_series(1, $KEYS) AS i)")
wall=$(calc "$t1 - $t0")
printf '\npsi_sum %d asker keys x %d owner rows: matched/total %s (plain SQL says %s)\n' "$KEYS" "$ROWS" "$result" "$expected"
printf '  wall %7.2f s   baseline (2N+6M) mult + 8M fixed-base = %7.2f s   ratio %.2f (goal <= 1.0)\n' \
	"$wall" "$base" "$(calc "$wall / $base")"
printf '  bytes on the wire %s (%.1f per owner key); asker backend peak memory %s kB\n' \
	"$bytes" "$(calc "($bytes - 64 * $KEYS) / $ROWS")" "$bank_hwm_kb"
[ "$result" = "$expected" ] || { echo "RESULT MISMATCH"; exit 1; }

link_start "$LINK_PORT" "$GOV_PORT"
out=$(bank <<SQL
SELECT 'l0=' || extract(epoch FROM clock_timestamp());
SELECT 'lresult=' || matched || '/' || total FROM pgpriv.psi_sum('gov_link', 'tax', 'tax_paid', 'SELECT credit_code FROM applicants');
SELECT 'l1=' || extract(epoch FROM clock_timestamp());
SQL
)
link_stop
eval "$(echo "$out" | grep -E '^[a-z_0-9]+=')"
printf '  over %s: wall %7.2f s (%.1f x loopback; the bytes alone take %.2f s)\n' "$(link_label)" \
	"$(calc "$l1 - $l0")" "$(calc "($l1 - $l0) / $wall")" "$(calc "$bytes * 8 / ($LINK_MBIT * 1000000)")"
[ "$lresult" = "$expected" ] || { echo "RESULT MISMATCH over the link"; exit 1; }
