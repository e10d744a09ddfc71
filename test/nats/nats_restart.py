"""nats_restart: nats-server dies (SIGKILL) and comes back on the same
port and store dir under two fanhubd nodes on JetStream, A with
--nats-buffer 5, and a WebSocket client on B.

(a) 3 messages POSTed to A during the outage wait in A's buffer and all
    reach B's client after the restart, in order, no gap; A counts the
    disconnect and the reconnect and drops nothing.
(b) 20 POSTed to A during a second outage: 5 fit the buffer, 15 are
    dropped. After the restart B's client gets the 5, then a "lagged"
    notice for the topic (never silent loss), then live messages; A
    counts 15 dropped, B at least one loss. A client resuming (on B and
    on A) from a seq before the loss gets a "reset"; one resuming from the
    loss notice's seq gets what followed."""
import time

from natslib import (Node, NatsServer, check, check_in_order,
                     expect_silence, log, note, on_sigterm_exit, publish_all,
                     recv_json, run, wait_for, ws_client, ws_messages)

T = "ticks.restart"


async def outage(ns, nodes):
    """Kills nats-server and waits until every node noticed."""
    ns.kill()
    for n in nodes:
        await wait_for(lambda: n.nats_metrics()["connected"] == 0, 5,
                       f"node {n.name} notices nats-server is gone")


async def main():
    on_sigterm_exit()
    with NatsServer() as ns, \
            Node(ns, "--shards", 2, "--nats-buffer", 5, name="A") as a, \
            Node(ns, "--shards", 2, name="B") as b:
        ws, _ = await ws_client(b, T)
        warm = [f"w{i}" for i in range(3)]
        await publish_all(a.port, T, warm)
        got = await ws_messages(ws, 3, "before any outage")
        check_in_order(got, warm, "before any outage")

        # (a) A short outage the buffer covers.
        await outage(ns, (a, b))
        held = [f"a{i}" for i in range(3)]
        await publish_all(a.port, T, held)
        m = a.nats_metrics()
        check(m["buffered"] == 3 and m["dropped_total"] == 0,
              f"A during outage (a): {m}")
        ns.start()
        t0 = time.monotonic()
        got_a = await ws_messages(ws, 3, "after restart (a)", timeout=15)
        t_a = time.monotonic() - t0
        check_in_order(got_a, held, "after restart (a)")
        seqs = [s for s, _ in got + got_a]
        check(seqs == list(range(seqs[0], seqs[0] + 6)),
              f"gap or reorder across outage (a): {got + got_a}")
        await wait_for(lambda: a.nats_metrics()["buffered"] == 0, 5,
                       "A's buffer empty after (a)")
        m = a.nats_metrics()
        check(m["disconnects_total"] >= 1 and m["reconnects_total"] >= 1 and
              m["dropped_total"] == 0 and m["connected"] == 1,
              f"A after outage (a): {m}")
        await expect_silence(ws, 0.3)
        log(f"(a) 3 buffered on A, delivered on B {t_a * 1000:.0f} ms after "
            f"the restart; A: {m}")
        before_loss = got_a[-1][0]

        # (b) An outage longer than the buffer.
        await outage(ns, (a, b))
        burst = [f"b{i}" for i in range(20)]
        await publish_all(a.port, T, burst)
        m = a.nats_metrics()
        check(m["buffered"] == 5 and m["dropped_total"] == 15,
              f"A during outage (b): {m}")
        ns.start()
        t0 = time.monotonic()
        got_b = await ws_messages(ws, 5, "buffered ones after restart (b)",
                                  timeout=15)
        check_in_order(got_b, burst[:5], "buffered ones after restart (b)")
        check(got_b[0][0] == before_loss + 1,
              f"gap before the buffered ones: {got_b} after {before_loss}")
        lag = await recv_json(ws, 10, what="lagged notice after (b)")
        t_b = time.monotonic() - t0
        check(lag.get("type") == "lagged" and lag.get("topic") == T,
              f"after the 5 buffered ones: {lag}, not a lagged notice")
        check(isinstance(lag.get("to"), int) and lag["to"] > got_b[-1][0],
              f"lagged notice's 'to' is not after the buffered ones: {lag}")
        check(lag.get("dropped") == 15,
              f"lagged notice does not count the 15 dropped: {lag}")
        log(f"(b) 5 buffered delivered, then {lag}")
        after = ["after0", "after1"]
        await publish_all(a.port, T, after)
        got_c = await ws_messages(ws, 2, "live after the loss")
        check_in_order(got_c, after, "live after the loss")
        await expect_silence(ws, 0.3)
        await ws.close()

        ma, mb = a.nats_metrics(), b.nats_metrics()
        check(ma["dropped_total"] == 15, f"A's dropped_total: {ma}")
        check(mb["losses_total"] >= 1 and ma["losses_total"] >= 1,
              f"losses: A {ma} B {mb}")
        check(ma["disconnects_total"] >= 2 and ma["reconnects_total"] >= 2,
              f"A after two outages: {ma}")

        tail = list(after)  # everything after the loss
        for node in (b, a):
            # From before the loss: reset, no replay; then live.
            c, _ = await ws_client(node, T, since=before_loss)
            r = await recv_json(c, what=f"reset on {node.name}")
            check(r.get("type") == "reset" and r.get("topic") == T,
                  f"resume since {before_loss} (before the loss) on "
                  f"{node.name}: {r}, not a reset")
            # From the loss on: what followed, no reset.
            c2, _ = await ws_client(node, T, since=lag["to"])
            got2 = await ws_messages(c2, len(tail), f"since {lag['to']} on "
                                     f"{node.name}")
            check_in_order(got2, tail, f"since {lag['to']} on {node.name}")
            check(got2[:2] == got_c, f"since {lag['to']} on {node.name}: "
                  f"{got2} vs {got_c}")
            live = [f"live-{node.name}"]
            await publish_all(a.port, T, live)
            tail += live
            for w, what in ((c, "after the reset"), (c2, "after resume")):
                check_in_order(await ws_messages(w, 1, what), live, what)
                await expect_silence(w, 0.2)
                await w.close()
            log(f"on {node.name}: since {before_loss} -> {r}; since "
                f"{lag['to']} -> replay")
        note(f"nats-server restarts: 3 buffered delivered on B "
             f"{t_a * 1000:.0f} ms after restart (a); after restart (b) 5 "
             f"buffered + lagged notice in {t_b * 1000:.0f} ms (A dropped "
             f"{ma['dropped_total']:.0f}, outage total "
             f"{ma['outage_ms_total']:.0f} ms)")


run(main)
