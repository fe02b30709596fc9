# test/bench/pair.sh — sourced by the two-cluster benchmarks (it sources
# test/lib.sh and test/bench/link.sh itself): a "gov" and a "bank" cluster on
# loopback in a scratch directory, gov taking SCRAM passwords over TCP as a
# bureau would.
#
#   bench_ports BASE [link]   GOV_PORT=BASE, BANK_PORT=BASE+1 and, with link,
#                      LINK_PORT=BASE+2, each unless BENCH_GOV_PORT,
#                      BENCH_BANK_PORT, BENCH_LINK_PORT say otherwise
#   bench_pair NAME    make $work (pgpriv-NAME.*), start gov on $GOV_PORT and
#                      bank on $BANK_PORT; on EXIT stop the link relay and both
#                      clusters and remove $work (kept with PGPRIV_KEEP=1)
#   gov ARGS, bank ARGS    psql as postgres on that cluster: unaligned,
#                          tuples only, stop at the first error
#   now, calc EXPR         a timestamp in seconds; awk arithmetic
#   bench_peers ROLE [KEY] gov: CREATE EXTENSION pgpriv and the login ROLE
#                          (password 'bench'); bank: CREATE EXTENSION pgpriv,
#                          the server gov on $GOV_PORT and, when $LINK_PORT is
#                          set, gov_link on $LINK_PORT (the emulated line),
#                          each mapped to ROLE and pinning gov by KEY:
#                          public_key (the default) or signing_key
#   bench_applicants N     bank: the table applicants of N asker keys, the
#                          credit codes of 2, 4, ..., 2N (the even ones of an
#                          owner table of codes 1..M)
#   enterprise_sql N       the SQL of gov's table enterprise: N rows of
#                          credit_code (codes 1..N), tax_grade, tax_paid and
#                          ss_headcount
#   bench_unit_costs       build test/bench/unit_costs and set its single-core
#                          costs (hash_to_group_us, scalarmult_us, ...)
#   hwm_sql VAR            a SELECT printing VAR=<the peak memory (VmHWM, kB)
#                          of the session's own backend>
#   gov_hwm_script VAR     write $work/govhwm.sh, which prints VAR=<VmHWM, kB,
#                          of gov's newest backend serving ROLE>; a bank session
#                          runs it with \! sh $work/govhwm.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/link.sh"

bench_ports() {
	GOV_PORT=${BENCH_GOV_PORT:-$1}
	BANK_PORT=${BENCH_BANK_PORT:-$(($1 + 1))}
	if [ "${2:-}" = link ]; then LINK_PORT=${BENCH_LINK_PORT:-$(($1 + 2))}; fi
}

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

bench_peers() {
	bench_role=$1
	local opt=${2:-public_key} key server port
	gov >/dev/null <<SQL
CREATE EXTENSION pgpriv;
CREATE ROLE $bench_role LOGIN PASSWORD 'bench';
SQL
	if [ "$opt" = signing_key ]; then
		key=$(gov -c "SELECT encode(signing_key, 'hex') FROM pgpriv.identity_card()")
	else
		key=$(gov -c "SELECT encode(public_key, 'hex') FROM pgpriv.identity()")
	fi
	bank -c 'CREATE EXTENSION pgpriv' >/dev/null
	for server in gov ${LINK_PORT:+gov_link}; do
		if [ "$server" = gov ]; then port=$GOV_PORT; else port=$LINK_PORT; fi
		bank >/dev/null <<SQL
CREATE SERVER $server FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres', $opt '$key', sslmode 'disable');
CREATE USER MAPPING FOR postgres SERVER $server OPTIONS (user '$bench_role', password 'bench');
SQL
	done
}

bench_applicants() {
	bank <<SQL
CREATE TABLE applicants AS
  SELECT '9131' || lpad((i * 2)::text, 13, '0') || 'X' AS credit_code FROM generate_series(1, $1) AS i;
SQL
}

enterprise_sql() {
	cat <<SQL
CREATE TABLE enterprise AS
  SELECT '9131' || lpad(i::text, 13, '0') || 'X' AS credit_code,
         (ARRAY['A','B','C','D','M'])[1 + i % 5] AS tax_grade,
         round((i::bigint * 7919 % 500000)::numeric + 0.25, 2) AS tax_paid,
         (i % 300) AS ss_headcount
    FROM generate_series(1, $1) AS i;
SQL
}

bench_unit_costs() {
	make -s -C "$SRC_DIR" PG_CONFIG="$PG_CONFIG" test/bench/unit_costs
	eval "$("$SRC_DIR"/test/bench/unit_costs 2000)"
}

hwm_sql() { echo "SELECT '$1=' || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1];"; }

gov_hwm_script() {
	cat > "$work/govhwm.sh" <<SH
pid=\$(psql -X -A -t -h "$work/gov" -p "$GOV_PORT" -U postgres -d postgres -c "SELECT pid FROM pg_stat_activity WHERE usename = '$bench_role' ORDER BY backend_start DESC LIMIT 1")
grep VmHWM /proc/\$pid/status | awk '{ print "$1=" \$2 }'
SH
	chmod 755 "$work/govhwm.sh"
}
