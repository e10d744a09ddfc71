"""1,000 concurrent WebSocket clients (one asyncio process) each receive a
burst of 100 messages that one more client publishes as fast as it can
with {"op":"publish"} (--allow-client-publish): none lost, none
duplicated, all in seq order with the right data; the hub counts no drop
and no shard-queue overflow."""
import asyncio
import json
import resource
import time

from fhtest import (Fanhubd, check, expect_hello, expect_silence, log,
                    metrics, recv_json, run, ws_connect)

CLIENTS = 1000
MESSAGES = 100
TOPIC = "burst"


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        check(hard == resource.RLIM_INFINITY or hard >= need,
              f"fd hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


async def subscriber(port, gate):
    async with gate:
        ws = await ws_connect(port, f"/ws?topic={TOPIC}", timeout=20)
        await expect_hello(ws)
    return ws


async def drain(k, ws, seqs):
    for i in range(MESSAGES):
        m = await recv_json(ws, timeout=30, what=f"message {i} on client {k}")
        want = {"type": "message", "topic": TOPIC, "seq": seqs[i],
                "data": {"i": i, "pad": "p" * (i % 50)}}
        check(m == want, f"client {k} message {i}: {m} != {want}")


async def main():
    raise_fd_limit(CLIENTS + 200)
    # The server needs an fd per client as well: it inherits run.sh's
    # `ulimit -n 4096`.
    with Fanhubd("--allow-client-publish", stop_timeout=10) as fh:
        t0 = time.monotonic()
        gate = asyncio.Semaphore(100)  # handshakes in flight at once
        clients = await asyncio.gather(
            *[subscriber(fh.port, gate) for _ in range(CLIENTS)])
        t1 = time.monotonic()
        log(f"{CLIENTS} clients connected and subscribed in {t1 - t0:.2f}s")

        pub = await ws_connect(fh.port)
        await expect_hello(pub)
        # As fast as possible: every publish is sent before any reply is
        # read.
        for i in range(MESSAGES):
            await pub.send(json.dumps(
                {"op": "publish", "topic": TOPIC, "id": i,
                 "data": {"i": i, "pad": "p" * (i % 50)}},
                separators=(",", ":")))
        seqs = []
        for i in range(MESSAGES):
            r = await recv_json(pub, timeout=10, what=f"publish reply {i}")
            check(r.get("type") == "published" and r.get("topic") == TOPIC
                  and r.get("id") == i, f"publish reply {i}: {r}")
            seqs.append(r["seq"])
        check(seqs == sorted(set(seqs)), f"publish seqs not increasing: "
              f"{seqs}")
        t2 = time.monotonic()
        log(f"{MESSAGES} publishes acknowledged in {t2 - t1:.2f}s")

        await asyncio.gather(*[drain(k, ws, seqs)
                               for k, ws in enumerate(clients)])
        t3 = time.monotonic()
        log(f"{CLIENTS * MESSAGES} deliveries checked in {t3 - t2:.2f}s")
        await asyncio.gather(*[expect_silence(ws, 0.5) for ws in clients])

        m = metrics(fh.port)
        check(m.get("fanhub_drops_total") == 0, f"drops: {m}")
        check(m.get("fanhub_queue_overflows_total") == 0, f"overflows: {m}")
        check(m.get("fanhub_deliveries_total", 0) >= CLIENTS * MESSAGES,
              f"deliveries {m.get('fanhub_deliveries_total')} < "
              f"{CLIENTS * MESSAGES}")
        # + the publisher, and maybe the /metrics request itself
        check(CLIENTS + 1 <= m.get("fanhub_clients", 0) <= CLIENTS + 2,
              f"clients gauge {m.get('fanhub_clients')}, want {CLIENTS + 1}")

        await asyncio.gather(*[ws.close() for ws in clients + [pub]])
        log(f"closed in {time.monotonic() - t3:.2f}s")


run(main)
