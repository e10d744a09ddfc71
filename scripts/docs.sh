#!/bin/sh
# Usage: scripts/docs.sh [DIR]
# The API reference (`make docs`): doxygen runs docs/Doxyfile in DIR
# (default: the top of this tree), over DIR/include/fanhub.h and
# fanhub_nats.h, and writes DIR/build/docs/html/. Any doxygen warning
# fails it (WARN_AS_ERROR), an undocumented declaration included; so
# does an enum value without documentation, which doxygen 1.9.4 does not
# warn about: checked here in its XML output. The values of an anonymous
# enum are left out, as doxygen leaves them out of its warnings: the one
# there is, the error codes, is documented by HUB_ERRNO_MAP()'s strings.
# FANHUB_VERSION (the Makefile's VERSION) is the version shown.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root}
command -v doxygen >/dev/null 2>&1 ||
  { echo "docs: doxygen not found (scripts/deps.sh installs it)" >&2; exit 1; }

cd "$dir"
rm -rf build/docs
mkdir -p build/docs
doxygen "$root/docs/Doxyfile" ||
  { echo "docs: FAIL: doxygen warnings (above)" >&2; exit 1; }

python3 - build/docs/xml <<'EOF'
import glob, sys
import xml.etree.ElementTree as ET

bad, seen = [], set()
for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    for enum in ET.parse(path).iter("memberdef"):
        if enum.get("kind") != "enum" or enum.findtext("name", "").startswith("@"):
            continue
        loc = enum.find("location")
        for value in enum.findall("enumvalue"):
            name = value.findtext("name")
            text = "".join("".join(value.find(d).itertext())
                           for d in ("briefdescription", "detaileddescription"))
            if not text.strip() and name not in seen:
                bad.append("%s:%s: enum value %s of %s is not documented" % (
                    loc.get("file"), loc.get("line"), name, enum.findtext("name")))
            seen.add(name)
if not seen:
    sys.exit("docs: FAIL: no enum values in %s: nothing checked" % sys.argv[1])
for line in bad:
    print(line, file=sys.stderr)
sys.exit("docs: FAIL: undocumented enum values" if bad else 0)
EOF
echo "docs: $dir/build/docs/html/index.html"
