#!/usr/bin/env bash
# test/bench/blinded_join_ot.sh — psi and psi_fetch over the OT-extension
# protocols (pgpriv.psi_protocol = rr22, which ot runs, and kkrt) against
# the same runs over the OPRF table, between two local clusters (make
# bench-join-ot).
#
# 2^BENCH_LOG asker keys against 2^BENCH_LOG owner rows, half of the asker's
# keys in the dataset (default BENCH_LOG=16; the issue's size is 20).  Prints
# per run: wall time, bytes on the wire per asker key, and the peak memory
# (VmHWM) of the bank's backend and of the gov backend serving it — each run
# in a session of its own, so each peak is that run's.  The table runs are
# timed twice: first (the owner builds its encrypted table, the asker
# downloads it) and cached.  Then a plain SQL join of the same data inside
# one database, the ratios, and the rr22 and kkrt runs and the first table
# runs again over the emulated line of test/bench/link.sh (100 Mbit/s, 10 ms
# one way).  BENCH_LINK=0 leaves the line out, BENCH_TABLE=0 the table runs,
# BENCH_KKRT=0 the kkrt runs.
#
# Needs pgpriv installed where PGPRIV_PGBIN points (make install).
set -euo pipefail
. "$(dirname "$0")/pair.sh"

LOG=${BENCH_LOG:-16}
N=$((1 << LOG))
bench_ports 55480 link

bench_pair benchot
bench_peers bank_zs

gov <<SQL
CREATE TABLE enterprise AS
  SELECT '9131' || lpad(i::text, 13, '0') || 'X' AS credit_code,
         (ARRAY['A','B','C','D','M'])[1 + i % 5] AS tax_grade,
         round((i::bigint * 7919 % 500000)::numeric + 0.25, 2) AS tax_paid
    FROM generate_series(1, $N) AS i;
SELECT pgpriv.publish('tax', 'SELECT credit_code, tax_grade, tax_paid FROM public.enterprise', 'credit_code');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi_fetch', '{tax_grade,tax_paid}');
SELECT pgpriv.permit('tax', 'bank_zs', 'psi');
SQL
# Half the asker's keys are in the dataset (the even ones up to N).
bench_applicants "$N"
expected=$((N / 2))

gov_hwm_script gov_hwm

psi_q() { echo "SELECT count(*) FROM pgpriv.psi('$1', 'tax', 'SELECT credit_code FROM applicants')"; }
fetch_q() { echo "SELECT count(*) FROM pgpriv.psi_fetch('$1', 'tax', 'SELECT credit_code FROM applicants') AS t(credit_code text, tax_grade text, tax_paid numeric)"; }

# run NAME PROTOCOL SQL: one bank session; sets NAME_s, NAME_rows, NAME_bpk, NAME_bank, NAME_gov.
run() {
	local name=$1 proto=$2 sql=$3 out t0 t1 rows bytes bank_hwm gov_hwm
	out=$(bank <<SQL
SET pgpriv.psi_protocol = '$proto';
SELECT 't0=' || extract(epoch FROM clock_timestamp());
SELECT 'rows=' || ($sql);
SELECT 't1=' || extract(epoch FROM clock_timestamp());
SELECT 'bytes=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE side = 'asker' AND outcome = 'ok' ORDER BY id DESC LIMIT 1;
$(hwm_sql bank_hwm)
\\! sh $work/govhwm.sh
SQL
)
	eval "$(echo "$out" | grep -E '^[a-z_0-9]+=')"
	[ "$rows" = "$expected" ] || { echo "RESULT MISMATCH in $name: $rows rows, the plain join says $expected"; exit 1; }
	printf -v "${name}_s" '%s' "$(calc "$t1 - $t0")"
	printf -v "${name}_bpk" '%s' "$(calc "$bytes / $N")"
	printf -v "${name}_bank" '%s' "$((bank_hwm / 1024))"
	printf -v "${name}_gov" '%s' "$((gov_hwm / 1024))"
	local s=${name}_s b=${name}_bpk m1=${name}_bank m2=${name}_gov
	printf '  %-28s %8.2f s  %8.1f bytes/key  peak MB: bank %5s, gov %5s\n' "$name ($proto)" "${!s}" "${!b}" "${!m1}" "${!m2}"
}

# protocol_runs SERVER PREFIX: psi and psi_fetch on SERVER (gov: loopback,
# gov_link: the emulated line) by rr22 and, unless BENCH_KKRT=0, by kkrt,
# as the runs PREFIXpsi_rr22, PREFIXfetch_rr22, PREFIXpsi_kkrt, PREFIXfetch_kkrt.
protocol_runs() {
	local server=$1 p=$2
	run "${p}psi_rr22" rr22 "$(psi_q "$server")"
	run "${p}fetch_rr22" rr22 "$(fetch_q "$server")"
	if [ "${BENCH_KKRT:-1}" = 1 ]; then
		run "${p}psi_kkrt" kkrt "$(psi_q "$server")"
		run "${p}fetch_kkrt" kkrt "$(fetch_q "$server")"
	fi
}

printf 'blinded join, 2^%d asker keys x 2^%d owner rows, %d matching (loopback)\n' "$LOG" "$LOG" "$expected"
protocol_runs gov ''
if [ "${BENCH_TABLE:-1}" = 1 ]; then
	run psi_table1 table "$(psi_q gov)"
	run psi_table2 table "$(psi_q gov)"
	run fetch_table1 table "$(fetch_q gov)"
	run fetch_table2 table "$(fetch_q gov)"
fi

join_t0=$(now)
gov -c "CREATE TEMP TABLE k AS SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' AS credit_code FROM generate_series(1, $N) AS i; SELECT count(*) FROM enterprise JOIN k USING (credit_code)" >/dev/null
join_s=$(calc "$(now) - $join_t0")
printf '  plain SQL join of the same data in one database: %.3f s\n' "$join_s"
printf 'ratios: psi rr22/plain join %.1f, psi_fetch rr22/plain join %.1f\n' \
	"$(calc "$psi_rr22_s / $join_s")" "$(calc "$fetch_rr22_s / $join_s")"
if [ "${BENCH_KKRT:-1}" = 1 ]; then
	printf '        psi kkrt/rr22 %.1f, psi_fetch kkrt/rr22 %.1f\n' \
		"$(calc "$psi_kkrt_s / $psi_rr22_s")" "$(calc "$fetch_kkrt_s / $fetch_rr22_s")"
fi
if [ "${BENCH_TABLE:-1}" = 1 ]; then
	printf '        psi table first/rr22 %.1f, table cached/rr22 %.1f\n' \
		"$(calc "$psi_table1_s / $psi_rr22_s")" "$(calc "$psi_table2_s / $psi_rr22_s")"
	printf '        psi_fetch table first/rr22 %.1f, table cached/rr22 %.1f\n' \
		"$(calc "$fetch_table1_s / $fetch_rr22_s")" "$(calc "$fetch_table2_s / $fetch_rr22_s")"
fi

if [ "${BENCH_LINK:-1}" = 1 ]; then
	link_start "$LINK_PORT" "$GOV_PORT"
	printf '%s:\n' "$(link_label)"
	protocol_runs gov_link link_
	if [ "${BENCH_TABLE:-1}" = 1 ]; then
		run link_psi_table1 table "$(psi_q gov_link)"
		run link_fetch_table1 table "$(fetch_q gov_link)"
		printf 'ratios over the line: psi table first/rr22 %.1f, psi_fetch table first/rr22 %.1f\n' \
			"$(calc "$link_psi_table1_s / $link_psi_rr22_s")" "$(calc "$link_fetch_table1_s / $link_fetch_rr22_s")"
	fi
	link_stop
fi
