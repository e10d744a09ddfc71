# shellcheck shell=bash
# Shared helpers for the bash integration tests (sourced, not run).
#
#   fh_start [fanhubd flags...]  starts fanhubd on 127.0.0.1:0, waits (5 s at
#                                most) for its listening line; sets FH_PID,
#                                FH_PORT, FH_BASE
#   fh_stop [seconds]            SIGTERM, then requires exit status 0 within
#                                `seconds` (default 5); kills it otherwise
#   fh_kill                      SIGKILL if still running (for traps)
#   fh_publish TOPIC [curl args] POST stdin to /publish; prints the seq
#   fail MESSAGE                 prints the reason and exits 1
#
# FANHUBD names the binary (run.sh sets it from its BUILD_DIR argument).

export no_proxy='*' NO_PROXY='*'
FANHUBD=${FANHUBD:-build/fanhubd}
FH_TMP=$(mktemp -d /tmp/fanhub-it-sh.XXXXXX)
FH_PID=
FH_PORT=
FH_BASE=

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

fh_start() {
  "$FANHUBD" --listen 127.0.0.1:0 "$@" >"$FH_TMP/fanhubd.out" 2>"$FH_TMP/fanhubd.err" &
  FH_PID=$!
  local line
  for _ in $(seq 100); do
    line=$(head -n1 "$FH_TMP/fanhubd.out")
    case "$line" in
      "fanhubd listening on http://127.0.0.1:"*/)
        FH_PORT=${line#fanhubd listening on http://127.0.0.1:}
        FH_PORT=${FH_PORT%/}
        FH_BASE="http://127.0.0.1:$FH_PORT"
        echo "fanhubd pid $FH_PID on port $FH_PORT flags $*" >&2
        return 0 ;;
    esac
    kill -0 "$FH_PID" 2>/dev/null || fail "fanhubd exited at start: $(cat "$FH_TMP/fanhubd.err")"
    sleep 0.05
  done
  fh_kill
  fail "no listening line within 5 s: $(cat "$FH_TMP/fanhubd.out")"
}

fh_stop() {
  local limit=${1:-5} rc
  [ -n "$FH_PID" ] || return 0
  kill -0 "$FH_PID" 2>/dev/null || fail "fanhubd died during the test: $(cat "$FH_TMP/fanhubd.err")"
  kill -TERM "$FH_PID"
  for _ in $(seq $((limit * 20))); do
    kill -0 "$FH_PID" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$FH_PID" 2>/dev/null; then
    fh_kill
    fail "fanhubd did not exit within $limit s of SIGTERM"
  fi
  rc=0
  wait "$FH_PID" || rc=$?
  FH_PID=
  [ "$rc" -eq 0 ] || fail "fanhubd exited $rc after SIGTERM: $(cat "$FH_TMP/fanhubd.err")"
  echo "fanhubd stopped, rc=0" >&2
}

fh_kill() {
  if [ -n "$FH_PID" ] && kill -0 "$FH_PID" 2>/dev/null; then
    kill -KILL "$FH_PID" 2>/dev/null
    wait "$FH_PID" 2>/dev/null
  fi
  FH_PID=
}

fh_cleanup() {
  fh_kill
  rm -rf "$FH_TMP"
}
trap fh_cleanup EXIT

fh_publish() {
  local topic=$1 out
  shift
  out=$(curl --noproxy '*' -s -S --max-time 5 -X POST --data-binary @- "$@" \
        "$FH_BASE/publish?topic=$topic") || fail "curl publish to $topic failed"
  case "$out" in
    '{"seq":'*'}') out=${out#'{"seq":'}; echo "${out%\}}" ;;
    *) fail "bad publish answer: $out" ;;
  esac
}
