"""sqlite_broadcast: a 10,000-row transaction is broadcast as 10,000
messages, all of them, in row order with consecutive seqs, to a WebSocket
subscriber; the writer is not held up by it: the next statement runs at
once, while the subscriber is still reading. The figures (time in the
INSERT, the COMMIT, hub_batch_publish, the whole line, the next write,
delivery of the last message) are printed as notes; only correctness is
asserted."""
import asyncio
import os
import tempfile
import time

from hostlib import (check, expect_hello, expect_silence, log, note,
                     recv_json, run, ws_connect)
from sqlite_tx import SqliteHost, parse_commit

N = 10000
BULK = ("BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
        f"FROM c WHERE x < {N}) INSERT INTO bulk(v) SELECT x FROM c; COMMIT")


async def main():
    tmp = tempfile.mkdtemp(prefix="fanhub-sqlite.")
    db = os.path.join(tmp, "bulk.db")
    with SqliteHost(db) as host:
        ws = await ws_connect(host.port, "/ws?topic=table.bulk")
        await expect_hello(ws)
        check(host.sql("CREATE TABLE bulk(v INTEGER)")[0] == "ok", "create")

        t0 = time.monotonic()
        status, text, commits = host.sql(BULK)
        t_line = time.monotonic() - t0
        check(status == "ok" and len(commits) == 1, f"{status} {commits}")
        c = parse_commit(commits[0])
        n, commit_ms, publish_ms, last = (c["changes"], c["commit_ms"],
                                          c["publish_ms"], c["seq"])
        check(c["lost"] == 0, f"{commits[0]}")
        check(n == N, f"{commits[0]}")
        t1 = time.monotonic()
        status, _, commits2 = host.sql("INSERT INTO bulk(v) VALUES(-1)")
        t_next = time.monotonic() - t1
        check(status == "ok" and len(commits2) == 1, f"{commits2}")

        first = last - N + 1
        for i in range(N + 1):
            m = await recv_json(ws, timeout=10, what=f"message {i}")
            want = {"type": "message", "topic": "table.bulk",
                    "seq": first + i,
                    "data": {"op": "insert", "rowid": i + 1}}
            check(m == want, f"message {i}: {m}, want {want}")
        t_all = time.monotonic() - t0
        await expect_silence(ws, 0.3)
        await ws.close()
        note(f"sqlite 10k-row transaction: INSERT+COMMIT line "
             f"{t_line * 1000:.1f} ms (COMMIT {commit_ms:.1f} ms, "
             f"hub_batch_publish {publish_ms:.1f} ms); next write "
             f"{t_next * 1000:.1f} ms later; all {N + 1} messages at a "
             f"WebSocket client after {t_all * 1000:.0f} ms")
    os.remove(db)
    os.rmdir(tmp)
    log("all 10001 messages, in order, exactly once")


run(main)
