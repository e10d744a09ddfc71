#!/bin/sh
# Usage: test/docs/refs.sh [FILE...]
# Every reference names a file that exists. Scans the docs and the sources
# (README.md, docs/, lib/, include/, examples/, nats/, test/, bench/;
# *.c *.h *.md *.sh *.py *.js), comments and all, for
#   - repository paths, from the repository's root: lib/core/shard.c,
#     test/unit/core/, docs/*.md (a glob must match), a .md path with an
#     #anchor;
#   - markdown links in .md files, [text](path#anchor), relative to the
#     file's folder, and [text](#anchor) within the file;
# and fails, naming FILE:LINE, for a path that is not in the repository
# or an #anchor that no heading of the .md file it points into makes
# (GitHub's slugs: lowercase, punctuation dropped, spaces to '-', -1, -2
# for repeats). Not references: URLs, absolute paths (/usr/..., /tmp),
# paths under another folder ($(BUILD)/lib/..., ../x/test/...), system
# headers (<nats/nats.h>), build/ outputs, node_modules/, files made from
# a template (pkgconfig/fanhub.pc from fanhub.pc.in), and names made up at
# run time (a path running into $, %, { or <).
# With FILE arguments it scans those files instead. It first checks that it
# can fail: test/docs/broken.txt (read as markdown) must give its count.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanhub-refs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# What exists: the tracked files and those git would add (not ignored ones,
# which a fresh clone does not have), and every folder above them.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -co --exclude-standard | while read -r f; do
    [ -e "$f" ] && echo "$f"
  done >"$tmp/files"
else
  find . \( -name .git -o -name build -o -name node_modules \) -prune -o \
    -type f -print | sed 's|^\./||' >"$tmp/files"
fi
[ -s "$tmp/files" ] || {
  echo "refs: FAIL: no files found under $root" >&2
  exit 1
}
grep '\.md$' "$tmp/files" >"$tmp/md" || :

scan() { # scan MD_FLAG FILE...: prints FILE:LINE: problems, then "checked N"
  md=$1
  shift
  awk -v md="$md" '
function slug(h, s) {
  s = tolower(h)
  gsub(/[^a-z0-9 _-]/, "", s)
  gsub(/ /, "-", s)
  return s
}
function heading(f, line, t, s) {
  t = line
  sub(/^#+[ \t]+/, "", t)
  sub(/[ \t]+#+[ \t]*$/, "", t)
  sub(/[ \t]+$/, "", t)
  s = slug(t)
  if ((f SUBSEP s) in anchor)
    s = s "-" (++rep[f SUBSEP s])
  anchor[f SUBSEP s] = 1
}
# a/b/../c -> a/c; "" when it climbs out of the repository
function norm(p, n, i, k, part, out, o) {
  n = split(p, part, "/")
  k = 0
  for (i = 1; i <= n; i++) {
    if (part[i] == "" || part[i] == ".")
      continue
    if (part[i] == "..") {
      if (k == 0)
        return ""
      k--
    } else
      out[++k] = part[i]
  }
  o = ""
  for (i = 1; i <= k; i++)
    o = o (i > 1 ? "/" : "") out[i]
  if (p ~ /\/$/ && o != "")
    o = o "/"
  return o
}
function exists(p, re, f) {
  sub(/\/$/, "", p)
  if (p == "")
    return 1
  if (p !~ /[*?]/)
    return (p in file) || (p in dir)
  re = p
  gsub(/\./, "\\.", re)
  gsub(/\*/, "[^/]*", re)
  gsub(/\?/, "[^/]", re)
  re = "^" re "$"
  for (f in file)
    if (f ~ re)
      return 1
  for (f in dir)
    if (f ~ re)
      return 1
  return 0
}
function bad(what) {
  printf "%s:%d: %s\n", FILENAME, FNR, what
  nbad++
}
# path is a repository path, anchor what followed its "#" (or "")
function check(path, anchor_, shown) {
  nref++
  if (!exists(path)) {
    bad("no such file: " shown)
    return
  }
  if (anchor_ != "" && path ~ /\.md$/) {
    if (!(path in mdfile))
      bad("cannot read headings of " path ": " shown)
    else if (!((path SUBSEP anchor_) in anchor))
      bad("no heading makes #" anchor_ " in " path ": " shown)
  }
}
FNR == 1 { fence = 0 }
pass == "files" {
  file[$0] = 1
  p = $0
  while (sub(/\/[^\/]*$/, "", p))
    dir[p] = 1
  next
}
pass == "headings" {
  if ($0 ~ /^ *(```|~~~)/) {
    fence = !fence
    next
  }
  if (!fence && $0 ~ /^##?#?#?#?#?[ \t]/)
    heading(FILENAME, $0)
  mdfile[FILENAME] = 1
  next
}
FNR == 1 {
  nfiles++
  here = FILENAME
  sub(/[^\/]*$/, "", here)
  ismd = md || FILENAME ~ /\.md$/
}
{
  line = $0
  if (ismd && line ~ /^ *(```|~~~)/)
    fence = !fence
  # Markdown links: ](target) outside code blocks.
  if (ismd && !fence) {
    rest = line
    while (match(rest, /\]\([^) \t]*\)/)) {
      t = substr(rest, RSTART + 2, RLENGTH - 3)
      rest = substr(rest, RSTART + RLENGTH)
      if (t == "" || t ~ /^[a-zA-Z][a-zA-Z0-9+.-]*:/)
        continue # URL, mailto:
      a = ""
      if (i = index(t, "#")) {
        a = substr(t, i + 1)
        p = substr(t, 1, i - 1)
      } else
        p = t
      if (p == "") {
        nref++
        if (!((FILENAME SUBSEP a) in anchor))
          bad("no heading makes #" a " in this file: " t)
        continue
      }
      if (p ~ /^\//) {
        bad("absolute link: " t)
        continue
      }
      q = norm(here p)
      if (q == "") {
        bad("link leaves the repository: " t)
        continue
      }
      check(q, a, t)
    }
  }
  # Repository paths, from the root.
  rest = line
  re = "(lib|include|examples|nats|test|bench|docs|scripts|pkgconfig|abi|\\.ci)/[A-Za-z0-9_.*?+\\/-]*|(README|CHANGELOG)\\.md|Makefile"
  while (match(rest, re)) {
    before = RSTART > 1 ? substr(rest, RSTART - 1, 1) : ""
    t = substr(rest, RSTART, RLENGTH)
    after = substr(rest, RSTART + RLENGTH, 1)
    rest = substr(rest, RSTART + RLENGTH)
    if (before ~ /[A-Za-z0-9_.\/$~<-]/)
      continue # part of another path or word: /usr/include/..., $(B)/lib,
               # <nats/nats.h>
    if (after ~ /[$%{<A-Za-z0-9]/)
      continue # a name made up at run time: test/$name, lib/%.c, lib/<x>
    sub(/[.,;:]+$/, "", t) # a sentence goes on
    a = ""
    if (t ~ /\.md$/ && match(rest, /^#[A-Za-z0-9_-]+/)) {
      a = substr(rest, 2, RLENGTH - 1)
      rest = substr(rest, RLENGTH + 1)
    }
    if (t ~ /(^|\/)node_modules(\/|$)/ || (t ".in") in file)
      continue # made by npm ci, or from a template: fanhub.pc from .pc.in
    check(t, a, t (a != "" ? "#" a : ""))
  }
}
END {
  if (pass == "scan")
    printf "checked %d references in %d files\n", nref, nfiles
  exit (nbad > 0)
}
' pass=files "$tmp/files" pass=headings $(cat "$tmp/md") pass=scan "$@"
}

# It can fail: every reference in the fixture is broken.
want=$(grep -c '^<!-- broken -->' test/docs/broken.txt)
got=$(scan 1 test/docs/broken.txt | grep -c ': ' || :)
if [ "$got" -ne "$want" ]; then
  scan 1 test/docs/broken.txt >&2 || :
  echo "refs: FAIL: self-test found $got broken references in test/docs/broken.txt, not $want" >&2
  exit 1
fi

if [ $# -eq 0 ]; then
  set -- $(grep -E '^(README\.md|(lib|include|examples|nats|test|bench|docs)/.*\.(c|h|md|sh|py|js))$' "$tmp/files")
fi
if scan 0 "$@" >"$tmp/out"; then
  sed 's/^/refs: ok: /' "$tmp/out"
  echo "refs: self-test: $want broken references found in test/docs/broken.txt, as expected"
else
  grep -v '^checked ' "$tmp/out" >&2
  echo "refs: FAIL: $(grep -c -v '^checked ' "$tmp/out") broken references; $(grep '^checked ' "$tmp/out")" >&2
  exit 1
fi
