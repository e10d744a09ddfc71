#!/bin/sh
# Usage: test/layers/run.sh BUILD_DIR
# The two layers of lib/ (docs/design.md): no file of lib/core/ includes a
# protocol header, wslay or mbedTLS, or names a struct of the protocols,
# and the core's objects link into a program, and run, with neither the
# protocol layer nor wslay nor mbedTLS.
set -eu

build=${1:?usage: $0 BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

fail() {
  echo "layers: FAIL: $*" >&2
  exit 1
}

core=
for src in lib/core/*.c; do
  core="$core $(basename "$src" .c)"
done
[ -n "$core" ] || fail "no core files found"

# The build compiles lib/core/ with -Ilib/core only, so a core file cannot
# include a protocol header; this checks what the include path cannot:
# the system headers of wslay and mbedTLS, and no path into lib/proto/.
for f in lib/core/*.c lib/core/*.h; do
  if grep -q '#include <wslay\|#include <mbedtls\|#include ".*proto/' "$f"; then
    fail "$f (core) includes wslay, mbedTLS or a protocol header"
  fi
done

# Nor does the core name a struct of the protocols, not even declared
# (their state of a client and a shard is theirs: docs/design.md).
protos=$(sed -n 's/^struct \([a-z_0-9]*\) {.*/\1/p' lib/proto/*.[ch] | sort -u)
[ -n "$protos" ] || fail "no struct found in lib/proto/"
for name in $protos; do
  users=$(grep -lw "struct $name" lib/core/*.[ch] || true)
  [ -z "$users" ] || fail "$(echo $users) (core) names struct $name of lib/proto/"
done

objs=
for name in $core; do
  [ -f "$build/lib/core/$name.o" ] || fail "missing $build/lib/core/$name.o (run make)"
  objs="$objs $build/lib/core/$name.o"
done
out=$build/test_core_only
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -D_GNU_SOURCE -Iinclude -Ilib/core -o "$out" test/layers/core_only.c \
  $objs -lpthread || fail "the core does not link on its own"
"$out" || fail "the core alone does not run"
echo "layers: OK ($(echo $core | wc -w) core files, none includes a protocol header or names a protocol struct; the core links and runs alone)"
