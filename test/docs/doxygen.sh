#!/bin/sh
# Usage: test/docs/doxygen.sh
# `make docs` fails on an undocumented declaration: scripts/docs.sh (what
# make docs runs, docs/Doxyfile as it is) over a copy of include/ passes,
# then over copies with one doc comment turned into a plain comment each
# (a function's, a typedef's, a struct's, a field's, an enum value's, a
# macro's, and a function's of fanhub_nats.h) it must fail, naming it.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanhub-doxygen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

fail() {
  echo "doxygen: FAIL: $*" >&2
  exit 1
}

rc=0
docs() {
  rc=0
  FANHUB_VERSION=copy sh "$root/scripts/docs.sh" "$tmp" > "$tmp/log" 2>&1 ||
    rc=$?
}

mkdir "$tmp/include"
cp "$root/include/fanhub.h" "$root/include/fanhub_nats.h" "$tmp/include/"
docs
if [ "$rc" -ne 0 ]; then
  cat "$tmp/log" >&2
  fail "the headers as they are do not pass"
fi

# undocument FILE SED NAME: FILE with the edit SED must fail, and say that
# NAME is not documented.
n=0
undocument() {
  sed "$2" "$root/include/$1" > "$tmp/include/$1"
  ! cmp -s "$root/include/$1" "$tmp/include/$1" ||
    fail "$1: $2 changes nothing"
  docs
  cp "$root/include/$1" "$tmp/include/$1"
  [ "$rc" -ne 0 ] || fail "passed with $3 undocumented ($1: $2)"
  if ! grep "not documented" "$tmp/log" | grep -qw "$3"; then
    cat "$tmp/log" >&2
    fail "failed, but not for $3 ($1: $2)"
  fi
  n=$((n + 1))
}

undocument fanhub.h 's|^/\*\* The version of the library|/* The version of the library|' \
  hub_version
undocument fanhub.h 's|^/\*\* A client id is unique|/* A client id is unique|' \
  hub_client_id
undocument fanhub.h 's|^/\*\* Names one pending decision|/* Names one pending decision|' \
  hub_auth_ticket
undocument fanhub.h 's|drops;          /\*\*<|drops;          /*|' drops
undocument fanhub.h 's|^  /\*\* Close the client\.|  /* Close the client.|' \
  HUB_DISCONNECT
undocument fanhub.h 's|HUB_ROUTE_DONE 1   /\*\*<|HUB_ROUTE_DONE 1   /*|' \
  HUB_ROUTE_DONE
undocument fanhub_nats.h 's|^/\*\* Starts publishing|/* Starts publishing|' \
  hub_nats_start

echo "doxygen: OK (headers pass; $n with one doc comment removed fail)"
