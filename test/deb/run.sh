#!/usr/bin/env bash
# Usage: test/deb/run.sh
# The Debian packages, end to end: builds them (make deb), runs lintian
# on them, installs them with apt-get, builds examples/hello_broadcast.c
# against the installed libfanhub-dev with nothing but `pkg-config
# fanhub` (shared and static) and test/install/nats_link.c against
# libfanhub-nats-dev, runs /usr/bin/fanhubd --help, checks the units and
# the conffile, then purges what it installed and checks that nothing of
# it is left.
#
# Needs root and `sh scripts/deps.sh deb`; about a minute. Not part of
# `make check`: .ci/run runs it as a step of its own. Fails on the first
# failed step; refuses to start if a fanhub package is already installed
# (purging it at the end would change the machine).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CC=${CC:-cc}
PKGS=(libfanhub0 libfanhub-dev libfanhub-nats0 libfanhub-nats-dev fanhubd)
APT=(apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive
# pkg-config must see the system's .pc files, and only those.
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

passed=0
installed_new=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanhub-deb.XXXXXX")

fail() {
  echo "deb: FAIL: $*" >&2
  exit 1
}
ok() {
  passed=$((passed + 1))
  echo "deb: ok: $*"
}

# Package and status of every package dpkg knows, installed or with
# configuration left ("ii", "rc", ...).
pkg_states() {
  dpkg-query -W -f='${binary:Package} ${db:Status-Abbrev}\n' |
    awk '$2 !~ /^[up]n/ { print $1, $2 }' | sort
}

# Whatever the run installed goes again, whether it passed or not.
cleanup() {
  rc=$?
  if [ -n "$installed_new" ]; then
    # shellcheck disable=SC2086
    "${APT[@]}" purge $installed_new >"$tmp/purge.log" 2>&1 || {
      cat "$tmp/purge.log" >&2
      echo "deb: FAIL: apt-get purge $installed_new" >&2
      rc=1
    }
  fi
  rm -rf "$tmp"
  if [ "$rc" -ne 0 ]; then
    echo "deb: $passed passed, 1 failed"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || fail "needs root (apt-get install and purge)"
for tool in dpkg-buildpackage dh lintian apt-get pkg-config; do
  command -v "$tool" >/dev/null ||
    fail "$tool not found: run sh scripts/deps.sh deb first"
done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=/usr/lib/$ma

pkg_states >"$tmp/before"
for p in "${PKGS[@]}"; do
  if grep -q "^${p}[: ]" "$tmp/before"; then
    fail "$p is already installed ($(grep "^${p}[: ]" "$tmp/before")):" \
         "purge it first, this test leaves the machine as it found it"
  fi
done

# 1. Build.
t0=$SECONDS
if ! make deb >"$tmp/build.log" 2>&1; then
  tail -40 "$tmp/build.log" >&2
  fail "make deb failed (log above)"
fi
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
debs=()
for p in "${PKGS[@]}"; do
  f=build/deb/${p}_${version}_$arch.deb
  [ -f "$f" ] || fail "make deb built no $f"
  debs+=("./$f")
done
changes=build/deb/fanhub_${version}_$arch.changes
[ -f "$changes" ] || fail "make deb wrote no $changes"
ok "make deb built ${PKGS[*]} $version in $((SECONDS - t0))s" \
   "(symbols files matched: dpkg-gensymbols -c4)"

# 2. lintian: no error (warnings are printed, and listed in debian/'s
# commit messages with why they stay).
if ! lintian --fail-on error "$changes" >"$tmp/lintian.log" 2>&1; then
  cat "$tmp/lintian.log" >&2
  fail "lintian reports errors"
fi
grep -E '^[EWIPX]: ' "$tmp/lintian.log" | sed 's/^/deb:   lintian /' || true
ok "lintian: no error on $(basename "$changes")"

# 3. Install, the way a user installs local packages.
if ! "${APT[@]}" install "${debs[@]}" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  fail "apt-get install of the packages failed"
fi
pkg_states >"$tmp/after"
installed_new=$(comm -13 "$tmp/before" "$tmp/after" | awk '{ print $1 }' |
                tr '\n' ' ')
for p in "${PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] ||
    fail "$p is not installed after apt-get install"
done
ok "apt-get install: ${installed_new% }"

# 4. The files, where a distribution puts them.
for f in /usr/include/fanhub.h /usr/include/fanhub_nats.h \
         "$libdir/libfanhub.a" "$libdir/libfanhub-nats.a" \
         "$libdir/pkgconfig/fanhub.pc" "$libdir/pkgconfig/fanhub-nats.pc" \
         /usr/bin/fanhubd /etc/fanhub/fanhubd.conf \
         /lib/systemd/system/fanhubd.service /lib/systemd/system/fanhubd.socket \
         /usr/share/man/man1/fanhubd.1.gz; do
  [ -f "$f" ] || fail "missing $f"
done
hver=$(sed -n 's/^#define HUB_VERSION_STRING "\(.*\)"$/\1/p' \
       /usr/include/fanhub.h)
for lib in libfanhub libfanhub-nats; do
  [ "$(readlink "$libdir/$lib.so")" = "$lib.so.0" ] ||
    fail "$libdir/$lib.so is not a link to $lib.so.0"
  [ "$(readlink "$libdir/$lib.so.0")" = "$lib.so.$hver" ] ||
    fail "$libdir/$lib.so.0 is not a link to $lib.so.$hver"
  soname=$(readelf -d "$libdir/$lib.so.$hver" |
           sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
  [ "$soname" = "$lib.so.0" ] || fail "$lib.so.$hver has soname '$soname'"
done
sh test/abi_exports.sh "$libdir/libfanhub.so" >"$tmp/abi.log" 2>&1 ||
  { cat "$tmp/abi.log" >&2; fail "libfanhub0 exports more than hub_*"; }
sh test/abi_exports.sh "$libdir/libfanhub-nats.so" hub_nats_ \
  >"$tmp/abi.log" 2>&1 ||
  { cat "$tmp/abi.log" >&2; fail "libfanhub-nats0 exports more than hub_nats_*"; }
ok "files in place: headers, $libdir/{libfanhub,libfanhub-nats}" \
   "{.a,.so,.so.0,.so.$hver} (soname .so.0, only hub_* exported)," \
   ".pc files, fanhubd, its man page, units and conffile"

# 5. pkg-config finds the installed fanhub with no path of its own.
pcver=$(pkg-config --modversion fanhub) || fail "pkg-config finds no fanhub"
[ "$pcver" = "$hver" ] || fail "fanhub.pc says $pcver, fanhub.h says $hver"
[ "$(pkg-config --variable=libdir fanhub)" = "$libdir" ] ||
  fail "fanhub.pc libdir is $(pkg-config --variable=libdir fanhub), want $libdir"
cflags=$(pkg-config --cflags fanhub)
libs=$(pkg-config --libs fanhub)
slibs=$(pkg-config --static --libs fanhub |
        sed 's/\(^\| \)-lfanhub\( \|$\)/\1-Wl,-Bstatic -lfanhub -Wl,-Bdynamic\2/')

# Prints exactly WANT on stdout and exits 0.
check_output() {
  want=$1
  shift
  rc=0
  out=$(timeout 30 "$@" 2>"$tmp/stderr") || rc=$?
  if [ "$rc" -ne 0 ] || [ "$out" != "$want" ]; then
    cat "$tmp/stderr" >&2
    fail "$(basename "$1") exited $rc printing '$out', want '$want'"
  fi
}

# shellcheck disable=SC2086
"$CC" -Wall -Wextra -Werror -o "$tmp/hello_shared" \
  examples/hello_broadcast.c $cflags $libs || fail "shared build failed"
resolved=$(ldd "$tmp/hello_shared" | awk '$1 == "libfanhub.so.0" { print $3 }')
if [ -z "$resolved" ] ||
   [ "$(realpath "$resolved")" != "$(realpath "$libdir/libfanhub.so.0")" ]; then
  fail "hello_shared loads libfanhub.so.0 from '$resolved', want $libdir"
fi
check_output "hello, fanhub" "$tmp/hello_shared"
read -r shown <<<"$cflags $libs" # trimmed
ok "hello_broadcast built with \$(pkg-config --cflags --libs fanhub)" \
   "($shown) runs against $libdir/libfanhub.so.0"

# shellcheck disable=SC2086
"$CC" -Wall -Wextra -Werror -o "$tmp/hello_static" \
  examples/hello_broadcast.c $cflags $slibs || fail "static build failed"
if ldd "$tmp/hello_static" | grep -q libfanhub; then
  fail "hello_static still needs a shared libfanhub"
fi
check_output "hello, fanhub" "$tmp/hello_static"
ok "hello_broadcast linked with libfanhub.a and pkg-config --static" \
   "--libs fanhub runs without libfanhub.so"

ncflags=$(pkg-config --cflags fanhub-nats) || fail "pkg-config: no fanhub-nats"
nlibs=$(pkg-config --libs fanhub-nats)
nslibs=$(pkg-config --static --libs fanhub-nats |
         sed 's/\(^\| \)-lfanhub-nats -lfanhub\( \|$\)/\1-Wl,-Bstatic -lfanhub-nats -lfanhub -Wl,-Bdynamic\2/')
# shellcheck disable=SC2086
"$CC" -Wall -Wextra -Werror -o "$tmp/nats_shared" test/install/nats_link.c \
  $ncflags $nlibs || fail "fanhub-nats shared build failed"
check_output "fanhub-nats: ok" "$tmp/nats_shared"
# shellcheck disable=SC2086
"$CC" -Wall -Wextra -Werror -o "$tmp/nats_static" test/install/nats_link.c \
  $ncflags $nslibs || fail "fanhub-nats static build failed"
if ldd "$tmp/nats_static" | grep -q libfanhub; then
  fail "nats_static still needs a shared libfanhub"
fi
check_output "fanhub-nats: ok" "$tmp/nats_static"
ok "test/install/nats_link.c built with pkg-config fanhub-nats, shared" \
   "and static, runs"

# 6. fanhubd, the daemon, its configuration and its units.
[ "$(command -v fanhubd)" = /usr/bin/fanhubd ] ||
  fail "fanhubd on PATH is '$(command -v fanhubd || true)', want /usr/bin/fanhubd"
rc=0
/usr/bin/fanhubd --help >"$tmp/help" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/help" >&2; fail "fanhubd --help exited $rc"; }
grep -q '^usage: fanhubd' "$tmp/help" || fail "fanhubd --help printed no usage"
grep -q -- '--nats URL' "$tmp/help" ||
  fail "the packaged fanhubd was built without NATS (no --nats in --help)"
ok "/usr/bin/fanhubd --help runs (with --nats: built against libnats)"

dpkg-query -W -f='${Conffiles}\n' fanhubd | grep -q '^ /etc/fanhub/fanhubd.conf ' ||
  fail "/etc/fanhub/fanhubd.conf is not a conffile of fanhubd"
settings=$(grep -v -E '^[[:space:]]*(#|$)' /etc/fanhub/fanhubd.conf)
[ "$settings" = "listen = 127.0.0.1:8080" ] ||
  fail "fanhubd.conf sets '$settings', want only listen = 127.0.0.1:8080"
grep -q '^ExecStart=/usr/bin/fanhubd --config /etc/fanhub/fanhubd.conf$' \
  /lib/systemd/system/fanhubd.service ||
  fail "fanhubd.service does not run fanhubd --config /etc/fanhub/fanhubd.conf"
units=
if command -v systemd-analyze >/dev/null; then
  if ! systemd-analyze verify --man=no /lib/systemd/system/fanhubd.service \
       /lib/systemd/system/fanhubd.socket >"$tmp/verify.log" 2>&1; then
    cat "$tmp/verify.log" >&2
    fail "systemd-analyze verify: fanhubd.service / fanhubd.socket"
  fi
  if ! systemd-analyze security --offline=yes --threshold=20 \
       /lib/systemd/system/fanhubd.service >"$tmp/security.log" 2>&1; then
    tail -3 "$tmp/security.log" >&2
    fail "systemd-analyze security: fanhubd.service exposure above 2.0"
  fi
  units="; units verify, $(tail -1 "$tmp/security.log" | sed 's/.*: //')"
else
  # shellcheck source=test/lib/skip.sh
  . test/lib/skip.sh
  skipped "deb: systemd-analyze (not installed)" || exit 1
fi
ok "conffile /etc/fanhub/fanhubd.conf (listen only)," \
   "ExecStart=fanhubd --config it$units"

# 7. Purge: nothing of it is left.
# shellcheck disable=SC2086
if ! "${APT[@]}" purge $installed_new >"$tmp/purge.log" 2>&1; then
  cat "$tmp/purge.log" >&2
  fail "apt-get purge $installed_new failed"
fi
purged=$installed_new
installed_new=
pkg_states >"$tmp/end"
for p in $purged; do
  if grep -q "^$p " "$tmp/end"; then
    fail "$p still known to dpkg after purge: $(grep "^$p " "$tmp/end")"
  fi
done
for f in /etc/fanhub /usr/include/fanhub.h /usr/bin/fanhubd \
         "$libdir/libfanhub.so.0" /lib/systemd/system/fanhubd.service; do
  [ ! -e "$f" ] || fail "$f is still there after purge"
done
if ls /var/lib/systemd/deb-systemd-helper-*/fanhubd.* \
      /var/lib/systemd/deb-systemd-helper-*/*/fanhubd.* >/dev/null 2>&1; then
  fail "deb-systemd-helper state of fanhubd left after purge"
fi
! pkg-config --exists fanhub || fail "pkg-config still finds fanhub"
ok "apt-get purge ${purged% }: no package, file, conffile or unit state left"

echo "deb: OK (packages in build/deb/)"
echo "deb: $passed passed, 0 failed"
