"""Hostile handshakes over raw sockets: each gets its HTTP error and the
connection is closed; stalled half requests do not hold up anyone else and
are cleaned up when they go, or by the handshake timeout (10 s) when they
do not; afterwards a normal client still subscribes and receives, and
/metrics counts the refusals."""
import asyncio
import socket
import time

from fhtest import (HOST, Fanhubd, check, curl_publish, expect_hello,
                    http_request, log, metrics, parse_response, read_to_eof,
                    recv_json, run, served_quickly, ws_connect)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def upgrade(path="/ws", method="GET", version="13", key=KEY, extra="",
            proto="HTTP/1.1"):
    head = f"{method} {path} {proto}\r\nHost: {HOST}\r\n" \
           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    if version is not None:
        head += f"Sec-WebSocket-Version: {version}\r\n"
    if key is not None:
        head += f"Sec-WebSocket-Key: {key}\r\n"
    return (head + extra + "\r\n").encode()


def expect_status(port, raw, status, what):
    t0 = time.monotonic()
    data = http_request(port, raw)
    got, headers, body = parse_response(data)
    check(got == status, f"{what}: got {got}, want {status}: {data[:300]!r}")
    log(f"{what}: {got} {body.strip()[:60]!r} in "
        f"{(time.monotonic() - t0) * 1000:.0f} ms")
    return headers


def clients_gauge(port):
    return metrics(port)["fanhub_clients"]


def wait_gauge(port, want, timeout=3):
    deadline = time.monotonic() + timeout
    while True:
        got = clients_gauge(port)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


async def main():
    with Fanhubd() as fh:
        port = fh.port
        refused = 0
        # A half request left alone: the handshake timeout (10 s by
        # default) must close it; checked at the end.
        victim = socket.create_connection((HOST, port), timeout=5)
        victim.sendall(b"GET /sse?topic=x HTTP/1.1\r\nHost: x\r\n")
        victim_t0 = time.monotonic()

        expect_status(port, upgrade(key=None), 400, "no Sec-WebSocket-Key")
        expect_status(port, upgrade(key="not-a-valid-key"), 400,
                      "bad Sec-WebSocket-Key")
        expect_status(port, upgrade(version=None), 400,
                      "no Sec-WebSocket-Version")
        h = expect_status(port, upgrade(version="8"), 426,
                          "Sec-WebSocket-Version: 8")
        check(h.get("sec-websocket-version") == ["13"],
              f"426 without Sec-WebSocket-Version: 13: {h}")
        expect_status(port, upgrade(proto="HTTP/1.0"), 400,
                      "upgrade over HTTP/1.0")
        expect_status(port, upgrade(extra="X-Pad: " + "a" * 9000 + "\r\n"),
                      431, "one 9000-byte header")
        expect_status(port, upgrade(extra="".join(
            f"X-H{i}: {'b' * 40}\r\n" for i in range(250))),
            431, "250 headers, 11 KiB")
        expect_status(port, b"\x00\x01\x02garbage\xff\xfe\r\n\r\n", 400,
                      "garbage bytes")
        expect_status(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                      + bytes(range(256)) * 2, 400, "a TLS ClientHello")
        expect_status(port, b"GET /ws\r\n\r\n", 400, "HTTP/0.9 style line")
        refused += 10
        # fanhubd routes only GET /ws to the hub; anything else is its 404,
        # an answer of the host's, which keeps the connection unless the
        # request says "Connection: close" (read to EOF here).
        expect_status(port, upgrade(method="POST",
                                    extra="Connection: close\r\n"),
                      404, "POST /ws")

        # A valid upgrade written one byte at a time still works.
        with socket.create_connection((HOST, port), timeout=5) as s:
            for b in upgrade(path="/ws?topic=slow"):
                s.sendall(bytes([b]))
                time.sleep(0.001)
            s.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                check(chunk, f"closed during slow handshake: {head!r}")
                head += chunk
            st, hd, _ = parse_response(head)
            check(st == 101 and hd.get("sec-websocket-accept") == [ACCEPT],
                  f"byte-by-byte handshake: {head!r}")

        # Stalled clients: one half request line, one half head, and 100
        # that sent nothing at all.
        base = wait_gauge(port, 2)  # the /metrics request and the victim
        check(base == 2, f"clients gauge {base} with only the victim")
        stalled = []
        for part in (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgr", b"GET /ss"):
            s = socket.create_connection((HOST, port), timeout=5)
            s.sendall(part)
            stalled.append(s)
        stalled += [socket.create_connection((HOST, port), timeout=5)
                    for _ in range(100)]
        got = wait_gauge(port, base + len(stalled))
        check(got == base + len(stalled),
              f"clients gauge {got} with {len(stalled)} stalled sockets")
        took = await served_quickly(port, "others")
        log(f"served a WS and an SSE client in {took:.2f}s past "
            f"{len(stalled)} stalled sockets")
        # Still open: nothing was sent to them and they were not closed
        # (the handshake timeout is 10 s).
        for s in stalled[:2]:
            s.setblocking(False)
            try:
                data = s.recv(1)
                raise AssertionError(f"stalled socket got {data!r}")
            except BlockingIOError:
                pass
            s.setblocking(True)
        # Cleaned up when they go.
        for s in stalled:
            s.close()
        got = wait_gauge(port, base)
        check(got == base, f"clients gauge {got} after the stalled sockets "
              f"closed, want {base}")

        # After all of that, a normal client is served as usual.
        ws = await ws_connect(port, "/ws")
        await expect_hello(ws)
        await ws.send('{"op":"subscribe","topic":"after"}')
        m = await recv_json(ws, what="subscribed")
        check(m["type"] == "subscribed" and m["topic"] == "after", f"{m}")
        seq = await asyncio.to_thread(curl_publish, port, "after", "fine")
        m = await recv_json(ws, what="message")
        check(m == {"type": "message", "topic": "after", "seq": seq,
                    "data": "fine"}, f"message after hostile clients: {m}")
        await ws.close()

        # The victim: closed by the server 10 s after it came, answered
        # nothing (or a 408), and no longer counted.
        data = await asyncio.to_thread(read_to_eof, victim, 14)
        took = time.monotonic() - victim_t0
        victim.close()
        log(f"half request closed by the server after {took:.1f}s: {data!r}")
        check(9.0 <= took <= 12.5, f"handshake timeout closed the half "
              f"request after {took:.1f}s, want about 10 s")
        check(data == b"" or data.startswith(b"HTTP/1.1 408 "),
              f"half request got {data[:200]!r}")
        got = wait_gauge(port, 1)
        check(got == 1, f"clients gauge {got} after the handshake timeout")

        m = metrics(port)
        log(f"fanhub_http_refused_total {m['fanhub_http_refused_total']}")
        check(m["fanhub_http_refused_total"] >= refused,
              f"fanhub_http_refused_total "
              f"{m['fanhub_http_refused_total']} < {refused}")


run(main)
