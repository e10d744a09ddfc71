#!/bin/sh
# Usage: test/abi_exports.sh BUILD/libNAME.so [PREFIX]
# The shared library exports PREFIX* symbols (hub_ by default; hub_nats_
# for libfanhub-nats) and nothing else, and its soname is libNAME.so.0:
# anything more would leak into the ABI.
set -eu

so=${1:?usage: $0 path/to/libNAME.so [PREFIX]}
prefix=${2:-hub_}
[ -e "$so" ] || { echo "abi_exports: $so: no such file" >&2; exit 1; }

# Linker-provided section markers are not ours. hub__* names are the
# library's internals shared between its files: never exported either.
all=$(nm -D --defined-only "$so" | awk '{ print $NF }')
bad=$(printf '%s\n' "$all" |
      grep -v -E "^(${prefix}[^_].*|_init|_fini|_edata|_end|__bss_start)\$" ||
      true)
if [ -n "$bad" ]; then
  echo "abi_exports: FAIL: $so exports symbols outside the public ${prefix} API:" >&2
  printf '%s\n' "$bad" | sed 's/^/  /' >&2
  exit 1
fi
n=$(printf '%s\n' "$all" | grep -c "^${prefix}[^_]" || true)
if [ "$n" -eq 0 ]; then
  echo "abi_exports: FAIL: $so exports no ${prefix} symbols" >&2
  exit 1
fi

soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
want=$(basename "$so").0
if [ "$soname" != "$want" ]; then
  echo "abi_exports: FAIL: soname is '${soname}', want $want" >&2
  exit 1
fi

echo "abi_exports: OK ($n ${prefix} symbols, soname $soname)"
