"""A reconnect storm leaves little behind: 1,800 WebSocket and 1,800 SSE
clients connect to a fresh fanhubd all at once (every request sent before
any answer is read), get their answers and stay idle. fanhubd's RSS may
grow by at most 1 KiB per subscriber (before request heads were parsed
in place: ~4.7 KiB, the max_request_head buffer each socket got at
attach and the holes it left in the heap). `make bench` measures the
same with 10,000 at once, worst of 5 fresh runs."""
import selectors
import socket
import time

from fhtest import HOST, Fanhubd, check, metrics, note, proc_rss_kib, run

N = 1800  # of each kind: the suite runs with 4,096 descriptors
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def request(ws, i):
    if ws:
        return (f"GET /ws?topic=storm HTTP/1.1\r\nHost: {HOST}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n"
                "Sec-WebSocket-Protocol: fanhub.raw\r\n\r\n").encode()
    return f"GET /sse?topic=storm&c={i} HTTP/1.1\r\nHost: {HOST}\r\n\r\n" \
        .encode()


def main():
    with Fanhubd("--ping-interval", 0, "--sse-keepalive", 0) as fh:
        pid = fh.proc.pid
        metrics(fh.port)  # the server has served one request
        time.sleep(0.2)
        rss0 = proc_rss_kib(pid)
        socks = []
        for i in range(2 * N):
            s = socket.create_connection((HOST, fh.port), timeout=10)
            socks.append(s)
        t0 = time.monotonic()
        for i, s in enumerate(socks):
            s.sendall(request(i < N, i))
        sel = selectors.DefaultSelector()
        heads = {}
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            heads[s] = b""
        done = 0
        deadline = time.monotonic() + 20
        while done < len(socks):
            check(time.monotonic() < deadline,
                  f"only {done} of {len(socks)} answered in 20 s")
            for key, _ in sel.select(1):
                s = key.fileobj
                data = s.recv(4096)
                check(data, "a client was closed during the storm")
                heads[s] += data
                if b"\r\n\r\n" in heads[s]:
                    status = heads[s].split(b" ", 2)[1]
                    check(status in (b"101", b"200"),
                          f"answered {heads[s][:80]!r}")
                    sel.unregister(s)
                    done += 1
        took = time.monotonic() - t0
        deadline = time.monotonic() + 5
        while metrics(fh.port)["fanhub_subscriptions"] < 2 * N:
            check(time.monotonic() < deadline, "not all subscribed")
            time.sleep(0.05)
        time.sleep(0.3)
        rss1 = proc_rss_kib(pid)
        per = (rss1 - rss0) * 1024 / (2 * N)
        note(f"{2 * N} clients at once answered in {took:.2f}s; RSS "
             f"{rss0} -> {rss1} KiB: {per:.0f} B per idle subscriber")
        check(per <= 1024, f"{per:.0f} B of RSS per idle subscriber")
        for s in socks:
            s.close()


run(main)
