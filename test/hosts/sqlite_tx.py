"""sqlite_broadcast: row changes are broadcast once their transaction has
committed, and never otherwise. Over one connection: a rolled-back
transaction, a multi-row INSERT failing in autocommit mode and a refused
ROLLBACK TO send nothing of their own; a transaction whose statements fail
on the way (a UNIQUE violation after a row went in, a CHECK violation
after a row was updated, INSERT OR FAIL, which SQLite undoes only in part)
and then commits sends the rows of the statements that succeeded and none
of the failed ones; a multi-table transaction, autocommit statements,
INSERT OR FAIL in autocommit mode (which commits the rows before the
failing one) and a SAVEPOINT ... RELEASE transaction send exactly one
message per changed row, in commit order, with increasing seqs, to a
pattern subscriber (table.>) over WebSocket, to a table.items WebSocket
subscriber and to a table.items SSE stream. At the end the database holds
what the messages described, and the host exits 0 on EOF."""
import asyncio
import os
import re
import sqlite3
import tempfile

from hostlib import (Host, LineReader, SSEReader, check, expect_hello,  # noqa
                     expect_silence, log, recv_json, run, ws_connect)


class SqliteHost(Host):
    def __init__(self, db):
        super().__init__("sqlite_broadcast", "--db", db, stdin=True)

    def sql(self, line, timeout=10):
        """Runs one line; returns ("ok"|"error", text, [commit lines])."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        commits = []
        while True:
            out = self.out.line(timeout, f"the answer to {line!r}")
            if out.startswith("commit "):
                commits.append(out)
                continue
            status, _, text = out.partition(" ")
            check(status in ("ok", "error"), f"unexpected line {out!r}")
            log(f"{line[:70]!r} -> {out} {commits}")
            return status, text, commits

    def finish(self):
        self.proc.stdin.close()  # EOF: the host drains and exits


COMMIT_RE = re.compile(r"commit (\d+) changes: commit ([\d.]+) ms, publish "
                       r"([\d.]+) ms, seq (-?\d+), lost (\d+)")


def parse_commit(line):
    """The host's "commit N changes: ..." line as a dict."""
    m = COMMIT_RE.fullmatch(line)
    check(m, f"bad commit line {line!r}")
    return {"changes": int(m[1]), "commit_ms": float(m[2]),
            "publish_ms": float(m[3]), "seq": int(m[4]), "lost": int(m[5])}


def ins(t, r):
    return (f"table.{t}", {"op": "insert", "rowid": r})


def upd(t, r):
    return (f"table.{t}", {"op": "update", "rowid": r})


def dele(t, r):
    return (f"table.{t}", {"op": "delete", "rowid": r})


# (SQL line, "ok" or "error" and the start of its message, the changes it
# commits, in order)
STEPS = [
    ("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT UNIQUE);"
     " CREATE TABLE other(x); CREATE TABLE stock(qty CHECK (qty >= 0))",
     "ok", []),
    ("BEGIN; INSERT INTO items(v) VALUES('r1'); INSERT INTO other VALUES(1);"
     " ROLLBACK", "ok", []),
    ("BEGIN; INSERT INTO items(id, v) VALUES(1, 'a');"
     " INSERT INTO items(id, v) VALUES(2, 'b');"
     " UPDATE items SET v = 'a2' WHERE id = 1; INSERT INTO other VALUES(7);"
     " DELETE FROM items WHERE id = 2; COMMIT",
     "ok", [ins("items", 1), ins("items", 2), upd("items", 1),
            ins("other", 1), dele("items", 2)]),
    ("INSERT INTO items(id, v) VALUES(10, 'c')", "ok", [ins("items", 10)]),
    # Each failed statement below is undone alone, without the rollback
    # hook, after its first row was staged; the transaction goes on.
    ("BEGIN; INSERT INTO items(id, v) VALUES(20, 'd');"
     " INSERT INTO stock VALUES(5), (1)", "ok", []),
    ("INSERT INTO items(id, v) VALUES(21, 'e'), (22, 'd'); COMMIT",
     "error UNIQUE constraint failed", []),
    ("UPDATE stock SET qty = qty - 2", "error CHECK constraint failed", []),
    ("INSERT OR FAIL INTO items(id, v) VALUES(23, 'f2'), (24, 'd')",
     "error UNIQUE constraint failed", []),
    ("UPDATE stock SET qty = qty + 1; COMMIT", "ok",
     [ins("items", 20), ins("stock", 1), ins("stock", 2), upd("stock", 1),
      upd("stock", 2)]),
    ("INSERT INTO items(id, v) VALUES(30, 'e'), (31, 'e')",
     "error UNIQUE constraint failed", []),
    ("INSERT OR FAIL INTO items(id, v) VALUES(40, 'f'), (41, 'f')",
     "error UNIQUE constraint failed", [ins("items", 40)]),
    # The refused statement does nothing: the transaction stays open, and
    # so does savepoint s, also once a failed statement was undone in it.
    ("BEGIN; INSERT INTO items(id, v) VALUES(50, 'g'); SAVEPOINT s;"
     " INSERT INTO items(id, v) VALUES(51, 'h'); ROLLBACK TO s; COMMIT",
     "error not authorized", []),
    ("INSERT INTO items(id, v) VALUES(52, 'j'), (53, 'g')",
     "error UNIQUE constraint failed", []),
    ("RELEASE s; COMMIT", "ok", [ins("items", 50), ins("items", 51)]),
    ("SAVEPOINT s; INSERT INTO items(id, v) VALUES(60, 'i'); RELEASE s",
     "ok", [ins("items", 60)]),
    ("BEGIN; UPDATE other SET x = 8; DELETE FROM items WHERE id = 60; COMMIT",
     "ok", [upd("other", 1), dele("items", 60)]),
    ("BEGIN; DELETE FROM other WHERE x > 0; ROLLBACK", "ok", []),
    ("INSERT INTO other VALUES(99)", "ok", [ins("other", 2)]),
]


async def main():
    tmp = tempfile.mkdtemp(prefix="fanhub-sqlite.")
    db = os.path.join(tmp, "test.db")
    with SqliteHost(db) as host:
        ws_all = await ws_connect(host.port, "/ws?topic=table.%3E")
        ws_items = await ws_connect(host.port, "/ws?topic=table.items")
        await expect_hello(ws_all)
        await expect_hello(ws_items)
        sse = SSEReader(host.port, "/sse?topic=table.items")
        sse.wait_comment("connected")

        want = []  # (topic, data, seq)
        for line, status, changes in STEPS:
            got, text, commits = host.sql(line)
            want_got, _, want_text = status.partition(" ")
            check(got == want_got and text.startswith(want_text),
                  f"{line!r}: {got} {text}, want {status}")
            if not changes:
                check(not commits, f"{line!r} published {commits}")
                continue
            check(len(commits) == 1, f"{line!r}: commits {commits}")
            c = parse_commit(commits[0])
            n, seq = c["changes"], c["seq"]
            check(c["lost"] == 0, f"{line!r}: {commits[0]}")
            check(n == len(changes), f"{line!r}: {commits[0]}, want "
                  f"{len(changes)} changes")
            first = seq - len(changes) + 1
            want += [(t, d, first + i) for i, (t, d) in enumerate(changes)]

        check(all(a[2] < b[2] for a, b in zip(want, want[1:])),
              f"seqs not increasing: {want}")
        for name, ws, sub in (("table.>", ws_all, want),
                              ("table.items", ws_items,
                               [w for w in want if w[0] == "table.items"])):
            for i, (topic, data, seq) in enumerate(sub):
                m = await recv_json(ws, what=f"{name} message {i}")
                exp = {"type": "message", "topic": topic, "seq": seq,
                       "data": data}
                check(m == exp, f"{name} message {i}: {m}, want {exp}")
            await expect_silence(ws, 0.3)
            log(f"{name}: {len(sub)} messages, in order, nothing else")
        items = [w for w in want if w[0] == "table.items"]
        for topic, data, seq in items:
            ev = sse.next_event()
            check(ev[1] == topic and ev[0].endswith(f"-{seq}") and
                  ev[2] == '{"op":"%s","rowid":%d}' % (data["op"],
                                                       data["rowid"]),
                  f"SSE event {ev}, want {topic} {seq} {data}")
        check(not sse.read_for(0.3), "extra SSE events")
        sse.close()
        await ws_all.close()
        await ws_items.close()

    # The database holds what the messages said, and nothing rolled back.
    con = sqlite3.connect(db)
    items_rows = dict(con.execute("SELECT id, v FROM items"))
    other_rows = dict(con.execute("SELECT rowid, x FROM other"))
    stock_rows = dict(con.execute("SELECT rowid, qty FROM stock"))
    con.close()
    check(items_rows == {1: "a2", 10: "c", 20: "d", 40: "f", 50: "g",
                         51: "h"}, f"items {items_rows}")
    check(other_rows == {1: 8, 2: 99}, f"other {other_rows}")
    check(stock_rows == {1: 6, 2: 2}, f"stock {stock_rows}")
    os.remove(db)
    os.rmdir(tmp)


if __name__ == "__main__":
    run(main)
