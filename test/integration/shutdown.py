"""Clean shutdown: on SIGTERM, a connected WebSocket client gets a close
frame with code 1001 (going away), a `curl -sN` SSE stream ends (curl exits
on its own), and fanhubd exits 0 within its drain time (--drain 1500)."""
import asyncio
import subprocess
import time

import websockets

from fhtest import (Fanhubd, check, curl_publish, expect_hello, log,
                    recv_json, run, ws_connect)

DRAIN_MS = 1500


async def main():
    with Fanhubd("--drain", DRAIN_MS) as fh:
        ws = await ws_connect(fh.port, "/ws?topic=bye")
        await expect_hello(ws)
        curl = subprocess.Popen(
            ["curl", "--noproxy", "*", "-sN", "--max-time", "20",
             f"http://127.0.0.1:{fh.port}/sse?topic=bye"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # The stream is subscribed once its preamble arrived.
            first = b""
            deadline = time.monotonic() + 5
            while b"retry:" not in first:
                left = deadline - time.monotonic()
                check(left > 0, f"no SSE preamble within 5 s: {first!r}")
                chunk = await asyncio.wait_for(
                    asyncio.to_thread(curl.stdout.read1, 4096), left)
                check(chunk, f"SSE stream ended at once: {first!r}")
                first += chunk
            check(first.startswith(b": connected\n"), f"SSE start {first!r}")
            seq = await asyncio.to_thread(curl_publish, fh.port, "bye",
                                          "last words")
            m = await recv_json(ws, what="message")
            check(m["seq"] == seq and m["data"] == "last words", f"{m}")

            t0 = fh.terminate()
            try:
                extra = await asyncio.wait_for(ws.recv(), DRAIN_MS / 1000 + 3)
                raise AssertionError(f"frame instead of a close: {extra!r}")
            except websockets.ConnectionClosed as e:
                t_ws = time.monotonic() - t0
                check(e.rcvd is not None,
                      f"connection dropped without a close frame ({e})")
                check(e.rcvd.code == 1001,
                      f"close code {e.rcvd.code} ({e.rcvd.reason!r}), "
                      f"want 1001")
                log(f"WS close {e.rcvd.code} {e.rcvd.reason!r} after "
                    f"{t_ws:.2f}s")
            except asyncio.TimeoutError:
                raise AssertionError("no close frame after SIGTERM")

            out, err = await asyncio.to_thread(curl.communicate,
                                               None, DRAIN_MS / 1000 + 3)
            t_sse = time.monotonic() - t0
            log(f"curl SSE stream ended after {t_sse:.2f}s, "
                f"rc={curl.returncode}")
            check(curl.returncode == 0,
                  f"curl rc={curl.returncode} {err!r}: the stream did not "
                  f"end cleanly")
            stream = first + out
            check(b"event: bye\ndata: last words\n\n" in stream,
                  f"SSE stream: {stream!r}")

            rc = await asyncio.to_thread(fh.wait_exit, DRAIN_MS / 1000 + 2)
            t_exit = time.monotonic() - t0
            log(f"fanhubd exited {rc} after {t_exit:.2f}s")
            check(rc == 0, f"fanhubd exit status {rc}: {fh.stderr()}")
            check(t_exit <= DRAIN_MS / 1000 + 0.5,
                  f"exit took {t_exit:.2f}s, drain is {DRAIN_MS} ms")
        finally:
            if curl.poll() is None:
                curl.kill()
                curl.wait()


run(main)
