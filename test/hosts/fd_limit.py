"""sqlite_broadcast, libuv_host and evhttp_host out of file descriptors
(hostlib.starve: RLIMIT_NOFILE lowered to 64, 100 connections that send
nothing): none spins on its listener, and each serves a WebSocket client
once the idle connections are gone. sqlite_broadcast leaves its listener
out of one poll() after accept4() fails; libuv turns the queued clients
away itself; evhttp_host disables its evconnlistener for 100 ms from the
listener's error callback (pg_notify is checked in pg_notify.py, next to
its cluster)."""
import os
import tempfile

from hostlib import Host, run, starve
from sqlite_tx import SqliteHost


async def main():
    with tempfile.TemporaryDirectory(prefix="fanhub-sqlite.") as tmp:
        with SqliteHost(os.path.join(tmp, "fd.db")) as host:
            await starve(host)
    with Host("libuv_host") as host:
        await starve(host)
    with tempfile.TemporaryDirectory(prefix="fanhub-evhttp.") as tmp:
        with Host("evhttp_host", "--db", os.path.join(tmp, "fd.db"),
                  "--token", "t=who") as host:
            await starve(host, "/ws?token=t")


run(main)
