#!/bin/sh
# Installs the Debian packages fanhub needs to build and test, and only
# those that are missing. Safe to run any number of times.
# Usage: scripts/deps.sh [deb]
set -eu

# One list; later work appends here (python3-websockets, curl, chromium,
# nats-server, nginx, ...). libclang-rt-14-dev and clang are for fuzzing.
PACKAGES="build-essential pkg-config libwslay-dev libmbedtls-dev abigail-tools valgrind clang libclang-rt-14-dev nginx-light libnginx-mod-nchan gnuplot-nox jq curl python3-websockets chromium libuv1-dev libevent-dev postgresql libpq-dev sqlite3 libsqlite3-dev libnats-dev nats-server libmicrohttpd-dev openssl doxygen groff-base mandoc"

# `scripts/deps.sh deb`: what building and testing the Debian packages
# needs instead (make deb, test/deb/run.sh): debian/control's
# Build-Depends, dpkg-dev and debhelper, lintian, and systemd for
# systemd-analyze.
if [ "${1:-}" = deb ]; then
  PACKAGES="build-essential dpkg-dev debhelper lintian systemd pkg-config libwslay-dev libmbedtls-dev libnats-dev"
fi

missing=
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *" ok installed") ;;
    *) missing="$missing $p" ;;
  esac
done
missing=${missing# }

if [ -z "$missing" ]; then
  echo "all dependencies present"
  exit 0
fi

echo "missing Debian packages: $missing"
install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "not root; run as root:" >&2
  echo "  $install_cmd" >&2
  exit 1
fi

apt-get update
# $missing is a space-separated list of package names: split it on purpose.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
echo "installed: $missing"
