#!/usr/bin/env bash
# test/fuzz/run.sh SECONDS HARNESS... — run each libFuzzer harness for
# SECONDS, one after the other, and print one line per harness:
#
#   fuzz_wire: 1234567 runs in 60 s, 20576 exec/s, no crash
#
# Each harness starts from valid messages it writes itself when run with
# PGPRIV_FUZZ_GENERATE=<dir> (test/fuzz/build/seeds/<name>, made afresh each
# time so they follow the protocol as it changes), any checked-in inputs
# (test/fuzz/corpus/<name>: past crashes kept as regression inputs) and the
# inputs earlier runs found (test/fuzz/build/corpus/<name>, not committed).  A crash leaves its input in test/fuzz/build/ and the output
# of the run in test/fuzz/build/<name>.log.  Exits non-zero if any
# harness crashed or did not run.
set -uo pipefail

seconds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	build=$(dirname "$bin")
	work=$build/corpus/$name
	seeds=$here/corpus/$name
	log=$build/$name.log
	gen=$build/seeds/$name
	mkdir -p "$work"
	rm -rf "$gen"
	mkdir -p "$gen"
	if ! PGPRIV_FUZZ_GENERATE=$gen "$bin" >"$log" 2>&1; then
		failed=1
		echo "$name: FAILED: could not write its seeds, see $log"
		continue
	fi
	dirs=("$work" "$gen")
	[ -d "$seeds" ] && dirs+=("$seeds")
	# -timeout: one input taking 10 s is a finding (a peer can stall us);
	# -rss_limit_mb: so can one that needs gigabytes.
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$build/$name-" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log" | tail -n 1)
	secs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		rate=$(( runs / (secs > 0 ? secs : 1) ))
		echo "$name: $runs runs in $secs s, $rate exec/s, no crash"
	else
		failed=1
		echo "$name: FAILED (exit $rc), see $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|pg_shim:|TRAP:|fuzz_)' "$log" | head -n 5
		ls "$build/$name-"* 2>/dev/null | head -n 3
	fi
done
exit "$failed"
