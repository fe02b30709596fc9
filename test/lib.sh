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
