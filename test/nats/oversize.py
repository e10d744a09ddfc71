"""oversize: a broadcast NATS refuses outright (a 1 MiB body: over the
server's max_payload once the headers are added) must not hold up the
ones after it. Node A on JetStream, a WebSocket client on A subscribed to
"big" and "small": POST 1 MiB to "big", then "after" to "small". The
client gets a "lagged" notice for "big" (one dropped) and "after", and
nothing on "big"; A counts one dropped."""
import json

from natslib import (Node, NatsServer, apublish, check, log, on_sigterm_exit,
                     recv_json, run, subscribe, wait_for, ws_client)


async def main():
    on_sigterm_exit()
    with NatsServer() as ns, Node(ns, "--shards", 1, name="A") as a:
        ws, _ = await ws_client(a, "big")
        await subscribe(ws, "small")
        check(await apublish(a.port, "big", b"x" * (1 << 20), timeout=10) == 0,
              "1 MiB publish not taken")
        check(await apublish(a.port, "small", "after") == 0,
              "small publish not taken")
        # The loss marker follows what was queued before it was made, so
        # the notice may come before or after "after".
        frames = []
        while not (any(f.get("type") == "message" for f in frames) and
                   any(f.get("type") == "lagged" for f in frames)):
            frames.append(await recv_json(ws, 10, what="notice and after"))
        log(f"frames: {json.dumps(frames)[:300]}")
        lag = [f for f in frames if f.get("type") == "lagged"]
        msgs = [f for f in frames if f.get("type") == "message"]
        check(len(lag) == 1 and lag[0].get("topic") == "big" and
              lag[0].get("dropped") == 1,
              f"want one lagged notice for big, got {frames}")
        check(len(msgs) == 1 and msgs[0].get("topic") == "small" and
              msgs[0].get("data") == "after",
              f"want only 'after' on small, got {frames}")
        await wait_for(lambda: a.nats_metrics()["dropped_total"] == 1, 5,
                       "A counts the oversize broadcast dropped")
        await ws.close()


if __name__ == "__main__":
    run(main)
