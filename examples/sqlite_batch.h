/* sqlite_batch: broadcast a SQLite connection's row changes through a
 * hub_batch, and only those of transactions that really committed. The
 * SQLite glue of the host examples sqlite_broadcast.c, evhttp_host.c and
 * mhd_host.c; the hub, the batch and the publishing stay theirs.
 *
 * The pattern, for any database with change hooks:
 *   update hook    stages one broadcast per row change (hub_batch_add):
 *                  topic PREFIX<table>, {"op":"insert","ID_KEY":ROWID}
 *                  ("update", "delete"), HUB_MSG_JSON
 *   commit hook    never publishes: it runs before the commit is final (the
 *                  COMMIT can still fail); it only vetoes a commit whose
 *                  changes could not all be staged (better no commit than
 *                  a commit whose broadcast would miss changes)
 *   rollback hook  drops what was staged (hub_batch_discard)
 *   a statement    that fails inside a transaction that stays open was
 *                  undone by the database alone, and no hook said so:
 *                  what it staged goes with it (sqlite_batch_run(), which
 *                  takes hub_batch_count() before and hub_batch_truncate()s
 *                  back to it, under a savepoint, see there)
 *   the host       calls hub_batch_publish() once a statement or COMMIT
 *                  has left the connection in autocommit mode
 *                  (sqlite3_get_autocommit()): what is still staged then
 *                  was committed and is durable, so it may be seen; that
 *                  holds after a failed statement too (INSERT OR FAIL in
 *                  autocommit mode commits the rows before the failure).
 *                  Should the publish fail (out of memory, the hub
 *                  stopping), the commit stands regardless: the host
 *                  hub_batch_discard()s.
 * A host whose transactions always roll back whole on any failure (one
 * BEGIN ... COMMIT, ROLLBACK on error) needs only the hooks and the
 * publish: every rollback goes through the rollback hook.
 *
 * All of it runs on the one thread that uses the connection, which also
 * owns the batch. Not covered by the update hook (SQLite's rules): WITHOUT
 * ROWID tables, rows deleted by REPLACE conflict resolution or by the
 * truncate optimization (DELETE without WHERE and without triggers).
 *
 * Savepoints: ROLLBACK TO undoes rows without a hook either. Following it
 * would take a mark (hub_batch_count()) per savepoint name, kept by
 * SQLite's nesting rules, to truncate to; sqlite_batch does not, so a
 * connection that runs SQL the host did not write refuses it
 * (sqlite_batch_refuse_rollback_to()). */
#ifndef SQLITE_BATCH_H
#define SQLITE_BATCH_H

#include <stddef.h>

#include <fanhub.h>
#include <sqlite3.h>

struct sqlite_batch {
  sqlite3 *db;
  hub_batch *batch;   /* the open transaction's changes */
  const char *prefix; /* of each topic, before the table's name */
  const char *id_key; /* the rowid's name in the JSON */
  int stage_failed;   /* a change of it could not be staged */
  int own_sql;        /* sqlite_batch_run's own ROLLBACK TO is running */
};

/* Sets up `sb` and installs its update, commit and rollback hooks on `db`
 * (replacing any the connection had). `prefix` and `id_key` must outlive
 * it; so must `batch`, which the host creates (hub_batch_new()), publishes
 * and frees. */
void sqlite_batch_init(struct sqlite_batch *sb, sqlite3 *db, hub_batch *batch,
                       const char *prefix, const char *id_key);

/* Stages one more broadcast of the open transaction, as the update hook
 * does for each row: one that cannot be staged vetoes the COMMIT. For
 * messages of the host's own that go with the transaction. */
void sqlite_batch_add(struct sqlite_batch *sb, const char *topic,
                      const void *data, size_t len, unsigned flags);

/* Runs the prepared statement `st` (NULL: nothing to run) to its end and
 * finalizes it. Inside a transaction SQLite undoes a failed statement
 * without the rollback hook, and under OR FAIL (a clause, the table's ON
 * CONFLICT or a trigger's RAISE(FAIL)) only in part, keeping rows whose
 * broadcasts the batch cannot tell apart from the others. So a statement
 * that may write inside a transaction runs under a savepoint of its own
 * (SAVEPOINT fanhub_stmt), and one that fails is undone whole, back to the
 * batch count taken before it (or, should that fail too, the whole
 * transaction is rolled back: a row staged and not undone, or undone and
 * still staged, must never be published). Transaction control (BEGIN,
 * COMMIT, SAVEPOINT, RELEASE) counts as read-only and runs bare:
 * releasing ours must not release a savepoint it set.
 * Returns SQLite's result code; on failure `err` holds SQLite's message
 * (taken before the undo). */
int sqlite_batch_run(struct sqlite_batch *sb, sqlite3_stmt *st, char *err,
                     size_t errlen);

/* Installs an authorizer that refuses ROLLBACK TO (see the top), but for
 * sqlite_batch_run's own; replaces any authorizer the connection had. */
void sqlite_batch_refuse_rollback_to(struct sqlite_batch *sb);

#endif
