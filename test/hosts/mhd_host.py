"""mhd_host: libmicrohttpd answers the requests, fanhub fans out SQLite
commits. Twice: over plain HTTP, and over HTTPS with MHD's own TLS (a
certificate openssl makes here). Each time:
- a missing token gets 401 and an unknown one 403 from MHD, for /ws,
  /sse and POST /items;
- WebSocket clients (Python websockets, ws:// or wss://) and SSE streams
  (curl -N, http:// or https://), for principals admin and bob, on "items"
  and "private.audit" (plus the pattern "*.audit" and the bad topic "x y"
  for one of bob's): bob gets a "forbidden" error notice for each private
  subscription, a "bad-topic" one for "x y", and keeps "items"; over HTTP a Chromium page adds a WebSocket and an EventSource;
- POST /items commits 3 rows (by bob), then a transaction that fails on a
  duplicate row and rolls back (409), then 1 row (by admin): every client
  gets each committed row once, in commit order, with the seqs the POSTs
  answered, admin's also the "private.audit" entries, and nothing of the
  rolled-back transaction; the database holds the committed rows only;
- an SSE stream resumed with Last-Event-ID, and a WebSocket with ?since=,
  get the rows after that point; an unreadable ?since= gets 400;
- once every client has gone, the host holds the descriptors it held
  before them (no upgraded socket, dup or socketpair left behind);
- SIGTERM with a WebSocket and an SSE client connected: close 1001, the
  SSE stream ends cleanly (curl exits 0), exit 0, and MHD logged no
  connection left suspended or upgraded-and-not-closed."""
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import ssl
import subprocess
import tempfile
import time

import websockets

from hostlib import (CurlSSE, Host, LineReader, TestFailure, check,
                     expect_stopped,
                     expect_hello, expect_silence, log, note, recv_json, run)

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "..", "integration", "node_modules")
TOKENS = {"admin": "t-admin", "bob": "t-bob"}


class Mode:
    def __init__(self, tmp, tls):
        self.tls = tls
        self.http, self.wss = ("https", "wss") if tls else ("http", "ws")
        self.args = ["--cert", f"{tmp}/cert.pem", "--key", f"{tmp}/key.pem"] \
            if tls else []
        self.curl = ["--cacert", f"{tmp}/cert.pem"] if tls else []
        self.ssl = ssl.create_default_context(cafile=f"{tmp}/cert.pem") \
            if tls else None
        self.port = None

    def url(self, path, scheme=None):
        return f"{scheme or self.http}://127.0.0.1:{self.port}{path}"

    def curl_run(self, path, *args, data=None, timeout=5):
        """curl; returns (status, body)."""
        r = subprocess.run(["curl", "--noproxy", "*", "-s", "-S",
                            "--max-time", str(timeout), "-o", "-",
                            "-w", "\n%{http_code}", *self.curl, *args,
                            self.url(path)],
                           input=data.encode() if data is not None else None,
                           capture_output=True, timeout=timeout + 2)
        check(r.returncode == 0, f"curl {path}: {r.stderr!r}")
        body, _, code = r.stdout.decode().rpartition("\n")
        return int(code), body

    def post_items(self, who, lines):
        return self.curl_run("/items", "-X", "POST", "--data-binary", "@-",
                             "-H", f"Authorization: Bearer {TOKENS[who]}",
                             data="\n".join(lines))

    async def ws(self, path, **kw):
        if self.tls:
            kw["ssl"] = self.ssl
        return await websockets.connect(
            self.url(path, self.wss), open_timeout=5, close_timeout=2,
            ping_interval=None, **kw)

    def sse(self, path, *args):
        return CurlSSE(self.url(path), args=[*self.curl, *args])

    def subscriptions(self):
        code, body = self.curl_run("/metrics")
        check(code == 200, f"/metrics answered {code}")
        for line in body.splitlines():
            if line.startswith("fanhub_subscriptions "):
                return int(line.split()[1])
        raise TestFailure(f"no fanhub_subscriptions in {body[:200]!r}")


def fds(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def wait_until(what, cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        check(time.monotonic() < deadline, f"{what} within {timeout}s")
        time.sleep(0.05)


class Browser:
    """mhd_browser.js under node: a Chromium page's WebSocket and
    EventSource."""

    def __init__(self, mode, who):
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "mhd_browser.js"), mode.url(""),
             TOKENS[who]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err, env=env)
        self.out = LineReader(self.proc.stdout)

    def line(self, timeout, what):
        try:
            return self.out.line(timeout, what)
        except TestFailure as e:
            self.err.seek(0)
            raise TestFailure(f"browser: {e}; "
                              f"{self.err.read().decode(errors='replace')}")

    def ready(self):
        check(self.line(40, "'ready'") == "ready", "browser not ready")

    def collect(self, n):
        self.proc.stdin.write(f"{n}\n".encode())
        self.proc.stdin.flush()
        got = json.loads(self.line(20, "the browser's messages"))
        check(self.proc.wait(20) == 0, "browser exited non-zero")
        return got

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


async def refusals(mode):
    for path in ("/ws", "/sse"):
        for query, status in (("", 401), ("&token=nobody", 403)):
            code, _ = mode.curl_run(f"{path}?topic=items{query}")
            check(code == status, f"GET {path} with {query or 'no token'}: "
                  f"{code}, want {status}")
    for query, status in (("", 401), ("?token=nobody", 403)):
        try:
            ws = await mode.ws(f"/ws{query}")
            await ws.close()
            raise TestFailure(f"{mode.wss} /ws{query} was accepted")
        except websockets.InvalidStatusCode as e:
            check(e.status_code == status, f"{mode.wss} /ws{query}: "
                  f"{e.status_code}, want {status}")
    code, _ = mode.curl_run("/items", "-X", "POST", "-H",
                            "Authorization: Bearer nobody", "--data", "z")
    check(code == 403, f"POST /items with an unknown token: {code}")


async def expect_errors(ws, want, who):
    """Error notices, in any order: {topic: code}."""
    got = {}
    for _ in want:
        m = await recv_json(ws, what=f"{who}'s error notice")
        check(m.get("type") == "error", f"{who}: {m}, want an error notice")
        got[m.get("topic")] = m.get("code")
    check(got == want, f"{who}: errors {got}, want {want}")


def sse_forbidden(sse, topic, who):
    ev = sse.next_event()
    check(ev[1] == "hub.error" and json.loads(ev[2])["topic"] == topic and
          json.loads(ev[2])["code"] == "forbidden",
          f"{who}: {ev}, want a forbidden hub.error for {topic}")


async def scenario(mode, tmp, browser):
    db = os.path.join(tmp, f"{mode.http}.db")
    host = Host("mhd_host", "--db", db, "--token", "t-admin=admin",
                "--token", "t-bob=bob", "--keepalive", 200, *mode.args,
                scheme=mode.http)
    with host, contextlib.ExitStack() as stack:
        mode.port = host.port
        await refusals(mode)  # also brings up GnuTLS before the count
        # The count starts once MHD has closed those connections: the
        # listener is its only socket.
        await asyncio.to_thread(
            wait_until, "the listener alone", lambda: sum(
                t.startswith("socket:")
                for t in fds(host.proc.pid).values()) == 1)
        before = fds(host.proc.pid)

        both = "?topic=items&topic=private.audit"
        ws_admin = await mode.ws(f"/ws{both}&token=t-admin")
        ws_bob = await mode.ws(f"/ws{both}&topic=*.audit&topic=x%20y",
                               extra_headers={"Authorization": "Bearer t-bob"})
        hello = await expect_hello(ws_admin)
        await expect_hello(ws_bob)
        await expect_errors(ws_bob, {"private.audit": "forbidden",
                                     "*.audit": "forbidden",
                                     "x y": "bad-topic"}, "ws bob")
        sse_admin = mode.sse(f"/sse{both}&token=t-admin")
        sse_bob = mode.sse(f"/sse{both}", "-H", "Authorization: Bearer t-bob")
        for s in (sse_admin, sse_bob):
            await asyncio.to_thread(s.wait_comment, "connected")
        sse_forbidden(sse_bob, "private.audit", "sse bob")
        subs = 2 + 1 + 2 + 1
        b = None
        if browser:
            b = stack.enter_context(Browser(mode, "bob"))
            await asyncio.to_thread(b.ready)
            subs += 2
        # Every subscription in place before the first commit (an
        # EventSource's "open" comes before fanhub has subscribed it).
        await asyncio.to_thread(wait_until, f"{subs} subscriptions",
                                lambda: mode.subscriptions() == subs)

        code, body = await asyncio.to_thread(mode.post_items, "bob",
                                             ["a", "b", "c"])
        check(code == 200, f"POST a b c: {code} {body}")
        first = json.loads(body)
        code, body = await asyncio.to_thread(mode.post_items, "bob",
                                             ["d", "a"])
        check(code == 409 and "UNIQUE" in body,
              f"POST d a (a is stored): {code} {body}")
        code, body = await asyncio.to_thread(mode.post_items, "admin", ["e"])
        check(code == 200, f"POST e: {code} {body}")
        second = json.loads(body)
        check(first["rows"] == 3 and second["rows"] == 1, f"{first} {second}")
        s1, s2 = first["seq"], second["seq"]
        # Rows are staged in order, the audit entry last: consecutive seqs.
        items = [(s1 - 3, 1), (s1 - 2, 2), (s1 - 1, 3), (s2 - 1, 4)]
        audit = [(s1, {"by": "bob", "rows": 3}),
                 (s2, {"by": "admin", "rows": 1})]
        row = {"op": "insert"}
        want_bob = [("items", seq, dict(row, rowid=r)) for seq, r in items]
        want_admin = sorted(want_bob + [("private.audit", seq, d)
                                        for seq, d in audit],
                            key=lambda w: w[1])

        for who, ws, want in (("ws admin", ws_admin, want_admin),
                              ("ws bob", ws_bob, want_bob)):
            for topic, seq, data in want:
                m = await recv_json(ws, what=f"{who}: seq {seq}")
                exp = {"type": "message", "topic": topic, "seq": seq,
                       "data": data}
                check(m == exp, f"{who}: {m}, want {exp}")
            await expect_silence(ws, 0.3)
        for who, s, want in (("sse admin", sse_admin, want_admin),
                             ("sse bob", sse_bob, want_bob)):
            for topic, seq, data in want:
                ev = await asyncio.to_thread(s.next_event)
                check(ev[1] == topic and ev[0] == f"{hello['epoch']}-{seq}"
                      and json.loads(ev[2]) == data,
                      f"{who}: {ev}, want {topic} {seq} {data}")
            extra = await asyncio.to_thread(s.next_event_or_none, 0.3)
            check(extra is None, f"{who}: extra event {extra}")
        if b:
            got = await asyncio.to_thread(b.collect, len(items))
            want = [{"seq": seq, "data": d} for _, seq, d in want_bob]
            check(got["ws"] == want, f"browser WebSocket: {got['ws']}")
            check(got["sse"] == [{"id": f"{hello['epoch']}-{w['seq']}",
                                  "data": w["data"]} for w in want],
                  f"browser EventSource: {got['sse']}")
            log("browser: WebSocket and EventSource got", len(want), "rows")

        # A reconnection from the first row on gets the rest, once.
        resumed = mode.sse("/sse?topic=items&token=t-bob", "-H",
                           f"Last-Event-ID: {hello['epoch']}-{items[0][0]}")
        for topic, seq, data in want_bob[1:]:
            ev = await asyncio.to_thread(resumed.next_event)
            check(ev[1:] == (topic, json.dumps(data, separators=(",", ":")))
                  and ev[0].endswith(f"-{seq}"), f"resumed: {ev}")
        check(await asyncio.to_thread(resumed.next_event_or_none, 0.3) is None,
              "resumed: extra event")
        # ?since= does the same, here for a WebSocket; an unreadable one
        # is refused.
        ws_resumed = await mode.ws(f"/ws?topic=items&token=t-bob"
                                   f"&since={hello['epoch']}-{items[1][0]}")
        await expect_hello(ws_resumed)
        for topic, seq, data in want_bob[2:]:
            m = await recv_json(ws_resumed, what=f"resumed ws: seq {seq}")
            check(m == {"type": "message", "topic": topic, "seq": seq,
                        "data": data}, f"resumed ws: {m}")
        await expect_silence(ws_resumed, 0.3)
        code, _ = await asyncio.to_thread(
            mode.curl_run, "/sse?topic=items&token=t-bob&since=x-y")
        check(code == 400, f"since=x-y: {code}")

        for ws in (ws_admin, ws_bob, ws_resumed):
            await ws.close()
        for s in (sse_admin, sse_bob, resumed):
            s.close()
        # MHD sees an idle SSE client's departure at the next keepalive.
        try:
            await asyncio.to_thread(wait_until, "descriptors back",
                                    lambda: fds(host.proc.pid) == before)
        except TestFailure:
            left = set(fds(host.proc.pid).items()) - set(before.items())
            raise TestFailure(f"descriptors left: {sorted(left)}")
        note(f"mhd_host {mode.http}: descriptors back to {len(before)} "
             f"after {6 + (2 if b else 0)} clients")

        # SIGTERM with clients on: they are told, the host exits 0.
        ws = await mode.ws("/ws?topic=items&token=t-bob")
        await expect_hello(ws)
        s = mode.sse("/sse?topic=items&token=t-bob")
        await asyncio.to_thread(s.wait_comment, "connected")
        await expect_stopped(host, [ws], s)
        err = host.stderr()
        check("not closed" not in err and "suspended" not in err,
              f"MHD complained: {err}")

    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT id, v FROM items"))
    con.close()
    check(rows == {1: "a", 2: "b", 3: "c", 4: "e"}, f"items {rows}")


async def main():
    tmp = tempfile.mkdtemp(prefix="fanhub-mhd.")
    try:
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext",
             "subjectAltName=IP:127.0.0.1", "-keyout", f"{tmp}/key.pem",
             "-out", f"{tmp}/cert.pem"], capture_output=True, timeout=30)
        check(r.returncode == 0, f"openssl: {r.stderr!r}")
        await scenario(Mode(tmp, tls=False), tmp, browser=True)
        await scenario(Mode(tmp, tls=True), tmp, browser=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run(main)
