#!/usr/bin/env bash
# test/bench/secure_sum.sh — secure_sum between four local clusters.
#
# An asker bank and three owner banks; every owner holds BENCH_ROWS loan rows
# over the same BENCH_KEYS enterprise codes (with some duplicated codes and
# NULL amounts), the asker asks all BENCH_KEYS codes.  Prints, in one run:
#   - secure_sum wall time (three owners) and the same totals by a plain
#     GROUP BY sum of all owners' rows copied into one database; the ratio
#     (goal <= 5);
#   - bytes on the wire, and whether the totals agree.
# Needs pgpriv installed (make install); run as root or as a user that can
# run initdb.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

KEYS=${BENCH_KEYS:-1000000}
ROWS=${BENCH_ROWS:-$KEYS}
BASE_PORT=${BENCH_BASE_PORT:-55480}

work=$(make_workdir bench-sum)
nodes="a b c d"
cleanup() { for n in $nodes; do stop_cluster "$work/$n"; done; [ "${PGPRIV_KEEP:-}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
i=0
for n in $nodes; do
	mkdir -p "$work/$n"
	[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$work/$n"
	start_cluster "$work/$n" $((BASE_PORT + i))
	printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$work/$n/data/pg_hba.conf"
	as_pg pg_ctl -D "$work/$n/data" reload >/dev/null
	i=$((i + 1))
done
port() { case $1 in a) echo $BASE_PORT;; b) echo $((BASE_PORT + 1));; c) echo $((BASE_PORT + 2));; d) echo $((BASE_PORT + 3));; esac; }
sql() { local n=$1; shift; as_pg psql -X -q -A -t -h "$work/$n" -p "$(port "$n")" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }

# Each owner: ROWS rows over KEYS codes (a code may repeat), amounts with
# decimals, negative ones, and some NULLs; the seed differs per owner.
seed=1
for n in b c d; do
	sql "$n" >/dev/null <<SQL
CREATE EXTENSION pgpriv;
CREATE ROLE sum_peer LOGIN PASSWORD 'bench';
SELECT setseed(0.$seed);
CREATE TABLE loans AS
  SELECT '9131' || lpad((1 + (i * 7919::bigint + $seed) % $KEYS)::text, 13, '0') || 'X' AS credit_code,
         CASE WHEN random() < 0.05 THEN NULL
              ELSE round((random() * 2000000 - 100000)::numeric, 2) END AS amount
    FROM generate_series(1, $ROWS) AS i;
SELECT pgpriv.publish('loans', 'SELECT credit_code, amount FROM public.loans', 'credit_code');
SELECT pgpriv.permit('loans', 'sum_peer', 'secure_sum', '{amount}', min_parties => 2);
SQL
	seed=$((seed + 1))
done
sql a -c "CREATE EXTENSION pgpriv" >/dev/null
for n in b c d; do
	key=$(sql "$n" -c "SELECT encode(public_key, 'hex') FROM pgpriv.identity()")
	sql a >/dev/null <<SQL
CREATE SERVER $n FOREIGN DATA WRAPPER pgpriv
  OPTIONS (host '127.0.0.1', port '$(port "$n")', dbname 'postgres', public_key '$key', sslmode 'disable');
CREATE USER MAPPING FOR postgres SERVER $n OPTIONS (user 'sum_peer', password 'bench');
SQL
done
sql a -c "CREATE TABLE asked AS SELECT '9131' || lpad(i::text, 13, '0') || 'X' AS credit_code FROM generate_series(1, $KEYS) AS i" >/dev/null

# The plain baseline: all owners' rows in one database, one GROUP BY.
sql a -c "CREATE TABLE all_loans (credit_code text, amount numeric)"
for n in b c d; do
	sql "$n" -c "COPY loans TO STDOUT" | sql a -c "COPY all_loans FROM STDIN"
done
sql a -c "VACUUM ANALYZE all_loans" -c "VACUUM ANALYZE asked" >/dev/null

out=$(sql a <<SQL
SELECT 't0=' || extract(epoch FROM clock_timestamp());
CREATE TEMP TABLE secure AS
  SELECT * FROM pgpriv.secure_sum('{b,c,d}', 'loans', 'amount', 'SELECT credit_code FROM asked');
SELECT 't1=' || extract(epoch FROM clock_timestamp());
CREATE TEMP TABLE plain AS
  SELECT k.credit_code AS key, coalesce(sum(l.amount), 0) AS total, count(l.amount) AS n
    FROM asked AS k LEFT JOIN all_loans AS l USING (credit_code) GROUP BY k.credit_code;
SELECT 't2=' || extract(epoch FROM clock_timestamp());
CREATE TEMP TABLE plain_only AS
  SELECT credit_code, sum(amount) FROM all_loans GROUP BY credit_code;
SELECT 't3=' || extract(epoch FROM clock_timestamp());
SELECT 'rows=' || count(*) FROM secure;
SELECT 'mismatches=' || count(*) FROM secure AS s FULL JOIN plain AS p USING (key)
 WHERE s.total IS DISTINCT FROM p.total;
SELECT 'bytes=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'secure_sum' ORDER BY id DESC LIMIT 1;
SQL
)
eval "$(echo "$out" | grep -E '^[a-z_0-9]+=')"
sum_s=$(calc "$t1 - $t0")
join_s=$(calc "$t2 - $t1")
group_s=$(calc "$t3 - $t2")
printf '\nsecure_sum of %d keys over three owners (%d rows each), %d cores\n' "$KEYS" "$ROWS" "$(nproc)"
printf '  secure_sum           : %7.2f s   (%s rows, %s bytes on the wire)\n' "$sum_s" "$rows" "$bytes"
printf '  plain GROUP BY sum   : %7.2f s   (all %d rows in one database)\n' "$group_s" $((3 * ROWS))
printf '  plain keys LEFT JOIN + GROUP BY: %7.2f s\n' "$join_s"
printf '  ratio to GROUP BY sum: %.2f (goal <= 5); ratio to the join: %.2f\n' \
	"$(calc "$sum_s / $group_s")" "$(calc "$sum_s / $join_s")"
[ "$mismatches" = 0 ] && [ "$rows" = "$KEYS" ] || { echo "RESULT MISMATCH ($mismatches)"; exit 1; }
