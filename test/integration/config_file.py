"""fanhubd --config FILE: "key = value" lines keyed by the long options'
names, '#' comment lines, blank lines, repeated keys for a repeatable
option (origin); the command line overrides the file, a repeatable
option as a whole. The file's listen (an address no one can bind here)
is overridden by the --listen 127.0.0.1:0 every test passes. Errors name
FILE:LINE and exit with status 2."""
import os
import subprocess
import tempfile

from fhtest import (FANHUBD, HOST, Fanhubd, HTTPConn, check, log,
                    publish_request, run)

CONFIG = """\
# fanhubd, as a test configures it
listen = 203.0.113.1:80

publish-token = from-file
  # an indented comment
origin = http://a.example
origin=http://b.example
shards = 1
allow-client-publish = no
history = 10
"""


def publish_status(port, token):
    c = HTTPConn(port)
    c.send(publish_request("cfg", "x", ("Connection: close",
                                        f"Authorization: Bearer {token}")))
    status, _, _ = c.response()
    c.close()
    return status


def upgrade_status(port, origin):
    c = HTTPConn(port)
    c.send(f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           f"Origin: {origin}\r\n\r\n".encode())
    status, _, _ = c.response()
    c.close()
    return status


def bad(d, name, text, want):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([FANHUBD, "--config", path], capture_output=True,
                       timeout=5)
    err = r.stderr.decode()
    log(f"{name}: rc {r.returncode}: {err.strip()}")
    check(r.returncode == 2, f"{name}: exit status {r.returncode}")
    check(f"{path}:{want}" in err, f"{name}: {err!r} does not name "
          f"{path}:{want}")


def main():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fanhubd.conf")
        with open(path, "w") as f:
            f.write(CONFIG)
        with Fanhubd("--config", path) as fh:
            check(publish_status(fh.port, "from-file") == 200,
                  "the file's publish-token")
            check(publish_status(fh.port, "nope") == 401, "a wrong token")
            check(upgrade_status(fh.port, "http://a.example") == 101,
                  "the file's first origin")
            check(upgrade_status(fh.port, "http://b.example") == 101,
                  "the file's second origin")
            check(upgrade_status(fh.port, "http://c.example") == 403,
                  "an origin the file does not list")
        # The command line wins, a repeatable option as a whole.
        with Fanhubd("--config", path, "--publish-token", "from-cli",
                     "--origin", "http://c.example") as fh:
            check(publish_status(fh.port, "from-cli") == 200,
                  "the command line's publish-token")
            check(publish_status(fh.port, "from-file") == 401,
                  "the file's publish-token still accepted")
            check(upgrade_status(fh.port, "http://c.example") == 101,
                  "the command line's origin")
            check(upgrade_status(fh.port, "http://a.example") == 403,
                  "the file's origin still accepted")
        bad(d, "key.conf", "# x\nshards = 1\nlissten = 127.0.0.1:0\n", 3)
        bad(d, "value.conf", "shards = lots\n", 1)
        bad(d, "empty.conf", "\n\npublish-token =\n", 3)
        bad(d, "flag.conf", "allow-client-publish = maybe\n", 1)
        bad(d, "nested.conf", "config = other.conf\n", 1)
        r = subprocess.run([FANHUBD, "--config", os.path.join(d, "none")],
                           capture_output=True, timeout=5)
        check(r.returncode == 2 and b"cannot read" in r.stderr,
              f"a missing file: rc {r.returncode} {r.stderr!r}")


run(main)
