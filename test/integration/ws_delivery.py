"""WS delivery: three Python WebSocket clients (two subscribed by ?topic=,
one by the control protocol) get each of 50 curl publishes exactly once,
in seq order, with the exact payloads; the first frame is hello."""
import asyncio

from fhtest import (Fanhubd, check, curl_publish, expect_hello,
                    expect_silence, recv_json, run, ws_connect)

TOPIC = "demo"
N = 50


def payload(i):
    # Text that must survive JSON string escaping: quotes, backslashes,
    # control characters, non-ASCII, and one long message.
    extras = ['plain', 'with "quotes"', 'back\\slash', 'tab\there',
              'line\nbreak', 'crlf\r\nend', 'unicode \u00e9\u20ac\U0001f600',
              '{"looks":"like json"}', '', 'x' * 3000]
    return f"msg {i:03d} {extras[i % len(extras)]}"


async def main():
    with Fanhubd() as fh:
        by_query = [await ws_connect(fh.port, f"/ws?topic={TOPIC}")
                    for _ in range(2)]
        by_op = await ws_connect(fh.port, "/ws")
        clients = by_query + [by_op]
        epochs = set()
        for ws in clients:
            epochs.add((await expect_hello(ws))["epoch"])
        check(len(epochs) == 1, f"clients of one hub see different epochs "
              f"{epochs}")
        await by_op.send('{"op":"subscribe","topic":"%s"}' % TOPIC)
        m = await recv_json(by_op, what="subscribed reply")
        check(m.get("type") == "subscribed" and m.get("topic") == TOPIC,
              f"bad subscribe reply {m}")
        check(isinstance(m.get("seq"), int) and m["seq"] >= 0,
              f"subscribed reply without a seq: {m}")

        def publish_all():
            return [curl_publish(fh.port, TOPIC, payload(i)) for i in range(N)]
        seqs = await asyncio.to_thread(publish_all)
        check(seqs == sorted(set(seqs)) and seqs[0] > 0,
              f"publish seqs not increasing: {seqs}")

        for k, ws in enumerate(clients):
            for i in range(N):
                m = await recv_json(ws, what=f"message {i} on client {k}")
                want = {"type": "message", "topic": TOPIC, "seq": seqs[i],
                        "data": payload(i)}
                check(m == want, f"client {k} message {i}: got {m!r:.300}, "
                      f"want {want!r:.300}")
        for ws in clients:
            await expect_silence(ws)
        for ws in clients:
            await ws.close()


run(main)
