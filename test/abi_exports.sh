#!/bin/sh
# Usage: test/abi_exports.sh BUILD/libfanhub.so
# The shared library exports hub_* symbols and nothing else, and its soname
# is libfanhub.so.0: anything more would leak into the ABI.
set -eu

so=${1:?usage: $0 path/to/libfanhub.so}
[ -e "$so" ] || { echo "abi_exports: $so: no such file" >&2; exit 1; }

# Linker-provided section markers are not ours. hub__* names are the
# library's internals shared between its files: never exported either.
all=$(nm -D --defined-only "$so" | awk '{ print $NF }')
bad=$(printf '%s\n' "$all" |
      grep -v -E '^(hub_[^_].*|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$bad" ]; then
  echo "abi_exports: FAIL: $so exports symbols outside the public hub_ API:" >&2
  printf '%s\n' "$bad" | sed 's/^/  /' >&2
  exit 1
fi
n=$(printf '%s\n' "$all" | grep -c '^hub_[^_]' || true)
if [ "$n" -eq 0 ]; then
  echo "abi_exports: FAIL: $so exports no hub_ symbols" >&2
  exit 1
fi

soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" != "libfanhub.so.0" ]; then
  echo "abi_exports: FAIL: soname is '${soname}', want libfanhub.so.0" >&2
  exit 1
fi

echo "abi_exports: OK ($n hub_ symbols, soname $soname)"
