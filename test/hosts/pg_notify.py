"""pg_notify against a real, throwaway PostgreSQL cluster: initdb into a
temp dir, pg_ctl start on 127.0.0.1 and a free port (as the `postgres`
user when run as root: PostgreSQL refuses root), always stopped
(pg_ctl stop -m immediate) and removed at the end, also after a failure
or run.sh's SIGTERM.

pg_notify LISTENs on "orders" and "audit"; a `curl -sN` SSE stream on both
topics and a WebSocket client on "orders" receive NOTIFY and pg_notify()
payloads (topic = channel, data = payload), a committed transaction's two
notifications in order, nothing from a rolled-back transaction or from a
channel it does not listen on; after the cluster restarts, pg_notify
reconnects, LISTENs again and delivery goes on; out of file descriptors
(hostlib.starve) it does not spin, and afterwards serves a new client and
still delivers to the old ones; SIGTERM: exit 0."""
import asyncio
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from hostlib import (CurlSSE, Host, check, expect_hello, expect_silence, log,
                     note, on_sigterm_exit, recv_json, run, starve,
                     ws_connect)


def pg_bin():
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    check(dirs, "no /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return max(dirs, key=lambda d: int(d.split("/")[-2]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = pg_bin()
        self.dir = tempfile.mkdtemp(prefix="fanhub-pg.")
        self.data = os.path.join(self.dir, "data")
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = None

    def pg(self, tool, *args, timeout=30):
        cmd = self.as_user + [os.path.join(self.bin, tool), *args]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=self.dir)
        check(r.returncode == 0, f"{tool} failed: {r.stderr.decode()} "
              f"{self.log_tail()}")
        return r.stdout.decode()

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "log"), errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def start(self):
        t0 = time.monotonic()
        self.pg("initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                "-E", "UTF8", "-N", "--no-instructions")
        for attempt in range(3):  # the port may be taken in between
            self.port = free_port()
            opts = (f"-k {self.dir} -p {self.port} "
                    f"-c listen_addresses=127.0.0.1 -c fsync=off")
            cmd = self.as_user + [os.path.join(self.bin, "pg_ctl"), "-D",
                                  self.data, "-l",
                                  os.path.join(self.dir, "log"), "-w",
                                  "-t", "20", "-o", opts, "start"]
            r = subprocess.run(cmd, capture_output=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            if r.returncode == 0:
                log(f"cluster on port {self.port} in "
                    f"{time.monotonic() - t0:.2f}s")
                return self
        raise AssertionError(f"pg_ctl start failed: {self.log_tail()}")

    def restart(self):
        self.pg("pg_ctl", "-D", self.data, "-l",
                os.path.join(self.dir, "log"), "-w", "-t", "20", "-m",
                "fast", "restart")

    def psql(self, sql):
        r = subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, timeout=15, stdin=subprocess.DEVNULL,
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        check(r.returncode == 0, f"psql {sql!r}: {r.stderr.decode()}")

    def conninfo(self):
        return (f"host=127.0.0.1 port={self.port} user=postgres "
                f"dbname=postgres connect_timeout=5")

    def destroy(self):
        """Stops a postmaster that may be running (also one a cut-short
        pg_ctl start left) and removes the directory. A second SIGTERM
        cannot interrupt it; an initdb cut short may still be deleting its
        files, hence the retries."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            r = subprocess.run(
                self.as_user + [os.path.join(self.bin, "pg_ctl"), "-D",
                                self.data, "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            log(f"pg_ctl stop -m immediate: rc={r.returncode}")
        for _ in range(50):
            shutil.rmtree(self.dir, ignore_errors=True)
            if not os.path.exists(self.dir):
                break
            time.sleep(0.1)


def expect_event(sse, topic, data, timeout=5):
    ev = sse.next_event(timeout)
    check(ev[1:] == (topic, data), f"SSE event {ev}, want {topic} {data!r}")


async def body(pg):
    with Host("pg_notify", "--conninfo", pg.conninfo(), "--channel",
              "orders", "--channel", "audit") as host:
        ws = await ws_connect(host.port, "/ws?topic=orders")
        await expect_hello(ws)
        sse = CurlSSE(f"http://127.0.0.1:{host.port}/sse"
                      f"?topic=orders&topic=audit")
        try:
            await asyncio.to_thread(sse.wait_comment, "connected")
            t0 = time.monotonic()
            pg.psql("NOTIFY orders, 'hello'")
            await asyncio.to_thread(expect_event, sse, "orders", "hello")
            note(f"pg_notify: NOTIFY to SSE client in "
                 f"{(time.monotonic() - t0) * 1000:.0f} ms (incl. psql)")
            m = await recv_json(ws, what="orders hello")
            check(m["topic"] == "orders" and m["data"] == "hello", f"{m}")

            payload = 'multi word "quoted" \u00e9 payload'
            pg.psql("SELECT pg_notify('audit', '%s')" % payload)
            await asyncio.to_thread(expect_event, sse, "audit", payload)

            pg.psql("BEGIN; NOTIFY orders, 'rolled back'; ROLLBACK")
            pg.psql("NOTIFY nobody, 'not listened to'")
            pg.psql("BEGIN; NOTIFY orders, 't1'; NOTIFY audit, 't2'; COMMIT")
            await asyncio.to_thread(expect_event, sse, "orders", "t1")
            await asyncio.to_thread(expect_event, sse, "audit", "t2")
            m = await recv_json(ws, what="orders t1")
            check(m["data"] == "t1", f"WS after the rollback got {m}")
            await expect_silence(ws, 0.2)

            # The cluster restarts: pg_notify reconnects and LISTENs again.
            t0 = time.monotonic()
            pg.restart()
            deadline = time.monotonic() + 10
            while host.stderr().count("listening on 2 channel(s)") < 2:
                check(time.monotonic() < deadline,
                      f"no reconnect within 10 s: {host.stderr()}")
                await asyncio.sleep(0.05)
            note(f"pg_notify: cluster restart + reconnect in "
                 f"{time.monotonic() - t0:.2f}s")
            check("connection lost" in host.stderr(), host.stderr())
            pg.psql("NOTIFY orders, 'after restart'")
            await asyncio.to_thread(expect_event, sse, "orders",
                                    "after restart")
            m = await recv_json(ws, what="orders after restart")
            check(m["data"] == "after restart", f"{m}")

            await starve(host)
            pg.psql("NOTIFY orders, 'after starving'")
            await asyncio.to_thread(expect_event, sse, "orders",
                                    "after starving")
            m = await recv_json(ws, what="orders after starving")
            check(m["data"] == "after starving", f"{m}")
            await ws.close()
        finally:
            sse.close()


def main():
    on_sigterm_exit()
    pg = Cluster()
    try:
        pg.start()
        asyncio.run(body(pg))
    finally:
        pg.destroy()
    check(not os.path.exists(pg.dir), f"{pg.dir} left behind")


run(main)
