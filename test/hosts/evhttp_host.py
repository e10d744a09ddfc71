"""evhttp_host: libevent's evhttp answers every request, fanhub streams.

Refusals come from evhttp: 401 without a valid bearer token (WebSocket,
SSE, POST), 403 for a POST /items by a non-admin, 400 and 426 for a bad
WebSocket upgrade. A non-admin asking for a private topic (in the query,
or a WebSocket subscribe to a pattern that could match one) gets a
"forbidden" error notice and stays; an admin does not.

Three WebSocket clients (Python websockets, the token in the header or
the query), one raw WebSocket client that sends a ping in the same write
as its upgrade request (before the 101: the pong proves evhttp's
read-ahead reached fanhub) and a `curl -N` SSE stream get every row that
POST /items commits, in order, once, with the seqs the POSTs returned; a
POST that fails on a duplicate name rolls back and broadcasts nothing
(the next commit's seqs follow on without a gap). An SSE stream closed
after two events and reopened with Last-Event-ID gets exactly the rows it
missed, then live ones. Once every client has gone the host holds the
descriptors it had before the first (/proc/PID/fd); on SIGTERM open
WebSocket clients get 1001, an SSE stream ends cleanly, the host exits
0."""
import asyncio
import json
import os
import socket
import subprocess
import tempfile
import time

from hostlib import (HOST, CurlSSE, Host, check, expect_hello, expect_stopped,
                     expect_silence, log, note, recv_json, run, ws_connect)
from fhtest import parse_response
from fhextra import KEY, OP_PING, OP_PONG, RawWS, frame

ALICE, ROOT = "alice-secret", "root-secret"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def post_items(port, names, token=ROOT, timeout=5):
    """POST /items with one name per line: (status, body)."""
    cmd = ["curl", "--noproxy", "*", "-s", "-S", "--max-time", str(timeout),
           "-o", "-", "-w", "\n%{http_code}", "--data-binary", "@-"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    r = subprocess.run(cmd + [f"http://{HOST}:{port}/items"],
                       input="\n".join(names).encode(), capture_output=True,
                       timeout=timeout + 2)
    check(r.returncode == 0, f"curl POST /items: {r.stderr!r}")
    body, _, code = r.stdout.decode().rpartition("\n")
    return int(code), body


def answer(port, request):
    """Sends a raw request; (status, headers) of the answer."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            check(b, f"EOF before an answer to {request[:60]!r}: {data!r}")
            data += b
    status, headers, _ = parse_response(data)
    return status, headers


def upgrade(path, *headers, key=KEY, version="13"):
    hs = [f"Host: {HOST}", "Upgrade: websocket", "Connection: Upgrade",
          f"Sec-WebSocket-Version: {version}", *headers]
    if key:
        hs.append(f"Sec-WebSocket-Key: {key}")
    return f"GET {path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in hs) + \
        "\r\n"


def refusals(port):
    for req, want, what in [
            (upgrade("/ws?topic=items"), 401, "WebSocket without a token"),
            (upgrade("/ws?topic=items&token=wrong"), 401, "a wrong token"),
            (f"GET /sse?topic=items HTTP/1.1\r\nHost: {HOST}\r\n"
             f"Authorization: Bearer nope\r\n\r\n", 401, "SSE, wrong token"),
            (upgrade(f"/ws?token={ALICE}", key=None), 400, "no key"),
            (upgrade(f"/ws?token={ALICE}", version="8"), 426, "version 8")]:
        status, headers = answer(port, req)
        check(status == want, f"{what}: {status}, want {want}")
        if want == 401:
            check(headers.get("www-authenticate") == ["Bearer"],
                  f"{what}: {headers}")
    for token, want in ((None, 401), (ALICE, 403)):
        code, body = post_items(port, ["x"], token)
        check(code == want, f"POST /items as {token}: {code} {body!r}")


def early_ping(port, path):
    """A raw WebSocket client whose first frame, a ping, goes out in the
    same write as its upgrade request: evhttp reads both at once and keeps
    the frame in its input buffer. Returns it once the pong is in."""
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(upgrade(path).encode() + frame(OP_PING, b"early"))
    ws = RawWS(s)
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in ws.buf:
        check(ws._fill(deadline), f"EOF before the 101: {ws.buf!r}")
    head, _, ws.buf = ws.buf.partition(b"\r\n\r\n")
    status, headers, _ = parse_response(head + b"\r\n\r\n")
    check(status == 101, f"early ping: answered {status}")
    check(headers.get("sec-websocket-accept") ==
          ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="], f"accept header {headers}")
    hello = ws.next_json(what="hello")
    check(hello.get("type") == "hello", f"first frame {hello}")
    f = ws.next_frame()
    check(f == (True, OP_PONG, b"early"), f"the early ping got {f}")
    return ws


def want_messages(batches):
    """[(seq, id)] for committed POST answers, in commit order."""
    out = []
    for ans in batches:
        ids, last = ans["ids"], ans["seq"]
        out += [(last - len(ids) + 1 + i, rid) for i, rid in enumerate(ids)]
    return out


async def check_ws(ws, want, what):
    for seq, rid in want:
        m = await recv_json(ws, what=f"{what}: row {rid}")
        exp = {"type": "message", "topic": "items", "seq": seq,
               "data": {"op": "insert", "id": rid}}
        check(m == exp, f"{what}: {m}, want {exp}")


def check_sse(sse, want, what):
    for seq, rid in want:
        ev = sse.next_event()
        check(ev[1:] == ("items", '{"op":"insert","id":%d}' % rid) and
              ev[0].endswith(f"-{seq}"), f"{what}: {ev}, want {seq} {rid}")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def main():
    tmp = tempfile.TemporaryDirectory(prefix="fanhub-evhttp.")
    with tmp as d, Host("evhttp_host", "--db", os.path.join(d, "t.db"),
                        "--token", f"{ALICE}=alice",
                        "--token", f"{ROOT}=admin") as host:
        port, pid = host.port, host.proc.pid
        base_fds = fds(pid)
        await asyncio.to_thread(refusals, port)

        # Clients, with the private topic refused to alice only.
        a1 = await ws_connect(port, "/ws?topic=items&topic=private.audit",
                              extra_headers=bearer(ALICE))
        a2 = await ws_connect(port, "/ws?topic=items",
                              extra_headers=bearer(ALICE))
        root = await ws_connect(port, f"/ws?topic=items&topic=private.audit"
                                      f"&token={ROOT}")
        for ws in (a1, a2, root):
            await expect_hello(ws)
        m = await recv_json(a1, what="forbidden notice")
        check(m.get("type") == "error" and m.get("code") == "forbidden" and
              m.get("topic") == "private.audit", f"a1: {m}")
        await a2.send('{"op":"subscribe","topic":">"}')
        m = await recv_json(a2, what="forbidden notice")
        check(m.get("code") == "forbidden" and m.get("topic") == ">",
              f"a2 subscribing to '>': {m}")
        raw = await asyncio.to_thread(early_ping, port,
                                      f"/ws?topic=items&token={ALICE}")
        url = f"http://{HOST}:{port}/sse?topic=items"
        sse = CurlSSE(url + "&topic=private.audit", headers=[
            f"Authorization: Bearer {ALICE}"])
        ev = await asyncio.to_thread(sse.next_event)
        check(ev[1] == "hub.error" and
              json.loads(ev[2]).get("code") == "forbidden", f"SSE: {ev}")
        resumed = CurlSSE(f"{url}&token={ALICE}")
        await asyncio.to_thread(resumed.wait_comment, "connected")
        await expect_silence(root, 0.2)  # admin: no forbidden notice

        # Commits, one rolled back.
        done = []
        for names in (["apple", "banana"], ["cherry"], ["date", "apple"],
                      ["elder", "fig"]):
            code, body = await asyncio.to_thread(post_items, port, names)
            log(f"POST {names}: {code} {body.strip()}")
            if "date" in names:
                check(code == 409 and "UNIQUE" in body,
                      f"duplicate: {code} {body!r}")
                continue
            check(code == 200, f"POST {names}: {code} {body!r}")
            done.append(json.loads(body))
            if names == ["cherry"]:
                # Away after two events; back below with Last-Event-ID.
                check_sse(resumed, want_messages(done)[:2], "to resume")
                last_id = resumed.last_id
                resumed.close()
        want = want_messages(done)
        check([s for s, _ in want] == list(range(1, len(want) + 1)),
              f"seqs {want}: the rolled-back POST took some")
        resumed = CurlSSE(f"{url}&token={ALICE}",
                          headers=[f"Last-Event-ID: {last_id}"])
        check_sse(resumed, want[2:], "resumed")
        code, body = await asyncio.to_thread(post_items, port, ["grape"])
        check(code == 200, f"POST grape: {code} {body!r}")
        done.append(json.loads(body))
        want = want_messages(done)
        check_sse(resumed, want[-1:], "resumed, live")

        for ws, what in ((a1, "a1"), (a2, "a2"), (root, "root")):
            await check_ws(ws, want, what)
            await expect_silence(ws, 0.2)
        for seq, rid in want:
            m = raw.next_json(what=f"raw: row {rid}")
            check(m == {"type": "message", "topic": "items", "seq": seq,
                        "data": {"op": "insert", "id": rid}}, f"raw: {m}")
        check_sse(sse, want, "SSE")
        log(f"{len(want)} rows to 4 WebSocket and 2 SSE clients, in order")

        # Every client gone: every descriptor of theirs too.
        for ws in (a1, a2, root):
            await ws.close()
        raw.sock.close()
        sse.close()
        resumed.close()
        deadline = time.monotonic() + 5
        while (n := fds(pid)) != base_fds:
            check(time.monotonic() < deadline, f"{n} descriptors open after "
                  f"the clients left, {base_fds} before")
            await asyncio.sleep(0.05)
        note(f"evhttp_host: {base_fds} descriptors before the clients and "
             f"after")

        # SIGTERM with clients on.
        ws = await ws_connect(port, "/ws?topic=items",
                              extra_headers=bearer(ROOT))
        await expect_hello(ws)
        sse = CurlSSE(f"{url}&token={ROOT}")
        await asyncio.to_thread(sse.wait_comment, "connected")
        await expect_stopped(host, [ws], sse)


run(main)
