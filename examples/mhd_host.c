/* mhd_host: libmicrohttpd is the HTTP server, fanhub does the fanout, and
 * the broadcasts come from SQLite commits.
 *
 *   mhd_host --db FILE --token SECRET=PRINCIPAL [--token ...]
 *            [--listen 127.0.0.1:0] [--cert PEM --key PEM] [--keepalive MS]
 *
 *   GET /ws?topic=T...   WebSocket: this file answers the upgrade; fanhub
 *                        speaks the frames on the upgraded socket
 *   GET /sse?topic=T...  Server-Sent Events: an MHD response whose body
 *                        fanhub writes through a transport
 *   (both resume from ?since=EPOCH-SEQ or Last-Event-ID, as fanhub's own)
 *   POST /items          inserts each line of the body as a row, in one
 *                        transaction; once it has committed, each row is
 *                        broadcast on "items" ({"op":"insert","rowid":N})
 *                        and who wrote how many on "private.audit"; a
 *                        transaction that fails (a line already stored)
 *                        rolls back: 409, nothing broadcast
 *   GET /metrics, GET /  hub_metrics_text(), a usage line
 * /ws, /sse and /items need a token ("Authorization: Bearer SECRET", or
 * ?token=SECRET where a browser cannot set headers): none is 401, an
 * unknown one 403, decided here before anything is answered. Topics of
 * the "private" family are for principal "admin": others get fanhub's
 * error notice and keep their other topics. With --cert and --key, MHD
 * serves HTTPS with GnuTLS (https://, wss://). SIGTERM or SIGINT: clients
 * are closed (WebSocket 1001, SSE streams end), MHD stops, exit 0.
 *
 * Threads: MHD's one internal thread runs the requests, the upgrade
 * handler, the SSE content readers and SQLite (so it alone uses the
 * batch); fanhub's shard threads write the frames, call the SSE writev
 * and the close callbacks; the main thread waits for a signal. While an
 * SSE stream is idle MHD does not look at its socket, so it notices a
 * client that left only at the next write: the keepalive (--keepalive,
 * default 15000 ms) bounds how long such a connection stays. The hand-over
 * is explained in docs/embedding.md. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fanhub.h>
#include <microhttpd.h>
#include <sqlite3.h>

#include "sqlite_batch.h"

#define MAX_TOKENS 16
#define MAX_BODY (1 << 20)
#define SSE_BUF (16 << 10)

static hub_t *hub;
static sqlite3 *db;
static hub_batch *batch;            /* the open transaction's changes */
static struct sqlite_batch changes; /* SQLite's hooks, staging into batch */
static const char *tokens[MAX_TOKENS][2]; /* secret, principal */
static int ntokens;

/* ---- HTTP helpers ------------------------------------------------------ */

/* What a request keeps between MHD's calls (*req_cls), freed once MHD is
 * done with it: a WebSocket's client options, which the upgrade handler
 * needs after the 101, or a POST's principal and body. */
struct req {
  hub_client_options *copt;
  const char *principal;
  char *body;
  size_t len;
  bool too_big;
};

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct req *r = *req_cls;
  (void)cls, (void)c, (void)toe;
  if (r) {
    hub_client_options_free(r->copt);
    free(r->body);
    free(r);
    *req_cls = NULL;
  }
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
                               const char *type, const char *body) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          type ? type : "text/plain");
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  enum MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* The principal the request's token names; NULL with *status 401 (no
 * token) or 403 (not one of --token). */
static const char *principal_of(struct MHD_Connection *c, unsigned *status) {
  const char *t = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
  if (t && strncasecmp(t, "Bearer ", 7) == 0)
    t += 7;
  else
    t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
  *status = t ? MHD_HTTP_FORBIDDEN : MHD_HTTP_UNAUTHORIZED;
  for (int i = 0; t && i < ntokens; i++)
    if (strcmp(t, tokens[i][0]) == 0)
      return tokens[i][1];
  return NULL;
}

struct query {
  hub_client_options *copt;
  bool bad; /* out of memory */
};

/* Each ?topic= goes to the attach as it is: MHD has decoded the query,
 * and fanhub subscribes, authorizes and checks them once the client is
 * set up (a bad one gets a notice, the 101 being out by then). */
static enum MHD_Result add_topic(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value) {
  struct query *q = cls;
  (void)kind;
  if (strcmp(key, "topic") != 0)
    return MHD_YES;
  q->bad = hub_client_options_add_topic(q->copt, value ? value : "") != 0;
  return q->bad ? MHD_NO : MHD_YES;
}

/* The client options of a stream this host answers: its protocol, the
 * principal (for the SUBSCRIBE decisions), the ?topic= list and their
 * starting point, as fanhub takes them from a request it answers itself:
 * ?since= (unreadable: 400), else Last-Event-ID (an EventSource's
 * reconnection; unreadable: live). Both read as an SSE id. NULL, with
 * *status, for a request not to stream. */
static hub_client_options *stream_options(struct MHD_Connection *c,
                                          hub_protocol proto,
                                          const char *principal,
                                          unsigned *status) {
  struct query q = {NULL, false};
  *status = MHD_HTTP_SERVICE_UNAVAILABLE;
  if (hub_client_options_new(&q.copt))
    return NULL;
  hub_client_options_set_protocol(q.copt, proto);
  q.bad = hub_client_options_set_principal(q.copt, principal) != 0;
  if (!q.bad)
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_topic, &q);
  const char *since =
      MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
  const char *last = header(c, "Last-Event-ID");
  if (!q.bad && since &&
      hub_client_options_set_last_event_id(q.copt, since) != 0) {
    q.bad = true;
    *status = MHD_HTTP_BAD_REQUEST;
  } else if (!q.bad && !since && last) {
    hub_client_options_set_last_event_id(q.copt, last);
  }
  if (q.bad) {
    hub_client_options_free(q.copt);
    return NULL;
  }
  return q.copt;
}

/* ---- WebSocket: MHD's upgrade, fanhub on a dup of the socket ----------- */

/* The upgraded socket stays MHD's: it closes it itself once told with
 * MHD_upgrade_action(CLOSE), and nothing else may close it. fanhub wants
 * an fd it owns and closes. So fanhub gets a dup, and the close callback
 * (after fanhub has closed the dup) gives MHD its CLOSE. The alternative,
 * hub_attach_transport() on MHD's socket, would need a loop of this
 * host's own to read it and feed hub_client_input(); with the dup the
 * shard reads and writes the socket itself. Over TLS the socket is MHD's
 * end of a socketpair carrying plaintext, and the same code holds. */
static void on_upgrade(void *cls, struct MHD_Connection *c, void *req_cls,
                       const char *extra_in, size_t extra_len, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh) {
  struct req *r = req_cls;
  hub_client_id id;
  (void)cls, (void)c;
  hub_client_options_set_user_data(r->copt, urh);
  int fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  int rv = fd < 0 ? HUB_ESYS
                  : hub_attach_fd(hub, fd, extra_in, extra_len, r->copt, &id);
  /* HUB_EINVAL leaves the dup to us; any other failure closed it. Either
   * way no close callback will come. */
  if (rv == HUB_EINVAL)
    close(fd);
  if (rv)
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* On the client's shard thread. MHD_upgrade_action() may be called from
 * any thread: it takes MHD's lock and wakes MHD's thread, which closes the
 * socket. SSE clients carry no user data: their transport's close ends
 * them. */
static void on_close(hub_t *h, const hub_close_info *info, void *user_data) {
  (void)h, (void)user_data;
  if (info->client_user_data)
    MHD_upgrade_action(info->client_user_data, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result websocket(struct MHD_Connection *c, struct req *r) {
  const char *up = header(c, "Upgrade"), *conn = header(c, "Connection");
  const char *key = header(c, "Sec-WebSocket-Key");
  const char *version = header(c, "Sec-WebSocket-Version");
  char accept[29];
  if (!up || strcasecmp(up, "websocket") != 0 || !conn ||
      !strcasestr(conn, "upgrade") || !version || strcmp(version, "13") != 0 ||
      !key || hub_ws_accept_key(key, accept) != 0)
    return respond(c, MHD_HTTP_BAD_REQUEST, NULL,
                   "needs a WebSocket (version 13) upgrade\n");
  unsigned status;
  if (!(r->copt =
            stream_options(c, HUB_PROTO_WEBSOCKET, r->principal, &status)))
    return respond(c, status, NULL, "bad since, or out of memory\n");
  struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, NULL);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
  MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
  enum MHD_Result ret =
      MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* ---- SSE: a response body that a fanhub transport fills ---------------- */

/* fanhub's writev (shard thread) appends to buf, MHD's content reader
 * (MHD's thread) takes from it. Two owners, each letting go once:
 * fanhub's transport close and MHD's free callback. */
struct sse {
  pthread_mutex_t mu;
  struct MHD_Connection *conn;
  hub_client_id id;
  int owners;
  bool suspended; /* by the reader, for want of bytes */
  bool full;      /* writev took less than offered: owes hub_client_writable */
  bool ended;     /* fanhub closed the client: end the body once drained */
  bool gone;      /* MHD is done with the connection */
  size_t len;
  char buf[SSE_BUF];
};

/* Under the lock. MHD's resume is only valid for a suspended connection,
 * and only the reader suspends, under the same lock; a suspended
 * connection is never freed (MHD does not even see its client leave), so
 * the pointer is good here. */
static void sse_wake(struct sse *s) {
  if (s->suspended) {
    s->suspended = false;
    MHD_resume_connection(s->conn);
  }
}

/* Under the lock, which it releases. */
static void sse_release(struct sse *s) {
  bool last = --s->owners == 0;
  pthread_mutex_unlock(&s->mu);
  if (last) {
    pthread_mutex_destroy(&s->mu);
    free(s);
  }
}

static int64_t sse_writev(void *io, const struct iovec *iov, int iovcnt) {
  struct sse *s = io;
  int64_t took = 0;
  pthread_mutex_lock(&s->mu);
  if (s->gone) { /* the client left: closes it */
    pthread_mutex_unlock(&s->mu);
    return HUB_ESYS;
  }
  for (int i = 0; i < iovcnt && !s->full; i++) {
    size_t room = SSE_BUF - s->len;
    size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
    memcpy(s->buf + s->len, iov[i].iov_base, n);
    s->len += n;
    took += (int64_t)n;
    s->full = n < iov[i].iov_len;
  }
  if (took)
    sse_wake(s);
  pthread_mutex_unlock(&s->mu);
  return took;
}

static void sse_close(void *io) {
  struct sse *s = io;
  pthread_mutex_lock(&s->mu);
  s->ended = true;
  sse_wake(s);
  sse_release(s);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max) {
  struct sse *s = cls;
  (void)pos;
  pthread_mutex_lock(&s->mu);
  size_t n = s->len < max ? s->len : max;
  memcpy(out, s->buf, n);
  memmove(s->buf, s->buf + n, s->len - n);
  s->len -= n;
  bool owed = n && s->full;
  if (owed)
    s->full = false;
  if (!n && !s->ended) { /* resumed by the next writev or the close */
    s->suspended = true;
    MHD_suspend_connection(s->conn);
  }
  pthread_mutex_unlock(&s->mu);
  /* Outside the lock: the shard may hold its own while in writev. */
  if (owed)
    hub_client_writable(hub, s->id);
  return n ? (ssize_t)n : s->ended ? MHD_CONTENT_READER_END_OF_STREAM : 0;
}

static void sse_done(void *cls) {
  struct sse *s = cls;
  pthread_mutex_lock(&s->mu);
  s->gone = true;
  bool ended = s->ended;
  hub_client_id id = s->id;
  sse_release(s);
  if (!ended)
    hub_client_close(hub, id, 0);
}

static enum MHD_Result sse_stream(struct MHD_Connection *c,
                                  const char *principal) {
  static const hub_transport tp = {
      .size = sizeof(tp), .writev = sse_writev, .close = sse_close};
  unsigned status;
  hub_client_options *copt =
      stream_options(c, HUB_PROTO_SSE, principal, &status);
  if (!copt)
    return respond(c, status, NULL, "bad since, or out of memory\n");
  struct sse *s = calloc(1, sizeof(*s));
  int rv = s ? 0 : HUB_ENOMEM;
  if (s) {
    pthread_mutex_init(&s->mu, NULL);
    s->conn = c;
    s->owners = 2;
    rv = hub_attach_transport(hub, &tp, s, copt, &s->id);
  }
  hub_client_options_free(copt);
  if (rv) {
    if (s)
      pthread_mutex_destroy(&s->mu);
    free(s);
    return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "no stream\n");
  }
  struct MHD_Response *resp = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_done);
  if (!resp) {
    sse_done(s);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/event-stream");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp); /* not queued: sse_done runs now */
  return ret;
}

/* ---- POST /items ------------------------------------------------------- */

/* One transaction, on MHD's thread (it blocks that thread meanwhile: a
 * busy host would hand it to a worker, with a batch of its own). Any
 * failure rolls the whole transaction back, and with it what was staged:
 * no statement is undone alone (which would take sqlite_batch_run, see
 * sqlite_batch.h). */
static enum MHD_Result post_items(struct MHD_Connection *c, struct req *r) {
  char out[512];
  int rows = 0;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc =
        sqlite3_prepare_v2(db, "INSERT INTO items(v) VALUES(?)", -1, &st, NULL);
  for (char *line = r->body, *end, *stop = r->body + r->len;
       rc == SQLITE_OK && line < stop; line = end + 1) {
    if (!(end = memchr(line, '\n', (size_t)(stop - line))))
      end = stop;
    if (end == line)
      continue;
    sqlite3_bind_text(st, 1, line, (int)(end - line), SQLITE_TRANSIENT);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE && ++rows)
      rc = sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_OK) {
    int n = snprintf(out, sizeof(out), "{\"by\":\"%s\",\"rows\":%d}",
                     r->principal, rows);
    sqlite_batch_add(&changes, "private.audit", out, (size_t)n, HUB_MSG_JSON);
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  }
  if (rc != SQLITE_OK) {
    snprintf(out, sizeof(out), "%s\n", sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db)) /* on_rollback drops what was staged */
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return respond(c, MHD_HTTP_CONFLICT, NULL, out);
  }
  /* Committed: the changes are durable, now they may be seen. */
  int64_t seq = hub_batch_publish(batch);
  if (seq < 0) { /* out of memory or stopping: the commit stands */
    fprintf(stderr, "mhd_host: publish: %s\n", hub_strerror((int)seq));
    hub_batch_discard(batch);
  }
  snprintf(out, sizeof(out), "{\"rows\":%d,\"seq\":%lld}\n", rows,
           (long long)seq);
  return respond(c, MHD_HTTP_OK, "application/json", out);
}

/* ---- Routing ----------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_len, void **req_cls) {
  struct req *r = *req_cls;
  (void)cls, (void)version;
  if (r) { /* a POST's body, then its end */
    if (*data_len) {
      r->too_big = r->too_big || r->len + *data_len > MAX_BODY;
      char *b = r->too_big ? NULL : realloc(r->body, r->len + *data_len);
      if (b) {
        memcpy(b + r->len, data, *data_len);
        r->body = b;
        r->len += *data_len;
      }
      r->too_big = r->too_big || !b;
      *data_len = 0;
      return MHD_YES;
    }
    return r->too_big ? respond(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                                "body too large\n")
                      : post_items(c, r);
  }
  bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
  bool ws = get && strcmp(url, "/ws") == 0, sse = get && !strcmp(url, "/sse");
  bool items =
      strcmp(method, MHD_HTTP_METHOD_POST) == 0 && strcmp(url, "/items") == 0;
  if (get && strcmp(url, "/metrics") == 0) {
    char buf[8192];
    hub_metrics_text(hub, buf, sizeof(buf));
    return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf);
  }
  if (get && strcmp(url, "/") == 0)
    return respond(c, MHD_HTTP_OK, NULL,
                   "mhd_host: GET /ws, GET /sse, POST /items, GET /metrics\n");
  if (!ws && !sse && !items)
    return respond(c, MHD_HTTP_NOT_FOUND, NULL, "not found\n");
  unsigned status;
  const char *principal = principal_of(c, &status);
  if (!principal)
    return respond(c, status, NULL,
                   status == MHD_HTTP_UNAUTHORIZED ? "missing token\n"
                                                   : "unknown token\n");
  if (sse)
    return sse_stream(c, principal);
  if (!(r = *req_cls = calloc(1, sizeof(*r))))
    return MHD_NO;
  r->principal = principal;
  return ws ? websocket(c, r) : MHD_YES; /* a POST: its body comes next */
}

/* SUBSCRIBE only: the host answered every request, so no CONNECT comes.
 * The "private" family is admin's, and so is any pattern that could match
 * into it ("*", ">", "*.audit"), whatever the first token: checked here
 * on the first token alone. */
static int auth(hub_t *h, const hub_auth_request *req, hub_auth_result *res,
                void *user_data) {
  (void)h, (void)user_data;
  const char *dot = memchr(req->topic, '.', req->topic_len);
  size_t first = dot ? (size_t)(dot - req->topic) : req->topic_len;
  bool private = (first == 7 && memcmp(req->topic, "private", 7) == 0) ||
                 (first == 1 && (req->topic[0] == '*' || req->topic[0] == '>'));
  if (private && strcmp(req->principal, "admin") != 0) {
    res->reason = "private topics are for admin";
    return HUB_AUTH_DENY;
  }
  return HUB_AUTH_ALLOW;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
      fread(buf, 1, (size_t)n, f) == (size_t)n)
    buf[n] = '\0';
  else
    free(buf), buf = NULL;
  if (f)
    fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  const char *spec = "127.0.0.1:0", *path = NULL, *cert_file = NULL,
             *key_file = NULL;
  unsigned keepalive = 15000;
  bool usage = argc % 2 == 0;
  for (int i = 1; i + 1 < argc && !usage; i += 2) {
    const char *a = argv[i], *v = argv[i + 1], *eq = strchr(v, '=');
    if (strcmp(a, "--db") == 0)
      path = v;
    else if (strcmp(a, "--listen") == 0)
      spec = v;
    else if (strcmp(a, "--cert") == 0)
      cert_file = v;
    else if (strcmp(a, "--key") == 0)
      key_file = v;
    else if (strcmp(a, "--keepalive") == 0)
      keepalive = (unsigned)atoi(v);
    /* Principals go into JSON as they are: plain names only. */
    else if (strcmp(a, "--token") == 0 && eq && eq > v && eq[1] &&
             ntokens < MAX_TOKENS &&
             strspn(eq + 1, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                 strlen(eq + 1)) {
      argv[i + 1][eq - v] = '\0';
      tokens[ntokens][0] = v;
      tokens[ntokens++][1] = eq + 1;
    } else
      usage = true;
  }
  char *cert = cert_file ? slurp(cert_file) : NULL;
  char *key = key_file ? slurp(key_file) : NULL;
  if (usage || !path || !ntokens || !cert != !cert_file || !key != !key_file ||
      !cert != !key) {
    fputs("usage: mhd_host --db FILE --token SECRET=PRINCIPAL [--token ...]"
          " [--listen HOST:PORT] [--cert PEM --key PEM] [--keepalive MS]\n",
          stderr);
    return 2;
  }

  /* Signals go to the main thread's sigwait(): MHD's and fanhub's threads
   * inherit the mask. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY,"
                   " v TEXT NOT NULL UNIQUE)",
                   NULL, NULL, NULL) != SQLITE_OK) {
    fprintf(stderr, "mhd_host: %s: %s\n", path, sqlite3_errmsg(db));
    return 1;
  }
  hub_options *o;
  int rv = hub_options_new(&o);
  if (rv == 0)
    rv = hub_options_set_sse_keepalive(o, keepalive);
  if (rv == 0)
    rv = hub_options_set_close_callback(o, on_close, NULL);
  if (rv == 0)
    rv = hub_options_set_auth_callback(o, auth, NULL);
  if (rv == 0)
    rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv || (rv = hub_start(hub)) || (rv = hub_batch_new(hub, &batch))) {
    fprintf(stderr, "mhd_host: fanhub: %s\n", hub_strerror(rv));
    return 1;
  }
  /* Each row change on topic "<table>" as {"op":"insert","rowid":N},
   * staged in batch until post_items publishes it after COMMIT. */
  sqlite_batch_init(&changes, db, batch, "", "rowid");

  char host[64];
  const char *colon = strrchr(spec, ':');
  struct sockaddr_in sa = {.sin_family = AF_INET};
  snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - spec) : 0, spec);
  sa.sin_port = htons((uint16_t)(colon ? atoi(colon + 1) : 0));
  /* Suspend/resume for the SSE readers, upgrades for WebSocket; MHD's own
   * thread, so that a resume from a shard thread wakes it. */
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG |
                   (cert ? MHD_USE_TLS : 0);
  struct MHD_OptionItem tls[] = {{MHD_OPTION_HTTPS_MEM_CERT, 0, cert},
                                 {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
                                 {MHD_OPTION_END, 0, NULL}};
  struct MHD_Daemon *d =
      inet_pton(AF_INET, host, &sa.sin_addr) != 1
          ? NULL
          : MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                &sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                MHD_OPTION_ARRAY, cert ? tls : tls + 2, MHD_OPTION_END);
  const union MHD_DaemonInfo *info =
      d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
  if (!info) {
    fprintf(stderr, "mhd_host: cannot serve on %s\n", spec);
    return 1;
  }
  printf("mhd_host listening on %s://%s:%u/\n", cert ? "https" : "http", host,
         info->port);
  fflush(stdout);

  int sig;
  sigwait(&sigs, &sig);
  fprintf(stderr, "mhd_host: signal %d, shutting down\n", sig);
  /* No new connections; then every client is closed, which ends the SSE
   * bodies and hands MHD the upgraded sockets back (it must have none
   * suspended by then: MHD_stop_daemon() aborts on those). MHD needs a
   * moment to send the bodies' last chunk and close what it was handed;
   * it has no call that waits for that, so its connection count is
   * polled, for a second at most. Then MHD stops, cutting what is left. */
  MHD_socket lfd = MHD_quiesce_daemon(d);
  hub_stop(hub, 1000);
  for (int i = 0;
       i < 100 && MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                      ->num_connections;
       i++)
    usleep(10000);
  MHD_stop_daemon(d);
  if (lfd != MHD_INVALID_SOCKET)
    close(lfd);
  hub_batch_free(batch);
  hub_free(hub);
  sqlite3_close(db);
  free(cert);
  free(key);
  return 0;
}
