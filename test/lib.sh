# test/lib.sh — set-up shared by test/run and test/demo/run (sourced, not run).
#
# Installs what pgpriv needs from Debian's packages, builds and installs the
# extension, and offers helpers to run commands as the postgres user (initdb
# refuses root) and to start throw-away clusters.

PG_MAJOR=${PG_MAJOR:-15}
# PGPRIV_PGBIN: another (relocated) copy of the PostgreSQL installation to build
# against, install into and run, e.g. to keep a benchmark apart from other work.
PGBIN=${PGPRIV_PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PGXS_DIR=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs
PG_CONFIG=$PGBIN/pg_config
# Warnings are errors in every build the tests make, the package's included
# (the Makefile adds -Werror when PGPRIV_WERROR=1; make reads it from the
# environment, which dpkg-buildpackage and pg_buildext pass on).
export PGPRIV_WERROR=${PGPRIV_WERROR-1}
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi

DEB_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libsodium-dev libssl-dev openssl
  postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
  build-essential pkg-config clang libclang-rt-dev"

say() { printf '\n== %s\n' "$*"; }

install_deps() {
	if [ "${PGPRIV_SKIP_DEPS:-}" = 1 ]; then return 0; fi
	say "installing Debian packages"
	$SUDO apt-get update -qq || return 1
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		$DEB_PACKAGES >/dev/null || return 1
}

build_and_install() {
	say "building pgpriv (warnings are errors)"
	make -C "$SRC_DIR" -s clean >/dev/null
	make -C "$SRC_DIR" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" || return 1
	make -C "$SRC_DIR" -s PG_CONFIG="$PG_CONFIG" test/bench/bench_oprf || return 1
	$SUDO make -C "$SRC_DIR" -s PG_CONFIG="$PG_CONFIG" install >/dev/null || return 1
}

# Run a command as the postgres user when we are root, else as ourselves.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"
	else
		env PATH="$PGBIN:$PATH" "$@"
	fi
}

# A scratch copy of the tree that the postgres user may write to.
make_workdir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pgpriv-$1.XXXXXX")
	cp -a "$SRC_DIR/." "$dir/"
	if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$dir"; fi
	chmod 755 "$dir"
	echo "$dir"
}

# start_cluster DIR PORT: initdb and start a cluster listening on loopback and
# a socket in DIR; superuser "postgres", trust auth for local connections.
start_cluster() {
	local dir=$1 port=$2
	as_pg initdb -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log"; return 1; }
	as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || {
		cat "$dir/server.log"; return 1; }
}

stop_cluster() {
	as_pg pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

# sanitizer_check STAGE [SERVER_LOG...]: when PGPRIV_SANITIZER_LOGS names a
# directory (the log_path of ASAN_OPTIONS/UBSAN_OPTIONS, set by test/asan/run),
# print every report written there since the last check and move it to its
# seen/ folder; then print every sanitizer line the server logs gained since
# the last check (UBSan reports from a backend go to the server's stderr: see
# test/asan/run).  Leaves their number in san_found: test/run counts each as
# a failure of STAGE.
declare -A san_seen_bytes
san_report_re="(ERROR|WARNING): [A-Za-z]*Sanitizer|runtime error: |Sanitizer CHECK failed|ERROR: Can.t open file"
sanitizer_check() {
	local stage=$1 f n size from
	shift
	san_found=0
	[ -n "${PGPRIV_SANITIZER_LOGS:-}" ] || return 0
	for f in "$PGPRIV_SANITIZER_LOGS"/*; do
		[ -f "$f" ] || continue
		say "$stage: sanitizer report $(basename "$f")"
		cat "$f"
		mkdir -p "$PGPRIV_SANITIZER_LOGS/seen"
		mv "$f" "$PGPRIV_SANITIZER_LOGS/seen/"
		san_found=$((san_found + 1))
	done
	for f in "$@"; do
		[ -f "$f" ] || continue
		size=$(stat -c %s "$f")
		from=${san_seen_bytes[$f]:-0}
		san_seen_bytes[$f]=$size
		n=$(tail -c +"$((from + 1))" "$f" | head -c "$((size - from))" | grep -acE "$san_report_re")
		[ "$n" -gt 0 ] || continue
		say "$stage: $n sanitizer reports in $f"
		tail -c +"$((from + 1))" "$f" | head -c "$((size - from))" | grep -a -B 2 -A 12 -E "$san_report_re"
		san_found=$((san_found + n))
	done
	echo "$stage: $san_found sanitizer reports"
}
