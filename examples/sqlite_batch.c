/* sqlite_batch: see sqlite_batch.h. */
#include "sqlite_batch.h"

#include <stdio.h>
#include <string.h>

void sqlite_batch_add(struct sqlite_batch *sb, const char *topic,
                      const void *data, size_t len, unsigned flags) {
  if (hub_batch_add(sb->batch, topic, data, len, flags) != 0)
    sb->stage_failed = 1;
}

static void on_update(void *arg, int op, const char *dbname, const char *table,
                      sqlite3_int64 rowid) {
  struct sqlite_batch *sb = arg;
  (void)dbname;
  char topic[256], data[80];
  const char *name = op == SQLITE_INSERT   ? "insert"
                     : op == SQLITE_UPDATE ? "update"
                                           : "delete";
  int n = snprintf(data, sizeof(data), "{\"op\":\"%s\",\"%s\":%lld}", name,
                   sb->id_key, (long long)rowid);
  if (n < 0 || n >= (int)sizeof(data) ||
      snprintf(topic, sizeof(topic), "%s%s", sb->prefix, table) >=
          (int)sizeof(topic))
    sb->stage_failed = 1;
  else
    sqlite_batch_add(sb, topic, data, (size_t)n, HUB_MSG_JSON);
}

/* Non-zero turns the COMMIT into a ROLLBACK. */
static int on_commit(void *arg) {
  struct sqlite_batch *sb = arg;
  return sb->stage_failed;
}

static void on_rollback(void *arg) {
  struct sqlite_batch *sb = arg;
  hub_batch_discard(sb->batch);
  sb->stage_failed = 0;
}

void sqlite_batch_init(struct sqlite_batch *sb, sqlite3 *db, hub_batch *batch,
                       const char *prefix, const char *id_key) {
  *sb = (struct sqlite_batch){
      .db = db, .batch = batch, .prefix = prefix, .id_key = id_key};
  sqlite3_update_hook(db, on_update, sb);
  sqlite3_commit_hook(db, on_commit, sb);
  sqlite3_rollback_hook(db, on_rollback, sb);
}

static int authorize(void *arg, int action, const char *a1, const char *a2,
                     const char *a3, const char *a4) {
  struct sqlite_batch *sb = arg;
  (void)a2, (void)a3, (void)a4;
  return action == SQLITE_SAVEPOINT && strcmp(a1, "ROLLBACK") == 0 &&
                 !sb->own_sql
             ? SQLITE_DENY
             : SQLITE_OK;
}

void sqlite_batch_refuse_rollback_to(struct sqlite_batch *sb) {
  sqlite3_set_authorizer(sb->db, authorize, sb);
}

/* Undoes what ran since "SAVEPOINT fanhub_stmt" and drops what it staged,
 * the broadcasts after the first `mark`. Failing that, the whole
 * transaction goes (through on_rollback). */
static void undo_statement(struct sqlite_batch *sb, size_t mark,
                           int stage_failed_before) {
  sb->own_sql = 1;
  int rc = sqlite3_exec(sb->db, "ROLLBACK TO fanhub_stmt; RELEASE fanhub_stmt",
                        NULL, NULL, NULL);
  sb->own_sql = 0;
  if (rc == SQLITE_OK && hub_batch_truncate(sb->batch, mark) == 0)
    sb->stage_failed = stage_failed_before;
  else
    sqlite3_exec(sb->db, "ROLLBACK", NULL, NULL, NULL);
}

int sqlite_batch_run(struct sqlite_batch *sb, sqlite3_stmt *st, char *err,
                     size_t errlen) {
  sqlite3 *db = sb->db;
  int guard = st && !sqlite3_get_autocommit(db) && !sqlite3_stmt_readonly(st);
  size_t mark = hub_batch_count(sb->batch);
  int stage_failed_before = sb->stage_failed;
  int rc = guard ? sqlite3_exec(db, "SAVEPOINT fanhub_stmt", NULL, NULL, NULL)
                 : SQLITE_OK;
  if (rc == SQLITE_OK && st) {
    while (sqlite3_step(st) == SQLITE_ROW)
      ;
    rc = sqlite3_finalize(st);
  } else {
    sqlite3_finalize(st); /* not run: keeps the error of what failed */
  }
  guard = guard && !sqlite3_get_autocommit(db);
  if (guard && rc == SQLITE_OK)
    rc = sqlite3_exec(db, "RELEASE fanhub_stmt", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    if (guard)
      undo_statement(sb, mark, stage_failed_before);
  }
  return rc;
}
