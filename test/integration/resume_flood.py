"""Resume amplification, measured on fanhubd's RSS: four 256 KiB messages
in topic t's history, then six requests of ~4 KiB (three SSE, three WS)
that name t 500 times with a starting point before all of them, from
sockets with a 4 KiB receive buffer that never read. Each request may make
the server hold at most that client's queue caps (1 MiB) and the frames
are shared, so RSS grows by a few MiB (before the fix: ~500 MiB per
request, and the shard busy for seconds). Meanwhile a healthy subscriber
gets its messages at once; a client that reads gets the replay once,
within its caps (three of the four messages), then a "lagged" notice
from the fourth: where it resumes."""
import asyncio
import json
import socket
import time

from fhtest import (HOST, Fanhubd, check, curl_publish, expect_hello, log,
                    metrics, proc_rss_kib, recv_json, run, ws_connect)

REPS = 500
QUARTER = b"q" * (256 * 1024)
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def flood_path(prefix, since):
    return f"{prefix}?since={since}" + "&topic=t" * REPS


def stalled(port, path, ws):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, port))
    head = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if ws:
        head += ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n")
    req = (head + "\r\n").encode()
    check(len(req) < 8192, f"request of {len(req)} bytes")
    s.sendall(req)
    return s


async def pulse(port, ws, k):
    t0 = time.monotonic()
    seq = await asyncio.to_thread(curl_publish, port, "pulse", f"p{k}")
    m = await recv_json(ws, timeout=2, what="pulse")
    check(m.get("seq") == seq, f"pulse {m}")
    return time.monotonic() - t0


async def main():
    with Fanhubd() as fh:
        port, pid = fh.port, fh.proc.pid
        seqs = [await asyncio.to_thread(curl_publish, port, "t", QUARTER,
                                        timeout=10) for _ in range(4)]
        healthy = await ws_connect(port, "/ws?topic=pulse")
        await expect_hello(healthy)
        base = [await pulse(port, healthy, k) for k in range(3)]
        rss0 = proc_rss_kib(pid)
        socks = [stalled(port, flood_path("/ws" if i % 2 else "/sse",
                                          seqs[0] - 1), i % 2)
                 for i in range(6)]
        deadline = time.monotonic() + 5
        while metrics(port)["fanhub_subscriptions"] < 7:
            check(time.monotonic() < deadline, "the flooding clients did "
                  "not subscribe within 5 s")
            time.sleep(0.05)
        lat = [await pulse(port, healthy, k) for k in range(3, 8)]
        rss1 = proc_rss_kib(pid)
        m = metrics(port)
        log(f"RSS {rss0} KiB -> {rss1} KiB (+{rss1 - rss0} KiB) after 6 "
            f"requests of ~{len(flood_path('/sse', seqs[0] - 1))} B; "
            f"queued {m['fanhub_bytes_queued']:.0f} B; subscriptions "
            f"{m['fanhub_subscriptions']:.0f}; pulse {max(base) * 1000:.0f} "
            f"ms before, {max(lat) * 1000:.0f} ms during")
        check(m["fanhub_subscriptions"] == 7,
              "a repeated topic is one subscription")
        check(m["fanhub_bytes_queued"] <= 6 * ((1 << 20) + 4096),
              "each flooding client within its 1 MiB cap")
        check(rss1 - rss0 < 32 * 1024, f"RSS grew {rss1 - rss0} KiB")
        check(max(lat) < 1.0, f"pulse took {max(lat):.2f}s meanwhile")

        # A client that reads: the replay once, within the caps, then
        # where to resume.
        ws = await ws_connect(port, flood_path("/ws", seqs[0] - 1))
        await expect_hello(ws)
        got = []
        while True:
            m = await recv_json(ws, what="replay")
            if m["type"] == "message":
                check(m["data"] == QUARTER.decode(), "replayed payload")
                got.append(m["seq"])
            elif m["type"] == "lagged":
                check(m["topic"] == "t" and m["from"] == seqs[len(got)] and
                      m["to"] == seqs[3], f"lagged notice {m}")
                break
        check(got == seqs[:3], f"replayed {got}, want {seqs[:3]}")
        # ... and resumes from there.
        await ws.send(json.dumps({"op": "unsubscribe", "topic": "t"}))
        await ws.send(json.dumps({"op": "subscribe", "topic": "t",
                                  "since": seqs[2]}))
        while True:
            m = await recv_json(ws, what="the rest")
            if m["type"] == "message":
                check(m["seq"] == seqs[3], f"resumed with {m['seq']}")
                break
        await ws.close()
        for s in socks:
            s.close()
        await healthy.close()


run(main)
