#!/usr/bin/env bash
# fanhub integration tests: real clients against a real fanhubd.
#
#   test/integration/run.sh BUILD_DIR [TEST...]
#
# BUILD_DIR holds fanhubd (`make` builds build/fanhubd). Each test starts
# its own fanhubd on 127.0.0.1 with --listen 127.0.0.1:0, stops it with
# SIGTERM and requires exit status 0 (clean shutdown). Each runs under
# `timeout`; one line per test (`ok NAME` / `FAIL NAME`, the log's tail
# after a failure), timings, then `N passed, N failed`. Exit 1 on any
# failure. TEST names (e.g. ws_delivery) pick a subset; an unknown one is
# an error.
#
# Needs (scripts/deps.sh installs the Debian ones):
#   /usr/bin/python3 with python3-websockets (Debian, 10.4)
#   curl, chromium (/usr/bin/chromium; CHROMIUM=... overrides)
#   node >= 20 and npm: the machine's own (Debian's nodejs package is
#     18 without npm, so it is not in deps.sh); `npm ci` here installs ws
#     and playwright-core from package-lock.json when node_modules is
#     missing or stale (the npm registry must be reachable then);
#     playwright-core drives the system Chromium and downloads no browser
#   up to ~1,100 file descriptors per process (ulimit -n 4096 below)
# Loopback only; logs go to a fresh /tmp/fanhub-it.* directory.
set -u

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [TEST...]" >&2
  exit 2
fi
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
FANHUBD=$(cd "$build" 2>/dev/null && pwd)/fanhubd
if [ ! -x "$FANHUBD" ]; then
  echo "no fanhubd in $build (run make first)" >&2
  exit 2
fi
export FANHUBD
export no_proxy='*' NO_PROXY='*'
export PYTHONDONTWRITEBYTECODE=1

# 1,000 WebSocket clients need as many descriptors in the test and in
# fanhubd, which inherits this limit.
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. "$here/../lib/node_modules.sh"
if ! node_modules "$here"; then
  echo "0 passed, 1 failed"
  exit 1
fi

# name, seconds allowed
TESTS="
ws_delivery.py 30
node_ws.js 30
sse_curl.sh 30
sse_python.py 30
sse_resume.py 30
large_publish.py 30
ws_thousand.py 60
browser.js 60
hostile.py 30
resume_flood.py 30
connect_storm.py 60
shutdown.py 30
tls.py 30
tls_flood.py 40
tls_idle.py 30
ws_resume.py 30
browser_resume.js 60
browser_metrics.js 60
hostile_clients.py 60
fd_limit.py 30
keepalive.py 60
socket_activation.py 30
config_file.py 30
man_page.sh 30
"

# timeout signals the whole process group it makes, so a test's fanhubd
# and clients go with it.
. "$here/../lib/run_tests.sh"
run_tests "$here" it "$TESTS" "$@"
