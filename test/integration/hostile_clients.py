"""Hostile clients against one fanhubd with JWT auth (--jwt-secret-file,
a secret made here, tokens minted here with hmac/hashlib) and small
limits (--max-connections 40, --max-per-ip 12, --handshake-timeout 1000).

A healthy WebSocket client and a healthy SSE stream stay connected all
along; after every hostile case a message published to their topic must
reach both (pulse). Cases, each with the answer docs/security.md,
docs/protocol.md and the header promise:
  tokens      missing (WS and SSE), forged signature, expired, not yet
              valid, alg "none": 401 with WWW-Authenticate: Bearer;
              ?token= and the bearer.<token> subprotocol work; a valid
              token subscribing or publishing outside its grants gets an
              error notice "forbidden" and the connection stays
  Origin      a foreign Origin: 403; the same origin: 101
  slowloris   one byte a second: closed by the 1 s handshake timeout
  headers     65 headers, or 12 KB of them: 431
  frames      a 100 MiB length header: close 1009; invalid UTF-8 in a text
              frame: 1007; an unmasked frame, reserved opcodes, RSV bits,
              a continuation with nothing to continue: 1002; broken
              control frames (a fragmented ping or pong, a 126-byte ping,
              a 1-byte close payload, a close with a 124-byte reason) and
              lengths not in their shortest form or with bit 63 set: 1002
              with the reason; always a close frame, then EOF
  rate        10,000 subscribes at once: the first 200 (the burst) are
              subscribed, the next ones get "rate-limited" error notices,
              and at twice the burst the client is closed with 1008
              "message rate" (default 100/s, burst 200)
  subs cap    a client pacing itself under the rate: exactly 1024
              subscriptions (?topic= ones included), then
              "too-many-subscriptions"; resubscribing an existing topic
              still works, the connection stays (runs alongside the rest)
  caps        the 13th socket from one IP: 503 + Retry-After while other
              IPs still connect; the 41st socket: 503 + Retry-After (even
              /metrics), established clients keep being served; both free
              up when sockets go
  no reader   a client that never reads while ~7 MiB of 32 KiB messages
              flow (more than its socket buffers and queue hold): the
              healthy client gets every one, fanhub_bytes_queued stays
              under the 1 MiB queue cap (+ slack), drop-oldest drops for
              the stalled one, and when it finally reads, "lagged" notices
              account for exactly what it missed
At the end fanhubd is still up and the /metrics counters auth_denied,
origin_refused, capacity_refused, rate_limited and http_refused moved by
exactly what was provoked."""
import asyncio
import json
import socket
import struct
import tempfile
import threading
import time

from fhextra import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                     RawWS, claims, frame, mint_jwt, quick_publish,
                     read_to_eof, write_secret)
from fhtest import (HOST, Fanhubd, SSEReader, check, expect_hello, log,
                    metrics, parse_response, recv_json, run, ws_connect)

MAX_CONN = 40
MAX_PER_IP = 12
HS_TIMEOUT_MS = 1000
RATE_BURST = 200  # hub defaults (include/fanhub.h): 100/s, burst 200
RATE_PER_SEC = 100
MAX_SUBS = 1024
QUEUE_BYTES = 1 << 20  # per-client queue cap (default 1 MiB)

COUNTERS = ["auth_denied", "origin_refused", "capacity_refused",
            "rate_limited", "http_refused"]


class Ctx:
    pass


def counters(port):
    m = metrics(port)
    return {k: m[f"fanhub_{k}_total"] for k in COUNTERS}


def bearer(tok):
    return f"Authorization: Bearer {tok}"


# --- the healthy clients -----------------------------------------------------


class Healthy:
    """One WS client (websockets) and one SSE stream, both on PULSE; the
    WS client's frames are routed by topic into queues."""

    PULSE = "pulse"

    async def start(self, port, token):
        self.port = port
        self.ws = await ws_connect(port, "/ws",
                                   extra_headers={"Authorization":
                                                  f"Bearer {token}"})
        self.epoch = (await expect_hello(self.ws))["epoch"]
        self.queues = {}
        self.ctl = asyncio.Queue()
        await self.ws.send(json.dumps({"op": "subscribe",
                                       "topic": self.PULSE}))
        m = await recv_json(self.ws, what="healthy subscribed")
        check(m.get("type") == "subscribed", f"healthy subscribe: {m}")
        self.router = asyncio.create_task(self._route())
        # SSE with ?token= (one of the three ways a token may come).
        self.sse = await asyncio.to_thread(
            SSEReader, port, f"/sse?topic={self.PULSE}&token={token}")
        check(self.sse.status == 200, f"healthy SSE: {self.sse.status}")
        await asyncio.to_thread(self.sse.wait_comment, "connected")
        self.pulses = 0

    async def _route(self):
        async for raw in self.ws:
            m = json.loads(raw)
            if m.get("type") == "message":
                self.queue(m["topic"]).put_nowait(m)
            else:
                self.ctl.put_nowait(m)

    def queue(self, topic):
        return self.queues.setdefault(topic, asyncio.Queue())

    async def next(self, topic, timeout=3, what="message"):
        try:
            return await asyncio.wait_for(self.queue(topic).get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"healthy WS: no {what} on {topic} within "
                                 f"{timeout}s (router done: "
                                 f"{self.router.done()})")

    async def pulse(self, after):
        """A message to PULSE reaches the healthy WS and SSE clients."""
        self.pulses += 1
        data = f"pulse {self.pulses} after {after}"
        seq = await asyncio.to_thread(quick_publish, self.port, self.PULSE,
                                      data)
        await self.check_pulse(seq, data, after)

    async def check_pulse(self, seq, data, after, sse_data=None):
        m = await self.next(self.PULSE, what=f"pulse after {after}")
        check(m == {"type": "message", "topic": self.PULSE, "seq": seq,
                    "data": data}, f"healthy WS after {after}: {m}")
        ev = await asyncio.to_thread(self.sse.next_event, 3)
        want = data if sse_data is None else sse_data
        check(ev == (f"{self.epoch}-{seq}", self.PULSE, want),
              f"healthy SSE after {after}: {ev}")

    async def close(self):
        self.sse.close()
        await self.ws.close()
        await asyncio.wait_for(self.router, 3)


# --- cases -------------------------------------------------------------------


def refused_with(port, status, path="/ws", headers=(), source=None,
                 upgrade=True, what=""):
    """A request that must be answered `status` and closed."""
    if upgrade:
        ws = RawWS.open(port, path, headers, source=source, expect=status)
        rest = read_to_eof(ws.sock, 5)
        ws.close()
        st, hdrs, body = parse_response(ws.head + rest)
    else:
        s = socket.socket()
        if source:
            s.bind((source, 0))
        s.settimeout(5)
        s.connect((HOST, port))
        req = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n"
        for h in headers:
            req += h + "\r\n"
        try:
            s.sendall((req + "\r\n").encode())
        except OSError:
            pass
        st, hdrs, body = parse_response(read_to_eof(s, 5))
        s.close()
    check(st == status, f"{what}: {st}, want {status}")
    log(f"{what}: {st} {body.strip()[:60]!r}")
    return hdrs, body


async def tokens(c):
    port, secret = c.port, c.secret
    ok = claims("limited", sub_topics=["allowed.*"], pub_topics=["chat.room"])
    cases = [
        ("WS without a token", [], True, "missing token"),
        ("SSE without a token", [], False, "missing token"),
        ("forged signature",
         [bearer(mint_jwt(b"not the secret at all, 32+ bytes!!", ok))], True,
         "bad token signature"),
        ("expired", [bearer(mint_jwt(secret, claims("late", exp_in=-3600)))],
         True, "token expired"),
        ("not yet valid",
         [bearer(mint_jwt(secret, claims("early",
                                         nbf=int(time.time()) + 3600)))],
         True, "token not yet valid"),
        ("alg none",
         [bearer(mint_jwt(secret, ok, header={"alg": "none"})[:-43])],
         True, None),
    ]
    for what, hdrs, ws, body in cases:
        h, b = await asyncio.to_thread(
            refused_with, port, 401, "/ws" if ws else "/sse?topic=pulse",
            hdrs, None, ws, what)
        check(h.get("www-authenticate") == ["Bearer"],
              f"{what}: 401 without WWW-Authenticate: Bearer: {h}")
        if body:
            check(b.decode().strip() == body, f"{what}: body {b!r}")
    c.expect["auth_denied"] += len(cases)
    c.expect["http_refused"] += len(cases)
    await c.healthy.pulse("bad tokens")

    # The bearer.<token> subprotocol is echoed and lets the client in.
    tok = mint_jwt(secret, ok)
    ws = await asyncio.to_thread(RawWS.open, port, "/ws",
                                 [f"Sec-WebSocket-Protocol: bearer.{tok}"])
    check(ws.headers.get("sec-websocket-protocol") == [f"bearer.{tok}"],
          f"subprotocol not echoed: {ws.headers}")
    m = ws.next_json(what="hello")
    check(m["type"] == "hello", f"{m}")
    # Outside its grants: forbidden notices, and the connection stays.
    ws.send_json({"op": "subscribe", "topic": "secret", "id": 1})
    m = ws.next_json(what="forbidden subscribe")
    check(m == {"type": "error", "topic": "secret", "code": "forbidden",
                "reason": "topic not granted", "id": 1},
          f"subscribe outside sub_topics: {m}")
    ws.send_json({"op": "subscribe", "topic": "allowed.x", "id": 2})
    m = ws.next_json(what="allowed subscribe")
    check(m.get("type") == "subscribed" and m.get("id") == 2, f"{m}")
    ws.send_json({"op": "publish", "topic": "chat.other", "data": 1, "id": 3})
    m = ws.next_json(what="forbidden publish")
    check(m == {"type": "error", "topic": "chat.other", "code": "forbidden",
                "reason": "topic not granted", "id": 3},
          f"publish outside pub_topics: {m}")
    ws.send_json({"op": "publish", "topic": "chat.room", "data": {"a": 1},
                  "id": 4})
    m = ws.next_json(what="allowed publish")
    check(m.get("type") == "published" and m.get("id") == 4, f"{m}")
    ws.send_json({"op": "ping", "id": 5})
    check(ws.next_json(what="pong") == {"type": "pong", "id": 5},
          "no pong after forbidden requests")
    ws.send(frame(OP_CLOSE, b"\x03\xe8"))
    code, _ = ws.expect_close(what="client close")
    check(code == 1000, f"echoed close {code}")
    ws.close()
    c.expect["auth_denied"] += 2
    log("tokens: 6 x 401, ?token= and bearer.<token> accepted, "
        "forbidden subscribe/publish answered and the client stays")
    await c.healthy.pulse("forbidden topics")


async def origin(c):
    tok = c.token
    await asyncio.to_thread(refused_with, c.port, 403, "/ws",
                            [bearer(tok), "Origin: http://evil.example"],
                            None, True, "foreign Origin")
    ws = await asyncio.to_thread(
        RawWS.open, c.port, "/ws",
        [bearer(tok), f"Origin: http://{HOST}:{c.port}"])
    ws.close()
    c.expect["origin_refused"] += 1
    c.expect["http_refused"] += 1
    await c.healthy.pulse("bad Origin")


def slowloris(port):
    s = socket.create_connection((HOST, port), timeout=5)
    t0 = time.monotonic()
    sent = 0
    req = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    got = b""
    closed = False
    while time.monotonic() - t0 < 4 and not closed:
        try:
            s.sendall(req[sent:sent + 1])
            sent += 1
        except OSError:
            closed = True
            break
        s.settimeout(1.0)
        try:
            b = s.recv(4096)
            got += b
            closed = not b
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
    took = time.monotonic() - t0
    s.close()
    return closed, took, sent, got


async def slow_and_floods(c):
    closed, took, sent, got = await asyncio.to_thread(slowloris, c.port)
    log(f"slowloris: closed={closed} after {took:.2f}s, {sent} bytes sent, "
        f"got {got[:40]!r}")
    check(closed, "slowloris still connected after 4 s")
    check(HS_TIMEOUT_MS / 1000 - 0.1 <= took <= HS_TIMEOUT_MS / 1000 + 1.5,
          f"slowloris closed after {took:.2f}s, handshake timeout is "
          f"{HS_TIMEOUT_MS} ms")
    check(got == b"" or got.startswith(b"HTTP/1.1 408 "),
          f"slowloris got {got[:100]!r}")
    await c.healthy.pulse("slowloris")

    many = [f"X-Flood-{i}: v" for i in range(65)]
    await asyncio.to_thread(refused_with, c.port, 431, "/ws",
                            [bearer(c.token)] + many, None, True,
                            "65 headers")
    big = [f"X-Flood-{i}: {'z' * 100}" for i in range(120)]
    await asyncio.to_thread(refused_with, c.port, 431, "/ws",
                            [bearer(c.token)] + big, None, True,
                            "12 KB of headers")
    c.expect["http_refused"] += 2
    await c.healthy.pulse("header floods")


FRAME_CASES = [
    # what, bytes, close code, reason (None: any)
    ("100 MiB length header", frame(OP_TEXT, b"", length=100 << 20), 1009,
     "message too big"),
    ("2^63 length header", b"\x82\xff\x80" + b"\0" * 7 + b"\x12\x34\x56\x78",
     1002, "bad payload length"),
    ("2-byte length in the 16-bit form",
     b"\x81\xfe\x00\x02\x12\x34\x56\x78" + frame(OP_TEXT, "{}")[6:], 1002,
     "bad payload length"),
    ("invalid UTF-8", frame(OP_TEXT, b'{"op":"ping","x":"\xff\xfe"}'), 1007,
     None),
    ("overlong UTF-8", frame(OP_TEXT, b"\xc0\xaf"), 1007, None),
    ("unmasked frame", frame(OP_TEXT, '{"op":"ping"}', mask=False), 1002,
     None),
    ("reserved opcode 3", frame(3, b"x"), 1002, None),
    ("reserved control opcode 0xB", frame(0xB, b"x"), 1002, None),
    ("RSV1 set", frame(OP_TEXT, '{"op":"ping"}', rsv=4), 1002, None),
    ("RSV3 set", frame(OP_BINARY, b"x", rsv=1), 1002, None),
    ("continuation without a start", frame(OP_CONT, b"x"), 1002, None),
    ("fragmented ping", frame(OP_PING, b"x", fin=False), 1002,
     "fragmented control frame"),
    ("fragmented pong", frame(OP_PONG, b"x", fin=False), 1002,
     "fragmented control frame"),
    ("126-byte ping", frame(OP_PING, b"p" * 126), 1002,
     "control frame over 125 bytes"),
    ("ping inside a fragmented message",
     frame(OP_TEXT, b'{"op":', fin=False) + frame(OP_PING, b"q" * 200),
     1002, "control frame over 125 bytes"),
    ("1-byte close payload", frame(OP_CLOSE, b"\x03"), 1002,
     "close frame with a 1-byte payload"),
    ("close with a 124-byte reason",
     frame(OP_CLOSE, b"\x03\xe8" + b"r" * 124), 1002,
     "control frame over 125 bytes"),
]


def bad_frame(port, token, data, code, why, what):
    ws = RawWS.open(port, "/ws", [bearer(token)])
    m = ws.next_json(what="hello")
    check(m["type"] == "hello", f"{what}: {m}")
    t0 = time.monotonic()
    ws.send(data)
    got, reason = ws.expect_close(what=what)
    took = time.monotonic() - t0
    ws.close()
    check(got == code and why in (None, reason), f"{what}: close {got} "
          f"({reason!r}), want {code}" + (f" ({why!r})" if why else ""))
    check(not ws.before_close, f"{what}: frames before the close "
          f"{ws.before_close[:3]}")
    log(f"{what}: close {got} {reason!r}, then EOF, in "
        f"{took * 1000:.0f} ms")


async def frames(c):
    for what, data, code, why in FRAME_CASES:
        await asyncio.to_thread(bad_frame, c.port, c.token, data, code, why,
                                what)
        await c.healthy.pulse(what)


def subscribe_flood(port, token, n=10000):
    """Sends n subscribes at once; returns what came back up to EOF."""
    ws = RawWS.open(port, "/ws", [bearer(token)])
    check(ws.next_json(what="hello")["type"] == "hello", "hello")
    blob = b"".join(frame(OP_TEXT, f'{{"op":"subscribe","topic":"hog.{i}",'
                                   f'"id":{i}}}') for i in range(n))
    send_err = []

    def sender():
        try:
            ws.sock.sendall(blob)
        except OSError as e:
            send_err.append(e)
    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    frames_in = []
    deadline = time.monotonic() + 15
    while True:
        f = ws.next_frame(max(0.01, deadline - time.monotonic()))
        if f is None:
            break
        frames_in.append(f)
    took = time.monotonic() - t0
    th.join(5)
    ws.close()
    return frames_in, took, send_err


async def rate(c):
    frames_in, took, send_err = await asyncio.to_thread(
        subscribe_flood, c.port, c.token)
    kinds, closes = [], []
    for fin, op, p in frames_in:
        if op == OP_CLOSE:
            closes.append((struct.unpack("!H", p[:2])[0] if len(p) >= 2
                           else None, p[2:].decode("utf-8", "replace")))
            kinds.append("close")
        else:
            check(op == OP_TEXT and not closes,
                  f"frame {op} {p[:80]!r} after {len(closes)} close frames")
            r = json.loads(p)
            kinds.append(r.get("type") if r.get("type") != "error"
                         else r.get("code"))
    subscribed = kinds.count("subscribed")
    limited = kinds.count("rate-limited")
    log(f"10,000 subscribes: {subscribed} subscribed, {limited} "
        f"rate-limited, then {len(closes)} close frame(s) "
        f"{sorted(set(closes))} and EOF after {took:.2f}s "
        f"(sender: {send_err[0] if send_err else 'sent all'})")
    check(set(kinds) <= {"subscribed", "rate-limited", "close"},
          f"unexpected replies {set(kinds)}")
    check(closes and closes[0] == (1008, "message rate"),
          f"close {closes[:1]}, want 1008 'message rate'")
    # A token bucket of RATE_BURST, refilled at RATE_PER_SEC: while it
    # lasts, subscribes succeed; below zero they are refused; at minus the
    # burst (twice the burst in all) the client is closed. Refill over
    # `took` seconds may add a few.
    refill = RATE_PER_SEC * took + 1
    check(RATE_BURST <= subscribed <= RATE_BURST + refill,
          f"{subscribed} subscribed, want {RATE_BURST}..{RATE_BURST + refill}")
    check(2 * RATE_BURST <= subscribed + limited <= 2 * RATE_BURST + refill,
          f"{subscribed + limited} answered before the close, want "
          f"{2 * RATE_BURST}..{2 * RATE_BURST + refill}")
    check(kinds[:RATE_BURST] == ["subscribed"] * RATE_BURST,
          "the burst was not all subscribed")
    c.expect["rate_limited"] += limited + 1  # the last one closed it
    await c.healthy.pulse("subscribe flood")
    # RFC 6455 5.5.1: after its close frame an endpoint sends nothing.
    check(len(closes) == 1,
          f"fanhubd sent {len(closes)} close frames "
          f"({closes[0]} each) to the client it closed for its message "
          f"rate: one per further message in the same read")


def paced_subscriptions(port, token, query_n=250):
    """Subscribes under the rate limit until past MAX_SUBS; some come in
    the request's ?topic= (no replies for those)."""
    path = "/ws?" + "&".join(f"topic=hog.q{i}" for i in range(query_n))
    check(len(path) < 4000, "request line too long")
    ws = RawWS.open(port, path, [bearer(token)])
    check(ws.next_json(what="hello")["type"] == "hello", "hello")
    t0 = time.monotonic()
    sent = 0
    out = {"subscribed": 0, "first_refused_at": None, "refused": 0,
           "other": []}
    i = 0
    while out["refused"] < 5:
        check(i < MAX_SUBS + 50, "no too-many-subscriptions notice")
        # Stay under the rate: a burst of 190, then 95 a second.
        if sent >= 190:
            due = t0 + (sent - 190) / 95
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
        ws.send_json({"op": "subscribe", "topic": f"hog.p{i}", "id": i})
        sent += 1
        m = ws.next_json(what=f"reply to subscribe {i}")
        if m.get("type") == "subscribed" and m.get("id") == i:
            check(out["refused"] == 0, f"subscribed after a refusal: {m}")
            out["subscribed"] += 1
        elif m == {"type": "error", "topic": f"hog.p{i}",
                   "code": "too-many-subscriptions", "id": i}:
            if out["first_refused_at"] is None:
                out["first_refused_at"] = i
            out["refused"] += 1
        else:
            out["other"].append(m)
            break
        i += 1
    # At the cap: an existing topic is still fine (idempotent), and after
    # an unsubscribe there is room for one more.
    ws.send_json({"op": "subscribe", "topic": "hog.q7", "id": "again"})
    out["again"] = ws.next_json(what="resubscribe at the cap")
    ws.send_json({"op": "unsubscribe", "topic": "hog.p3"})
    out["unsub"] = ws.next_json(what="unsubscribe")
    ws.send_json({"op": "subscribe", "topic": "hog.new", "id": "new"})
    out["new"] = ws.next_json(what="subscribe after an unsubscribe")
    ws.send_json({"op": "ping", "id": "alive"})
    out["pong"] = ws.next_json(what="pong")
    out["took"] = time.monotonic() - t0
    out["query_n"] = query_n
    out["ws"] = ws
    return out


def check_paced(out):
    log(f"subscription cap: {out['query_n']} by ?topic= + "
        f"{out['subscribed']} subscribed, then too-many-subscriptions from "
        f"request {out['first_refused_at']} on, in {out['took']:.1f}s")
    check(not out["other"], f"unexpected reply {out['other']}")
    check(out["query_n"] + out["subscribed"] == MAX_SUBS,
          f"{out['query_n']} + {out['subscribed']} subscriptions before "
          f"too-many-subscriptions, want {MAX_SUBS}")
    check(out["again"] == {"type": "subscribed", "topic": "hog.q7",
                           "seq": out["again"].get("seq"), "id": "again"},
          f"resubscribe at the cap: {out['again']}")
    check(out["unsub"] == {"type": "unsubscribed", "topic": "hog.p3"},
          f"{out['unsub']}")
    check(out["new"].get("type") == "subscribed",
          f"subscribe after an unsubscribe at the cap: {out['new']}")
    check(out["pong"] == {"type": "pong", "id": "alive"}, f"{out['pong']}")


def open_many(port, token, n, source):
    """n WebSocket clients from `source`, each past its hello."""
    out = []
    for _ in range(n):
        ws = RawWS.open(port, "/ws", [bearer(token)], source=source)
        check(ws.next_json(what="hello")["type"] == "hello", "hello")
        out.append(ws)
    return out


def wait_clients(port, want, timeout=3):
    """Polls /metrics until fanhub_clients (the /metrics request counts as
    one) is `want`; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = int(metrics(port)["fanhub_clients"]) - 1
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


async def caps(c):
    port, tok = c.port, c.token
    # Per IP: 12 sockets from 127.0.0.2, the 13th is refused, while
    # 127.0.0.1 still gets in.
    mine = await asyncio.to_thread(open_many, port, tok, MAX_PER_IP,
                                   "127.0.0.2")
    h, b = await asyncio.to_thread(refused_with, port, 503, "/ws",
                                   [bearer(tok)], "127.0.0.2", True,
                                   "13th socket from 127.0.0.2")
    check(h.get("retry-after") == ["5"], f"per-IP 503 headers {h}")
    other = await asyncio.to_thread(open_many, port, tok, 1, "127.0.0.1")
    other[0].close()
    await c.healthy.pulse("per-IP cap")
    # One goes, one more may come.
    mine.pop().close()
    for _ in range(60):
        try:
            mine += await asyncio.to_thread(open_many, port, tok, 1,
                                            "127.0.0.2")
            break
        except AssertionError:
            c.expect["capacity_refused"] += 1  # not released yet
            c.expect["http_refused"] += 1
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("per-IP slot not released")
    c.expect["capacity_refused"] += 1
    c.expect["http_refused"] += 1

    # Global: fill up to MAX_CONN from other addresses.
    base = await asyncio.to_thread(wait_clients, port, c.open_sockets() +
                                   len(mine))
    check(base == c.open_sockets() + len(mine),
          f"{base} clients, want {c.open_sockets()} + {len(mine)}")
    fill = []
    for k in range(3, 10):
        n = min(MAX_PER_IP, MAX_CONN - base - len(fill))
        if n <= 0:
            break
        fill += await asyncio.to_thread(open_many, port, tok, n,
                                        f"127.0.0.{k}")
    check(base + len(fill) == MAX_CONN, f"{base} + {len(fill)}")
    h, _ = await asyncio.to_thread(refused_with, port, 503, "/ws",
                                   [bearer(tok)], "127.0.0.20", True,
                                   "socket 41 (new address)")
    check(h.get("retry-after") == ["5"], f"global 503 headers {h}")
    await asyncio.to_thread(refused_with, port, 503, "/metrics", (), None,
                            False, "/metrics at the cap")
    c.expect["capacity_refused"] += 2
    c.expect["http_refused"] += 2
    # Established clients are still served: the healthy WS client
    # publishes (no new socket needed), both healthy clients get it.
    c.healthy.pulses += 1
    data = f"pulse {c.healthy.pulses} at the connection cap"
    await c.healthy.ws.send(json.dumps({"op": "publish",
                                        "topic": Healthy.PULSE,
                                        "data": data, "id": "cap"}))
    m = await asyncio.wait_for(c.healthy.ctl.get(), 3)
    check(m.get("type") == "published" and m.get("id") == "cap", f"{m}")
    # A client's "data" is a JSON value: SSE carries its JSON text.
    await c.healthy.check_pulse(m["seq"], data, "the connection cap",
                                json.dumps(data))
    for ws in fill + mine:
        ws.close()
    left = await asyncio.to_thread(wait_clients, port, c.open_sockets())
    check(left == c.open_sockets(), f"{left} clients after the cap test")
    log(f"caps: per-IP {MAX_PER_IP} and global {MAX_CONN} enforced with 503 "
        f"+ Retry-After: 5, freed when sockets go")
    await c.healthy.pulse("connection cap")


def publish_many(port, topic, n, size, port_metrics):
    seqs, queued = [], []
    for i in range(n):
        data = f"{i:05d}" + chr(ord("a") + i % 26) * (size - 5)
        seqs.append(quick_publish(port, topic, data))
        if i % 10 == 9:
            queued.append(metrics(port_metrics)["fanhub_bytes_queued"])
    return seqs, queued


async def no_reader(c):
    port = c.port
    topic = "flood"
    # More than the kernel can buffer for it (its socket's send buffer
    # grows up to tcp_wmem's maximum) plus its 1 MiB queue.
    size = 32 << 10
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem = 4 << 20
    n = min(1000, (wmem + QUEUE_BYTES + (2 << 20)) // size)
    await c.healthy.ws.send(json.dumps({"op": "subscribe", "topic": topic}))
    m = await asyncio.wait_for(c.healthy.ctl.get(), 3)
    check(m.get("type") == "subscribed", f"{m}")
    stalled = await asyncio.to_thread(RawWS.open, port, "/ws",
                                      [bearer(c.token)], None, 5, 101, 4096)
    stalled.next_json(what="hello")
    stalled.send_json({"op": "subscribe", "topic": topic})
    check(stalled.next_json(what="subscribed")["type"] == "subscribed", "")
    c.extra_sockets += 1
    drops0 = metrics(port)["fanhub_drops_total"]
    t0 = time.monotonic()
    pub = asyncio.create_task(asyncio.to_thread(publish_many, port, topic,
                                                n, size, port))
    got = []
    for i in range(n):
        m = await c.healthy.next(topic, timeout=5, what=f"flood message {i}")
        got.append(m)
    seqs, queued = await pub
    took = time.monotonic() - t0
    for i, m in enumerate(got):
        check(m["seq"] == seqs[i] and m["data"][:5] == f"{i:05d}" and
              len(m["data"]) == size, f"healthy flood message {i}: "
              f"seq {m['seq']} want {seqs[i]}")
    drops = metrics(port)["fanhub_drops_total"] - drops0
    log(f"no reader: healthy got all {n} x {size >> 10} KiB in {took:.2f}s; "
        f"bytes_queued max {max(queued) / 1024:.0f} KiB; {drops:.0f} dropped "
        f"for the stalled client")
    check(max(queued) <= QUEUE_BYTES + 2 * (size + 64),
          f"bytes_queued reached {max(queued)}")
    check(drops > 0, "drop-oldest never dropped for a client that never "
          "reads")
    await c.healthy.pulse("a client that never reads")

    # Now it reads: what arrives plus the "lagged" ranges is everything.
    def drain():
        # The notices come once it takes bytes again, after what was
        # queued by then.
        seen, lagged = [], []
        deadline = time.monotonic() + 10
        while (seqs[-1] not in seen or
               sum(x["dropped"] for x in lagged) + len(seen) < len(seqs)):
            left = deadline - time.monotonic()
            check(left > 0, f"stalled client: after 10 s, {len(seen)} "
                  f"messages (last: {seqs[-1] in seen}) and lagged notices "
                  f"{lagged} for {len(seqs)} published")
            m = stalled.next_json(timeout=left, what="flood after stall")
            if m["type"] == "message":
                seen.append(m["seq"])
            elif m["type"] == "lagged":
                lagged.append(m)
            else:
                raise AssertionError(f"stalled client got {m}")
        return seen, lagged
    seen, lagged = await asyncio.to_thread(drain)
    stalled.close()
    c.extra_sockets -= 1
    missed = [s for s in seqs if s not in seen]
    log(f"stalled client then read {len(seen)} messages and lagged notices "
        f"{[(x['dropped'], x['from'], x['to']) for x in lagged]}")
    check(seen == sorted(seen) and set(seen) <= set(seqs),
          f"stalled client's messages out of order or foreign: {seen}")
    check(lagged, "no lagged notice after drops")
    check(all(x["topic"] == topic for x in lagged), f"{lagged}")
    check(sum(x["dropped"] for x in lagged) == len(missed),
          f"lagged notices count {sum(x['dropped'] for x in lagged)}, "
          f"{len(missed)} missed")
    check(all(any(x["from"] <= s <= x["to"] for x in lagged)
              for s in missed), "a missed message outside every lagged range")


async def main():
    with tempfile.TemporaryDirectory(prefix="fanhub-hostile-") as d:
        secret_file, secret = write_secret(d)
        c = Ctx()
        c.secret = secret
        c.token = mint_jwt(secret, claims(
            "healthy", sub_topics=["pulse", "flood", "hog.>"],
            pub_topics=["pulse"]))
        with Fanhubd("--jwt-secret-file", secret_file,
                     "--allow-client-publish",
                     "--max-connections", MAX_CONN,
                     "--max-per-ip", MAX_PER_IP,
                     "--handshake-timeout", HS_TIMEOUT_MS) as fh:
            c.port = fh.port
            before = counters(c.port)
            c.expect = {k: 0 for k in COUNTERS}
            c.healthy = Healthy()
            await c.healthy.start(c.port, c.token)
            await c.healthy.pulse("start")

            # Alongside everything else: the subscription cap, paced.
            paced = asyncio.create_task(asyncio.to_thread(
                paced_subscriptions, c.port, c.token))
            c.extra_sockets = 1  # the paced client
            c.open_sockets = lambda: 2 + c.extra_sockets  # + healthy two

            steps = [("tokens", tokens), ("origin", origin),
                     ("slowloris and header floods", slow_and_floods),
                     ("bad frames", frames), ("message rate", rate),
                     ("no reader", no_reader)]
            failures = []

            async def step(name, fn, *args):
                # A failed case is reported at the end; the others still
                # run, as long as fanhubd is up.
                t0 = time.monotonic()
                try:
                    await fn(*args)
                except AssertionError as e:
                    log(f"FAILED {name}: {e}")
                    failures.append(f"{name}: {e}")
                    check(fh.running(), f"fanhubd died in {name}")
                log(f"== {name}: {time.monotonic() - t0:.2f}s")
            for name, fn in steps:
                await step(name, fn, c)
            out = await paced
            await step("subscription cap", asyncio.to_thread, check_paced,
                       out)
            # The connection caps last: with the paced client still open.
            await step("connection caps", caps, c)
            out["ws"].close()
            c.extra_sockets -= 1
            await c.healthy.pulse("everything")

            check(fh.running(), "fanhubd is gone")
            after = counters(c.port)
            moved = {k: after[k] - before[k] for k in COUNTERS}
            log(f"counters moved {moved}, expected {c.expect}")
            if moved != c.expect:
                failures.append(f"counters moved {moved}, expected "
                                f"{c.expect}")
            await c.healthy.close()
            check(not failures, "; ".join(failures))


run(main)
