"""restart_burst: nats-server is killed in the middle of a burst of
broadcasts and comes back 0.3 s later, under two fanhubd nodes on
JetStream (A with the default buffer). Four posters send 600 messages
each to A, one after the other per poster, while a WebSocket client on B
reads. Every message reaches B's client exactly once, each poster's
messages in the order it sent them, with strictly increasing seqs: the
publishes that were in flight when the connection broke were sent again
and the stream's Nats-Msg-Id dedup kept them single. A counts the resends
and drops nothing."""
import asyncio
import time

from natslib import (Node, NatsServer, apublish, check, log, note,
                     on_sigterm_exit, recv_json, run, wait_for, ws_client)

T = "burst"
POSTERS = 4
EACH = 600


async def poster(port, k):
    for i in range(EACH):
        seq = await apublish(port, T, f"p{k}-{i}", timeout=15)
        check(seq == 0, f"poster {k} message {i} answered seq {seq}")


async def main():
    on_sigterm_exit()
    with NatsServer() as ns, \
            Node(ns, "--shards", 2, name="A") as a, \
            Node(ns, "--shards", 2, name="B") as b:
        ws, _ = await ws_client(b, T)
        got = []

        async def reader():
            while len(got) < POSTERS * EACH:
                m = await recv_json(ws, 20, what=f"message {len(got) + 1}")
                check(m.get("type") == "message", f"frame {m}")
                got.append((m["seq"], m["data"]))

        read = asyncio.create_task(reader())
        posts = asyncio.gather(*(poster(a.port, k) for k in range(POSTERS)))
        # Kill nats-server once the burst is well under way.
        await wait_for(lambda: a.nats_metrics()["published_total"] >= 300, 20,
                       "300 published before the kill")
        ns.kill()
        t_kill = time.monotonic()
        await asyncio.sleep(0.3)
        ns.start()
        await posts
        await asyncio.wait_for(read, 30)
        t_all = time.monotonic() - t_kill

        datas = [d for _, d in got]
        check(len(set(datas)) == len(datas),
              f"{len(datas) - len(set(datas))} duplicated messages")
        for k in range(POSTERS):
            mine = [d for d in datas if d.startswith(f"p{k}-")]
            check(mine == [f"p{k}-{i}" for i in range(EACH)],
                  f"poster {k}: {len(mine)} of {EACH}, or out of order "
                  f"(first {mine[:3]})")
        seqs = [s for s, _ in got]
        bad = [(x, y) for x, y in zip(seqs, seqs[1:]) if y <= x]
        check(not bad, f"seqs not increasing at {bad[:5]}")
        m = a.nats_metrics()
        check(m["dropped_total"] == 0 and m["disconnects_total"] >= 1 and
              m["reconnects_total"] >= 1, f"A after the burst: {m}")
        log(f"A: {m}")
        note(f"nats-server killed mid-burst ({POSTERS}x{EACH} POSTs to A), "
             f"back after 0.3 s: all {len(got)} on B once, in order per "
             f"poster, {t_all:.1f} s from the kill to the last one; A resent "
             f"{int(m['resent_total'])}, outage {int(m['outage_ms_total'])} ms")
        await ws.close()


if __name__ == "__main__":
    run(main)
