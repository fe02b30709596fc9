# test/bench/link.sh — sourced by the benchmarks: an emulated bank–bureau
# line in front of a local cluster (test/tools/link_relay.pl, loopback only).
#
#   link_start LISTEN_PORT TARGET_PORT   start the relay (BENCH_LINK_MBIT,
#                                        default 100; BENCH_LINK_DELAY_MS one
#                                        way, default 10)
#   link_stop                            stop it (also on the caller's EXIT trap)
#   link_label                           "100 Mbit/s, 10 ms one way"
LINK_MBIT=${BENCH_LINK_MBIT:-100}
LINK_DELAY_MS=${BENCH_LINK_DELAY_MS:-10}
link_pid=

link_start() {
	perl "$SRC_DIR/test/tools/link_relay.pl" "$1" "$2" "$LINK_MBIT" "$LINK_DELAY_MS" &
	link_pid=$!
	local i
	for i in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "link_relay.pl did not start on port $1" >&2
	return 1
}

link_stop() {
	[ -z "$link_pid" ] || kill "$link_pid" 2>/dev/null || true
	link_pid=
}

link_label() {
	echo "$LINK_MBIT Mbit/s, $LINK_DELAY_MS ms one way"
}
