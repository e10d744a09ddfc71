#!/usr/bin/env bash
# bench/scale.sh BUILD_DIR (make bench-scale): scale-out over NATS
# JetStream, issue 19 item 3.
#
# One nats-server (JetStream in a temp store, monitoring on -m), then:
#   lone   one fanhubd --nats --jetstream LONE, SCALE_SUBS WebSocket
#          subscribers (fanhub.raw), one load generator; run before and
#          after the cluster (lone, lone-2)
#   plain  the same lone node without NATS
#   stream the same cluster with SCALE_STREAM_SUBS (100) subscribers per
#          node: the stream's messages/s with six consumers
#   scale  SCALE_NODES fanhubd --nats --jetstream SCALE on the same
#          nats-server, SCALE_SUBS subscribers each, one load generator per
#          node (loadgen --group): member 0 publishes into node 0, every
#          member checks its own subscribers (loss, duplicates, order),
#          and a message is in flight until all nodes' subscribers have it
# Each set: a W=1 phase, then SCALE_REPS W=32 phases, 64 B payloads. A
# sampler reads /proc/PID/stat of every process and the stream's last
# sequence from nats-server's /jsz every 0.5 s. Writes bench/results/
# scale.md and scale.json. A few minutes on 2 cores.
#
# Every process this starts is stopped on exit, whatever happens.
set -euo pipefail

BUILD=${1:-build}
BENCH=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/bench
RESULTS=$BENCH/results
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/fanhub-bench-scale.XXXXXX)
RAW=$OUT/runs-scale.jsonl
: > "$RAW"
NODES=${SCALE_NODES:-6}
SUBS=${SCALE_SUBS:-16000}
REPS=${SCALE_REPS:-3}
STREAM_SUBS=${SCALE_STREAM_SUBS:-100}
PHASES=(--phase 64:1:100000:4)
for _ in $(seq "$REPS"); do PHASES+=(--phase 64:32:1000000:4); done

log() { printf '[bench-scale %s] %s\n' "$(date +%T)" "$*" >&2; }

ALL=()       # every process we started, stopped on exit
stop_all() {
  local p
  for p in "${ALL[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${ALL[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  ALL=()
}
cleanup() { stop_all; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v nats-server > /dev/null || { log "nats-server not installed (make deps)"; exit 1; }
"$BUILD/fanhubd" --help | grep -q -- --jetstream ||
  { log "fanhubd was built without libnats"; exit 1; }
CC=${CC:-cc}
$CC -std=c11 -O2 -g -Wall -Wextra -o "$OUT/loadgen" "$BENCH/loadgen.c" \
  -lmbedtls -lmbedx509 -lmbedcrypto
ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" -lt $((SUBS + 300)) ]; then
  log "need $((SUBS + 300)) open files per process, the limit is $(ulimit -Sn)"; exit 1
fi

# ---- nats-server -------------------------------------------------------
NP=$("$OUT/loadgen" --free-port)
MP=$("$OUT/loadgen" --free-port)
nats-server -a 127.0.0.1 -p "$NP" -m "$MP" -js -sd "$TMP/nats-store" \
  > "$TMP/nats.out" 2>&1 &
NPID=$!
ALL+=("$NPID")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$MP/varz" > /dev/null && break
  sleep 0.05
done

start_node() { # stream name (- : no NATS); sets NODE_PID NODE_PORT
  local out=$TMP/node-$RANDOM.out nats=()
  [ "$1" != - ] && nats=(--nats "nats://127.0.0.1:$NP" --jetstream "$1" --nats-prefix "fh$1")
  # --handshake-timeout: the load generators' publish connections wait
  # idle while all nodes' subscribers connect, longer than the default 10 s
  "$BUILD/fanhubd" --listen 127.0.0.1:0 --shards 1 --ping-interval 0 \
    --sse-keepalive 0 --drain 0 --handshake-timeout 600000 "${nats[@]}" \
    > "$out" 2>&1 &
  NODE_PID=$!
  ALL+=("$NODE_PID")
  NODE_PORT=
  for _ in $(seq 200); do
    NODE_PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$out" 2>/dev/null)
    [ -n "$NODE_PORT" ] && return 0
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "fanhubd did not start:"; cat "$out" >&2; exit 1
}

# Every 0.5 s: wall time, the stream's last sequence, the machine's busy
# clock ticks (/proc/stat), then utime+stime (clock ticks) of each PID given, until the file $TMP/stop-sampler exists.
sampler() { # stream out pids...
  local stream=$1 out=$2; shift 2
  local k=0
  # stops when told, when this script is gone, or after 15 minutes
  while [ ! -e "$TMP/stop-sampler" ] && kill -0 $$ 2>/dev/null && [ $k -lt 1800 ]; do
    k=$((k + 1))
    local line seq
    seq=$(curl -s --max-time 1 "http://127.0.0.1:$MP/jsz?streams=1" |
      jq -r --arg s "$stream" '[.account_details[]?.stream_detail[]? | select(.name == $s) | .state.last_seq][0] // 0' 2>/dev/null || echo 0)
    line="$(date +%s.%N) $seq $(awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat)"
    for p in "$@"; do
      line="$line $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"
    done
    echo "$line" >> "$out"
    sleep 0.5
  done
}

# run_set NAME STREAM NODES [SUBS]: NODES fanhubd on STREAM, one loadgen
# each, SUBS subscribers per node (default SCALE_SUBS).
run_set() {
  local name=$1 stream=$2 n=$3 subs=${4:-$SUBS} i
  local npids=() ports=() lpids=()
  log "$name: $n node(s) x $subs subscribers on stream $stream"
  for i in $(seq 0 $((n - 1))); do
    start_node "$stream"; npids+=("$NODE_PID"); ports+=("$NODE_PORT")
  done
  rm -f "$TMP/group" "$TMP/stop-sampler"
  local t0; t0=$(date +%s)
  for i in $(seq 0 $((n - 1))); do
    timeout -k 5 400 "$OUT/loadgen" --port "${ports[$i]}" --pub-port "${ports[0]}" \
      --proto ws --sub "/ws?topic=bench" --pub "/publish?topic=bench" \
      --ws-protocol fanhub.raw --subs "$subs" --pids "${npids[$i]}" \
      --metrics /metrics --label "$name" --group "$TMP/group:$i:$n" \
      --connect-timeout 200 --drain-timeout 30 "${PHASES[@]}" \
      > "$TMP/$name-$i.jsonl" 2> "$TMP/$name-$i.err" &
    lpids+=("$!")
  done
  ALL+=("${lpids[@]}")
  # the load generators themselves (children of timeout), for their CPU
  local lgpids=() c
  for i in $(seq 0 $((n - 1))); do
    c=
    for _ in $(seq 100); do
      c=$(pgrep -P "${lpids[$i]}" | head -1 || true)
      [ -n "$c" ] && break
      sleep 0.02
    done
    lgpids+=("${c:-${lpids[$i]}}")
  done
  : > "$TMP/$name.samples"
  sampler "$stream" "$TMP/$name.samples" "$NPID" "${npids[@]}" "${lgpids[@]}" &
  local spid=$!
  local rc=0 r
  for i in $(seq 0 $((n - 1))); do
    r=0; wait "${lpids[$i]}" || r=$?
    [ $r -ne 0 ] && { log "$name loadgen $i exit $r"; tail -3 "$TMP/$name-$i.err" >&2; rc=1; }
  done
  touch "$TMP/stop-sampler"; wait "$spid" || true
  grep -h ' phase ' "$TMP/$name"-*.err | sed 's/^loadgen: /  /' >&2 || true
  # the publishing node's relay figures, after the set
  curl -s "http://127.0.0.1:${ports[0]}/metrics" | grep -E '^fanhub_(nats_|clients )' \
    > "$TMP/$name.metrics" || true
  # one JSON line per member and phase, with the set's samples and metrics
  local pidnames
  pidnames=$(printf '"nats-server"'; for i in $(seq 0 $((n - 1))); do printf ',"fanhubd-%s"' "$i"; done
             for i in $(seq 0 $((n - 1))); do printf ',"loadgen-%s"' "$i"; done)
  cat "$TMP/$name"-*.jsonl | jq -c --arg set "$name" --argjson nodes "$n" \
    --argjson rc "$rc" --argjson secs "$(( $(date +%s) - t0 ))" \
    '. + {set: $set, nodes: $nodes, set_rc: $rc, set_seconds: $secs}' >> "$RAW"
  jq -n -c --arg set "$name" --argjson names "[$pidnames]" --arg stream "$stream" \
    --rawfile s "$TMP/$name.samples" --rawfile m "$TMP/$name.metrics" \
    '{samples_of: $set, stream: $stream, procs: $names, clk_tck: '"$(getconf CLK_TCK)"',
      samples: ($s | split("\n") | map(select(length > 0) | split(" ") | map(tonumber))),
      pub_node_metrics: ($m | split("\n") | map(select(length > 0) | split(" ") | {(.[0]): (.[1] | tonumber)}) | add)}' >> "$RAW"
  stop_node_set "${npids[@]}"
  return $rc
}

stop_node_set() {
  local p keep=()
  for p in "$@"; do
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for p in "${ALL[@]}"; do
    case " $* " in *" $p "*) ;; *) kill -0 "$p" 2>/dev/null && keep+=("$p") ;; esac
  done
  ALL=("${keep[@]}")
}

T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
fail=0
# the lone node before and after the cluster, so drift on the shared
# machine shows; plain is the same lone node without NATS
run_set lone LONE 1 || fail=1
run_set plain - 1 || fail=1
run_set scale SCALE "$NODES" || fail=1
run_set lone-2 LONE 1 || fail=1
# the stream's own rate with six consumers: the same cluster with few
# subscribers, so that the publisher and NATS, not the fanout, set the pace
run_set stream STREAM6 "$NODES" "$STREAM_SUBS" || fail=1
T1=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results -----------------------------------------------------------
mkdir -p "$RESULTS"
COMMIT=${FANHUB_COMMIT:-$(git -C "$BUILD/.." rev-parse --short HEAD 2>/dev/null || echo unknown)}
DIRTY=${FANHUB_DIRTY:-$(git -C "$BUILD/.." status --porcelain -- lib include nats examples bench ':!bench/results' 2>/dev/null | grep -c . || true)}
jq -n --slurpfile runs "$RAW" \
  --arg nproc "$(nproc)" \
  --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
  --arg kernel "$(uname -srm)" --arg date "$(date -u +%FT%TZ)" \
  --arg commit "$COMMIT" --arg dirty "$DIRTY" --arg secs "$((T1 - T0))" \
  --arg load0 "$LOAD_START" --arg load1 "$LOAD_END" \
  --arg nats "$(nats-server --version 2>&1)" \
  --argjson nodes "$NODES" --argjson subs "$SUBS" \
  '{machine: {nproc: ($nproc|tonumber), cpu: $cpu, kernel: $kernel,
              mem_mb: '"$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"',
              loadavg_before: $load0, loadavg_after: $load1},
    date: $date, fanhub_commit: $commit, fanhub_dirty_files: ($dirty|tonumber),
    nats_server: $nats, nodes: $nodes, subs_per_node: $subs,
    seconds: ($secs|tonumber),
    runs: [$runs[] | select(has("samples_of") | not) | del(.lat_hist)],
    hists: [$runs[] | select(has("lat_hist")) | {set, group_member, phase, lat_hist}],
    sets: [$runs[] | select(has("samples_of"))]}' > "$RESULTS/scale.json"
jq -r -f "$BENCH/scale.jq" "$RESULTS/scale.json" > "$RESULTS/scale.md"
log "done in $((T1 - T0)) s; wrote $RESULTS/scale.md, scale.json"
exit $fail
