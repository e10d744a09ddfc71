#!/usr/bin/env bash
# bench/tls.sh BUILD_DIR (make bench-tls): TLS fanout, issue 19 item 1.
#
# 10k subscribers, 64 B payloads, W=1 and W=32, wss:// and HTTPS SSE
# (TLS 1.2, ECDHE-ECDSA-WITH-AES-128-GCM-SHA256, one P-256 certificate
# made here with openssl for both servers) against:
#   fanhub-tls    fanhubd --tls-cert/--tls-key (1 shard)
#   fanhub-plain  the same fanhubd without TLS, the same load generator
#                 without --tls
#   nchan-tls     nginx + nchan (1 worker), `listen ... ssl`, the same
#                 certificate, suite and protocol
# Publishes are plain HTTP POSTs in every case (fanhubd --plain-listen, a
# second nginx listen): the publisher is a backend on the host; what is
# measured is the fanout to TLS subscribers. Writes bench/results/tls.md
# and tls.json. About 8 minutes on 2 cores: every one of the 10k
# subscribers makes a full handshake, ~2.3 ms of the load generator's CPU
# each with mbedTLS.
#
# Every server this starts is stopped on exit, whatever happens.
set -euo pipefail

BUILD=${1:-build}
BENCH=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/bench
RESULTS=$BENCH/results
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/fanhub-bench-tls.XXXXXX)
RAW=$OUT/runs-tls.jsonl
: > "$RAW"
SUBS=${TLS_BENCH_SUBS:-10000}
# Extra starts of fanhub-tls and fanhub-plain for their ratio at W=32
# (alternating with the matrix's: T P | P T | T P ...), three W=32 phases
# each.
REPS=${TLS_BENCH_REPS:-1}

log() { printf '[bench-tls %s] %s\n' "$(date +%T)" "$*" >&2; }
busy_s() { awk '/^cpu / {print ($2+$3+$4+$7+$8+$9) / '"$(getconf CLK_TCK)"'}' /proc/stat; }
children_s() { awk 'NR == 2 {
  split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1]*60 + u[2] + s[1]*60 + s[2] }' "$TMP/times"; }

SPID= PORT= PUB_PORT= PIDS=
stop_server() {
  if [ -n "$SPID" ]; then
    kill -TERM "$SPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  SPID=
}
cleanup() { stop_server; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the certificate: P-256 ECDSA, self-signed, for both servers -------
CERT=$TMP/cert.pem KEY=$TMP/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$KEY" -out "$CERT" 2> "$TMP/openssl.err" ||
  { cat "$TMP/openssl.err" >&2; exit 1; }

# ---- servers ------------------------------------------------------------
start_fanhub() { # tls|plain
  local tls=()
  [ "$1" = tls ] && tls=(--tls-cert "$CERT" --tls-key "$KEY" --plain-listen 127.0.0.1:0)
  "$BUILD/fanhubd" --listen 127.0.0.1:0 --shards 1 --ping-interval 0 \
    --sse-keepalive 0 --drain 0 "${tls[@]}" > "$TMP/fanhubd.out" 2>&1 &
  SPID=$!
  PORT= PUB_PORT=
  for _ in $(seq 100); do
    PORT=$(sed -n 's|.*listening on https\{0,1\}://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/fanhubd.out" | head -1)
    PUB_PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/fanhubd.out" | tail -1)
    [ -n "$PORT" ] && [ -n "$PUB_PORT" ] && break # both lines printed
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$PUB_PORT" ] || { log "fanhubd did not start:"; cat "$TMP/fanhubd.out" >&2; exit 1; }
  PIDS=$SPID
}

NCHAN_SO=
for d in /usr/lib/nginx/modules /usr/share/nginx/modules; do
  [ -f "$d/ngx_nchan_module.so" ] && NCHAN_SO=$d/ngx_nchan_module.so
done

start_nchan_tls() {
  local dir=$TMP/nginx
  rm -rf "$dir"; mkdir -p "$dir/logs" "$dir/tmp"
  PORT=$("$OUT/loadgen" --free-port)
  PUB_PORT=$("$OUT/loadgen" --free-port)
  while [ "$PUB_PORT" = "$PORT" ]; do PUB_PORT=$("$OUT/loadgen" --free-port); done
  # As bench/run.sh configures nginx+nchan, plus the TLS listener.
  cat > "$dir/nginx.conf" <<EOF
load_module $NCHAN_SO;
worker_processes 1;
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
    listen 127.0.0.1:$PORT ssl backlog=4096;
    listen 127.0.0.1:$PUB_PORT backlog=4096;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
    location = /publish { nchan_publisher; nchan_channel_id \$arg_topic; }
    location = /ws  { nchan_subscriber websocket;   nchan_channel_id \$arg_topic; }
    location = /sse { nchan_subscriber eventsource; nchan_channel_id \$arg_topic; }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout.log" 2>&1 &
  SPID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PUB_PORT/" && break
    kill -0 "$SPID" 2>/dev/null || { cat "$dir/logs/"* >&2; exit 1; }
    sleep 0.05
  done
  local workers=""
  for _ in $(seq 100); do
    workers=$(pgrep -P "$SPID" | paste -sd, || true)
    [ -n "$workers" ] && break
    sleep 0.05
  done
  PIDS=$SPID,$workers
}

# ---- one set: start a server, connect SUBS subscribers, run phases -----
GROUP=matrix
run_set() { # server proto phases...
  local server=$1 proto=$2
  shift 2
  local args=() p
  for p in "$@"; do args+=(--phase "$p"); done
  case $server in
    fanhub-tls) start_fanhub tls; args+=(--tls --pub-port "$PUB_PORT" --metrics /metrics) ;;
    fanhub-plain) start_fanhub plain; args+=(--metrics /metrics) ;;
    nchan-tls) start_nchan_tls; args+=(--tls --pub-port "$PUB_PORT") ;;
  esac
  case $server in fanhub*) [ "$proto" = ws ] && args+=(--ws-protocol fanhub.raw) ;; esac
  local rc=0 b0 o0 t0
  times > "$TMP/times"; b0=$(busy_s); o0=$(children_s); t0=$(date +%s.%N)
  timeout -k 5 400 "$OUT/loadgen" --port "$PORT" --proto "$proto" \
    --sub "/$proto?topic=bench" --pub "/publish?topic=bench" --subs "$SUBS" \
    --pids "$PIDS" --label "$server" --connect-timeout 300 --drain-timeout 20 \
    "${args[@]}" > "$TMP/set.jsonl" 2> "$TMP/set.err" || rc=$?
  stop_server
  times > "$TMP/times"
  local other
  other=$(awk -v b0="$b0" -v b1="$(busy_s)" -v o0="$o0" -v o1="$(children_s)" \
    -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { f = (b1 - b0) - (o1 - o0);
    printf "{\"other_cpu_s\":%.2f,\"set_s\":%.2f}", f < 0 ? 0 : f, t1 - t0 }')
  grep -E '^loadgen: (.* phase |[0-9]+ subscribers connected)' "$TMP/set.err" | sed 's/^loadgen: /  /' >&2 || true
  if [ $rc -ne 0 ]; then
    log "loadgen exit $rc for $server $proto"
    grep -v ' phase ' "$TMP/set.err" | tail -5 >&2 || true
  fi
  jq -c --arg s "$server" --argjson rc "$rc" --argjson o "$other" --arg g "$GROUP" \
    '. + {server: $s, shards: 1, group: $g, loadgen_rc: $rc, other_load: $o}' \
    "$TMP/set.jsonl" >> "$RAW"
  return $rc
}

# ---- tools, limits -----------------------------------------------------
for f in "$BUILD/fanhubd"; do
  [ -e "$f" ] || { log "missing $f: run make first"; exit 1; }
done
command -v nginx > /dev/null || { log "nginx not installed (make deps)"; exit 1; }
[ -n "$NCHAN_SO" ] || { log "ngx_nchan_module.so not found (make deps)"; exit 1; }
CC=${CC:-cc}
$CC -std=c11 -O2 -g -Wall -Wextra -o "$OUT/loadgen" "$BENCH/loadgen.c" \
  -lmbedtls -lmbedx509 -lmbedcrypto
if [ ! -e /sys/kernel/tracing/events/syscalls ] && [ "$(id -u)" = 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
if [ "$(ulimit -Sn)" -lt $((SUBS + 300)) ]; then
  log "need $((SUBS + 300)) open files per process, the hard limit is $(ulimit -Hn)"; exit 1
fi

T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
times > "$TMP/times"
BUSY0=$(busy_s); OURS0=$(children_s)

# nchan over TLS delivers to curl (HTTPS SSE) before anything is measured.
start_nchan_tls
curl -skN --max-time 3 -H 'Accept: text/event-stream' \
  "https://127.0.0.1:$PORT/sse?topic=check" > "$TMP/check.sse" &
CPID=$!
sleep 0.5
curl -s --max-time 2 -X POST --data 'nchan-tls-check' \
  "http://127.0.0.1:$PUB_PORT/publish?topic=check" > /dev/null
wait $CPID || true
stop_server
grep -q '^data: nchan-tls-check' "$TMP/check.sse" ||
  { log "nchan TLS check failed: no HTTPS SSE delivery"; cat "$TMP/check.sse" >&2; exit 1; }
log "nchan TLS check ok (curl HTTPS SSE)"

# Per set: W=1 then W=32, 2 s each, then the loss check drains; fanhub's
# sets run W=32 three times (2 s each: three samples for the price of one
# set of 10k handshakes; nchan's W=32 phase takes 10-20 s to drain).
W32="64:32:1000000:2"
for proto in ws sse; do
  for server in fanhub-tls fanhub-plain nchan-tls; do
    log "$server $proto $SUBS subscribers"
    case $server in
      nchan*) run_set $server $proto 64:1:100000:2 $W32 || true ;;
      *) run_set $server $proto 64:1:100000:2 $W32 $W32 $W32 || true ;;
    esac
  done
done
# fanhub TLS against plain at W=32: more starts, alternating.
GROUP=repeat
for r in $(seq 1 "$REPS"); do
  for proto in ws sse; do
    if [ $((r % 2)) = 1 ]; then order="fanhub-plain fanhub-tls"; else order="fanhub-tls fanhub-plain"; fi
    for server in $order; do
      log "$server $proto $SUBS subscribers (repeat $r)"
      run_set $server $proto $W32 $W32 $W32 || true
    done
  done
done
T1=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
times > "$TMP/times"
FOREIGN=$(awk -v b0="$BUSY0" -v b1="$(busy_s)" -v o0="$OURS0" -v o1="$(children_s)" \
  'BEGIN { f = (b1 - b0) - (o1 - o0); printf "%.1f", f < 0 ? 0 : f }')
log "done in $((T1 - T0)) s; other processes used $FOREIGN CPU-s meanwhile"

# ---- results -----------------------------------------------------------
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
  --arg openssl "$(openssl version 2>/dev/null || echo unknown)" \
  --arg mbedtls "$(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo unknown)" \
  --arg subs "$SUBS" \
  '{machine: {nproc: ($nproc|tonumber), cpu: $cpu, kernel: $kernel,
              mem_mb: '"$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"',
              loadavg_before: $load0, loadavg_after: $load1,
              other_cpu_s: ($foreign|tonumber)},
    date: $date, fanhub_commit: $commit, fanhub_dirty_files: ($dirty|tonumber),
    nginx: $nginx, nchan: $nchan, openssl: $openssl, mbedtls: $mbedtls,
    subs: ($subs|tonumber), seconds: ($secs|tonumber),
    suite: "ECDHE-ECDSA-WITH-AES-128-GCM-SHA256, TLS 1.2, P-256",
    runs: $runs}' > "$RESULTS/tls.json"
jq -r -f "$BENCH/tls-report.jq" "$RESULTS/tls.json" > "$RESULTS/tls.md"
log "wrote $RESULTS/tls.md, tls.json"
