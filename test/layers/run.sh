#!/bin/sh
# Usage: test/layers/run.sh BUILD_DIR
# The two layers of lib/ (docs/design.md): no core file includes a
# protocol header, and the core's objects link into a program, and run,
# with neither the protocol layer nor wslay nor mbedTLS.
set -eu

build=${1:?usage: $0 BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# The protocol layer: everything else in lib/ is the core.
PROTO="admission attach auth conn control frame handshake http notice
session tls ws"

fail() {
  echo "layers: FAIL: $*" >&2
  exit 1
}

core=
for src in lib/*.c; do
  name=$(basename "$src" .c)
  case " $(echo $PROTO) " in *" $name "*) continue ;; esac
  core="$core $name"
done
[ -n "$core" ] || fail "no core files found"

for name in $core; do
  for f in "lib/$name.c" "lib/$name.h"; do
    [ -f "$f" ] || continue
    for p in $PROTO; do
      if grep -q "^#include \"$p\\.h\"" "$f"; then
        fail "$f (core) includes $p.h (protocol layer)"
      fi
    done
    if grep -q "#include <wslay\|#include <mbedtls" "$f"; then
      fail "$f (core) includes wslay or mbedTLS"
    fi
  done
done

objs=
for name in $core; do
  [ -f "$build/lib/$name.o" ] || fail "missing $build/lib/$name.o (run make)"
  objs="$objs $build/lib/$name.o"
done
out=$build/test_core_only
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -D_GNU_SOURCE -Iinclude -o "$out" test/layers/core_only.c \
  $objs -lpthread || fail "the core does not link on its own"
"$out" || fail "the core alone does not run"
echo "layers: OK ($(echo $core | wc -w) core files, none includes a protocol header; the core links and runs alone)"
