"""Socket activation, the way systemd starts a socket-activated service:
a listening socket bound by someone else is passed as fd 3 with
LISTEN_FDS=1 and LISTEN_PID set to fanhubd's pid. fanhubd serves it and
binds nothing (its --listen names that very port, which it could not
bind). A restart keeps the socket: a client that connects and sends its
request while no fanhubd runs waits in the backlog and is answered by
the next one. LISTEN_PID of another process: the variables are not for
it, and it binds --listen. LISTEN_FDS naming a descriptor that is not a
listening socket: exit status 1 and a message."""
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time

from fhtest import (FANHUBD, HOST, HTTPConn, _die_with_parent, check, log,
                    note, publish_request, run)

LINE = re.compile(rb"^fanhubd listening on http://127\.0\.0\.1:(\d+)/\n$")

# LISTEN_PID must be the pid of the process that reads it: a shell sets it
# to its own and execs fanhubd, which keeps that pid; fd 3 is the socket.
WRAP = 'fd=$1; shift; LISTEN_PID=${LISTEN_PID:-$$} LISTEN_FDS=1 exec "$@" 3<&$fd'


def start(fd, *flags, env=None, expect_line=True):
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(["sh", "-c", WRAP, "sh", str(fd), FANHUBD, *flags],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=err, pass_fds=(fd,),
                         env={**os.environ, **(env or {})},
                         preexec_fn=_die_with_parent)
    p.err = err
    if not expect_line:
        return p, None
    line = b""
    deadline = time.monotonic() + 5
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        check(left > 0, f"no listening line: {line!r}")
        r, _, _ = select.select([p.stdout], [], [], left)
        if r:
            b = os.read(p.stdout.fileno(), 1)
            if not b:
                err.seek(0)
                raise AssertionError(f"fanhubd exited: {err.read()!r}")
            line += b
    m = LINE.match(line)
    check(m, f"unexpected first line {line!r}")
    log(f"fanhubd pid {p.pid}: {line.decode().strip()}")
    return p, int(m.group(1))


def stop(p):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(5)
    p.err.seek(0)
    check(rc == 0, f"exit status {rc}: {p.err.read()!r}")


def publish(port, data):
    c = HTTPConn(port)
    c.send(publish_request("act", data, ("Connection: close",)))
    status, _, body = c.response()
    c.close()
    check(status == 200, f"publish answered {status}")
    return json.loads(body)["seq"]


def main():
    ls = socket.socket()
    ls.bind((HOST, 0))
    ls.listen(64)
    port = ls.getsockname()[1]
    fd = ls.fileno()

    p, got = start(fd, "--listen", f"{HOST}:{port}", "--shards", "1")
    check(got == port, f"serves port {got}, not the passed socket's {port}")
    seq = publish(port, "one")
    check(seq >= 1, f"seq {seq}")
    stop(p)

    # Down: the socket still takes connections; the request waits.
    waiting = HTTPConn(port)
    waiting.send(publish_request("act", "queued"))
    time.sleep(0.2)
    p, got = start(fd, "--listen", f"{HOST}:{port}", "--shards", "1")
    check(got == port, f"restart serves port {got}")
    status, _, body = waiting.response()
    check(status == 200, f"the queued request answered {status}")
    # ... on a connection kept alive, so it goes on.
    waiting.send(publish_request("act", "again"))
    status, _, _ = waiting.response()
    check(status == 200, f"the next request answered {status}")
    waiting.close()
    stop(p)
    note("a request sent while fanhubd was down was answered by the "
         "restarted one on the same socket")

    # Not for this process: --listen as usual.
    p, got = start(fd, "--listen", f"{HOST}:0", env={"LISTEN_PID": "1"})
    check(got != port, "LISTEN_PID=1 but the passed socket was served")
    publish(got, "bound")
    stop(p)

    # fd 3 is no listening socket.
    with open(os.devnull) as f:
        p, _ = start(f.fileno(), expect_line=False)
        rc = p.wait(5)
    p.err.seek(0)
    err = p.err.read().decode()
    check(rc == 1 and "not a listening stream socket" in err,
          f"rc {rc}: {err!r}")
    ls.close()


run(main)
