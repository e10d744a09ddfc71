/* sqlite_broadcast: broadcast a SQLite database's row changes, and only
 * those of transactions that really committed.
 *
 *   sqlite_broadcast --db FILE [--listen 127.0.0.1:0]
 *
 * Reads SQL from stdin, one line at a time (a line may hold several
 * statements), and answers each line on stdout with "ok MS" or
 * "error MESSAGE". Clients subscribe over WebSocket or SSE on the listener
 * (any GET: /ws?topic=table.items, /sse?topic=table.%3E); every committed
 * row change arrives on topic "table.<name>" as {"op":"insert","rowid":7}.
 *
 * The pattern (stage in the update hook, publish only once the commit is
 * final, drop what a rollback or a failed statement undid) is explained
 * in sqlite_batch.h, which holds the SQLite side: its hooks stage each row
 * change in a hub_batch, and sqlite_batch_run() runs each statement so
 * that one failing inside a transaction is undone whole, with what it
 * staged. This file publishes the batch after every statement that leaves
 * no transaction open, and prints how long the commit and the publish
 * took.
 *
 * A line stops at its first failing statement. Inside a transaction that
 * statement is undone whole and the transaction stays open, for a later
 * line to COMMIT or ROLLBACK. ROLLBACK TO is refused
 * (sqlite_batch_refuse_rollback_to()). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fanhub.h>
#include <sqlite3.h>

#include "listen_tcp.h"
#include "sqlite_batch.h"

static hub_t *hub;
static hub_batch *batch; /* the open transaction's changes */
static struct sqlite_batch changes; /* SQLite's hooks, staging into batch */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs the statements of `sql` up to the first that fails. After each
 * statement that leaves no transaction open, whatever is still staged was
 * committed (every rollback discards through the rollback hook, every
 * statement undone alone is truncated away): it is published. That holds
 * after an error too: a failing INSERT OR FAIL in autocommit mode commits
 * the rows before it. Returns 0 or -1 (message in err). */
static int run_sql(sqlite3 *db, const char *sql, char *err, size_t errlen) {
  int rc = SQLITE_OK;
  while (*sql && rc == SQLITE_OK) {
    sqlite3_stmt *st = NULL;
    double t0 = now_ms();
    rc = sqlite3_prepare_v2(db, sql, -1, &st, &sql);
    if (rc == SQLITE_OK)
      rc = sqlite_batch_run(&changes, st, err, errlen);
    else
      snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db) || hub_batch_count(batch) == 0)
      continue; /* inside a transaction, or nothing committed */
    /* Committed: the changes are durable, now they may be seen. */
    hub_stats_t st0, st1;
    hub_stats(hub, &st0, sizeof(st0));
    double t1 = now_ms();
    size_t n = hub_batch_count(batch);
    int64_t seq = hub_batch_publish(batch);
    double t2 = now_ms();
    if (seq < 0) { /* ENOMEM or stopping: the commit stands regardless */
      fprintf(stderr, "publish: %s\n", hub_strerror((int)seq));
      hub_batch_discard(batch);
    }
    hub_stats(hub, &st1, sizeof(st1));
    printf("commit %zu changes: commit %.3f ms, publish %.3f ms, seq %lld, "
           "lost %llu\n",
           n, t1 - t0, t2 - t1, (long long)seq,
           (unsigned long long)(st1.queue_overflows - st0.queue_overflows));
  }
  return rc == SQLITE_OK ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *path = NULL, *spec = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--db") == 0)
      path = argv[i + 1];
    else if (strcmp(argv[i], "--listen") == 0)
      spec = argv[i + 1];
  }
  if (!path) {
    fputs("usage: sqlite_broadcast --db FILE [--listen HOST:PORT]\n", stderr);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", path, sqlite3_errmsg(db));
    return 1;
  }
  /* A commit is published in one go, so size the queues for the largest
   * transaction: a client queue that overflows drops the oldest messages
   * (the client is told "lagged"); a full shard queue loses them for every
   * client of the shard, only counted in hub_stats (printed as "lost"). */
  hub_options *o;
  int rv = hub_options_new(&o);
  if (rv == 0)
    rv = hub_options_set_queue_limits(o, 1u << 17, 64u << 20);
  if (rv == 0)
    rv = hub_options_set_shard_queue_size(o, 1u << 18);
  if (rv == 0)
    rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv || (rv = hub_start(hub)) || (rv = hub_batch_new(hub, &batch))) {
    fprintf(stderr, "fanhub: %s\n", hub_strerror(rv));
    return 1;
  }
  /* Each row change on "table.<name>" as {"op":"insert","rowid":7}. */
  sqlite_batch_init(&changes, db, batch, "table.", "rowid");
  sqlite_batch_refuse_rollback_to(&changes); /* stdin's SQL may be anything */
  int lfd = listen_tcp(spec, "sqlite_broadcast");
  if (lfd < 0) {
    fprintf(stderr, "cannot listen on %s: %s\n", spec, strerror(errno));
    return 1;
  }

  /* One thread: accept clients (the hub owns each socket from
   * hub_attach_fd on) and run the SQL lines that arrive on stdin. */
  char *buf = NULL, err[512];
  size_t len = 0, cap = 0;
  /* Out of descriptors or memory, accept4() leaves the connection queued
   * and the listener readable: polled again at once, it would spin until a
   * client leaves. Instead it sits out the next poll(), 100 ms at most. */
  int pause = 0;
  for (int open = 1; open;) {
    struct pollfd pf[2] = {{.fd = pause ? -1 : lfd, .events = POLLIN},
                           {.fd = 0, .events = POLLIN}};
    if (poll(pf, 2, pause ? 100 : -1) < 0 && errno != EINTR)
      break;
    int fd;
    hub_client_id id;
    while (pf[0].revents &&
           (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
      hub_attach_fd(hub, fd, NULL, 0, NULL, &id);
    pause = pf[0].revents && (errno == EMFILE || errno == ENFILE ||
                              errno == ENOBUFS || errno == ENOMEM);
    if (!pf[1].revents)
      continue;
    if (cap - len < 4096 && !(buf = realloc(buf, cap = 2 * cap + 4096)))
      return 1;
    ssize_t r = read(0, buf + len, cap - len - 1);
    open = r > 0;
    len += r > 0 ? (size_t)r : 0;
    if (!open && len > 0 && buf[len - 1] != '\n')
      buf[len++] = '\n'; /* a last line without its newline */
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
      *nl = '\0';
      double t0 = now_ms();
      if (run_sql(db, line, err, sizeof(err)) == 0)
        printf("ok %.3f\n", now_ms() - t0);
      else
        printf("error %s\n", err);
      line = nl + 1;
    }
    len -= (size_t)(line - buf);
    memmove(buf, line, len);
  }
  /* stdin closed: give clients up to 2 s to receive what was committed. */
  close(lfd);
  hub_stop(hub, 2000);
  hub_batch_free(batch);
  hub_free(hub);
  sqlite3_close(db);
  free(buf);
  return 0;
}
