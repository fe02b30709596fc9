# test/bench/pair.sh — sourced by the two-cluster benchmarks, after test/lib.sh
# and test/bench/link.sh: a "gov" and a "bank" cluster on loopback in a
# scratch directory, gov taking SCRAM passwords over TCP as a bureau would.
#
#   bench_pair NAME    make $work (pgpriv-NAME.*), start gov on $GOV_PORT and
#                      bank on $BANK_PORT; on EXIT stop the link relay and both
#                      clusters and remove $work (kept with PGPRIV_KEEP=1)
#   gov ARGS, bank ARGS    psql as postgres on that cluster: unaligned,
#                          tuples only, stop at the first error
#   now, calc EXPR         a timestamp in seconds; awk arithmetic
bench_pair() {
	work=$(make_workdir "$1")
	trap 'link_stop; stop_cluster "$work/gov"; stop_cluster "$work/bank"; [ "${PGPRIV_KEEP:-}" = 1 ] || rm -rf "$work"' EXIT
	local node
	for node in gov bank; do
		mkdir -p "$work/$node"
		[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$work/$node"
	done
	start_cluster "$work/gov" "$GOV_PORT"
	start_cluster "$work/bank" "$BANK_PORT"
	printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$work/gov/data/pg_hba.conf"
	as_pg pg_ctl -D "$work/gov/data" reload >/dev/null
}

gov() { as_pg psql -X -q -A -t -h "$work/gov" -p "$GOV_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
bank() { as_pg psql -X -q -A -t -h "$work/bank" -p "$BANK_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
