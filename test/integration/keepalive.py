"""HTTP keep-alive on fanhubd's own answers. A backend publishes 1,000
messages one after the other over one connection: each answered in
order ({"seq"} one more than the last) with "Connection: keep-alive",
no connection closed meanwhile, every message delivered to a WebSocket
subscriber in order; then a burst of 500 publishes pipelined in one
write, answered in order, and GET /metrics, GET / and a WebSocket-free
404 on the same connection, which "Connection: close" ends. Hostile: 20
clients pipeline requests without ever reading an answer: fanhubd
answers each until 64 KiB wait unwritten and then stops reading it, so
their writes stall in the sockets' buffers; its RSS grows by a few MiB
(not the megabytes they sent), it does not spin (CPU while they are
stalled), it serves a healthy subscriber and publisher at once
meanwhile, and a flooder that starts reading gets its answers in
order. Over TLS: a pipelined burst answered in order, and a client that
pipelines without reading for a while, then reads every answer."""
import asyncio
import json
import socket
import ssl
import tempfile
import threading
import time

from fhtest import (HOST, Fanhubd, HTTPConn, check, cpu_share, expect_hello,
                    log, metrics, note, proc_rss_kib, publish_request,
                    recv_json, run, ws_connect)
from fhextra import TlsFanhubd, make_cert

N = 1000
BURST = 500
FLOODERS = 20
FLOOD_SECONDS = 3.0


def publish_one_by_one(port, topic, n):
    conn = HTTPConn(port)
    seqs = []
    t0 = time.monotonic()
    for k in range(n):
        conn.send(publish_request(topic, f"m{k}"))
        status, headers, body = conn.response()
        check(status == 200, f"publish {k} answered {status}: {body!r}")
        check(headers.get("connection") == ["keep-alive"],
              f"publish {k}: Connection {headers.get('connection')}")
        seqs.append(json.loads(body)["seq"])
    return conn, seqs, time.monotonic() - t0


async def expect_messages(ws, topic, seqs, prefix):
    for k, seq in enumerate(seqs):
        m = await recv_json(ws, what=f"message {prefix}{k}")
        check(m == {"type": "message", "topic": topic, "seq": seq,
                    "data": f"{prefix}{k}"}, f"message {k}: {m}")


def flood(port, stop, results, i):
    """Pipelines 404 requests and never reads; records what was sent."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, port))
    s.settimeout(0.5)
    req = f"GET /nowhere/{i} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    chunk = req * 2048
    sent = 0
    while not stop.is_set():
        try:
            sent += s.send(chunk)
        except socket.timeout:
            break  # stalled: fanhubd reads no more of it
        except OSError as e:
            results[i] = (s, sent, f"send failed: {e}")
            return
    results[i] = (s, sent, None)


async def main():
    with Fanhubd() as fh:
        port, pid = fh.port, fh.proc.pid
        ws = await ws_connect(port, "/ws?topic=ka")
        await expect_hello(ws)
        deadline = time.monotonic() + 5
        while metrics(port)["fanhub_subscriptions"] < 1:
            check(time.monotonic() < deadline, "no subscription in 5 s")
            await asyncio.sleep(0.05)
        closed0 = metrics(port)["fanhub_clients_closed_total"]

        # 1,000 publishes, one after the other, on one connection.
        pub = asyncio.create_task(asyncio.to_thread(publish_one_by_one,
                                                    port, "ka", N))
        first = await recv_json(ws, what="the first message")
        conn, seqs, took = await pub
        check(seqs == list(range(seqs[0], seqs[0] + N)),
              f"seqs not consecutive: {seqs[:5]}...{seqs[-5:]}")
        check(first == {"type": "message", "topic": "ka", "seq": seqs[0],
                        "data": "m0"}, f"first message {first}")
        for k in range(1, N):
            m = await recv_json(ws, what=f"message m{k}")
            check(m == {"type": "message", "topic": "ka", "seq": seqs[k],
                        "data": f"m{k}"}, f"message {k}: {m}")
        note(f"{N} publishes over one connection in {took:.2f}s "
             f"({N / took:.0f}/s), all delivered in order")

        # A burst pipelined in one write: answered in order.
        raw = b"".join(publish_request("ka", f"p{k}") for k in range(BURST))
        t0 = time.monotonic()
        await asyncio.to_thread(conn.send, raw)
        burst = []
        for k in range(BURST):
            status, _, body = await asyncio.to_thread(conn.response)
            check(status == 200, f"burst publish {k} answered {status}")
            burst.append(json.loads(body)["seq"])
        check(burst == list(range(seqs[-1] + 1, seqs[-1] + 1 + BURST)),
              f"burst seqs {burst[:3]}...{burst[-3:]}")
        await expect_messages(ws, "ka", burst, "p")
        note(f"{BURST} pipelined publishes answered in order in "
             f"{time.monotonic() - t0:.2f}s")

        # Other answers on the same connection, then Connection: close.
        conn.send(f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
                  f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
                  f"GET /nowhere HTTP/1.1\r\nHost: {HOST}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        status, _, body = conn.response()
        check(status == 200 and b"fanhub_clients " in body, "/metrics")
        status, _, body = conn.response()
        check(status == 200 and b"<html" in body.lower(), "the page")
        status, headers, _ = conn.response()
        check(status == 404 and headers.get("connection") == ["close"],
              f"404 {status} {headers}")
        check(conn.at_eof(), "Connection: close did not close")
        conn.close()
        closed = metrics(port)["fanhub_clients_closed_total"] - closed0
        # The /metrics calls above each close theirs; the publisher's one
        # closed at the end.
        check(closed <= 3, f"{closed:.0f} connections closed meanwhile")

        # Hostile: pipelining without reading the answers.
        rss0 = proc_rss_kib(pid)
        stop = threading.Event()
        results = [None] * FLOODERS
        threads = [threading.Thread(target=flood, args=(port, stop, results,
                                                        i))
                   for i in range(FLOODERS)]
        for t in threads:
            t.start()
        timer = threading.Timer(FLOOD_SECONDS, stop.set)
        timer.start()
        for t in threads:
            await asyncio.to_thread(t.join, FLOOD_SECONDS + 10)
        timer.cancel()
        errors = [r[2] for r in results if r[2]]
        check(not errors, f"flooders: {errors}")
        sent = [r[1] for r in results]
        stalled_cpu = cpu_share(pid, 1.0)
        rss1 = proc_rss_kib(pid)
        m = metrics(port)
        log(f"flooders sent {sum(sent) / 1e6:.1f} MB "
            f"({min(sent) / 1e3:.0f}..{max(sent) / 1e3:.0f} kB each); RSS "
            f"{rss0} -> {rss1} KiB; queued {m['fanhub_bytes_queued']:.0f} B;"
            f" CPU {stalled_cpu:.2f} while they stall")
        check(m["fanhub_clients"] >= FLOODERS + 1,
              f"flooders closed: {m['fanhub_clients']:.0f} clients")
        check(m["fanhub_bytes_queued"] <= FLOODERS * 80 * 1024,
              f"{m['fanhub_bytes_queued']:.0f} B queued")
        check(rss1 - rss0 < 16 * 1024, f"RSS grew {rss1 - rss0} KiB")
        check(stalled_cpu < 0.2, f"fanhubd uses {stalled_cpu:.2f} of a CPU "
              f"with every flooder stalled")
        # Still serving: a publish on a new connection reaches the
        # subscriber at once.
        t0 = time.monotonic()
        pulse = await asyncio.to_thread(HTTPConn, port)
        pulse.send(publish_request("ka", "pulse", ("Connection: close",)))
        status, _, body = await asyncio.to_thread(pulse.response)
        check(status == 200, f"pulse publish {status}")
        m = await recv_json(ws, what="the pulse")
        check(m["data"] == "pulse", f"pulse {m}")
        lat = time.monotonic() - t0
        check(lat < 1.0, f"pulse took {lat:.2f}s")
        pulse.close()
        note(f"{FLOODERS} pipelining clients that never read: "
             f"{sum(sent) / 1e6:.1f} MB sent, RSS +{rss1 - rss0} KiB, "
             f"CPU {stalled_cpu:.2f}, pulse {lat * 1000:.0f} ms")
        # A flooder that reads gets its answers, in order.
        s = results[0][0]
        s.settimeout(5)
        buf = b""
        want = min(200, sent[0] // len(b"GET /nowhere/0 HTTP/1.1\r\nHost: "
                                       b"127.0.0.1\r\n\r\n"))
        while buf.count(b"HTTP/1.1 404 Not Found\r\n") < want:
            b = s.recv(1 << 16)
            check(b, "the flooder's connection ended")
            buf += b
        check(buf.startswith(b"HTTP/1.1 404 Not Found\r\n"), buf[:100])
        for r in results:
            r[0].close()
        await ws.close()
    tls()


def tls():
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        ctx = ssl.create_default_context(cafile=cert)
        with TlsFanhubd("--tls-cert", cert, "--tls-key", key) as fh:
            conn = HTTPConn(fh.port, ssl_context=ctx, rcvbuf=4096)
            conn.send(b"".join(publish_request("tls", f"t{k}")
                               for k in range(BURST)))
            seqs = []
            for k in range(BURST):
                status, _, body = conn.response()
                check(status == 200, f"TLS publish {k} answered {status}")
                seqs.append(json.loads(body)["seq"])
            check(seqs == list(range(seqs[0], seqs[0] + BURST)),
                  f"TLS seqs {seqs[:3]}...{seqs[-3:]}")
            # Pipelining without reading: fanhubd stops reading it (and
            # does not spin on the records mbedTLS may hold), then answers
            # everything once it reads.
            conn.sock.settimeout(0.5)
            req = f"GET /x HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
            sent = 0
            t0 = time.monotonic()
            while True:
                check(time.monotonic() - t0 < 10, "fanhubd read a TLS "
                      "client that reads no answers for 10 s")
                try:
                    conn.sock.sendall(req * 256)
                    sent += 256
                except (socket.timeout, ssl.SSLWantWriteError):
                    break
            cpu = cpu_share(fh.proc.pid, 0.5)
            check(cpu < 0.2, f"fanhubd uses {cpu:.2f} of a CPU with the "
                  f"TLS client stalled")
            conn.sock.settimeout(5)
            # A request cut short by the timeout would wait for the rest.
            got = 0
            while got < sent - 256:
                status, _, _ = conn.response()
                check(status == 404, f"TLS answer {got}: {status}")
                got += 1
            conn.close()
            note(f"TLS: {BURST} pipelined publishes in order; {got} "
                 f"answers to a client that stalled, CPU {cpu:.2f} "
                 f"meanwhile")


run(main)
