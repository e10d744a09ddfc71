"""cross_node: two fanhubd nodes (A and B, --shards 2) on one JetStream
stream. A WebSocket client on B and a `curl -sN` SSE client on A
subscribe to one topic; 300 messages POSTed to A reach both exactly once,
in publish order, with strictly increasing (here: consecutive) seqs, the
same seq for the same payload on both nodes, and one epoch (the hello
frames' and the SSE ids'). 100 POSTed to B come back to B's own client
through NATS (and to A's). Figures: cross-node latency (POST to A until
the message arrives on B, one at a time) and throughput (5,000 POSTed to
A by concurrent posters, until all arrived on B), next to the same POST
driver against a lone fanhubd without NATS."""
import asyncio
import os
import time

from natslib import (Fanhubd, Node, NatsServer, SSECollector, apublish,
                     check, check_in_order, expect_silence, log, note,
                     on_sigterm_exit, proc_cpu, publish_all, run, ws_client,
                     ws_messages)

T = "room.cross"


def pct(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * p))]


async def drive(port, topic, n, posters, prefix):
    """n POSTs to `port` from `posters` concurrent sequential posters
    (fanhubd answers each POST with Connection: close, so a connection per
    request); poster k sends f"{prefix}{k}:{i}" with i increasing."""
    async def poster(k):
        for i in range(k, n, posters):
            seq = await apublish(port, topic, f"{prefix}{k}:{i}")
            check(seq >= 0, f"publish answered {seq}")
    await asyncio.gather(*(poster(k) for k in range(posters)))


def check_poster_order(got, n, posters, prefix, what):
    datas = [d for _, d in got]
    check(len(datas) == n and len(set(datas)) == n,
          f"{what}: {len(datas)} received, {len(set(datas))} distinct, "
          f"want {n}")
    want = {f"{prefix}{k}:{i}" for k in range(posters)
            for i in range(k, n, posters)}
    check(set(datas) == want, f"{what}: payloads differ "
          f"(missing {sorted(want - set(datas))[:5]})")
    last = {}
    for d in datas:
        k, i = d[len(prefix):].split(":")
        check(int(i) > last.get(k, -1), f"{what}: poster {k} out of order "
              f"at {d}")
        last[k] = int(i)
    seqs = [s for s, _ in got]
    bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]
    check(not bad, f"{what}: seqs not increasing at {bad[:5]}")


async def throughput(pub_port, ws, n, posters, prefix):
    t0 = time.monotonic()
    recv = asyncio.create_task(ws_messages(ws, n, f"throughput {prefix}",
                                           timeout=25))
    await drive(pub_port, T, n, posters, prefix)
    t_post = time.monotonic() - t0
    got = await recv
    t_all = time.monotonic() - t0
    check_poster_order(got, n, posters, prefix, f"throughput {prefix}")
    return n / t_post, n / t_all


async def main():
    on_sigterm_exit()
    with NatsServer() as ns, \
            Node(ns, "--shards", 2, name="A") as a, \
            Node(ns, "--shards", 2, name="B") as b:
        ws, hello_b = await ws_client(b, T)
        wa, hello_a = await ws_client(a, T)
        epoch = hello_b["epoch"]
        check(hello_a["epoch"] == epoch, f"epochs differ: A {hello_a} "
              f"B {hello_b}")
        sse = SSECollector(a, T)
        try:
            # 300 on A.
            want = [f"a{i}" for i in range(300)]
            await publish_all(a.port, T, want)
            got_b = await ws_messages(ws, 300, "WS on B, 300 from A")
            check_in_order(got_b, want, "WS on B, 300 from A")
            got_a = await ws_messages(wa, 300, "WS on A, 300 from A")
            check(got_a == got_b, "WS clients on A and B disagree on "
                  f"seqs: {[x for x in zip(got_a, got_b) if x[0] != x[1]][:3]}")
            seqs = [s for s, _ in got_b]
            check(seqs == list(range(seqs[0], seqs[0] + 300)),
                  f"seqs not consecutive in a calm stream: {seqs[:5]}...")
            evs = await sse.wait_count(300, 10, "SSE on A, 300 from A")
            check(len(evs) == 300, f"SSE on A: {len(evs)} events, want 300")
            for (sid, name, data), (seq, d) in zip(evs, got_b):
                check(name == T and data == d and sid == f"{epoch}-{seq}",
                      f"SSE event on A {(sid, name, data)} where B's client "
                      f"had seq {seq} {d!r} (epoch {epoch})")
            log(f"300 from A: seqs {seqs[0]}..{seqs[-1]} on both nodes, "
                f"SSE ids {evs[0][0]}..{evs[-1][0]}")

            # 100 on B: back to B's own client through NATS, and to A.
            want = [f"b{i}" for i in range(100)]
            await publish_all(b.port, T, want)
            got_b = await ws_messages(ws, 100, "WS on B, 100 from B")
            check_in_order(got_b, want, "WS on B, 100 from B")
            check(got_b[0][0] > seqs[-1], f"seq went back: {got_b[0]} after "
                  f"{seqs[-1]}")
            got_a = await ws_messages(wa, 100, "WS on A, 100 from B")
            check(got_a == got_b, "WS on A saw B's messages differently")
            evs = await sse.wait_count(400, 10, "SSE on A, 100 from B")
            check([(e[0], e[2]) for e in evs[300:]] ==
                  [(f"{epoch}-{s}", d) for s, d in got_b],
                  f"SSE on A, 100 from B: {evs[300:303]}")
            await expect_silence(ws, 0.3)
            await expect_silence(wa, 0.1)
            check(len(sse.events) == 400, f"SSE extra: {sse.events[400:]}")
        finally:
            sse.close()
        await wa.close()

        mb = b.nats_metrics()
        ma = a.nats_metrics()
        check(ma["published_total"] == 300 and mb["published_total"] == 100,
              f"published A {ma} B {mb}")
        for m in (ma, mb):
            check(m["received_total"] == 400 and m["duplicates_total"] == 0
                  and m["gaps_total"] == 0 and m["dropped_total"] == 0,
                  f"counters after 400: {m}")

        # Latency: one at a time, POST to A until B's client has it.
        lat = []
        for i in range(210):
            d = f"lat{i}"
            t0 = time.perf_counter()
            post = asyncio.create_task(apublish(a.port, T, d))
            m = await ws_messages(ws, 1, f"latency sample {i}")
            t1 = time.perf_counter()
            await post
            check(m[0][1] == d, f"latency sample {i}: got {m}")
            if i >= 10:  # warm-up
                lat.append((t1 - t0) * 1000)
        lat.sort()
        note(f"cross-node latency (POST /publish to A -> WS client on B, "
             f"JetStream, {len(lat)} samples one at a time): "
             f"p50 {pct(lat, 0.50):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, "
             f"max {lat[-1]:.2f} ms")

        # Throughput: 5,000 POSTed to A back to back; next to it, the same
        # driver against a lone fanhubd without NATS (what POST alone
        # allows on this machine), alternating, best of two each.
        posters = 16
        with Fanhubd("--shards", 2) as solo:
            w, _ = await ws_client(solo, T)
            runs = {"nats": [], "solo": []}
            pids = {"test client": os.getpid(), "A": a.proc.pid,
                    "B": b.proc.pid, "nats-server": ns.proc.pid}
            for r in range(2):
                c0 = {k: proc_cpu(p) for k, p in pids.items()}
                t0 = time.monotonic()
                post_rate, rate = await throughput(a.port, ws, 5000, posters,
                                                   f"t{r}-")
                wall = time.monotonic() - t0
                used = {k: proc_cpu(p) - c0[k] for k, p in pids.items()}
                runs["nats"].append((post_rate, rate, wall, used))
                runs["solo"].append(await throughput(
                    solo.port, w, 5000, posters, f"s{r}-"))
            await expect_silence(w, 0.1)
            await w.close()
        await expect_silence(ws, 0.3)
        await ws.close()
        m = b.nats_metrics()
        check(m["gaps_total"] == 0 and m["losses_total"] == 0 and
              m["duplicates_total"] == 0, f"B after the throughput runs: {m}")

    post_rate, rate, wall, used = max(runs["nats"], key=lambda x: x[1])
    solo_rate = max(r for _, r in runs["solo"])
    busy = ", ".join(f"{k} {v / wall * 100:.0f}%" for k, v in used.items())
    verdict = ("the test client (one Python process posting and receiving)"
               " is the limit" if used["test client"] >= 0.8 * wall else
               "the test client is not saturated")
    note(f"cross-node throughput: {rate:.0f} msg/s received on B while A "
         f"got 5,000 POSTs from {posters} concurrent asyncio posters (one "
         f"connection per POST: fanhubd closes each; posted at "
         f"{post_rate:.0f}/s; best of 2); CPU of one core during it: "
         f"{busy} ({os.cpu_count()} CPUs), so {verdict}; the same driver on "
         f"a lone fanhubd without NATS: {solo_rate:.0f} msg/s")


run(main)
