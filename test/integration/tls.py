"""TLS: fanhubd with a self-signed certificate made here by openssl.
A Python wss:// client (trusting only that certificate) and an HTTPS SSE
stream read by `curl --cacert -N` each get every message published with
`curl --cacert https://.../publish`, exactly once and in order, including
a multi-line payload and one larger than a TLS record (16 KiB). Plain HTTP
on the TLS port fails quickly (no HTTP answer, connection closed) and
changes nothing for the others; a new wss:// client is served after it.
On SIGTERM the wss:// client gets close 1001 and curl's HTTPS stream
ends cleanly."""
import asyncio
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

import websockets

from fhextra import CurlSSE, TlsFanhubd, make_cert, read_to_eof
from fhtest import (HOST, check, expect_hello, expect_silence, log,
                    recv_json, run)

TOPIC = "secure"


def curl_https(cert, url, *args, timeout=5):
    r = subprocess.run(["curl", "--noproxy", "*", "-sS", "--max-time",
                        str(timeout), "--cacert", cert, *args, url],
                       capture_output=True, timeout=timeout + 3)
    return r


def publish(cert, port, data):
    r = curl_https(cert, f"https://{HOST}:{port}/publish?topic={TOPIC}",
                   "-X", "POST", "--data-binary", "@" + data)
    check(r.returncode == 0, f"curl https publish rc={r.returncode}: "
          f"{r.stderr!r}")
    return json.loads(r.stdout)["seq"]


def payloads():
    return ["hello over TLS", "line one\nline two\nline three",
            "unicode \u00e9\u20ac\U0001f512", "y" * 40000,
            *[f"burst {i}" for i in range(12)]]


async def wss_connect(port, ctx, timeout=5):
    return await websockets.connect(
        f"wss://{HOST}:{port}/ws", ssl=ctx, open_timeout=timeout,
        close_timeout=2, ping_interval=None, max_size=1 << 22)


async def main():
    with tempfile.TemporaryDirectory(prefix="fanhub-tls-") as d:
        cert, key = await asyncio.to_thread(make_cert, d)
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = True  # against the IP SAN
        with TlsFanhubd("--tls-cert", cert, "--tls-key", key,
                        "--drain", 1000) as fh:
            port = fh.port
            sse = CurlSSE(f"https://{HOST}:{port}/sse?topic={TOPIC}",
                          "--cacert", cert)
            try:
                await asyncio.to_thread(sse.wait_for,
                                        lambda t: "retry: 2000\n\n" in t,
                                        5, "SSE preamble")
                check(sse.text().startswith(": connected\n"),
                      f"HTTPS SSE start {sse.text()[:100]!r}")
                ws = await wss_connect(port, ctx)
                hello = await expect_hello(ws)
                await ws.send(json.dumps({"op": "subscribe",
                                          "topic": TOPIC, "id": 1}))
                m = await recv_json(ws, what="subscribed")
                check(m.get("type") == "subscribed" and m.get("id") == 1,
                      f"subscribe reply {m}")

                # Publish over HTTPS with curl (bodies from files: one is
                # 40 KB, more than a TLS record).
                sent = []
                for i, p in enumerate(payloads()):
                    f = os.path.join(d, f"p{i}")
                    with open(f, "w") as fp:
                        fp.write(p)
                    sent.append((await asyncio.to_thread(publish, cert,
                                                         port, f), p))
                seqs = [s for s, _ in sent]
                check(seqs == sorted(set(seqs)), f"seqs {seqs}")
                for s, p in sent:
                    m = await recv_json(ws, what=f"wss message {s}")
                    check(m == {"type": "message", "topic": TOPIC,
                                "seq": s, "data": p},
                          f"wss message: got {str(m)[:200]}, want seq {s}")
                await expect_silence(ws)
                evs = await asyncio.to_thread(sse.wait_events, len(sent))
                want = [(f"{hello['epoch']}-{s}", TOPIC, p) for s, p in sent]
                check(evs == want, f"HTTPS SSE events {str(evs)[:400]} != "
                      f"{str(want)[:400]}")
                log(f"{len(sent)} messages over wss:// and HTTPS SSE")

                # Plain HTTP on the TLS port: curl fails, fast.
                t0 = time.monotonic()
                r = await asyncio.to_thread(
                    subprocess.run,
                    ["curl", "--noproxy", "*", "-sS", "--max-time", "5",
                     f"http://{HOST}:{port}/metrics"],
                    capture_output=True, timeout=10)
                took = time.monotonic() - t0
                log(f"plain http:// on the TLS port: curl rc={r.returncode} "
                    f"{r.stderr.strip()!r} in {took:.2f}s")
                check(r.returncode not in (0, 28),
                      f"plain HTTP on the TLS port: curl rc={r.returncode} "
                      f"{r.stdout[:200]!r}")
                check(b"fanhub_" not in r.stdout, "metrics over plain HTTP")
                check(took < 3, f"plain HTTP took {took:.2f}s to fail")
                # The same on a raw socket: closed at once, and nothing
                # that looks like HTTP comes back (a TLS alert at most).
                with socket.create_connection((HOST, port), timeout=5) as s:
                    t0 = time.monotonic()
                    s.sendall(b"GET /sse?topic=secure HTTP/1.1\r\n"
                              b"Host: 127.0.0.1\r\n\r\n")
                    data = await asyncio.to_thread(read_to_eof, s, 4)
                    took = time.monotonic() - t0
                log(f"raw plain request on the TLS port: {data[:20]!r} then "
                    f"EOF after {took:.2f}s")
                check(b"HTTP/" not in data and b"event:" not in data,
                      f"plain request got {data[:200]!r}")
                check(not data or data[0] == 0x15,
                      f"plain request got non-alert bytes {data[:20]!r}")
                check(took < 3, f"plain request closed after {took:.2f}s")
                # A half ClientHello that then goes away.
                with socket.create_connection((HOST, port), timeout=5) as s:
                    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")

                # Everyone else is still served, and new TLS clients too.
                ws2 = await wss_connect(port, ctx)
                await expect_hello(ws2)
                await ws2.send(json.dumps({"op": "subscribe",
                                           "topic": TOPIC}))
                m = await recv_json(ws2, what="subscribed (second client)")
                check(m.get("type") == "subscribed", f"{m}")
                f = os.path.join(d, "after")
                with open(f, "w") as fp:
                    fp.write("after the plain-HTTP attempts")
                s = await asyncio.to_thread(publish, cert, port, f)
                for k, c in enumerate((ws, ws2)):
                    m = await recv_json(c, what=f"message after (client {k})")
                    check(m == {"type": "message", "topic": TOPIC, "seq": s,
                                "data": "after the plain-HTTP attempts"},
                          f"client {k} after: {m}")
                evs = await asyncio.to_thread(sse.wait_events, len(sent) + 1)
                check(evs[-1] == (f"{hello['epoch']}-{s}", TOPIC,
                                  "after the plain-HTTP attempts"),
                      f"HTTPS SSE after: {evs[-1]}")
                r = await asyncio.to_thread(
                    curl_https, cert, f"https://{HOST}:{port}/metrics")
                check(r.returncode == 0 and b"fanhub_clients " in r.stdout,
                      f"/metrics over HTTPS: rc={r.returncode} {r.stderr!r}")
                await ws2.close()

                # Shutdown over TLS: close 1001 and a clean end of the
                # HTTPS stream.
                t0 = fh.terminate()
                try:
                    extra = await asyncio.wait_for(ws.recv(), 4)
                    raise AssertionError(f"frame instead of close: "
                                         f"{extra!r}")
                except websockets.ConnectionClosed as e:
                    check(e.rcvd is not None and e.rcvd.code == 1001,
                          f"wss close on SIGTERM: {e}")
                rc = await asyncio.to_thread(fh.wait_exit, 4)
                check(rc == 0, f"fanhubd exited {rc}: {fh.stderr()}")
                crc = await asyncio.to_thread(sse.proc.wait, 4)
                log(f"SIGTERM: wss close 1001, curl rc={crc}, fanhubd rc=0 "
                    f"after {time.monotonic() - t0:.2f}s")
                check(crc == 0, f"curl's HTTPS stream did not end cleanly: "
                      f"rc={crc} {sse.proc.stderr.read()!r}")
            finally:
                sse.stop()


run(main)
