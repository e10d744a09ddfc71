"""WS resume: a Python WebSocket client that drops and resubscribes with
"since" gets exactly what it missed, then live messages, with no gap and
no duplicate, even while a publisher keeps going during the resubscribe.
Other topics' messages (published in between, so the topic's seqs are not
contiguous) never leak in. "since" works as a number and as the SSE-style
"<epoch>-<seq>"; a foreign epoch gets a reset "epoch-changed".

With --history 3: three missed messages are replayed in full (the
boundary); four missed get {"type":"reset","topic":T,
"reason":"retention-exhausted"} right after the subscribed reply, no
replay, then live messages."""
import asyncio
import json
import threading
import time

from fhextra import quick_publish
from fhtest import (Fanhubd, check, expect_hello, expect_silence, log,
                    recv_json, run, ws_connect)

T = "resume.me"
OTHER = "resume.other"


async def subscribe(ws, topic, since=None, rid=None):
    req = {"op": "subscribe", "topic": topic}
    if since is not None:
        req["since"] = since
    if rid is not None:
        req["id"] = rid
    await ws.send(json.dumps(req))
    m = await recv_json(ws, what=f"subscribed {topic} since {since}")
    check(m.get("type") == "subscribed" and m.get("topic") == topic and
          m.get("id") == rid, f"subscribe reply {m} to {req}")
    return m


async def messages(ws, n, what):
    got = []
    for i in range(n):
        m = await recv_json(ws, what=f"{what}: message {i + 1} of {n}")
        check(m.get("type") == "message", f"{what}: {m}")
        got.append((m["seq"], m["data"]))
    return got


def publish_mixed(port, n, tag):
    """n messages to T with one to OTHER before each; returns T's
    [(seq, data)]."""
    out = []
    for i in range(n):
        quick_publish(port, OTHER, f"noise {tag} {i}")
        d = f"{tag} {i}"
        out.append((quick_publish(port, T, d), d))
    return out


async def full_history():
    with Fanhubd() as fh:
        port = fh.port
        ws = await ws_connect(port)
        epoch = (await expect_hello(ws))["epoch"]
        await subscribe(ws, T)
        first = await asyncio.to_thread(publish_mixed, port, 5, "before")
        got = await messages(ws, 5, "before the drop")
        check(got == first, f"live before the drop: {got} != {first}")
        await ws.close()
        last = got[-1][0]

        missed = await asyncio.to_thread(publish_mixed, port, 7, "missed")

        # A publisher keeps going while the client comes back, so the
        # replay and live delivery overlap.
        live = []
        stop = threading.Event()

        def keep_publishing():
            # At most 60, so that everything stays in the default
            # history of 100 for the checks below; 10 more once the
            # client has resubscribed.
            more = 10
            for i in range(60):
                if stop.is_set():
                    more -= 1
                    if more < 0:
                        break
                live.append((quick_publish(port, T, f"live {i}"),
                             f"live {i}"))
                time.sleep(0.002)
        pub = threading.Thread(target=keep_publishing, daemon=True)
        pub.start()
        for _ in range(500):
            if len(live) >= 5:
                break
            await asyncio.sleep(0.005)
        ws = await ws_connect(port)
        await expect_hello(ws)
        reply = await subscribe(ws, T, since=last, rid="resume")
        stop.set()
        await asyncio.to_thread(pub.join, 20)
        replayed = sum(1 for s, _ in missed + live if s <= reply["seq"])
        check(replayed >= len(missed) + 5 and replayed < len(missed + live),
              f"no overlap: {replayed} of {len(missed + live)} published "
              f"before the subscribe (seq {reply['seq']})")
        want = missed + live
        got = await messages(ws, len(want), "after resume")
        await expect_silence(ws)
        seqs = [s for s, _ in got]
        check(len(set(seqs)) == len(seqs), f"duplicates in {seqs}")
        check(got == want, f"resume since {last}: got {len(got)} "
              f"{got[:12]}..., want {len(want)} {want[:12]}...")
        log(f"resumed since {last}: {replayed} replayed (7 missed while "
            f"away, {replayed - len(missed)} published while it "
            f"reconnected), then {len(want) - replayed} live; no gap, no "
            f"duplicate")

        # Keep it: live from here on.
        after = await asyncio.to_thread(publish_mixed, port, 2, "after")
        check(await messages(ws, 2, "live after resume") == after,
              "live after resume")
        await ws.close()
        history = first + missed + live + after

        # "<epoch>-<seq>" as since, from several points; and since = the
        # latest seq: nothing to replay.
        for k in (0, 6, len(history) - 1):
            c = await ws_connect(port)
            await expect_hello(c)
            await subscribe(c, T, since=f"{epoch}-{history[k][0]}")
            rest = history[k + 1:]
            got = await messages(c, len(rest), f"since {epoch}-"
                                 f"{history[k][0]}")
            check(got == rest, f"since {epoch}-{history[k][0]}: {got[:5]}")
            await expect_silence(c, 0.2)
            await c.close()

        # A foreign epoch: reset, then live only.
        c = await ws_connect(port)
        await expect_hello(c)
        await subscribe(c, T, since=f"0123456789abcdef-{history[3][0]}")
        m = await recv_json(c, what="reset (foreign epoch)")
        check(m == {"type": "reset", "topic": T, "reason": "epoch-changed"},
              f"foreign epoch: {m}")
        s = await asyncio.to_thread(quick_publish, port, T, "post-reset")
        check(await messages(c, 1, "after epoch reset") == [(s, "post-reset")],
              "live after an epoch reset")
        await c.close()


async def short_history():
    with Fanhubd("--history", 3) as fh:
        port = fh.port
        ws = await ws_connect(port)
        await expect_hello(ws)
        await subscribe(ws, T)
        s0 = await asyncio.to_thread(quick_publish, port, T, "seen")
        check(await messages(ws, 1, "seen") == [(s0, "seen")], "seen")
        await ws.close()

        # Exactly as many as the history holds: all of them come back.
        three = await asyncio.to_thread(publish_mixed, port, 3, "three")
        ws = await ws_connect(port)
        await expect_hello(ws)
        await subscribe(ws, T, since=s0)
        got = await messages(ws, 3, "three missed, history 3")
        check(got == three, f"3 missed with --history 3: {got} != {three}")
        await expect_silence(ws, 0.2)
        await ws.close()
        last = three[-1][0]

        # One more than that: reset, no replay, then live.
        four = await asyncio.to_thread(publish_mixed, port, 4, "four")
        ws = await ws_connect(port)
        await expect_hello(ws)
        await subscribe(ws, T, since=last)
        m = await recv_json(ws, what="reset")
        check(m == {"type": "reset", "topic": T,
                    "reason": "retention-exhausted"},
              f"4 missed with --history 3: {m} (missed {four})")
        await expect_silence(ws, 0.2)
        s = await asyncio.to_thread(quick_publish, port, T, "live again")
        check(await messages(ws, 1, "after reset") == [(s, "live again")],
              "live after a retention reset")
        await ws.close()
        log("--history 3: 3 missed replayed, 4 missed -> reset "
            "retention-exhausted, then live")


async def main():
    await full_history()
    await short_history()


run(main)
