#!/usr/bin/env bash
# Usage: test/runners/run.sh BUILD_DIR
# The test runners fail rather than pass having run nothing: test_core,
# test_unit and run_tests (integration, hosts, NATS) refuse a name that is
# no test, and the NATS suite, skipped for a fanhubd built without NATS,
# says so on stderr and fails under CI. BUILD_DIR holds test_core,
# test_unit, libfanhub.a and the fanhubd objects (`make` builds them).
set -u

build=${1:?usage: $0 BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
build=$(cd "$build" && pwd) || exit 2
CC=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanhub-runners.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "runners: FAIL: $*" >&2
  cat "$tmp/out" "$tmp/err" 2>/dev/null | sed 's/^/    /' >&2
  exit 1
}

# test_core and test_unit: an unknown name alone, and next to a real test
# of the binary (which must not run either); a test of the other binary
# is unknown too.
for bin_test in "test_core test_hash_table" "test_unit test_http_reject"; do
  bin=${bin_test% *} real=${bin_test#* }
  for args in "no_such_test" "$real no_such_test"; do
    # shellcheck disable=SC2086
    "$build/$bin" $args >"$tmp/out" 2>&1 && fail "$bin $args exited 0"
    grep -q "no_such_test" "$tmp/out" || fail "$bin $args: no_such_test not named"
    grep -q "$real (" "$tmp/out" && fail "$bin $args ran $real"
  done
done
"$build/test_unit" test_hash_table >"$tmp/out" 2>&1 &&
  fail "test_unit ran test_hash_table, a test of test_core"

# run_tests: a suite of one test that passes, run by name, then with an
# unknown name next to it. Its logs directory is removed after.
mkdir "$tmp/suite"
echo 'exit 0' >"$tmp/suite/passes.sh"
suite() {
  (. test/lib/run_tests.sh && run_tests "$tmp/suite" runners "passes.sh 10" "$@") \
    >"$tmp/out" 2>&1
  local rc=$?
  logs=$(sed -n 's/.*; logs in \(\/tmp\/fanhub-runners\.[A-Za-z0-9]*\)$/\1/p' "$tmp/out")
  [ -z "$logs" ] || rm -rf "$logs"
  return $rc
}
suite passes || fail "run_tests passes: exit $?"
suite passes no_such_test && fail "run_tests passes no_such_test exited 0"
grep -q "no_such_test" "$tmp/out" || fail "run_tests: no_such_test not named"

# test/nats/run.sh against a real fanhubd built without NATS (what `make`
# builds when libnats is missing): loud everywhere, a failure under CI.
mkdir "$tmp/build"
"$CC" -std=c11 -D_GNU_SOURCE -Iinclude -o "$tmp/build/fanhubd" \
  examples/fanhubd/fanhubd.c "$build/examples/fanhubd/page.o" \
  "$build/examples/auth_jwt.o" "$build/libfanhub.a" \
  -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lpthread >"$tmp/out" 2>&1 ||
  fail "cannot build a fanhubd without NATS"
nats() {
  env -u CI -u FANHUB_REQUIRE_ALL "$@" bash test/nats/run.sh "$tmp/build" \
    >"$tmp/out" 2>"$tmp/err"
}
nats || fail "test/nats/run.sh skipping outside CI: exit $?"
grep -q '^SKIPPED: .*without NATS' "$tmp/err" ||
  fail "test/nats/run.sh skipped without a SKIPPED line on stderr"
for ci in CI=1 CI=true FANHUB_REQUIRE_ALL=1; do
  nats "$ci" && fail "test/nats/run.sh skipped with $ci and exited 0"
  grep -q '^SKIPPED: ' "$tmp/err" || fail "test/nats/run.sh with $ci: no SKIPPED line"
done

echo "runners: OK (unknown test names refused; a skipped NATS suite is loud, and fails under CI)"
