#!/usr/bin/env bash
# Tests of the host examples: fanhub embedded next to a database or inside
# another event loop, each against the real thing.
#
#   test/hosts/run.sh BUILD_DIR [TEST...]
#
#   sqlite_tx    sqlite_broadcast: committed row changes only, in order
#   sqlite_10k   sqlite_broadcast: a 10,000-row transaction, timed
#   pg_notify    pg_notify: LISTEN/NOTIFY from a throwaway PostgreSQL
#                cluster the test initdb's, starts and removes
#   libuv_host   libuv_host: threads = 0 under a libuv loop, WS and SSE
#   evhttp_host  evhttp_host: libevent's evhttp answers, fanhub streams
#                (WS handed over by fd, SSE through a transport), bearer
#                auth, SQLite commits broadcast, SSE resume, no fd leaks
#   fd_limit     sqlite_broadcast, libuv_host and evhttp_host out of file
#                descriptors: no spinning, served again after (pg_notify:
#                in pg_notify)
#   mhd_host     mhd_host: libmicrohttpd answers WebSocket (ws://, wss://)
#                and SSE (http://, https://), fanhub fans out SQLite
#                commits to Python, curl and Chromium clients; token auth,
#                no leaked descriptors, SIGTERM
#
# BUILD_DIR holds sqlite_broadcast, pg_notify, libuv_host, evhttp_host and
# mhd_host (`make` builds them). One line per test (`ok NAME` / `FAIL NAME`
# and the log's tail), the figures tests print as "note:", timings, then
# `N passed, N failed`; exit 1 on any failure. TEST names pick a subset;
# an unknown one is an error.
#
# Needs (scripts/deps.sh installs them): /usr/bin/python3 with
# python3-websockets, curl, sqlite3 (libsqlite3), postgresql (initdb,
# pg_ctl, psql under /usr/lib/postgresql/*/bin; PG_BIN=... overrides; run
# as root, the cluster runs as the `postgres` user the package creates),
# libuv1, libevent, libmicrohttpd (Debian's, with GnuTLS), openssl,
# chromium; node with ws and playwright-core installed by `npm ci` in
# test/integration (see test/lib/node_modules.sh). Loopback only; logs go
# to a fresh /tmp/fanhub-hosts.* directory.
set -u

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [TEST...]" >&2
  exit 2
fi
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
HOSTS_BUILD=$(cd "$build" 2>/dev/null && pwd)
for b in sqlite_broadcast pg_notify libuv_host evhttp_host mhd_host; do
  if [ ! -x "$HOSTS_BUILD/$b" ]; then
    echo "no $b in $build (run make first)" >&2
    exit 2
  fi
done
export HOSTS_BUILD
export no_proxy='*' NO_PROXY='*'
export PYTHONDONTWRITEBYTECODE=1

# mhd_host's Chromium client uses test/integration's node packages.
. "$here/../lib/node_modules.sh"
if ! node_modules "$here/../integration"; then
  echo "0 passed, 1 failed"
  exit 1
fi

# name, seconds allowed
TESTS="
sqlite_tx 20
sqlite_10k 30
pg_notify 60
libuv_host 20
evhttp_host 30
fd_limit 40
mhd_host 90
"

. "$here/../lib/run_tests.sh"
run_tests "$here" hosts "$TESTS" "$@"
