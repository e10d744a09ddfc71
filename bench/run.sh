#!/usr/bin/env bash
# bench/run.sh BUILD_DIR [--smoke | --storm]
#
# Full run (make bench): fanhubd, nginx+nchan and the raw ceiling, side by
# side on loopback, over the matrix of issue 10; writes
# bench/results/latest.md, latest.json and the PNG plots. About 8 minutes
# on 2 cores.
#
# --smoke: fanhubd only, a few hundred WebSocket and SSE subscribers (and
# one that never reads), a few seconds; exits non-zero if any message is
# lost or duplicated. Writes nothing under bench/results.
#
# --storm (make bench-storm): the connect storm of issue 19, fanhubd and
# nginx+nchan side by side: 16k subscribers connect at once to a fresh
# server, then reconnect while it is killed and started again, 5 starts
# of each per protocol, and once more to a server stopped for a second;
# writes bench/results/storm.md and storm.json. About 3 minutes. Raises
# net.core.somaxconn and tcp_max_syn_backlog while it runs (as root;
# restored on exit). FANHUBD_BEFORE=path adds a third server, another
# fanhubd binary (a before/after in one run).
#
# Every server this starts is stopped on exit, whatever happens.
set -euo pipefail

BUILD=${1:-build}
MODE=full
[ "${2:-}" = "--smoke" ] && MODE=smoke
[ "${2:-}" = "--storm" ] && MODE=storm
BENCH=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/bench
RESULTS=$BENCH/results
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/fanhub-bench.XXXXXX)
RAW=$OUT/runs-$MODE.jsonl
: > "$RAW"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# CPU seconds the whole machine spent busy (/proc/stat) and what this
# script's children (servers, load generator) spent: the difference is
# other load that shared the machine with the benchmark.
busy_s() { awk '/^cpu / {print ($2+$3+$4+$7+$8+$9) / '"$(getconf CLK_TCK)"'}' /proc/stat; }
# `times` must run in this shell, not in a $(...) subshell (whose children
# are not ours): it writes to a file, awk reads it.
children_s() { awk 'NR == 2 {
  split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1]*60 + u[2] + s[1]*60 + s[2] }' "$TMP/times"; }

# ---- servers ----------------------------------------------------------
SPID=         # the server process we started (fanhubd, ceiling, nginx master)
PORT=
PIDS=         # processes to account: comma-separated
MORE_PIDS=    # a cluster's other processes (node A, nats-server), stopped too
PUB_PORT=     # a cluster: where the load generator publishes (node A)

stop_server() {
  local p
  for p in $SPID $MORE_PIDS; do
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  SPID= MORE_PIDS= PUB_PORT=
}

SYSCTL_SAVED=()  # name=value pairs the storm changed, restored on exit
cleanup() {
  stop_server
  local kv
  for kv in "${SYSCTL_SAVED[@]}"; do
    sysctl -q -w "$kv" > /dev/null 2>&1 || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for "... listening on http://127.0.0.1:PORT/" in $1. A server
# that does not start ends the run, or with START_SOFT set returns 1.
START_SOFT=
wait_listen() {
  for _ in $(seq 100); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$1")
    [ -n "$PORT" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$START_SOFT" ] && return 1
  log "server did not start:"; cat "$1" >&2; exit 1
}

start_fanhub() { # shards [port [binary]]
  "${3:-$BUILD/fanhubd}" --listen "127.0.0.1:${2:-0}" --shards "$1" --ping-interval 0 \
    --sse-keepalive 0 --drain 0 > "$TMP/fanhubd.out" 2>&1 &
  SPID=$!
  wait_listen "$TMP/fanhubd.out" || return 1
  PIDS=$SPID
}

start_ceiling() { # threads
  "$OUT/ceiling" --listen 127.0.0.1:0 --threads "$1" > "$TMP/ceiling.out" 2>&1 &
  SPID=$!
  wait_listen "$TMP/ceiling.out"
  PIDS=$SPID
}

# Two fanhubd nodes on one nats-server (JetStream in a temp store, or core
# NATS): subscribers on node B, publishes to node A, so every message
# crosses NATS. PIDS accounts both nodes and nats-server.
start_cluster() { # js|core shards
  local np store=$TMP/nats-store-$RANDOM
  np=$("$OUT/loadgen" --free-port)
  nats-server -a 127.0.0.1 -p "$np" -js -sd "$store" > "$TMP/nats.out" 2>&1 &
  local npid=$!
  MORE_PIDS=$npid
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$np") 2>/dev/null && break
    sleep 0.05
  done
  local js=()
  [ "$1" = js ] && js=(--jetstream BENCH)
  "$BUILD/fanhubd" --listen 127.0.0.1:0 --shards "$2" --ping-interval 0 \
    --sse-keepalive 0 --drain 0 --nats "nats://127.0.0.1:$np" "${js[@]}" \
    > "$TMP/node-a.out" 2>&1 &
  SPID=$!
  MORE_PIDS="$SPID $npid"
  wait_listen "$TMP/node-a.out"
  PUB_PORT=$PORT
  local apid=$SPID
  "$BUILD/fanhubd" --listen 127.0.0.1:0 --shards "$2" --ping-interval 0 \
    --sse-keepalive 0 --drain 0 --nats "nats://127.0.0.1:$np" "${js[@]}" \
    > "$TMP/node-b.out" 2>&1 &
  SPID=$!
  wait_listen "$TMP/node-b.out"
  PIDS=$SPID,$apid,$npid
}

NCHAN_SO=
find_nchan() {
  for d in /usr/lib/nginx/modules /usr/share/nginx/modules; do
    if [ -f "$d/ngx_nchan_module.so" ]; then NCHAN_SO=$d/ngx_nchan_module.so; return 0; fi
  done
  log "ngx_nchan_module.so not found (apt-get install nginx-light libnginx-mod-nchan)"
  exit 1
}

NCHAN_BACKLOG=4096
start_nchan() { # workers [port]
  local dir=$TMP/nginx-$1
  mkdir -p "$dir/logs" "$dir/tmp"
  PORT=${2:-$("$OUT/loadgen" --free-port)}
  cat > "$dir/nginx.conf" <<EOF
load_module $NCHAN_SO;
worker_processes $1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_rlimit_nofile $(ulimit -Hn);
events { worker_connections $(( $(ulimit -Hn) - 64 )); multi_accept on; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 10000000;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$PORT backlog=$NCHAN_BACKLOG;
    location = /publish { nchan_publisher; nchan_channel_id \$arg_topic; }
    location = /ws  { nchan_subscriber websocket;   nchan_channel_id \$arg_topic; }
    location = /sse { nchan_subscriber eventsource; nchan_channel_id \$arg_topic; }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout.log" 2>&1 &
  SPID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    kill -0 "$SPID" 2>/dev/null || { [ -n "$START_SOFT" ] && return 1
                                     cat "$dir/logs/"* >&2; exit 1; }
    sleep 0.05
  done
  local workers=""
  for _ in $(seq 100); do
    workers=$(pgrep -P "$SPID" | paste -sd, || true)
    [ "$(echo "$workers" | tr ',' '\n' | grep -c .)" -ge "$1" ] && break
    sleep 0.05
  done
  PIDS=$SPID,$workers
}

# nchan answers a publish and delivers it to an EventSource and a
# WebSocket subscriber before anything is measured.
check_nchan() {
  start_nchan 1
  local sse=$TMP/nchan-check.sse
  curl -sN --max-time 3 -H 'Accept: text/event-stream' \
    "http://127.0.0.1:$PORT/sse?topic=check" > "$sse" &
  local cpid=$!
  sleep 0.5
  curl -s --max-time 2 -X POST --data 'nchan-check-payload' \
    "http://127.0.0.1:$PORT/publish?topic=check" > /dev/null
  wait $cpid || true
  if ! grep -q '^data: nchan-check-payload' "$sse"; then
    log "nchan check failed: no SSE delivery"; cat "$sse" >&2; exit 1
  fi
  # the load generator's own WebSocket client, 2 subscribers, 5 messages
  if ! timeout -k 5 60 "$OUT/loadgen" --port "$PORT" --proto ws --sub "/ws?topic=check" \
       --pub "/publish?topic=check" --subs 2 --phase 64:1:5:2 \
       --label nchan-check > /dev/null 2> "$TMP/nchan-check.ws"; then
    log "nchan check failed: WebSocket"; cat "$TMP/nchan-check.ws" >&2; exit 1
  fi
  log "nchan check ok (curl SSE, loadgen WebSocket)"
  stop_server
}

# ---- one set: start a server, connect subscribers, run phases ----------
GROUP=matrix  # recorded with each phase: matrix, saturation, isolation, scale-out, storm
SET_EXTRA=()  # more loadgen options for the sets that follow
# set SERVER N PROTO SUBS STALLED PHASES...
run_set() {
  local server=$1 n=$2 proto=$3 subs=$4 stalled=$5
  shift 5
  local phase_args=() p
  for p in "$@"; do phase_args+=(--phase "$p"); done
  local extra=()
  case $server in
    fanhub) start_fanhub "$n"; extra=(--metrics /metrics)
            [ "$proto" = ws ] && extra+=(--ws-protocol fanhub.raw) ;;
    nchan) start_nchan "$n" ;;
    ceiling) start_ceiling "$n" ;;
    nats-js|nats-core)
            start_cluster "${server#nats-}" "$n"
            extra=(--metrics /metrics --pub-port "$PUB_PORT")
            [ "$proto" = ws ] && extra+=(--ws-protocol fanhub.raw) ;;
  esac
  local rc=0 b0 o0 t0
  times > "$TMP/times"; b0=$(busy_s); o0=$(children_s); t0=$(date +%s.%N)
  timeout -k 5 300 "$OUT/loadgen" --port "$PORT" --proto "$proto" --sub "/$proto?topic=bench" \
    --pub "/publish?topic=bench" --subs "$subs" --stalled "$stalled" \
    --pids "$PIDS" --label "$server" --drain-timeout 20 \
    "${extra[@]}" "${SET_EXTRA[@]}" "${phase_args[@]}" > "$TMP/set.jsonl" 2> "$TMP/set.err" || rc=$?
  stop_server
  times > "$TMP/times"
  # CPU other processes took from the machine during this set
  local other
  other=$(awk -v b0="$b0" -v b1="$(busy_s)" -v o0="$o0" -v o1="$(children_s)" \
    -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { f = (b1 - b0) - (o1 - o0);
    printf "{\"other_cpu_s\":%.2f,\"set_s\":%.2f}", f < 0 ? 0 : f, t1 - t0 }')
  grep '^loadgen: .* phase ' "$TMP/set.err" | sed 's/^loadgen: /  /' >&2 || true
  if [ $rc -ne 0 ]; then
    log "loadgen exit $rc for $server n=$n $proto subs=$subs stalled=$stalled"
    grep -v ' phase ' "$TMP/set.err" | tail -5 >&2 || true
  fi
  jq -c --arg s "$server" --argjson n "$n" --argjson rc "$rc" --argjson o "$other" \
    --arg g "$GROUP" \
    '. + {server: $s, shards: $n, group: $g, loadgen_rc: $rc, other_load: $o}' \
    "$TMP/set.jsonl" >> "$RAW"
  return $rc
}

# ---- build the tools ---------------------------------------------------
for f in "$BUILD/fanhubd" "$BUILD/libfanhub.a"; do
  [ -e "$f" ] || { log "missing $f: run make first"; exit 1; }
done
CC=${CC:-cc}
$CC -std=c11 -O2 -g -Wall -Wextra -o "$OUT/loadgen" "$BENCH/loadgen.c" \
  -lmbedtls -lmbedx509 -lmbedcrypto
$CC -std=c11 -O2 -g -Wall -Wextra -pthread -o "$OUT/ceiling" "$BENCH/ceiling.c"
$CC -std=c11 -O2 -g -Wall -Wextra -I"$BENCH/../include" \
  -o "$OUT/inproc" "$BENCH/inproc.c" "$BUILD/libfanhub.a" \
  -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lpthread

# The write-syscall counts come from syscall tracepoints: tracefs must be
# mounted (root can; without it those figures are left out, not zero).
if [ ! -e /sys/kernel/tracing/events/syscalls ] && [ "$(id -u)" = 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

# 10k subscribers plus the server's own sockets: raise the fd limit (the
# hard one too where allowed) so fanhubd, nginx and the ceiling inherit it.
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" -lt 10300 ]; then
  log "need 10300 open files per process, the hard limit is $(ulimit -Hn)"; exit 1
fi

# ---- smoke -------------------------------------------------------------
if [ $MODE = smoke ]; then
  fail=0
  # the last two phases close the never-reader and connect a new one
  run_set fanhub 2 ws 300 1 64:1:100:1 1024:32:20000:1 64:32:2000:0.5:0:warmup 64:32:2000:0.5:1 || fail=1
  run_set fanhub 2 sse 300 1 64:1:100:1 1024:32:20000:1 64:32:2000:0.5:0:warmup 64:32:2000:0.5:1 || fail=1
  jq -r '"  \(.proto) W=\(.window) \(.size)B stalled \(.stalled): \(.deliveries)/\(.expected_deliveries) delivered, lost \(.lost), dups \(.dups), p99 \(.lat_us.p99) us"' "$RAW" >&2
  if [ $fail -ne 0 ] || [ "$(jq -s 'map(.lost + .dups) | add' "$RAW")" != 0 ]; then
    log "smoke: FAILED (messages lost, duplicated or a deadline hit)"; exit 1
  fi
  log "smoke: ok, every subscriber got every message once"
  exit 0
fi

# ---- connect storm (make bench-storm) ----------------------------------
# STORM_SUBS subscribers connect at once to a fresh server (wave "fresh"),
# get one short W=1 phase, then the server is killed (SIGKILL, every
# process) and started again on the same port while they reconnect with
# the load generator's back-off (wave "restart"); last, they all close and
# reconnect at once while the server is stopped (SIGSTOP) for
# STORM_STALL_MS (wave "stalled": its listen queue must hold them).
# STORM_REPS starts per server and protocol, servers alternating.
STORM_SUBS=${STORM_SUBS:-16000}
STORM_REPS=${STORM_REPS:-5}
STORM_RETRY=100:2000  # ms: first retry after 50-100, doubling up to 1-2 s
STORM_SRC=16          # source addresses 127.0.0.1-16 (loadgen --source-addrs)
STORM_BACKLOG=65535   # listen backlog the storm asks of the kernel
STORM_STALL_MS=1000

# SIGKILLs every process of the server under test and waits until every
# thread of them is gone or a zombie: then their sockets are closed (a
# thread group's leader is a zombie as soon as it exits, while its other
# threads may still be closing descriptors).
kill_server() {
  local p
  for p in ${PIDS//,/ }; do kill -KILL "$p" 2>/dev/null || true; done
  for p in ${PIDS//,/ }; do
    for _ in $(seq 2000); do
      grep -L '^State:[[:space:]]*Z' /proc/"$p"/task/*/status 2>/dev/null | grep -q . || break
      sleep 0.005
    done
  done
  { wait "$SPID"; } 2>/dev/null || true  # no "Killed" line from bash
  SPID=
}

storm_start_once() { # SERVER PORT
  case $1 in
    fanhub) start_fanhub 2 "$2" ;;
    fanhub-before) start_fanhub 2 "$2" "$FANHUBD_BEFORE" ;;
    nchan) start_nchan 2 "$2" ;;
  esac
}

# storm_start SERVER PORT TRIES: sets SPID, PIDS, and $TMP/pids; returns 1
# if the server did not start in TRIES tries 50 ms apart.
storm_start() {
  local try
  for try in $(seq "$3"); do
    START_SOFT=1
    if storm_start_once "$1" "$2"; then
      START_SOFT=
      disown "$SPID" 2>/dev/null || true # SIGKILLed later: no "Killed" line
      echo "$PIDS" > "$TMP/pids.tmp"
      mv "$TMP/pids.tmp" "$TMP/pids"
      return 0
    fi
    START_SOFT=
    stop_server
    sleep 0.05
  done
  return 1
}

# A free port below the ephemeral range (a subscriber reconnecting from
# 127.0.0.1 while the server restarts could get one in the range as its
# own source port, and the new server could not bind it), and none twice
# in a run (the sockets the last server left on its port linger).
STORM_PORTS=" "
storm_port() {
  local low p
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  for _ in $(seq 100); do
    p=$((low - 1 - RANDOM % (low > 12000 ? 10000 : low / 2)))
    case $STORM_PORTS in *" $p "*) continue ;; esac
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  "$OUT/loadgen" --free-port
}

storm_set() { # SERVER PROTO REP
  local server=$1 proto=$2 rep=$3 port extra=() rc=0 lg restart_s=null t k
  for k in 1 2 3 4 5; do
    port=$(storm_port)
    STORM_PORTS="$STORM_PORTS$port "
    storm_start "$server" "$port" 1 && break
    [ $k -lt 5 ] || { log "$server did not start (5 ports tried)"; exit 1; }
  done
  case $server in
    fanhub*) extra=(--metrics /metrics)
             [ "$proto" = ws ] && extra+=(--ws-protocol fanhub.raw) ;;
  esac
  : > "$TMP/storm.err"
  timeout -k 5 150 "$OUT/loadgen" --port "$port" --proto "$proto" \
    --sub "/$proto?topic=bench" --pub "/publish?topic=bench" \
    --subs "$STORM_SUBS" --connecting 0 --retry "$STORM_RETRY" \
    --source-addrs "$STORM_SRC" --restart --pids-file "$TMP/pids" \
    --stall "$STORM_STALL_MS" \
    --pids "$PIDS" --label "$server" --drain-timeout 20 "${extra[@]}" \
    --phase 64:1:100:1 > "$TMP/storm.jsonl" 2> "$TMP/storm.err" &
  lg=$!
  for _ in $(seq 12000); do
    grep -q 'ready for restart' "$TMP/storm.err" && break
    kill -0 "$lg" 2> /dev/null || break
    sleep 0.01
  done
  if grep -q 'ready for restart' "$TMP/storm.err"; then
    t=$(date +%s%N)
    kill_server
    # the old server's port may not be free at once (40 tries, 2 s)
    storm_start "$server" "$port" 40 || {
      kill "$lg" 2>/dev/null || true
      log "$server did not start again on port $port"; exit 1; }
    restart_s=$(( ($(date +%s%N) - t) / 1000000 ))e-3
  fi
  wait "$lg" || rc=$?
  stop_server
  grep -E '^loadgen: .* (storm|phase) ' "$TMP/storm.err" | sed 's/^loadgen: /  /' >&2 || true
  if [ $rc -ne 0 ]; then
    log "loadgen exit $rc for $server $proto storm $rep"
    grep -v -E ' (storm|phase) ' "$TMP/storm.err" | tail -5 >&2 || true
  fi
  jq -c --arg s "$server" --argjson rc "$rc" --argjson rep "$rep" \
    --argjson rs "$restart_s" \
    --argjson port "$port" \
    '. + {server: $s, shards: 2, group: "storm", rep: $rep, port: $port, loadgen_rc: $rc}
     + (if .record == "storm" and .wave == "restart" then {restart_s: $rs} else {} end)' \
    "$TMP/storm.jsonl" >> "$RAW"
}

if [ $MODE = storm ]; then
  command -v nginx > /dev/null || { log "nginx not installed (make deps)"; exit 1; }
  find_nchan
  if [ "$(ulimit -Sn)" -lt $((STORM_SUBS + 300)) ]; then
    log "need $((STORM_SUBS + 300)) open files per process, the limit is $(ulimit -Sn)"; exit 1
  fi
  # 16k SYNs at once: the accept queue (somaxconn caps every listen()
  # backlog) and the SYN queue must hold them, or SYNs are dropped and
  # retried a second later. Raised for the run, restored on exit.
  for kv in net.core.somaxconn=$STORM_BACKLOG net.ipv4.tcp_max_syn_backlog=$STORM_BACKLOG; do
    k=${kv%%=*}
    old=$(sysctl -n "$k" 2>/dev/null || echo "")
    if [ -n "$old" ] && [ "$old" -lt "${kv#*=}" ]; then
      if sysctl -q -w "$kv" > /dev/null 2>&1; then
        SYSCTL_SAVED+=("$k=$old")
      else
        log "cannot set $kv (not root?): SYNs past $old at once may be dropped"
      fi
    fi
  done
  SOMAXCONN=$(sysctl -n net.core.somaxconn)
  SYN_BACKLOG=$(sysctl -n net.ipv4.tcp_max_syn_backlog)
  NCHAN_BACKLOG=$STORM_BACKLOG
  SERVERS="fanhub nchan"
  if [ -n "${FANHUBD_BEFORE:-}" ]; then
    [ -x "$FANHUBD_BEFORE" ] || { log "FANHUBD_BEFORE=$FANHUBD_BEFORE is not executable"; exit 1; }
    SERVERS="fanhub fanhub-before nchan"
  fi
  T0=$(date +%s)
  LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  times > "$TMP/times"
  BUSY0=$(busy_s); OURS0=$(children_s)
  check_nchan
  for proto in ws sse; do
    for r in $(seq 1 $STORM_REPS); do
      order=$SERVERS
      # alternate the order: what a server gets from running first (a
      # quieter machine, a warm page cache) goes to each in turn
      [ $((r % 2)) = 0 ] && order=$(echo "$SERVERS" | tr ' ' '\n' | tac | paste -sd' ')
      for server in $order; do
        log "$server $proto: $STORM_SUBS at once, then a restart (start $r)"
        storm_set "$server" "$proto" "$r"
      done
    done
  done
  T1=$(date +%s)
  LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
  times > "$TMP/times"
  FOREIGN=$(awk -v b0="$BUSY0" -v b1="$(busy_s)" -v o0="$OURS0" -v o1="$(children_s)" \
    'BEGIN { f = (b1 - b0) - (o1 - o0); printf "%.1f", f < 0 ? 0 : f }')
  log "storm done in $((T1 - T0)) s; other processes used $FOREIGN CPU-s meanwhile"
  mkdir -p "$RESULTS"
  COMMIT=${FANHUB_COMMIT:-$(git -C "$BUILD/.." rev-parse --short HEAD 2>/dev/null || echo unknown)}
  DIRTY=${FANHUB_DIRTY:-$(git -C "$BUILD/.." status --porcelain -- lib include examples bench/loadgen.c 2>/dev/null | grep -c . || true)}
  jq -n --slurpfile runs "$RAW" \
    --arg nproc "$(nproc)" \
    --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    --arg kernel "$(uname -srm)" --arg date "$(date -u +%FT%TZ)" \
    --arg commit "$COMMIT" --arg dirty "$DIRTY" --arg secs "$((T1 - T0))" \
    --arg load0 "$LOAD_START" --arg load1 "$LOAD_END" --arg foreign "$FOREIGN" \
    --arg nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')" \
    --arg nchan "$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo unknown)" \
    --arg somaxconn "$SOMAXCONN" --arg synb "$SYN_BACKLOG" --arg nofile "$(ulimit -Sn)" \
    --arg before "${FANHUBD_BEFORE:-}" --arg before_desc "${FANHUBD_BEFORE_DESC:-}" \
    --arg subs "$STORM_SUBS" --arg retry "$STORM_RETRY" --arg src "$STORM_SRC" \
    --arg backlog "$STORM_BACKLOG" \
    '{machine: {nproc: ($nproc|tonumber), cpu: $cpu, kernel: $kernel,
                mem_mb: '"$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"',
                loadavg_before: $load0, loadavg_after: $load1,
                other_cpu_s: ($foreign|tonumber),
                somaxconn: ($somaxconn|tonumber), tcp_max_syn_backlog: ($synb|tonumber),
                nofile: ($nofile|tonumber)},
      date: $date, fanhub_commit: $commit, fanhub_dirty_files: ($dirty|tonumber),
      nginx: $nginx, nchan: $nchan, seconds: ($secs|tonumber),
      storm: {subs: ($subs|tonumber), retry_ms: $retry, source_addrs: ($src|tonumber),
              backlog: ($backlog|tonumber), reps: '"$STORM_REPS"', stall_ms: '"$STORM_STALL_MS"',
              before: (if $before == "" then null else {binary: $before, what: $before_desc} end)},
      runs: $runs}' > "$RESULTS/storm.json"
  jq -r -f "$BENCH/storm.jq" "$RESULTS/storm.json" > "$RESULTS/storm.md"
  log "wrote $RESULTS/storm.md, storm.json"
  exit 0
fi

# ---- full matrix -------------------------------------------------------
command -v nginx > /dev/null || { log "nginx not installed (make deps)"; exit 1; }
command -v gnuplot > /dev/null || { log "gnuplot not installed (make deps)"; exit 1; }
find_nchan

T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
times > "$TMP/times"
BUSY0=$(busy_s); OURS0=$(children_s)
check_nchan

# Per set: 2 s per phase, then the loss check waits for what is in flight.
# The three servers run back to back for each cell, so a burst of other
# load on the machine hits them alike.
P1K="64:1:100000:2 64:32:1000000:2 1024:1:100000:2 1024:32:1000000:2"
for n in 1 2; do
  for proto in ws sse; do
    for subs in 1000 10000; do
      for server in fanhub nchan ceiling; do
        log "$server n=$n $proto $subs subscribers"
        # shellcheck disable=SC2086
        run_set $server $n $proto $subs 0 $P1K || true
      done
    done
  done
done
# Saturation against the ceiling (10k subscribers, 64 B, W=32) is a ratio
# of two server starts, which this VM moves by up to ±30%: SAT_REPS more
# starts of each, alternating with the matrix's (F C | C F | F C), and the
# report takes the medians.
SAT_REPS=2
GROUP=saturation
for n in 1 2; do
  for proto in ws sse; do
    for r in $(seq 1 $SAT_REPS); do
      if [ $((r % 2)) = 1 ]; then order="ceiling fanhub"; else order="fanhub ceiling"; fi
      for server in $order; do
        log "$server n=$n $proto 10000 subscribers (saturation, repeat $r)"
        run_set $server $n $proto 10000 0 64:32:1000000:2 || true
      done
    done
  done
done
# Isolation: 1k healthy subscribers, W=32, 1 s phases alternating without
# and with one never-reading subscriber (connected for its phase, then
# closed), in ABBA order, ISO_REPS times per size: the ratio of each
# adjacent pair cancels the drift of this machine, the median of the
# pairs its phase-to-phase noise. Each measured phase follows a 0.6 s
# warm-up in the same state, so it sees the steady state: the
# never-reader's queue already at its caps (filling them, ~1,000 fresh
# 1 KiB messages, is a one-off per stalled client; the warm-ups show it).
# The ceiling's own pairs say how much of a ratio is noise. (nchan is left
# out: no target is about its isolation, and its slow phases would cost a
# minute.)
ISO_REPS=5
PISO=""
for r in $(seq 0 $((ISO_REPS - 1))); do
  for size in 64 1024; do
    if [ $((r % 2)) = 0 ]; then order="0 1"; else order="1 0"; fi
    for k in $order; do
      PISO="$PISO $size:32:1000000:0.6:$k:warmup $size:32:1000000:1:$k"
    done
  done
done
GROUP=isolation
for proto in ws sse; do
  for server in fanhub ceiling; do
    log "$server n=1 $proto 1000 +/- 1 never-reading (isolation, $ISO_REPS pairs per size)"
    # shellcheck disable=SC2086
    run_set $server 1 $proto 1000 1 $PISO || true
  done
done
# Scale-out: the same 1k WebSocket cell through NATS, node A to node B,
# next to a lone fanhubd measured at the same moment.
GROUP=scale-out
if "$BUILD/fanhubd" --help | grep -q -- --nats && command -v nats-server > /dev/null; then
  for server in fanhub nats-core nats-js; do
    log "$server n=1 ws 1000 subscribers (scale-out)"
    run_set $server 1 ws 1000 0 64:1:100000:2 64:32:1000000:2 || true
  done
else
  log "no fanhubd --nats or no nats-server: scale-out cells skipped"
fi
# (The reconnect storm has its own run: bench/run.sh BUILD --storm.)
# What hub_broadcast() costs its caller, 5 rounds, medians in the report.
# sync first: a paced call takes ~1 µs, and the disk writeback of what
# this run wrote (the build: ~2 MB, flushed 30 s later) must not land in
# the middle (measured: run first, right after the build, the medians were
# 2-4x those of runs at the end).
log "in-process hub_broadcast() timing"
sync
timeout -k 5 240 "$OUT/inproc" 10000 1000 2000 5 > "$OUT/inproc.jsonl"
T1=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
times > "$TMP/times"
FOREIGN=$(awk -v b0="$BUSY0" -v b1="$(busy_s)" -v o0="$OURS0" -v o1="$(children_s)" \
  'BEGIN { f = (b1 - b0) - (o1 - o0); printf "%.1f", f < 0 ? 0 : f }')
log "matrix done in $((T1 - T0)) s; other processes used $FOREIGN CPU-s meanwhile"

# ---- results -----------------------------------------------------------
mkdir -p "$RESULTS"
# The source the build came from: BUILD_DIR/.. (a work tree); set
# FANHUB_COMMIT / FANHUB_DIRTY for a build made from an exported tree.
COMMIT=${FANHUB_COMMIT:-$(git -C "$BUILD/.." rev-parse --short HEAD 2>/dev/null || echo unknown)}
DIRTY=${FANHUB_DIRTY:-$(git -C "$BUILD/.." status --porcelain -- lib include examples 2>/dev/null | grep -c . || true)}
jq -n --slurpfile runs "$RAW" --slurpfile inproc "$OUT/inproc.jsonl" \
  --arg nproc "$(nproc)" \
  --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
  --arg kernel "$(uname -srm)" --arg date "$(date -u +%FT%TZ)" \
  --arg commit "$COMMIT" --arg dirty "$DIRTY" --arg secs "$((T1 - T0))" \
  --arg load0 "$LOAD_START" --arg load1 "$LOAD_END" --arg foreign "$FOREIGN" \
  --arg nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')" \
  --arg nchan "$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo unknown)" \
  '{machine: {nproc: ($nproc|tonumber), cpu: $cpu, kernel: $kernel,
              mem_mb: '"$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"',
              loadavg_before: $load0, loadavg_after: $load1,
              other_cpu_s: ($foreign|tonumber)},
    date: $date, fanhub_commit: $commit, fanhub_dirty_files: ($dirty|tonumber),
    nginx: $nginx, nchan: $nchan, matrix_seconds: ($secs|tonumber),
    runs: $runs, inproc: $inproc}' > "$RESULTS/latest.json"
jq -r -f "$BENCH/report.jq" "$RESULTS/latest.json" > "$RESULTS/latest.md"
"$BENCH/plot.sh" "$RESULTS/latest.json" "$RESULTS" "$TMP"
log "wrote $RESULTS/latest.md, latest.json, latency_cdf.png, throughput.png"
