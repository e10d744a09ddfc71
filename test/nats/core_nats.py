"""core_nats: two fanhubd nodes on core NATS (no --jetstream; the server
runs without JetStream). Delivery is at most once, so this is the calm
case where everything must still arrive: 100 messages POSTed to A reach a
WebSocket client on B and one on A, all of them, in publish order, with
strictly increasing seqs (each node numbers on its own); 50 POSTed to B
reach both as well."""
from natslib import (Node, NatsServer, check, check_in_order,
                     expect_silence, log, on_sigterm_exit, publish_all, run,
                     ws_client, ws_messages)

T = "core.room"


async def main():
    on_sigterm_exit()
    with NatsServer(jetstream=False) as ns, \
            Node(ns, "--shards", 2, jetstream=False, name="A") as a, \
            Node(ns, "--shards", 2, jetstream=False, name="B") as b:
        wb, hb = await ws_client(b, T)
        wa, ha = await ws_client(a, T)
        log(f"epochs: A {ha['epoch']}, B {hb['epoch']}")
        for src, n, tag in ((a, 100, "fromA"), (b, 50, "fromB")):
            want = [f"{tag}-{i}" for i in range(n)]
            await publish_all(src.port, T, want)
            for w, name in ((wb, "B"), (wa, "A")):
                what = f"client on {name}, {n} from {src.name}"
                check_in_order(await ws_messages(w, n, what), want, what)
        await expect_silence(wb, 0.3)
        await expect_silence(wa, 0.1)
        await wa.close()
        await wb.close()
        ma, mb = a.nats_metrics(), b.nats_metrics()
        check(ma["published_total"] == 100 and mb["published_total"] == 50,
              f"published: A {ma} B {mb}")
        for m in (ma, mb):
            check(m["received_total"] == 150 and m["dropped_total"] == 0,
                  f"counters: {m}")


run(main)
