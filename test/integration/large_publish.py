"""Large publishes: fanhubd takes POST bodies up to 1 MiB (--help), so
bodies of 8 KiB .. 512 KiB sent by curl in one go reach a WebSocket and an
SSE subscriber intact, and 1 MiB + 1 is refused with 413. Bodies whose
frame is larger than a client's 1 MiB queue cap reach both too, one at a
time: 1 MiB itself, and 200,000 bytes of 0x01 (~1.2 MB once
JSON-escaped)."""
import asyncio
import subprocess

from fhtest import (Fanhubd, SSEReader, check, curl_publish, expect_hello,
                    recv_json, run, ws_connect)

SIZES = [1000, 8000, 8192, 9000, 65536, 200000, 512 * 1024]


def body(n, k):
    line = f"line of message {k} "
    return ((line * (n // len(line) + 1))[:n - 1] + "\n")


async def main():
    with Fanhubd() as fh:
        ws = await ws_connect(fh.port, "/ws?topic=big")
        await expect_hello(ws)
        sse = SSEReader(fh.port, "/sse?topic=big")
        sse.wait_comment("connected")
        failures = []
        seqs = {}
        for k, n in enumerate(SIZES):
            try:
                seqs[n] = await asyncio.to_thread(
                    curl_publish, fh.port, "big", body(n, k), timeout=10)
            except AssertionError as e:
                failures.append(f"POST of {n} bytes: {e}")
        for k, n in enumerate(SIZES):
            if n not in seqs:
                continue
            m = await recv_json(ws, what=f"{n}-byte message")
            check(m == {"type": "message", "topic": "big", "seq": seqs[n],
                        "data": body(n, k)},
                  f"WS {n}-byte message differs: {str(m)[:200]}")
            ev = await asyncio.to_thread(sse.next_event)
            check(ev[1:] == ("big", body(n, k)) and
                  ev[0].endswith(f"-{seqs[n]}"),
                  f"SSE {n}-byte message differs: {str(ev)[:200]}")
        # Frames above the 1 MiB byte cap go into an empty queue.
        for n, data in ((1 << 20, body(1 << 20, 99)),
                        (200000, "\x01" * 200000)):
            seq = await asyncio.to_thread(curl_publish, fh.port, "big", data,
                                          timeout=10)
            m = await recv_json(ws, what=f"{n}-byte message over the cap")
            check(m == {"type": "message", "topic": "big", "seq": seq,
                        "data": data},
                  f"WS {n}-byte message differs: {str(m)[:200]}")
            ev = await asyncio.to_thread(sse.next_event)
            check(ev[1:] == ("big", data) and ev[0].endswith(f"-{seq}"),
                  f"SSE {n}-byte message differs: {str(ev)[:200]}")
        sse.close()
        await ws.close()

        r = await asyncio.to_thread(subprocess.run, [
            "curl", "--noproxy", "*", "-s", "-o", "/dev/null", "-w",
            "%{http_code}", "--max-time", "10", "-X", "POST",
            "--data-binary", "@-",
            f"http://127.0.0.1:{fh.port}/publish?topic=big"],
            input=b"z" * ((1 << 20) + 1), capture_output=True, timeout=15)
        if r.stdout != b"413":
            failures.append(f"1 MiB + 1 body: HTTP {r.stdout!r} "
                            f"(curl rc={r.returncode}), want 413")
        check(not failures, "; ".join(failures))


run(main)
