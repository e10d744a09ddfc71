"""Helpers for the host-example tests (test/hosts/run.sh).

Reuses test/integration/fhtest.py (check, log, run, WebSocket and SSE
helpers) and adds a process wrapper for the example hosts, which print
"<name> listening on http://127.0.0.1:PORT/" first, like fanhubd, and a
`curl -sN` SSE client. HOSTS_BUILD names the build directory (run.sh sets
it). Every wait is bounded.
"""
import asyncio
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from fhtest import (HOST, SSEReader, TestFailure, _die_with_parent,  # noqa
                    check, cpu_share, expect_hello, expect_silence, log,
                    note, out_of_fds, recv_json, run, ws_connect)

BUILD = os.environ.get("HOSTS_BUILD", "build")


def on_sigterm_exit():
    """run.sh's timeout sends SIGTERM: turn it into SystemExit so that
    `finally` blocks (stopping a database cluster) still run."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class LineReader:
    """Reads a pipe line by line with deadlines."""

    def __init__(self, f):
        self.fd = f.fileno()
        self.buf = b""

    def line(self, timeout=5.0, what="a line"):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"no {what} within {timeout}s "
                                  f"(have {self.buf[-200:]!r})")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                b = os.read(self.fd, 65536)
                if not b:
                    raise TestFailure(f"EOF waiting for {what} "
                                      f"(have {self.buf[-200:]!r})")
                self.buf += b
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()


class Host:
    """An example host on 127.0.0.1 and a free port, as a context manager.
    Leaving the block cleanly calls `finish` (default: SIGTERM) and requires
    exit status 0 within stop_timeout; after an exception it kills."""

    def __init__(self, name, *args, stdin=False, stop_timeout=5.0,
                 scheme="http"):
        self.name = name
        self.scheme = scheme
        self.cmd = [os.path.join(BUILD, name), "--listen", f"{HOST}:0",
                    *map(str, args)]
        self.want_stdin = stdin
        self.stop_timeout = stop_timeout
        self.err = tempfile.TemporaryFile()
        self.proc = None
        self.port = None
        self.stopped = False

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=self.err,
            stdin=subprocess.PIPE if self.want_stdin else subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        self.out = LineReader(self.proc.stdout)
        try:
            line = self.out.line(timeout, "listening line")
        except TestFailure as e:
            self.kill()
            raise TestFailure(f"{self.name}: {e}; stderr: {self.stderr()}")
        m = re.fullmatch(re.escape(self.name) +
                         rf" listening on {self.scheme}://127\.0\.0\.1:(\d+)/",
                         line)
        check(m, f"unexpected first line {line!r}")
        self.port = int(m.group(1))
        log(f"{self.name} pid {self.proc.pid} on port {self.port}")
        return self

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def running(self):
        return self.proc.poll() is None

    def finish(self):
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        """finish(), then exit status 0 within stop_timeout is required."""
        check(self.running(), f"{self.name} died during the test "
              f"(rc={self.proc.returncode}): {self.stderr()}")
        t0 = time.monotonic()
        self.finish()
        try:
            rc = self.proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"{self.name} did not exit within "
                              f"{self.stop_timeout}s")
        self.stopped = True
        log(f"{self.name} exited {rc} in {time.monotonic() - t0:.2f}s")
        check(rc == 0, f"{self.name} exited {rc}: {self.stderr()}")

    def kill(self):
        if self.proc and self.running():
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if not self.stopped:
                self.stop()
        else:
            log(f"{self.name} stderr:", self.stderr())
            self.kill()
        return False


async def starve(host, path="/ws"):
    """Runs `host` out of descriptors (out_of_fds: a limit of 64, 100 idle
    connections) for 2 s, in which it must use under 20% of a core: no
    spinning on a listener accept4() cannot empty. Once the connections
    have closed, a WebSocket client on `path` must get its hello within
    5 s."""
    with out_of_fds(host.proc.pid, host.port):
        share = cpu_share(host.proc.pid, 2.0)
    note(f"{host.name}: out of descriptors, {share:.1%} of a core over 2 s")
    check(share < 0.2, f"{host.name} used {share:.0%} of a core while out "
          f"of descriptors: it spins on its listener")
    ws = await ws_connect(host.port, path, timeout=5)
    await expect_hello(ws)
    await ws.close()


async def expect_stopped(host, wss, sse):
    """Stops `host` (SIGTERM) with clients on: each WebSocket in `wss` must
    get close 1001, and `sse` (a CurlSSE) a clean end of its stream
    (curl exits 0). Closes `sse`."""
    host.stop()
    for ws in wss:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            check(ws.close_code == 1001, f"close code {ws.close_code}")
    rc = await asyncio.to_thread(sse.proc.wait, 5)
    check(rc == 0, f"curl exited {rc} (not a clean end of stream)")
    sse.close()


class CurlSSE:
    """`curl -sN [ARGS] URL`: the SSE stream parsed into (id, event, data)
    events (LF-separated, as fanhub writes it); comments are kept apart.
    Each of `headers` ("Name: value") is sent with the request; `args` are
    more curl arguments (--cacert FILE)."""

    def __init__(self, url, max_time=30, headers=(), args=()):
        self.proc = subprocess.Popen(
            ["curl", "--noproxy", "*", "-sN", "--max-time", str(max_time),
             *[a for h in headers for a in ("-H", h)], *args, url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = LineReader(self.proc.stdout)
        self.comments = []
        self.last_id = ""

    def wait_comment(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        while text not in self.comments:
            ev = self.next_event(max(deadline - time.monotonic(), 0.01),
                                 stop_on_comment=True)
            check(ev is None, f"event {ev} before comment {text!r}")

    def next_event(self, timeout=5.0, stop_on_comment=False):
        deadline = time.monotonic() + timeout
        event, data = "", []
        while True:
            line = self.out.line(max(deadline - time.monotonic(), 0.01),
                                 "an SSE line")
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                if stop_on_comment and not data:
                    return None
                continue
            if line == "":
                if data:
                    return (self.last_id, event or "message", "\n".join(data))
                event = ""
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                self.last_id = value

    def next_event_or_none(self, timeout):
        """The next event, or None if none comes within `timeout`."""
        try:
            return self.next_event(timeout)
        except TestFailure:
            return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
