#!/usr/bin/env bash
# SSE with `curl -sN`: one stream on two topics (?topic=a&topic=b) gets,
# byte for byte, ": connected", "retry:", then one block per message with
# "id: <epoch>-<seq>", "event: <topic>" and one "data:" line per payload
# line (LF, CRLF and CR all split lines); nothing from a third topic;
# ": keepalive" comments every 200 ms (--sse-keepalive 200); the response
# headers of an event stream.
set -u
. "$(dirname "$0")/lib.sh"

fh_start --sse-keepalive 200

stream=$FH_TMP/stream
curl --noproxy '*' -sN --max-time 15 -D "$FH_TMP/head" \
  "$FH_BASE/sse?topic=a&topic=b" >"$stream" &
curl_pid=$!

for _ in $(seq 100); do
  grep -q '^: connected$' "$stream" && break
  sleep 0.05
done
grep -q '^: connected$' "$stream" || fail "no ': connected' within 5 s"

s1=$(printf 'one\ntwo' | fh_publish a) || exit 1
s2=$(printf 'x\r\ny\r\n' | fh_publish b) || exit 1
s3=$(printf 'p\rq\r\rr' | fh_publish a) || exit 1
s4=$(printf 'not subscribed' | fh_publish c) || exit 1
s5=$(printf 'single line' | fh_publish b) || exit 1
s6=$(printf '{"j":[1,2]}' | fh_publish a -H 'Content-Type: application/json') || exit 1
s7=$(printf 'a\n\nb' | fh_publish a) || exit 1

# Wait for the last message, then long enough for a few keepalives.
for _ in $(seq 100); do
  grep -q "^id: .*-$s7\$" "$stream" && break
  sleep 0.05
done
sleep 0.7
kill "$curl_pid" 2>/dev/null
wait "$curl_pid" 2>/dev/null

tr -d '\r' <"$FH_TMP/head" >"$FH_TMP/head.lf"
grep -qx 'HTTP/1.1 200 OK' "$FH_TMP/head.lf" || fail "status: $(head -1 "$FH_TMP/head.lf")"
grep -qix 'Content-Type: text/event-stream' "$FH_TMP/head.lf" || fail "no text/event-stream: $(cat "$FH_TMP/head.lf")"
grep -qix 'Cache-Control: no-cache' "$FH_TMP/head.lf" || fail "no Cache-Control: no-cache"
grep -qix 'X-Accel-Buffering: no' "$FH_TMP/head.lf" || fail "no X-Accel-Buffering: no"

keepalives=$(grep -c '^: keepalive$' "$stream")
[ "$keepalives" -ge 3 ] || fail "only $keepalives keepalive comments in over 0.7 s at 200 ms"

epoch=$(sed -n 's/^id: \([0-9a-f]\{16\}\)-[0-9]*$/\1/p' "$stream" | head -1)
[ -n "$epoch" ] || fail "no id: <16 hex>-<seq> line in: $(head -c 500 "$stream")"

# The stream without keepalive blocks; an empty data line may be written
# "data:" or "data: " (the same to a reader).
perl -0pe 's/: keepalive\n\n//g; s/^data: $/data:/mg' "$stream" >"$FH_TMP/got"
printf '%s\n' \
  ': connected' '' 'retry: 2000' '' \
  "id: $epoch-$s1" 'event: a' 'data: one' 'data: two' '' \
  "id: $epoch-$s2" 'event: b' 'data: x' 'data: y' 'data:' '' \
  "id: $epoch-$s3" 'event: a' 'data: p' 'data: q' 'data:' 'data: r' '' \
  "id: $epoch-$s5" 'event: b' 'data: single line' '' \
  "id: $epoch-$s6" 'event: a' 'data: {"j":[1,2]}' '' \
  "id: $epoch-$s7" 'event: a' 'data: a' 'data:' 'data: b' '' >"$FH_TMP/want"
if ! cmp -s "$FH_TMP/got" "$FH_TMP/want"; then
  diff -u "$FH_TMP/want" "$FH_TMP/got" >&2
  fail "SSE stream differs from the expected bytes (s4=$s4 is topic c)"
fi

fh_stop 5
echo passed >&2
