"""libuv_host: a hub with no threads of its own, driven by a libuv loop
(one uv_poll per shard, 2 shards) that also runs the listener. Four
WebSocket clients (Python, spread over both shards) and a `curl -sN` SSE
stream on two topics receive every message POSTed to /publish (answered
by the request callback on the loop thread), in order with the seqs the
POSTs returned, and the "tick" counter a uv_timer broadcasts every 100 ms;
an unknown path gets 404; SIGTERM closes the WebSocket clients with 1001,
ends the SSE stream, and the host exits 0."""
import asyncio
import json
import subprocess
import time
import urllib.parse

from hostlib import (CurlSSE, Host, check, expect_hello, expect_stopped, log,
                     note, recv_json, run, ws_connect)


def post(port, path, data, timeout=5):
    r = subprocess.run(["curl", "--noproxy", "*", "-s", "-S", "--max-time",
                        str(timeout), "-o", "-", "-w", "\n%{http_code}",
                        "-X", "POST", "--data-binary", "@-",
                        f"http://127.0.0.1:{port}{path}"],
                       input=data.encode(), capture_output=True,
                       timeout=timeout + 2)
    check(r.returncode == 0, f"curl POST {path}: {r.stderr!r}")
    body, _, code = r.stdout.decode().rpartition("\n")
    return int(code), body


def publish(port, topic, data):
    code, body = post(port, "/publish?topic=" + urllib.parse.quote(topic),
                      data)
    check(code == 200, f"publish answered {code} {body!r}")
    return json.loads(body)["seq"]


PAYLOADS = ["hello from libuv", 'quotes " and \\ backslash',
            "unicode \u00e9\u20ac", "x" * 2000, "last"]


async def main():
    with Host("libuv_host", "--shards", 2, "--tick", 100) as host:
        port = host.port
        demo = [await ws_connect(port, "/ws?topic=demo") for _ in range(4)]
        tick = await ws_connect(port, "/ws?topic=tick")
        for ws in demo + [tick]:
            await expect_hello(ws)
        sse = CurlSSE(f"http://127.0.0.1:{port}/sse?topic=demo&topic=tick")
        await asyncio.to_thread(sse.wait_comment, "connected")

        code, _ = await asyncio.to_thread(post, port, "/nowhere", "x")
        check(code == 404, f"/nowhere answered {code}")
        t0 = time.monotonic()
        seqs = []
        for p in PAYLOADS:
            seqs.append(await asyncio.to_thread(publish, port, "demo", p))
        check(seqs == sorted(set(seqs)), f"seqs {seqs}")

        for k, ws in enumerate(demo):
            for p, seq in zip(PAYLOADS, seqs):
                m = await recv_json(ws, what=f"demo message on client {k}")
                want = {"type": "message", "topic": "demo", "seq": seq,
                        "data": p}
                check(m == want, f"client {k}: {m!r:.200} != {want!r:.200}")
        note(f"libuv_host: {len(PAYLOADS)} POSTs delivered to 4 WebSocket "
             f"clients in {(time.monotonic() - t0) * 1000:.0f} ms")

        # The timer's counter, over WebSocket: consecutive n.
        ns = []
        for _ in range(3):
            m = await recv_json(ws=tick, what="tick")
            check(m["topic"] == "tick", f"tick client got {m}")
            ns.append(m["data"]["n"])
        check(ns == list(range(ns[0], ns[0] + 3)), f"ticks {ns}")

        # Over SSE: the demo messages in order, ticks interleaved.
        demo_events, ticks = [], []
        deadline = time.monotonic() + 5
        while len(demo_events) < len(PAYLOADS) or len(ticks) < 3:
            check(time.monotonic() < deadline, f"SSE: {demo_events} {ticks}")
            ev = await asyncio.to_thread(sse.next_event)
            (demo_events if ev[1] == "demo" else ticks).append(ev)
        for ev, p, seq in zip(demo_events, PAYLOADS, seqs):
            check(ev[1:] == ("demo", p) and ev[0].endswith(f"-{seq}"),
                  f"SSE event {ev!r:.200}, want demo {seq} {p!r:.100}")
        tn = [json.loads(ev[2])["n"] for ev in ticks]
        check(tn == list(range(tn[0], tn[0] + len(tn))), f"SSE ticks {tn}")
        log(f"SSE: {len(demo_events)} demo events, ticks {tn}")

        # SIGTERM: WebSocket close 1001, the SSE stream ends, exit 0.
        await expect_stopped(host, demo, sse)
        await tick.close()


run(main)
