#!/bin/sh
# Usage: test/install/run.sh BUILD_DIR
# Installs the already-built tree with PREFIX=/opt/fanhub into a temporary
# DESTDIR and builds examples/hello_broadcast.c against it the way a user
# would, with nothing but `pkg-config fanhub`: once against the shared
# library, once against the static one. Then once more with LIBDIR and
# INCLUDEDIR of their own. `make` wrote the .pc files for the default
# PREFIX (or the last run's): each install must rewrite them. BUILD_DIR is
# relative to the repository root or absolute.
set -eu

build=${1:?usage: $0 BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CC=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanhub-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "install: FAIL: $*" >&2
  exit 1
}

# install_tree DEST VAR=VALUE...: `make install VAR=VALUE... DESTDIR=DEST`.
install_tree() {
  into=$1
  shift
  if ! make install BUILD="$build" DESTDIR="$into" "$@" \
      >"$tmp/make.log" 2>&1; then
    cat "$tmp/make.log" >&2
    fail "make install BUILD=$build $* DESTDIR=... failed"
  fi
}

# pc_says FILE LINE...: the installed .pc file holds each LINE.
pc_says() {
  pc=$1
  shift
  for line in "$@"; do
    grep -qxF "$line" "$pc" || fail "$(basename "$pc") does not say $line"
  done
}

# pc_tree DEST LIBDIR: pkg-config sees only that DESTDIR tree (no system
# fanhub.pc), its -I/-L rewritten into it.
pc_tree() {
  PKG_CONFIG_LIBDIR=$1$2/pkgconfig
  PKG_CONFIG_PATH=$PKG_CONFIG_LIBDIR
  PKG_CONFIG_SYSROOT_DIR=$1
  export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
}

# Both installs first: pc_tree's settings are for building against a
# tree, the Makefile's own pkg-config calls (libnats) must not see them.
prefix=/opt/fanhub
split_libdir=$prefix/lib64
split_incdir=$prefix/include/fanhub
install_tree "$tmp/split" PREFIX=$prefix LIBDIR=$split_libdir \
  INCLUDEDIR=$split_incdir
dest=$tmp/root
install_tree "$dest" PREFIX=$prefix
libdir=$dest$prefix/lib
incdir=$dest$prefix/include

# The installed tree: the header, both libraries, the two symlinks a
# runtime and a linker look for, and the pkg-config file.
[ -f "$incdir/fanhub.h" ] || fail "missing $incdir/fanhub.h"
[ -f "$libdir/libfanhub.a" ] || fail "missing libfanhub.a"
[ -f "$libdir/pkgconfig/fanhub.pc" ] || fail "missing pkgconfig/fanhub.pc"
version=$(sed -n 's/^#define HUB_VERSION_STRING "\(.*\)"$/\1/p' \
          "$incdir/fanhub.h")
[ -n "$version" ] || fail "no HUB_VERSION_STRING in the installed header"
real=libfanhub.so.$version
if [ ! -f "$libdir/$real" ] || [ -L "$libdir/$real" ]; then
  fail "missing $real (a regular file)"
fi
# Relative links, so the tree still works once DESTDIR is stripped.
if [ "$(readlink "$libdir/libfanhub.so.0" || true)" != "$real" ]; then
  fail "libfanhub.so.0 is not a symlink to $real"
fi
if [ "$(readlink "$libdir/libfanhub.so" || true)" != libfanhub.so.0 ]; then
  fail "libfanhub.so is not a symlink to libfanhub.so.0"
fi
pc_says "$libdir/pkgconfig/fanhub.pc" "prefix=$prefix" "libdir=$prefix/lib" \
  "includedir=$prefix/include"

pc_tree "$dest" "$prefix/lib"

pcver=$(pkg-config --modversion fanhub) || fail "pkg-config cannot find fanhub"
[ "$pcver" = "$version" ] ||
  fail "fanhub.pc says version $pcver, fanhub.h says $version"
cflags=$(pkg-config --cflags fanhub)
libs=$(pkg-config --libs fanhub)
slibs=$(pkg-config --static --libs fanhub)
case " $cflags " in *" -I$incdir "*) ;;
  *) fail "pkg-config --cflags gives '$cflags', want -I$incdir" ;; esac
case " $libs " in *" -L$libdir "*) ;;
  *) fail "pkg-config --libs gives '$libs', want -L$libdir" ;; esac

# Prints "hello, fanhub" on stdout, exactly, and exits 0.
check_output() {
  bin=$1
  shift
  rc=0
  out=$(env "$@" timeout 30 "$bin" 2>"$tmp/stderr") || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$tmp/stderr" >&2
    fail "$(basename "$bin") exited with status $rc"
  fi
  [ "$out" = "hello, fanhub" ] || {
    cat "$tmp/stderr" >&2
    fail "$(basename "$bin") printed '$out', want 'hello, fanhub'"
  }
}

# Shared: word splitting of the pkg-config output is intended.
# shellcheck disable=SC2086
"$CC" -Wall -Wextra -Werror -o "$tmp/hello_shared" \
  examples/hello_broadcast.c $cflags $libs || fail "shared build failed"
resolved=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/hello_shared" |
           awk '$1 == "libfanhub.so.0" { print $3 }')
[ "$resolved" = "$libdir/libfanhub.so.0" ] ||
  fail "hello_shared loads libfanhub.so.0 from '$resolved', want $libdir"
check_output "$tmp/hello_shared" LD_LIBRARY_PATH="$libdir"

# Static: libfanhub.a, its private libs from --static, libc still shared.
slibs=$(printf '%s\n' "$slibs" |
        sed 's/\(^\| \)-lfanhub\( \|$\)/\1-Wl,-Bstatic -lfanhub -Wl,-Bdynamic\2/')
# shellcheck disable=SC2086
"$CC" -Wall -Wextra -Werror -o "$tmp/hello_static" \
  examples/hello_broadcast.c $cflags $slibs || fail "static build failed"
if ldd "$tmp/hello_static" | grep -q libfanhub; then
  fail "hello_static still needs a shared libfanhub"
fi
check_output "$tmp/hello_static"

# libfanhub-nats, when it was built: the same, with `pkg-config
# fanhub-nats` (which pulls in fanhub and libnats). Not built is a skip
# (test/lib/skip.sh: a failure under CI).
nats=
if [ -f "$libdir/pkgconfig/fanhub-nats.pc" ]; then
  [ -f "$incdir/fanhub_nats.h" ] || fail "missing $incdir/fanhub_nats.h"
  pc_says "$libdir/pkgconfig/fanhub-nats.pc" "prefix=$prefix" \
    "libdir=$prefix/lib" "includedir=$prefix/include"
  [ "$(readlink "$libdir/libfanhub-nats.so.0" || true)" = \
    "libfanhub-nats.so.$version" ] || fail "libfanhub-nats.so.0 link"
  # libnats.pc is the system's: its directories join the search path.
  PKG_CONFIG_LIBDIR=$libdir/pkgconfig:$(env -u PKG_CONFIG_LIBDIR \
    -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable pc_path pkg-config)
  ncflags=$(pkg-config --cflags fanhub-nats) || fail "no fanhub-nats.pc"
  nlibs=$(pkg-config --libs fanhub-nats)
  nslibs=$(pkg-config --static --libs fanhub-nats |
           sed 's/\(^\| \)-lfanhub-nats -lfanhub\( \|$\)/\1-Wl,-Bstatic -lfanhub-nats -lfanhub -Wl,-Bdynamic\2/')
  # shellcheck disable=SC2086
  "$CC" -Wall -Wextra -Werror -o "$tmp/nats_shared" \
    test/install/nats_link.c $ncflags $nlibs || fail "fanhub-nats shared build"
  out=$(LD_LIBRARY_PATH=$libdir timeout 30 "$tmp/nats_shared") ||
    fail "nats_shared failed"
  [ "$out" = "fanhub-nats: ok" ] || fail "nats_shared printed '$out'"
  # shellcheck disable=SC2086
  "$CC" -Wall -Wextra -Werror -o "$tmp/nats_static" \
    test/install/nats_link.c $ncflags $nslibs || fail "fanhub-nats static build"
  if ldd "$tmp/nats_static" | grep -q libfanhub; then
    fail "nats_static still needs a shared libfanhub"
  fi
  out=$(timeout 30 "$tmp/nats_static") || fail "nats_static failed"
  [ "$out" = "fanhub-nats: ok" ] || fail "nats_static printed '$out'"
  nats="; fanhub-nats too"
else
  . "$root/test/lib/skip.sh"
  skipped "install: fanhub-nats (libfanhub-nats was not built: libnats not" \
          "installed)" || exit 1
fi

# LIBDIR and INCLUDEDIR apart from PREFIX: the .pc files follow them.
dest=$tmp/split
libdir=$split_libdir
incdir=$split_incdir
[ -f "$dest$incdir/fanhub.h" ] || fail "missing $incdir/fanhub.h"
pc_says "$dest$libdir/pkgconfig/fanhub.pc" "prefix=$prefix" \
  "libdir=$libdir" "includedir=$incdir"
if [ -n "$nats" ]; then
  pc_says "$dest$libdir/pkgconfig/fanhub-nats.pc" "prefix=$prefix" \
    "libdir=$libdir" "includedir=$incdir"
fi
pc_tree "$dest" "$libdir"
# shellcheck disable=SC2046
"$CC" -Wall -Wextra -Werror -o "$tmp/hello_split" examples/hello_broadcast.c \
  $(pkg-config --cflags --libs fanhub) ||
  fail "build with LIBDIR=$libdir INCLUDEDIR=$incdir failed"
check_output "$tmp/hello_split" LD_LIBRARY_PATH="$dest$libdir"

echo "install: OK (PREFIX=$prefix: shared and static hello_broadcast via" \
     "pkg-config$nats; LIBDIR and INCLUDEDIR apart)"
