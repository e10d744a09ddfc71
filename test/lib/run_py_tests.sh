# shellcheck shell=bash
# The driver loop of test/hosts/run.sh and test/nats/run.sh (sourced):
#
#   run_py_tests DIR KIND TESTS [NAME...]
#
# TESTS holds "NAME SECONDS" lines; each runs as /usr/bin/python3
# DIR/NAME.py (only the NAMEs given, if any) under timeout: SIGTERM after
# SECONDS (the test stops its servers on it), KILL 5 s later. Prints one
# line per test (`ok NAME` with the lines it printed as "note:", or
# `FAIL NAME` and the log's tail), the timings, then `N passed, N failed`.
# Logs go to a fresh /tmp/fanhub-KIND.* directory. Returns 0 only when
# every test that ran passed and at least one ran.
run_py_tests() {
  local dir=$1 kind=$2 tests=$3
  shift 3
  local logs passed=0 failed=0 timings= name limit rc t0 t_all
  logs=$(mktemp -d "/tmp/fanhub-$kind.XXXXXX")
  since() {
    local us=$((${EPOCHREALTIME/./} - $1))
    printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
  }
  t_all=${EPOCHREALTIME/./}
  while read -r name limit; do
    [ -n "$name" ] || continue
    if [ $# -gt 0 ]; then
      case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    t0=${EPOCHREALTIME/./}
    timeout -k 5 "$limit" /usr/bin/python3 "$dir/$name.py" </dev/null \
      >"$logs/$name.log" 2>&1
    rc=$?
    timings="$timings $name $(since "$t0")s,"
    if [ "$rc" -eq 0 ]; then
      echo "ok $name"
      grep '^note: ' "$logs/$name.log" | sed 's/^/    /'
      passed=$((passed + 1))
    else
      echo "FAIL $name"
      [ "$rc" -eq 124 ] && echo "    (timed out after ${limit}s)"
      tail -n 25 "$logs/$name.log" | sed 's/^/    /'
      failed=$((failed + 1))
    fi
  done <<<"$tests"
  echo "timings:${timings%,}; total $(since "$t_all")s; logs in $logs"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
