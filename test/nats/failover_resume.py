"""failover_resume: a WebSocket client on node B receives messages POSTed
to node A (through JetStream), then B dies (SIGKILL) while A keeps
publishing. The client reconnects to A and subscribes with since =
"<epoch>-<last seq it got>" (the epoch from B's hello, which A's hello
must repeat): it gets exactly the messages after that one, gapless (the
stream seqs are consecutive), no duplicate, then live ones, while a
publisher keeps going through the whole switch. A second client resumes
on A with the plain numeric since, and an SSE client with Last-Event-ID,
and get the same."""
import asyncio

import websockets

from natslib import (Node, NatsServer, SSEReader, apublish, check,
                     check_in_order, expect_hello, expect_silence, log,
                     note, on_sigterm_exit, publish_all, recv_json, run,
                     subscribe, ws_client, ws_connect, ws_messages)

T = "orders.eu"


async def main():
    on_sigterm_exit()
    with NatsServer() as ns, \
            Node(ns, "--shards", 2, "--history", 1000, name="A") as a, \
            Node(ns, "--shards", 2, "--history", 1000, name="B") as b:
        ws, hello = await ws_client(b, T)
        epoch = hello["epoch"]
        first = [f"pre{i}" for i in range(50)]
        await publish_all(a.port, T, first)
        got = await ws_messages(ws, 50, "on B before the failover")
        check_in_order(got, first, "on B before the failover")

        published = list(first)
        stop = asyncio.Event()

        async def keep_publishing():
            i = 0
            while not stop.is_set():
                d = f"live{i}"
                seq = await apublish(a.port, T, d)
                check(seq == 0, f"publish answered {seq}")
                published.append(d)
                i += 1
                await asyncio.sleep(0.004)
        pub = asyncio.create_task(keep_publishing())
        try:
            # B's client keeps receiving live messages, then B dies under
            # it; the client takes what reached it before the socket
            # closed.
            got += await ws_messages(ws, 10, "live on B")
            b.kill9()
            try:
                while True:
                    m = await recv_json(ws, 5, what="the rest before close")
                    check(m.get("type") == "message", f"on B: {m}")
                    got.append((m["seq"], m["data"]))
            except websockets.ConnectionClosed:
                pass
            last_seq, last_data = got[-1]
            j = published.index(last_data)
            check_in_order(got, published[:j + 1], "on B until it died")
            log(f"B killed; its client had {len(got)} messages, last seq "
                f"{last_seq} ({last_data})")

            # A publishes on; the client comes back on A.
            n0 = len(published)
            while len(published) < n0 + 20:
                await asyncio.sleep(0.01)
            c = await ws_connect(a.port)
            hello_a = await expect_hello(c)
            reply = await subscribe(c, T, since=f"{epoch}-{last_seq}")
            check(hello_a["epoch"] == epoch, f"A's epoch {hello_a} differs "
                  f"from B's {hello}")
            n1 = len(published)
            while len(published) < n1 + 10:  # live after the resubscribe
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await asyncio.wait_for(pub, 10)
        want = published[j + 1:]
        got_c = await ws_messages(c, len(want), f"resume on A since "
                                  f"{epoch}-{last_seq}")
        check_in_order(got_c, want, f"resume on A since {epoch}-{last_seq}")
        seqs = [s for s, _ in got_c]
        check(seqs == list(range(last_seq + 1, last_seq + 1 + len(want))),
              f"resume seqs not gapless after {last_seq}: {seqs[:5]}..")
        await expect_silence(c, 0.3)
        await c.close()
        missed = sum(1 for s in seqs if s <= reply["seq"])
        check(missed >= 10 and missed < len(want),
              f"replay {missed} of {len(want)} (subscribed at "
              f"{reply['seq']}): no overlap of replay and live")
        log(f"resumed on A since {epoch}-{last_seq}: {len(want)} messages "
            f"({missed} replayed up to seq {reply['seq']}, the rest live), "
            f"seqs {seqs[0]}..{seqs[-1]}")
        note(f"failover: B SIGKILLed, its client resumed on A with since "
             f"epoch-seq: {missed} missed messages replayed + "
             f"{len(want) - missed} live, gapless, no duplicate")

        # The numeric form of since, on A: the same messages.
        c2, _ = await ws_client(a, T, since=last_seq)
        got2 = await ws_messages(c2, len(want), f"since {last_seq} on A")
        check(got2 == got_c, "numeric since differs from epoch-seq since")
        await expect_silence(c2, 0.2)
        await c2.close()

        # SSE with Last-Event-ID from B's numbering, on A.
        def sse_resume():
            r = SSEReader(a.port, f"/sse?topic={T}",
                          headers=[f"Last-Event-ID: {epoch}-{last_seq}"])
            try:
                check(r.status == 200, f"SSE status {r.status}")
                return [r.next_event() for _ in want]
            finally:
                r.close()
        evs = await asyncio.to_thread(sse_resume)
        check([(e[0], e[1], e[2]) for e in evs] ==
              [(f"{epoch}-{s}", T, d) for s, d in got_c],
              f"SSE resume on A: {evs[:3]}.. vs {got_c[:3]}..")

        m = a.nats_metrics()
        check(m["gaps_total"] == 0 and m["duplicates_total"] == 0 and
              m["dropped_total"] == 0, f"A's counters: {m}")


run(main)
