"""Shared helpers for the Python integration tests.

Only the standard library and Debian's python3-websockets (10.4, asyncio
API). Every helper has a bounded timeout: a test may fail, never hang.

FANHUBD names the binary (run.sh sets it from its BUILD_DIR argument).
"""
import asyncio
import contextlib
import ctypes
import json
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import websockets

FANHUBD = os.environ.get("FANHUBD", "build/fanhubd")
HOST = "127.0.0.1"


class TestFailure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def note(text):
    """A figure worth reporting: run.sh prints "note:" lines after ok."""
    log(f"note: {text}")


def _die_with_parent():
    # fanhubd must not outlive a test that crashed or was killed by
    # run.sh's timeout: PR_SET_PDEATHSIG (1) = SIGKILL.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Fanhubd:
    """One fanhubd on 127.0.0.1 and a free port, as a context manager.

    Leaving the block stops it with SIGTERM and checks that it exited 0
    within `stop_timeout` seconds (clean shutdown is part of every test);
    if the block raised, the server is killed without further checks.
    """

    LISTEN_RE = re.compile(rb"^fanhubd listening on http://127\.0\.0\.1:(\d+)/$")

    def __init__(self, *flags, start_timeout=5.0, stop_timeout=5.0):
        self.flags = [str(f) for f in flags]
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.proc = None
        self.port = None
        self.returncode = None
        self.stderr_file = tempfile.TemporaryFile()

    @property
    def base(self):
        return f"http://{HOST}:{self.port}"

    def start(self):
        cmd = [FANHUBD, "--listen", f"{HOST}:0", *self.flags]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self.stderr_file,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.start_timeout
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise TestFailure(f"no listening line within "
                                  f"{self.start_timeout}s: {line!r} "
                                  f"{self.stderr()}")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                b = os.read(fd, 1)
                if not b:
                    self.proc.wait(2)
                    raise TestFailure(f"fanhubd exited at start "
                                      f"(rc={self.proc.returncode}): "
                                      f"{self.stderr()}")
                line += b
        m = self.LISTEN_RE.match(line.rstrip(b"\n"))
        check(m, f"unexpected first line {line!r}")
        self.port = int(m.group(1))
        log(f"fanhubd pid {self.proc.pid} on port {self.port} "
            f"flags {self.flags}")
        return self

    def stderr(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """SIGTERM; returns the time it was sent (time.monotonic())."""
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        return t

    def wait_exit(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"fanhubd did not exit within {timeout}s of "
                              f"SIGTERM")
        return self.returncode

    def stop(self):
        """SIGTERM, then exit status 0 within stop_timeout is required."""
        if not self.running():
            rc = self.proc.returncode
            raise TestFailure(f"fanhubd died during the test (rc={rc}): "
                              f"{self.stderr()}")
        t0 = self.terminate()
        rc = self.wait_exit(self.stop_timeout)
        log(f"fanhubd stopped in {time.monotonic() - t0:.2f}s, rc={rc}")
        check(rc == 0, f"fanhubd exited {rc} after SIGTERM: {self.stderr()}")

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            if self.running():
                log("fanhubd stderr:", self.stderr())
            self.kill()
            return False
        if self.returncode is None:
            self.stop()
        return False


# --- HTTP ----------------------------------------------------------------

def curl_publish(port, topic, data, json_type=False, timeout=5):
    """POST /publish with curl; returns the seq fanhubd answered."""
    if isinstance(data, str):
        data = data.encode()
    cmd = ["curl", "--noproxy", "*", "-s", "-S", "--max-time", str(timeout),
           "-X", "POST", "--data-binary", "@-"]
    if json_type:
        cmd += ["-H", "Content-Type: application/json"]
    cmd.append(f"http://{HOST}:{port}/publish?topic="
               + urllib.parse.quote(topic, safe=""))
    r = subprocess.run(cmd, input=data, capture_output=True,
                       timeout=timeout + 2)
    check(r.returncode == 0, f"curl publish failed rc={r.returncode}: "
          f"{r.stderr!r}")
    try:
        return json.loads(r.stdout)["seq"]
    except (ValueError, KeyError) as e:
        raise TestFailure(f"bad publish answer {r.stdout!r}: {e}")


def http_request(port, raw, timeout=5):
    """Sends raw bytes, returns everything read until EOF (or timeout)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass  # the server may answer and close before taking it all
        return read_to_eof(s, timeout)


def read_to_eof(s, timeout):
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        left = deadline - time.monotonic()
        check(left > 0, f"no EOF within {timeout}s; got {out[:200]!r}")
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return out
        if not b:
            return out
        out += b


def parse_response(data):
    """(status, {lower-name: [values]}, body) of one HTTP/1.1 response."""
    head, sep, body = data.partition(b"\r\n\r\n")
    check(sep, f"no complete response head in {data[:300]!r}")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0] + " ")
    check(m, f"bad status line {lines[0]!r}")
    headers = {}
    for ln in lines[1:]:
        name, _, value = ln.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(m.group(1)), headers, body


def http_get(port, path, timeout=5):
    return parse_response(http_request(
        port, f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
              f"Connection: close\r\n\r\n".encode(), timeout))


def publish_request(topic, data, headers=()):
    """The bytes of one POST /publish request (HTTP/1.1, kept alive)."""
    if isinstance(data, str):
        data = data.encode()
    head = (f"POST /publish?topic={urllib.parse.quote(topic, safe='')} "
            f"HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(data)}\r\n")
    for h in headers:
        head += h + "\r\n"
    return head.encode() + b"\r\n" + data


class HTTPConn:
    """One persistent HTTP/1.1 connection: requests are written as given
    (pipelined or not), responses read one at a time by Content-Length."""

    def __init__(self, port, timeout=5, ssl_context=None, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:  # a client that takes little before it reads
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, port))
        if ssl_context:
            self.sock = ssl_context.wrap_socket(self.sock,
                                                server_hostname=HOST)
        self.buf = b""

    def send(self, raw):
        self.sock.sendall(raw)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        check(left > 0, f"no whole response in time; got {self.buf[:200]!r}")
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TestFailure(f"no whole response in time; got "
                              f"{self.buf[:200]!r}")
        if not b:
            raise EOFError("the server closed the connection")
        self.buf += b

    def response(self, timeout=5):
        """(status, {lower-name: [values]}, body) of the next response."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status, headers, _ = parse_response(head + b"\r\n\r\n")
        n = int(headers.get("content-length", ["0"])[0])
        self.buf = rest
        while len(self.buf) < n:
            self._fill(deadline)
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def at_eof(self, timeout=5):
        """True if the server closes the connection (nothing more read)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except (EOFError, ConnectionResetError):
            return True
        except TestFailure:
            return False

    def close(self):
        self.sock.close()


def metrics(port):
    status, _, body = http_get(port, "/metrics")
    check(status == 200, f"/metrics answered {status}")
    out = {}
    for ln in body.decode().splitlines():
        if ln and not ln.startswith("#"):
            name, value = ln.rsplit(" ", 1)
            out[name] = float(value)
    return out


# --- WebSocket -----------------------------------------------------------

async def ws_connect(port, path="/ws", timeout=5, **kw):
    return await websockets.connect(
        f"ws://{HOST}:{port}{path}", open_timeout=timeout, close_timeout=2,
        ping_interval=None, max_size=1 << 22, **kw)


async def recv_json(ws, timeout=5, what="a frame"):
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        raise TestFailure(f"no {what} within {timeout}s")
    check(isinstance(raw, str), f"binary frame where text was expected: "
          f"{raw!r}")
    return json.loads(raw)


async def expect_hello(ws):
    m = await recv_json(ws, what="hello")
    check(m.get("type") == "hello", f"first frame is not hello: {m}")
    check(re.fullmatch(r"[0-9a-f]{16}", m.get("epoch", "")),
          f"hello epoch is not 16 hex digits: {m}")
    check(isinstance(m.get("client"), str) and m["client"].isdigit(),
          f"hello client is not a decimal string: {m}")
    return m


async def expect_silence(ws, seconds=0.3):
    """Nothing more arrives within `seconds` (no duplicates)."""
    try:
        extra = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise TestFailure(f"unexpected extra frame: {extra!r}")


async def served_quickly(port, topic, limit=2.0):
    """A WS and an SSE client subscribe and get one message, in time."""
    t0 = time.monotonic()
    ws = await ws_connect(port, "/ws", timeout=limit)
    await expect_hello(ws)
    await ws.send('{"op":"subscribe","topic":"%s"}' % topic)
    m = await recv_json(ws, timeout=limit, what="subscribed")
    check(m["type"] == "subscribed", f"subscribe reply {m}")
    sse = await asyncio.to_thread(SSEReader, port, f"/sse?topic={topic}",
                                  (), limit)
    await asyncio.to_thread(sse.wait_comment, "connected", limit)
    seq = await asyncio.to_thread(curl_publish, port, topic, "still served")
    m = await recv_json(ws, timeout=limit, what="message")
    check(m == {"type": "message", "topic": topic, "seq": seq,
                "data": "still served"}, f"message {m}")
    ev = await asyncio.to_thread(sse.next_event, limit)
    check(ev[1:] == (topic, "still served"), f"SSE event {ev}")
    sse.close()
    await ws.close()
    took = time.monotonic() - t0
    check(took < limit, f"serving took {took:.2f}s")
    return took


# --- Server-Sent Events --------------------------------------------------

class SSEReader:
    """A minimal EventSource over a raw socket, parsing as the HTML spec's
    "Interpreting an event stream" says: lines end in CRLF, LF or CR;
    ':' starts a comment; 'field: value' loses one leading space; a blank
    line dispatches; data lines join with LF."""

    def __init__(self, port, path, headers=(), timeout=5):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        req = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n" \
              f"Accept: text/event-stream\r\n"
        for h in headers:
            req += h + "\r\n"
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        self.skip_lf = False
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status, self.headers, _ = parse_response(head + b"\r\n\r\n")
        self.comments = []
        self.retry = None
        self.last_event_id = ""
        self.items = []  # ("comment", text) / ("field", name, value)
        self.pending = []
        self._data = []
        self._event = ""
        self.eof = False

    def close(self):
        self.sock.close()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("SSE: timed out waiting for bytes")
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            raise TestFailure("SSE: timed out waiting for bytes")
        if not b:
            self.eof = True
            raise EOFError("SSE stream ended")
        self.buf += b

    def _line(self, deadline):
        while True:
            if self.skip_lf and self.buf:
                if self.buf[:1] == b"\n":
                    self.buf = self.buf[1:]
                self.skip_lf = False
            m = re.search(rb"\r\n|\n|\r", self.buf)
            # A CR that ends the buffer may be the first half of a CRLF
            # split across reads: take the line, skip an LF that follows.
            if m:
                line = self.buf[:m.start()]
                self.buf = self.buf[m.end():]
                self.skip_lf = m.group() == b"\r"
                return line.decode("utf-8")
            self._fill(deadline)

    def _process(self, line):
        """Feeds one line to the parser; returns the event it dispatches
        as (id, event, data), or None."""
        if line == "":
            if not self._data:
                self._event = ""
                return None
            ev = (self.last_event_id, self._event or "message",
                  "\n".join(self._data))
            self._data, self._event = [], ""
            return ev
        if line.startswith(":"):
            self.comments.append(line[1:].lstrip(" "))
            self.items.append(("comment", line[1:]))
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self.items.append(("field", name, value))
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
        return None

    def next_event(self, timeout=5):
        """The next dispatched event as (id, event, data); comments and
        retry are recorded on the way."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            ev = self._process(self._line(deadline))
            if ev:
                return ev

    def wait_comment(self, text, timeout=5):
        """Reads until the comment `text` arrives; events dispatched on the
        way are kept for next_event()."""
        deadline = time.monotonic() + timeout
        while text not in self.comments:
            ev = self._process(self._line(deadline))
            if ev:
                self.pending.append(ev)

    def read_for(self, seconds):
        """Reads (and parses) whatever arrives within `seconds`; returns the
        events dispatched."""
        events = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                events.append(self.next_event(deadline - time.monotonic()))
            except TestFailure:
                break
        return events


# --- Processes -----------------------------------------------------------

def proc_cpu(pid):
    """CPU seconds (user + system) process `pid` used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kib(pid):
    """Resident memory of process `pid`, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise TestFailure(f"no VmRSS for process {pid}")


def cpu_share(pid, seconds):
    """The share of one core process `pid` uses over the next `seconds`."""
    c0, t0 = proc_cpu(pid), time.monotonic()
    time.sleep(seconds)
    return (proc_cpu(pid) - c0) / (time.monotonic() - t0)


@contextlib.contextmanager
def out_of_fds(pid, port, nofile=64, conns=100, timeout=5.0):
    """Lowers the descriptor limit (RLIMIT_NOFILE) of server `pid` to
    `nofile` and opens `conns` connections to `port` that send nothing:
    more than it has descriptors for, so the last ones wait in its listen
    backlog while accept4() fails. Yields once it holds all its descriptors
    but one or none; closes the connections on leaving."""
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (nofile, nofile))
    socks = []
    try:
        for _ in range(conns):
            socks.append(socket.create_connection((HOST, port), timeout))
        deadline = time.monotonic() + timeout
        while (n := len(os.listdir(f"/proc/{pid}/fd"))) < nofile - 1:
            check(time.monotonic() < deadline, f"{conns} connections, but "
                  f"server {pid} holds only {n} descriptors")
            time.sleep(0.05)
        log(f"server {pid} holds {n} descriptors of {nofile}")
        yield
    finally:
        for s in socks:
            s.close()


def run(coro_or_fn):
    """Runs a test body (an async function or a plain one) and turns a
    failure into exit status 1 with a one-line reason on stderr."""
    try:
        if asyncio.iscoroutinefunction(coro_or_fn):
            asyncio.run(coro_or_fn())
        else:
            coro_or_fn()
    except Exception as e:  # the reason, then the traceback for the log
        import traceback
        traceback.print_exc()
        log(f"FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
    log("passed")
