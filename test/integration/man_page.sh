#!/usr/bin/env bash
# examples/fanhubd/fanhubd.1: formats without a warning (groff -ww, and
# mandoc -T lint when mandoc is installed: scripts/deps.sh installs it),
# documents every option `fanhubd --help` lists (this build's: with
# libnats the --nats ones too) and has the sections a daemon's page needs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../lib/skip.sh"
page=$here/../../examples/fanhubd/fanhubd.1

if command -v mandoc >/dev/null; then
  out=$(mandoc -T lint -W warning "$page" 2>&1) || fail "mandoc -T lint: $out"
  [ -z "$out" ] || fail "mandoc -T lint: $out"
  echo "mandoc -T lint: clean" >&2
else
  skipped "mandoc not installed: only groff checks fanhubd.1" || exit 1
fi
command -v groff >/dev/null || fail "groff not installed (groff-base)"
out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
[ -z "$out" ] || fail "groff -ww: $out"
echo "groff -man -ww: clean" >&2

# Each option as the page spells it in roff: --tls-cert is \-\-tls\-cert.
opts=$("$FANHUBD" --help | grep -oE '^  --[a-z-]+' | sed 's/^  //')
[ -n "$opts" ] || fail "no options in fanhubd --help"
n=0
for o in $opts; do
  roff=$(printf '%s' "$o" | sed 's/-/\\-/g')
  grep -qF -- "$roff" "$page" || fail "fanhubd.1 does not document $o"
  n=$((n + 1))
done
echo "all $n options of --help documented" >&2
for s in OPTIONS "CONFIGURATION FILE" "SOCKET ACTIVATION" ENDPOINTS SIGNALS \
         "EXIT STATUS" FILES; do
  grep -q "^\.SH \"\?$s\"\?$" "$page" || fail "fanhubd.1 has no section $s"
done
for e in /ws /sse /publish /metrics LISTEN_FDS LISTEN_PID SIGTERM SIGINT \
         /etc/fanhub/fanhubd.conf; do
  grep -qF -- "$e" "$page" || fail "fanhubd.1 does not mention $e"
done
echo "passed" >&2
