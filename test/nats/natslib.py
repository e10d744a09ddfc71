"""Helpers for the scale-out tests (test/nats/run.sh): a throwaway
nats-server (JetStream in a temp store dir, a free loopback port) that a
test can kill and restart on the same port and store, fanhubd nodes
attached to it, and quick async publishers.

Reuses test/integration/fhtest.py (Fanhubd, check, WebSocket and SSE
helpers) and test/hosts/hostlib.py (note, on_sigterm_exit, CurlSSE).
FANHUBD names the fanhubd binary (run.sh sets it). Every process is
started from the main thread with PR_SET_PDEATHSIG, and stopped by the
context managers on success, failure and run.sh's SIGTERM alike; every
wait is bounded.
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
sys.path.insert(0, os.path.join(here, "..", "hosts"))
from fhtest import (HOST, Fanhubd, SSEReader, TestFailure,  # noqa: E402,F401
                    _die_with_parent, check, expect_hello, expect_silence,
                    log, metrics, note, proc_cpu, recv_json, run, ws_connect)
from hostlib import CurlSSE, on_sigterm_exit  # noqa: E402,F401

NATS_SERVER = os.environ.get("NATS_SERVER", "nats-server")
STREAM = "FANHUB"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class NatsServer:
    """nats-server on 127.0.0.1 and a free port, JetStream storing in a
    temp dir (jetstream=False: core NATS only). kill() (SIGKILL) and
    start() again reuse the port and the store. A context manager: leaving
    the block kills it and removes the dir."""

    def __init__(self, jetstream=True):
        self.jetstream = jetstream
        self.dir = tempfile.mkdtemp(prefix="fanhub-nats-server.")
        self.port = free_port()
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        return f"nats://{HOST}:{self.port}"

    def _log_path(self):
        return os.path.join(self.dir, f"server.{self.starts}.log")

    def start(self, timeout=10.0):
        self.starts += 1
        cmd = [NATS_SERVER, "-a", HOST, "-p", str(self.port)]
        if self.jetstream:
            cmd += ["-js", "-sd", os.path.join(self.dir, "store")]
        logf = open(self._log_path(), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf,
                                     preexec_fn=_die_with_parent)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise TestFailure(f"nats-server exited "
                                  f"{self.proc.returncode} at start: "
                                  f"{self.log_text()[-2000:]}")
            if "Server is ready" in self.log_text():
                try:
                    socket.create_connection((HOST, self.port), 1).close()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.kill()
                raise TestFailure(f"nats-server not ready within "
                                  f"{timeout}s: {self.log_text()[-2000:]}")
            time.sleep(0.02)
        log(f"nats-server pid {self.proc.pid} on port {self.port} "
            f"(start {self.starts}, jetstream={self.jetstream})")
        return self

    def log_text(self):
        try:
            with open(self._log_path(), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
            log(f"nats-server pid {self.proc.pid} killed")

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            log("nats-server log tail:", self.log_text()[-1500:])
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class Node(Fanhubd):
    """A fanhubd attached to `nats` (JetStream stream FANHUB unless
    jetstream=False). kill9() is a crash: the block's end then does not
    expect a clean exit from it."""


    def __init__(self, nats, *flags, jetstream=True, name="node"):
        args = ["--nats", nats.url]
        if jetstream:
            args += ["--jetstream", STREAM]
        super().__init__(*args, *flags, start_timeout=10.0,
                         stop_timeout=8.0)
        self.name = name

    def start(self):
        super().start()
        log(f"  that is node {self.name}")
        return self

    def stop(self):
        """SIGTERM; a clean exit (0) within stop_timeout is required."""
        check(self.running(), f"node {self.name} died during the test "
              f"(rc={self.proc.returncode}): {self.stderr()}")
        t0 = self.terminate()
        rc = self.wait_exit(self.stop_timeout)
        log(f"node {self.name} stopped in {time.monotonic() - t0:.2f}s, "
            f"rc={rc}")
        check(rc == 0, f"node {self.name} exited {rc} after SIGTERM: "
              f"{self.stderr()}")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.returncode = self.proc.wait(5)
        log(f"node {self.name} killed (SIGKILL)")

    def nats_metrics(self):
        return {k[len("fanhub_nats_"):]: v for k, v in metrics(self.port)
                .items() if k.startswith("fanhub_nats_")}


# --- publishing --------------------------------------------------------------

async def apublish(port, topic, data, timeout=5.0):
    """POST /publish on an asyncio socket; returns the answered seq."""
    if isinstance(data, str):
        data = data.encode()
    head = (f"POST /publish?topic={urllib.parse.quote(topic, safe='')} "
            f"HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")

    async def go():
        r, w = await asyncio.open_connection(HOST, port)
        try:
            w.write(head.encode() + data)
            resp = await r.read()
        finally:
            w.close()
        return resp
    try:
        resp = await asyncio.wait_for(go(), timeout)
    except asyncio.TimeoutError:
        raise TestFailure(f"POST /publish to {port} took over {timeout}s")
    status_line, _, rest = resp.partition(b"\r\n")
    check(status_line.startswith(b"HTTP/1.1 200 "),
          f"publish answered {resp[:200]!r}")
    body = rest.partition(b"\r\n\r\n")[2]
    return json.loads(body)["seq"]


async def publish_all(port, topic, payloads):
    """One after the other, in order; every answer must be seq 0 (NATS
    numbers the message)."""
    for p in payloads:
        seq = await apublish(port, topic, p)
        check(seq == 0, f"publish under --nats answered seq {seq}, not 0")


# --- WebSocket ---------------------------------------------------------------

async def subscribe(ws, topic, since=None):
    req = {"op": "subscribe", "topic": topic}
    if since is not None:
        req["since"] = since
    await ws.send(json.dumps(req))
    m = await recv_json(ws, what=f"subscribed {topic} since {since}")
    check(m.get("type") == "subscribed" and m.get("topic") == topic,
          f"subscribe reply {m} to {req}")
    return m


async def ws_client(node, topic, since=None):
    """Connected, hello checked, subscribed: (ws, hello)."""
    ws = await ws_connect(node.port)
    hello = await expect_hello(ws)
    await subscribe(ws, topic, since)
    return ws, hello


async def ws_messages(ws, n, what, timeout=10.0):
    """The next n frames, all {"type":"message"}: [(seq, data)]."""
    got = []
    deadline = time.monotonic() + timeout
    for i in range(n):
        left = deadline - time.monotonic()
        check(left > 0, f"{what}: only {len(got)} of {n} within {timeout}s "
              f"(last {got[-3:]})")
        m = await recv_json(ws, left, what=f"{what}: message {i + 1} of {n} "
                            f"(have {got[-3:]})")
        check(m.get("type") == "message", f"{what}: frame {i + 1} is {m}")
        got.append((m["seq"], m["data"]))
    return got


def check_in_order(got, want, what):
    """got [(seq, data)] has exactly the payloads `want`, in order, once
    each, with strictly increasing seqs."""
    datas = [d for _, d in got]
    seqs = [s for s, _ in got]
    if datas != want:
        dup = len(datas) - len(set(datas))
        missing = [w for w in want if w not in set(datas)]
        raise TestFailure(f"{what}: payloads differ: {len(datas)} got, "
                          f"{len(want)} wanted, {dup} duplicated, missing "
                          f"{missing[:5]}, first got {datas[:5]}")
    bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]
    check(not bad, f"{what}: seqs not strictly increasing at {bad[:5]}")


async def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = await asyncio.to_thread(pred)
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure(f"{what}: not within {timeout}s")
        await asyncio.sleep(interval)


class SSECollector:
    """`curl -sN` on /sse, read by a thread into .events [(id, event,
    data)] as they come."""

    def __init__(self, node, topic, max_time=50):
        self.curl = CurlSSE(f"http://{HOST}:{node.port}/sse?topic="
                            + urllib.parse.quote(topic, safe=""),
                            max_time=max_time)
        self.events = []
        self.error = None
        self.lock = threading.Lock()
        self.curl.wait_comment("connected")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                ev = self.curl.next_event(60)
                with self.lock:
                    self.events.append(ev)
        except Exception as e:  # EOF at close, or a parse failure
            self.error = e

    def count(self):
        with self.lock:
            return len(self.events)

    async def wait_count(self, n, timeout, what):
        await wait_for(lambda: self.count() >= n, timeout,
                       f"{what}: {n} SSE events (have {self.count()}, "
                       f"error {self.error})")
        with self.lock:
            return list(self.events)

    def close(self):
        self.curl.close()
        self.thread.join(5)
