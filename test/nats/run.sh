#!/usr/bin/env bash
# Tests of scale-out over NATS: several fanhubd nodes on one throwaway
# nats-server (JetStream in a temp store dir, a free loopback port), which
# the tests also kill and restart.
#
#   test/nats/run.sh BUILD_DIR [TEST...]
#
#   cross_node       JetStream, nodes A and B: WS on B and SSE on A get
#                    every message POSTed to A (and B) once, in order, with
#                    one numbering and one epoch; latency and throughput
#   failover_resume  JetStream: B is SIGKILLed under a WS client, which
#                    resumes on A with since = epoch-seq: gapless, no
#                    duplicate, then live
#   nats_restart     JetStream: nats-server killed and restarted twice; a
#                    buffered outage loses nothing, an overflowing one
#                    gives a "lagged" notice and "reset" on old resumes
#   restart_burst    JetStream: nats-server killed for 0.3 s in the middle
#                    of 4 x 600 POSTs to A: B gets every one once, each
#                    poster's in order (resends deduplicated by the stream)
#   oversize         JetStream: a broadcast over NATS's max_payload is
#                    dropped and reported ("lagged"), the next one flows
#   core_nats        core NATS (no JetStream): B gets what A publishes
#
# BUILD_DIR holds fanhubd (`make` builds it). When fanhubd was built
# without NATS (no libnats), the suite is skipped: a SKIPPED line on
# stderr and exit 0, or exit 1 under CI (test/lib/skip.sh). Otherwise one
# line per test (`ok NAME` / `FAIL NAME` and the log's tail), the figures
# tests print as "note:", timings, then `N passed, N failed`; exit 1 on any
# failure. TEST names pick a subset; an unknown one is an error.
#
# Needs: /usr/bin/python3 with python3-websockets, curl, nats-server
# (Debian's nats-server; NATS_SERVER=... overrides). Loopback only; logs go
# to a fresh /tmp/fanhub-nats.* directory.
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
# The option's own line: --help mentions --nats elsewhere without it too.
if ! "$FANHUBD" --help 2>&1 | grep -qE -- '^[[:space:]]*--nats[[:space:]]'; then
  . "$here/../lib/skip.sh"
  skipped "test/nats: $FANHUBD was built without NATS support (libnats" \
          "not installed)"
  exit
fi
NATS_SERVER=${NATS_SERVER:-nats-server}
if ! command -v "$NATS_SERVER" >/dev/null; then
  echo "FAIL: no $NATS_SERVER (install nats-server, or set NATS_SERVER)" >&2
  exit 1
fi
export FANHUBD NATS_SERVER
export no_proxy='*' NO_PROXY='*'
export PYTHONDONTWRITEBYTECODE=1

# name, seconds allowed
TESTS="
cross_node 40
failover_resume 20
nats_restart 30
restart_burst 60
oversize 15
core_nats 15
"

. "$here/../lib/run_tests.sh"
run_tests "$here" nats "$TESTS" "$@"
