# shellcheck shell=bash
# The driver loop of the integration, hosts and NATS runners (sourced):
#
#   run_tests DIR KIND TESTS [NAME...]
#
# TESTS holds "FILE SECONDS" lines; FILE is DIR/NAME.py (run by
# /usr/bin/python3), NAME.js (node) or NAME.sh (bash), and a bare NAME
# means NAME.py. Only the NAMEs given run, if any; a NAME that is not in
# TESTS is an error (status 2, nothing run), so a typo or a renamed test
# cannot pass by running the others. Each runs under
# timeout: SIGTERM after SECONDS to the process group (the test stops its
# servers on it), KILL 5 s later. Prints one line per test (`ok NAME`
# with the lines it printed as "note:", or `FAIL NAME` and the log's
# tail), the timings, then `N passed, N failed`. Logs go to a fresh
# /tmp/fanhub-KIND.* directory, named to the tests in FANHUB_TEST_LOGS
# for files of their own (screenshots). Returns 0 only when every test
# that ran passed and at least one ran.
run_tests() {
  local dir=$1 kind=$2 tests=$3
  shift 3
  local logs passed=0 failed=0 timings= file name limit rc t0 t_all cmd
  local names='' unknown=0
  while read -r file limit; do
    [ -z "$file" ] || names="$names ${file%.*}"
  done <<<"$tests"
  for name in "$@"; do
    case "$names " in *" $name "*) ;; *)
      echo "run_tests: no $kind test named '$name'" >&2; unknown=1 ;; esac
  done
  [ "$unknown" -eq 0 ] || return 2
  logs=$(mktemp -d "/tmp/fanhub-$kind.XXXXXX")
  since() {
    local us=$((${EPOCHREALTIME/./} - $1))
    printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
  }
  t_all=${EPOCHREALTIME/./}
  while read -r file limit; do
    [ -n "$file" ] || continue
    case "$file" in *.*) ;; *) file=$file.py ;; esac
    name=${file%.*}
    if [ $# -gt 0 ]; then
      case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    case "$file" in
      *.py) cmd=(/usr/bin/python3 "$dir/$file") ;;
      *.js) cmd=(node "$dir/$file") ;;
      *.sh) cmd=(bash "$dir/$file") ;;
      *) echo "run_tests: unknown kind of test: $file" >&2; return 2 ;;
    esac
    t0=${EPOCHREALTIME/./}
    FANHUB_TEST_LOGS=$logs timeout -k 5 "$limit" "${cmd[@]}" </dev/null >"$logs/$name.log" 2>&1
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
