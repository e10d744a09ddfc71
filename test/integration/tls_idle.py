"""TLS connections give back the pages of their idle record buffers:
fanhubd over TLS with a 200 ms ping and keepalive period and a plain
publish port (--plain-listen). 60 wss:// clients and an HTTPS SSE stream
(curl) get 16,000-byte messages (one TLS record each, which touches the
pages of every client's output buffer), then stay idle for a few ticks,
three times over. Each time fanhubd's RSS must fall by at least half of
what those pages hold (60 x 12 KiB: tls_idle_tick() dropped them), and
after each trim the next big messages arrive intact and in order, a
client's input (a subscribe) is read through its trimmed input buffer,
and the pings keep going (the clients answer them). Publishing over the
plain port works while plain HTTP on the TLS port does not."""
import asyncio
import json
import os
import select
import ssl
import tempfile
import time

import websockets

from fhextra import (CurlSSE, TlsFanhubd, make_cert, quick_publish,
                     read_to_eof)
from fhtest import HOST, check, expect_hello, log, recv_json, run

TOPIC = "idle"
CLIENTS = 60
BIG = 16000


def plain_port(fh):
    """The second line fanhubd prints: http://127.0.0.1:PORT/."""
    fd = fh.proc.stdout.fileno()
    line = b""
    deadline = time.monotonic() + 5
    while not line.endswith(b"\n"):
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        check(r, f"no plain listening line: {line!r}")
        line += os.read(fd, 1)
    check(line.startswith(b"fanhubd listening on http://127.0.0.1:"),
          f"second line {line!r}")
    return int(line.rsplit(b":", 1)[1].rstrip(b"/\n"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def main():
    with tempfile.TemporaryDirectory(prefix="fanhub-tls-idle-") as d:
        cert, key = await asyncio.to_thread(make_cert, d)
        ctx = ssl.create_default_context(cafile=cert)
        with TlsFanhubd("--tls-cert", cert, "--tls-key", key,
                        "--plain-listen", f"{HOST}:0", "--shards", 1,
                        "--ping-interval", 200, "--sse-keepalive", 200,
                        "--drain", 500) as fh:
            port, pport = fh.port, plain_port(fh)
            pid = fh.proc.pid
            log(f"TLS on {port}, plain on {pport}")
            sse = CurlSSE(f"https://{HOST}:{port}/sse?topic={TOPIC}",
                          "--cacert", cert)
            clients = []
            try:
                for _ in range(CLIENTS):
                    ws = await websockets.connect(
                        f"wss://{HOST}:{port}/ws", ssl=ctx, open_timeout=5,
                        close_timeout=2, ping_interval=None,
                        max_size=1 << 22)
                    clients.append(ws)
                    await expect_hello(ws)
                    await ws.send(json.dumps({"op": "subscribe",
                                              "topic": TOPIC, "id": 1}))
                    m = await recv_json(ws, what="subscribed")
                    check(m.get("type") == "subscribed", f"{m}")
                await asyncio.to_thread(sse.wait_for,
                                        lambda t: "retry: 2000\n\n" in t,
                                        5, "SSE preamble")
                # Plain HTTP on the TLS port still fails.
                try:
                    await asyncio.to_thread(quick_publish, port, TOPIC, "x", 3)
                    took = True
                except Exception as e:  # noqa: BLE001 (any failure will do)
                    took = False
                    log(f"plain HTTP on the TLS port fails: {e!r:.80}")
                check(not took, "a plain publish on the TLS port was taken")

                sent = []
                drops = []
                for cycle in range(3):
                    batch = [f"{cycle}-{i}-" + chr(97 + i) * BIG
                             for i in range(2)] + [f"small {cycle}"]
                    for p in batch:
                        s = await asyncio.to_thread(quick_publish, pport,
                                                    TOPIC, p)
                        sent.append((s, p))
                    for k, ws in enumerate(clients):
                        for s, p in sent[-len(batch):]:
                            m = await recv_json(ws, what=f"client {k} seq {s}")
                            check(m == {"type": "message", "topic": TOPIC,
                                        "seq": s, "data": p},
                                  f"cycle {cycle} client {k}: "
                                  f"{str(m)[:120]}, want seq {s}")
                    busy = rss_kb(pid)
                    # Idle: the pongs the clients send are the only input,
                    # the pings and keepalives the only output; by the
                    # second tick the buffers are trimmed.
                    await asyncio.sleep(0.9)
                    idle = rss_kb(pid)
                    drops.append(busy - idle)
                    log(f"cycle {cycle}: RSS {busy} KiB after the big "
                        f"messages, {idle} KiB idle ({busy - idle} KiB "
                        f"given back)")
                    # A client's input after the trim: a subscribe.
                    ws = clients[cycle]
                    await ws.send(json.dumps({"op": "subscribe",
                                              "topic": f"x{cycle}",
                                              "id": 2 + cycle}))
                    m = await recv_json(ws, what="subscribed after idle")
                    check(m.get("type") == "subscribed"
                          and m.get("id") == 2 + cycle, f"{m}")
                evs = await asyncio.to_thread(sse.wait_events, len(sent), 10)
                check([(e[1], e[2]) for e in evs] ==
                      [(TOPIC, p) for _, p in sent],
                      f"HTTPS SSE got {len(evs)} events, want {len(sent)}")
                for k, ws in enumerate(clients):
                    check(ws.open, f"client {k} closed (pings unanswered?)")
                want = CLIENTS * 12 // 2
                check(all(x >= want for x in drops),
                      f"RSS given back per idle period {drops} KiB, want "
                      f">= {want} KiB each")
                log(f"{len(sent)} messages to {CLIENTS} wss:// clients and "
                    f"HTTPS SSE, RSS given back {drops} KiB")
            finally:
                sse.stop()
                for ws in clients:
                    await ws.close()


run(main)
