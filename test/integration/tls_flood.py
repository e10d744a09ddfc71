"""One TLS client cannot freeze its shard: on a one-shard fanhubd serving
TLS, a client sends `GET /sse?topic=zz` and then 1 MiB chunks without end
(a separate process, for 8 s). A healthy wss:// subscriber's publish to
delivery latency, measured with publishes over HTTPS, keeps its p99 within
twice its baseline (taken first, with the same clients but no flood).
Before TLS reads had a per-event budget the shard stayed in the flooder's
read loop: 45 ms to seconds."""
import asyncio
import json
import ssl
import subprocess
import sys
import tempfile
import time

import websockets

from fhextra import TlsFanhubd, make_cert
from fhtest import (HOST, check, expect_hello, log, parse_response, proc_cpu,
                    run)

FLOODER = r"""
import socket, ssl, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
s.sendall(b"GET /sse?topic=zz HTTP/1.1\r\nHost: x\r\n\r\n")
print("flooding", flush=True)
chunk, end = b"x" * (1 << 20), time.monotonic() + seconds
s.settimeout(1)
while time.monotonic() < end:
    try:
        s.sendall(chunk)
    except socket.timeout:
        pass
    except OSError:
        break
"""


def https_publish(port, ctx, data):
    import socket
    body = data.encode()
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as s:
            s.sendall(f"POST /publish?topic=pulse HTTP/1.1\r\nHost: {HOST}"
                      f"\r\nContent-Length: {len(body)}\r\nConnection: "
                      f"close\r\n\r\n".encode() + body)
            resp = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                resp += b
    status, _, rbody = parse_response(resp)
    check(status == 200, f"publish answered {status}")
    return json.loads(rbody)["seq"]


async def latencies(port, ctx, ws, n, tag):
    out = []
    for k in range(n):
        t0 = time.monotonic()
        seq = await asyncio.to_thread(https_publish, port, ctx, f"{tag}{k}")
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m.get("type") == "message":
                break
        check(m["seq"] == seq, f"got {m}, want seq {seq}")
        out.append(time.monotonic() - t0)
    out.sort()
    return out


def p99(xs):
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


async def main():
    with tempfile.TemporaryDirectory(prefix="fanhub-tlsflood-") as d:
        cert, key = await asyncio.to_thread(make_cert, d)
        ctx = ssl.create_default_context(cafile=cert)
        with TlsFanhubd("--tls-cert", cert, "--tls-key", key,
                        "--shards", 1) as fh:
            port = fh.port
            ws = await websockets.connect(
                f"wss://{HOST}:{port}/ws?topic=pulse", ssl=ctx,
                open_timeout=5, close_timeout=2, ping_interval=None)
            await expect_hello(ws)
            await latencies(port, ctx, ws, 5, "warm")
            base = await latencies(port, ctx, ws, 100, "base")
            flooder = subprocess.Popen(
                [sys.executable, "-c", FLOODER, str(port), "8"],
                stdout=subprocess.PIPE, text=True)
            try:
                check(flooder.stdout.readline().strip() == "flooding",
                      "the flooder did not start")
                await asyncio.sleep(0.3)
                cpu0 = proc_cpu(fh.proc.pid)
                t0 = time.monotonic()
                flood = await latencies(port, ctx, ws, 100, "flood")
                cpu = (proc_cpu(fh.proc.pid) - cpu0) / (time.monotonic() - t0)
                flooding = flooder.poll() is None
            finally:
                flooder.kill()
            flooder.communicate(timeout=5)
            log(f"healthy wss p50/p99: {base[len(base) // 2] * 1000:.1f}/"
                f"{p99(base) * 1000:.1f} ms alone, "
                f"{flood[len(flood) // 2] * 1000:.1f}/"
                f"{p99(flood) * 1000:.1f} ms beside the flood "
                f"(fanhubd at {cpu * 100:.0f}% of a core)")
            # The baseline's p99 is taken as at least 5 ms: below that the
            # 2x rule would measure the scheduler, not the shard.
            limit = 2 * max(p99(base), 0.005)
            check(p99(flood) <= limit,
                  f"p99 {p99(flood) * 1000:.1f} ms beside the flood, over "
                  f"{limit * 1000:.1f} ms")
            check(flooding, "the flood ended before the measurement did")
            await ws.close()



run(main)
