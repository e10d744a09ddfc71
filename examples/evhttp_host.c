/* evhttp_host: libevent's evhttp is the HTTP server, fanhub does the
 * fanout, and SQLite commits are what is broadcast.
 *
 *   evhttp_host --db FILE [--listen 127.0.0.1:0] [--token SECRET=WHO]...
 *
 *   GET  /ws?topic=T...   WebSocket: evhttp routes the request, this file
 *                         answers the upgrade and hands the socket to the
 *                         hub (hub_attach_fd, HUB_PROTO_WEBSOCKET)
 *   GET  /sse?topic=T...  Server-Sent Events: this file answers with the
 *                         stream's head and keeps the connection, the hub
 *                         writes through a transport (hub_attach_transport,
 *                         HUB_PROTO_SSE); Last-Event-ID resumes
 *   POST /items           one name per body line, inserted in one
 *                         transaction; each row committed is broadcast on
 *                         topic "items" as {"op":"insert","id":N}; answers
 *                         {"ids":[...],"seq":N}, or 409 and nothing
 *                         broadcast when any row fails
 *
 * Every request needs "Authorization: Bearer SECRET" (or ?token=SECRET)
 * for a --token SECRET=WHO: evhttp answers 401 without one, and 403 to a
 * POST /items by anyone but "admin". The hub's auth callback keeps topics
 * under "private." for "admin": anyone else gets an error notice.
 *
 * One thread: the hub has no threads of its own (host-loop mode), each
 * shard's fd is an event of the libevent loop, so evhttp, the hub's
 * callbacks and transports, and SQLite never run at the same time and
 * share nothing that needs a lock. SIGINT/SIGTERM: the listener goes, the
 * hub stops (1 s to drain), the SSE streams flush, and the loop ends. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h> /* before event2/: evhttp's header lists are TAILQs */
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fanhub.h>
#include <sqlite3.h>

#include "sqlite_batch.h"

#define SHARDS 2
#define MAX_TOKENS 8
/* Output an SSE stream may have waiting in its bufferevent before the
 * hub is told "full" and keeps the rest in the client's own queue, under
 * its caps and write timeout. */
#define STREAM_BUFFER (256 * 1024)

static hub_t *hub;
static hub_batch *batch;            /* the open transaction's changes */
static struct sqlite_batch changes; /* SQLite's hooks, staging into batch */
static sqlite3 *db;
static struct event_base *base;
static struct evhttp *http;
static struct evhttp_bound_socket *bound;
static struct event *shard_ev[SHARDS], *resume_ev, *sig_ev[2];
static int placeholder; /* /dev/null, put under a WebSocket's old fd */
static int stopping, flushing;
static struct { const char *secret, *who; } tokens[MAX_TOKENS];
static int ntokens;

/* --- HTTP helpers ------------------------------------------------------ */

static void reply(struct evhttp_request *req, int status, const char *type,
                  const char *text) {
  struct evbuffer *b = evbuffer_new();
  struct evkeyvalq *h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", type);
  if (status == 401)
    evhttp_add_header(h, "WWW-Authenticate", "Bearer");
  if (b)
    evbuffer_add_printf(b, "%s\n", text);
  evhttp_send_reply(req, status, NULL, b);
  if (b)
    evbuffer_free(b);
}

/* Who the request's bearer token says it is, or NULL. No cookies are
 * involved, so a page of another origin cannot borrow a user's
 * credential: there is no Origin to check. */
static const char *principal(struct evhttp_request *req,
                             const struct evkeyvalq *query) {
  const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
                                        "Authorization");
  const char *t = auth && strncasecmp(auth, "Bearer ", 7) == 0
                      ? auth + 7
                      : evhttp_find_header(query, "token");
  for (int i = 0; t && i < ntokens; i++)
    if (strcmp(t, tokens[i].secret) == 0)
      return tokens[i].who;
  return NULL;
}

/* Parses the query and checks method and credential; answers and
 * returns NULL when the request goes no further. */
static const char *admit(struct evhttp_request *req, enum evhttp_cmd_type cmd,
                         struct evkeyvalq *query) {
  const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
  TAILQ_INIT(query);
  if (evhttp_request_get_command(req) != cmd) {
    reply(req, 405, "text/plain", "method not allowed");
    return NULL;
  }
  if (q && evhttp_parse_query_str(q, query) != 0) {
    reply(req, 400, "text/plain", "bad query");
    return NULL;
  }
  const char *who = principal(req, query);
  if (!who)
    reply(req, 401, "text/plain", "a valid bearer token is needed");
  return who;
}

/* The options of a stream client: what it speaks, who it is, and each
 * ?topic= of its query as it came (percent-decoded), for the hub to
 * authorize and limit like the client's own subscribes. */
static hub_client_options *stream_options(hub_protocol proto, const char *who,
                                          const struct evkeyvalq *query) {
  hub_client_options *copt;
  if (hub_client_options_new(&copt) != 0)
    return NULL;
  int rv = hub_client_options_set_protocol(copt, proto);
  if (rv == 0)
    rv = hub_client_options_set_principal(copt, who);
  for (struct evkeyval *kv = TAILQ_FIRST(query); kv && rv == 0;
       kv = TAILQ_NEXT(kv, next))
    if (strcmp(kv->key, "topic") == 0)
      rv = hub_client_options_add_topic(copt, kv->value);
  if (rv == 0)
    return copt;
  hub_client_options_free(copt);
  return NULL;
}

/* --- GET /ws: answered here, then the socket is the hub's -------------- */

/* Whether the comma-separated header value `v` lists `token`. */
static int lists(const char *v, const char *token) {
  size_t n = strlen(token);
  for (const char *p = v; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
    p += strspn(p, " \t");
    if (strncasecmp(p, token, n) == 0 &&
        (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
      return 1;
  }
  return 0;
}

/* evhttp cannot let go of a connection: evhttp_connection_free() always
 * shutdown()s the socket's write side and closes the descriptor it was
 * given, and a shutdown acts on the socket, every dup of it included.
 * So the handover goes:
 *   - the 101 is written straight to the socket. evhttp has written
 *     nothing for this request and has nothing else pending (it reads a
 *     request only once the answer before it is out), and it stopped
 *     reading before it called us: nothing comes before or after it.
 *   - `own`, a dup of the socket, is the hub's from hub_attach_fd() on:
 *     only the hub reads, writes and finally closes it.
 *   - dup2() puts /dev/null under evhttp's descriptor, so the shutdown and
 *     close of evhttp_connection_free() land there (it has no event left
 *     on that descriptor: reading was disabled, writing never enabled).
 *   - what evhttp read past the request, the client's first frames sent
 *     without waiting for the 101, is in its input buffer: the hub gets
 *     it as `head`, copied before the connection is freed. */
static void on_ws(struct evhttp_request *req, void *arg) {
  (void)arg;
  struct evkeyvalq query;
  const char *who = admit(req, EVHTTP_REQ_GET, &query);
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const char *upgrade = evhttp_find_header(in, "Upgrade"),
             *conn = evhttp_find_header(in, "Connection"),
             *version = evhttp_find_header(in, "Sec-WebSocket-Version");
  char accept[29];
  hub_client_options *copt = NULL;
  if (!who) {
    /* answered */
  } else if (!upgrade || strcasecmp(upgrade, "websocket") != 0 || !conn ||
             !lists(conn, "upgrade") ||
             hub_ws_accept_key(evhttp_find_header(in, "Sec-WebSocket-Key"), accept)) {
    reply(req, 400, "text/plain", "not a WebSocket upgrade");
  } else if (!version || strcmp(version, "13") != 0) {
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Sec-WebSocket-Version", "13");
    reply(req, 426, "text/plain", "WebSocket version 13 only");
  } else if (!(copt = stream_options(HUB_PROTO_WEBSOCKET, who, &query))) {
    reply(req, 400, "text/plain", "bad topic");
  } else {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    struct evbuffer *early = bufferevent_get_input(bev);
    int fd = bufferevent_getfd(bev), own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    if (own < 0) { /* out of descriptors: evhttp still owns it all */
      reply(req, 503, "text/plain", "busy");
    } else {
      /* A fresh socket takes a 160-byte write whole; one that does not
       * is broken or its peer reads nothing: it is dropped. */
      int sent = send(own, head, (size_t)n, MSG_NOSIGNAL) == n;
      size_t elen = evbuffer_get_length(early);
      hub_client_id id;
      dup2(placeholder, fd);
      /* A topic the hub refuses (empty, too long, a malformed pattern)
       * gets the client a "bad-topic" notice after the 101, as one it
       * subscribed to itself would. */
      if (!sent || hub_attach_fd(hub, own, evbuffer_pullup(early, -1), elen,
                                 copt, &id) == HUB_EINVAL)
        close(own); /* any other failure: the hub has closed it */
      evhttp_connection_free(evcon);
    }
  }
  hub_client_options_free(copt);
  evhttp_clear_headers(&query);
}

/* --- GET /sse: the connection stays evhttp's, the hub writes to it ----- */

struct stream {
  struct evhttp_connection *evcon;
  struct bufferevent *bev;
  hub_client_id id;
  int full;     /* writev took less than offered: tell the hub once out */
  int gone;     /* the peer closed or the socket failed */
  int closed;   /* the hub released it (transport close) */
  int flushing; /* closed, its last bytes still going out */
};

/* The last stream to flush after hub_stop() ends the loop (on_signal
 * ends it if none has to). */
static void stream_free(struct stream *s) {
  evhttp_connection_free(s->evcon); /* shutdown, close, and the request */
  if (s->flushing && --flushing == 0 && stopping)
    event_base_loopbreak(base);
  free(s);
}

/* On this thread, inside hub_shard_run(). */
static int64_t stream_writev(void *io_user, const struct iovec *iov,
                             int iovcnt) {
  struct stream *s = io_user;
  struct evbuffer *out = bufferevent_get_output(s->bev);
  size_t have = evbuffer_get_length(out), took = 0, offered = 0;
  if (s->gone)
    return HUB_ESYS;
  for (int i = 0; i < iovcnt; i++) {
    size_t room = have + took < STREAM_BUFFER ? STREAM_BUFFER - have - took : 0;
    size_t k = iov[i].iov_len < room ? iov[i].iov_len : room;
    offered += iov[i].iov_len;
    if (k && evbuffer_add(out, iov[i].iov_base, k) != 0)
      return took ? (int64_t)took : HUB_ENOMEM;
    took += k;
  }
  s->full = took < offered;
  return (int64_t)took;
}

/* The hub is done with the stream: what it wrote still goes out, within
 * 2 s, then evhttp closes the connection (the stream's end). */
static void stream_close(void *io_user) {
  struct stream *s = io_user;
  s->closed = 1;
  if (s->gone || evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
    stream_free(s);
    return;
  }
  struct timeval flush = {2, 0};
  s->flushing = 1;
  flushing++;
  bufferevent_set_timeouts(s->bev, NULL, &flush);
}

static const hub_transport stream_tp = {
    .size = sizeof(hub_transport), .writev = stream_writev, .close = stream_close};

/* An SSE client has nothing to say; its bytes are dropped. */
static void stream_read(struct bufferevent *bev, void *arg) {
  (void)arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  evbuffer_drain(in, evbuffer_get_length(in));
}

/* The output is empty. */
static void stream_written(struct bufferevent *bev, void *arg) {
  (void)bev;
  struct stream *s = arg;
  if (s->closed) {
    stream_free(s);
  } else if (s->full) {
    s->full = 0;
    hub_client_writable(hub, s->id);
  }
}

/* EOF, an error, or the flush timeout. */
static void stream_event(struct bufferevent *bev, short what, void *arg) {
  struct stream *s = arg;
  (void)what;
  bufferevent_disable(bev, EV_READ | EV_WRITE);
  if (s->closed) {
    stream_free(s);
  } else if (!s->gone) {
    s->gone = 1;
    hub_client_close(hub, s->id, 0); /* the hub then calls stream_close */
  }
}

/* The head has no Content-Length and no chunked encoding (which
 * evhttp_send_reply_start() would choose for HTTP/1.1): the hub writes
 * raw event-stream bytes, so the body is delimited by the connection's
 * end, and the connection is not reused. */
static void on_sse(struct evhttp_request *req, void *arg) {
  (void)arg;
  struct evkeyvalq query;
  const char *who = admit(req, EVHTTP_REQ_GET, &query);
  const char *last = evhttp_find_header(evhttp_request_get_input_headers(req),
                                        "Last-Event-ID");
  hub_client_options *copt = NULL;
  struct stream *s = NULL;
  if (!who) {
    /* answered */
  } else if (!(copt = stream_options(HUB_PROTO_SSE, who, &query))) {
    reply(req, 400, "text/plain", "bad topic");
  } else if (!(s = calloc(1, sizeof(*s)))) {
    reply(req, 503, "text/plain", "out of memory");
  } else {
    if (last) /* anything but a fanhub id: the stream starts live */
      hub_client_options_set_last_event_id(copt, last);
    s->evcon = evhttp_request_get_connection(req);
    s->bev = evhttp_connection_get_bufferevent(s->evcon);
    struct evbuffer *out = bufferevent_get_output(s->bev);
    /* The head goes first, so it precedes anything the hub writes. */
    evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/event-stream\r\n"
                             "Cache-Control: no-cache\r\n"
                             "Connection: close\r\n\r\n");
    int rv = hub_attach_transport(hub, &stream_tp, s, copt, &s->id);
    if (rv != 0) { /* the stream is still ours: answer with evhttp */
      evbuffer_drain(out, evbuffer_get_length(out));
      free(s);
      reply(req, 503, "text/plain", hub_strerror(rv));
    } else {
      /* From here on evhttp's own callbacks never run for it again, nor
       * its timeouts: the connection is the stream's until stream_free. */
      bufferevent_setcb(s->bev, stream_read, stream_written, stream_event, s);
      bufferevent_set_timeouts(s->bev, NULL, NULL);
      bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    }
  }
  hub_client_options_free(copt);
  evhttp_clear_headers(&query);
}

/* --- POST /items --------------------------------------------------------- */

/* One transaction for the whole body: any failure rolls it all back, so
 * the rollback hook drops everything staged and no statement is ever
 * undone alone (which would take sqlite_batch_run, see sqlite_batch.h). */
static void on_items(struct evhttp_request *req, void *arg) {
  sqlite3_stmt *ins = arg;
  struct evkeyvalq query;
  const char *who = admit(req, EVHTTP_REQ_POST, &query);
  evhttp_clear_headers(&query);
  if (!who)
    return;
  if (strcmp(who, "admin") != 0) {
    reply(req, 403, "text/plain", "only admin adds items");
    return;
  }
  struct evbuffer *body = evhttp_request_get_input_buffer(req),
                  *out = evbuffer_new();
  if (!out) {
    reply(req, 503, "text/plain", "out of memory");
    return;
  }
  char *line, err[256];
  size_t n;
  int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), k = 0;
  evbuffer_add(body, "\n", 1); /* a last line without its newline */
  evbuffer_add_printf(out, "{\"ids\":[");
  while (rc == SQLITE_OK &&
         (line = evbuffer_readln(body, &n, EVBUFFER_EOL_LF))) {
    if (n > 0) {
      sqlite3_bind_text(ins, 1, line, (int)n, SQLITE_TRANSIENT);
      rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
      sqlite3_reset(ins);
    }
    if (n > 0 && rc == SQLITE_OK)
      evbuffer_add_printf(out, "%s%lld", k++ ? "," : "",
                          (long long)sqlite3_last_insert_rowid(db));
    free(line);
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db)) /* a failed COMMIT may have ended it */
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    reply(req, (rc & 0xff) == SQLITE_CONSTRAINT ? 409 : 500, "text/plain", err);
  } else {
    /* Committed: the rows are durable, now they may be seen. */
    int64_t seq = hub_batch_publish(batch);
    if (seq < 0) { /* out of memory or stopping: the commit stands */
      hub_batch_discard(batch);
      snprintf(err, sizeof(err), "committed, not broadcast: %s",
               hub_strerror((int)seq));
      reply(req, 500, "text/plain", err);
    } else {
      evbuffer_add_printf(out, "],\"seq\":%lld}\n", (long long)seq);
      evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                        "application/json");
      evhttp_send_reply(req, 200, NULL, out);
    }
  }
  evbuffer_free(out);
}

/* --- the hub's auth callback: SUBSCRIBE only -------------------------- */

/* Topics under "private." are admin's. A pattern whose first token is a
 * wildcard ("*.x", ">") can match them too, so it is admin's as well. No
 * CONNECT is asked: this file answered the request (HUB_PROTO_WEBSOCKET,
 * HUB_PROTO_SSE) and gave the principal. */
static int authorize(hub_t *h, const hub_auth_request *r, hub_auth_result *res,
                     void *arg) {
  (void)h, (void)arg;
  const char *dot = memchr(r->topic, '.', r->topic_len);
  size_t first = dot ? (size_t)(dot - r->topic) : r->topic_len;
  if (r->kind != HUB_AUTH_SUBSCRIBE || strcmp(r->principal, "admin") == 0 ||
      !((first == 7 && memcmp(r->topic, "private", 7) == 0) ||
        (first == 1 && (r->topic[0] == '*' || r->topic[0] == '>'))))
    return HUB_AUTH_ALLOW;
  res->reason = "private topics are admin's";
  return HUB_AUTH_DENY;
}

/* --- the loop ------------------------------------------------------------ */

static void on_shard(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  int rv = hub_shard_run(hub, (int)(intptr_t)arg, 0);
  if (rv < 0)
    fprintf(stderr, "evhttp_host: shard: %s\n", hub_strerror(rv));
}

/* libevent calls this for accept() errors it cannot retry at once: out
 * of descriptors or kernel memory, with the connection still queued. The
 * listener would be readable again at once and spin: it sits out 100 ms
 * instead. */
static void on_accept_error(struct evconnlistener *l, void *arg) {
  (void)arg;
  struct timeval pause = {0, 100000};
  evconnlistener_disable(l);
  evtimer_add(resume_ev, &pause);
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
  evconnlistener_enable(evhttp_bound_socket_get_listener(bound));
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what, (void)arg;
  if (stopping)
    return; /* a second signal while stopping */
  fprintf(stderr, "evhttp_host: signal %d, shutting down\n", (int)sig);
  stopping = 1;
  event_del(resume_ev);
  evhttp_del_accept_socket(http, bound); /* no new clients */
  /* With no threads, hub_stop() runs the shards itself until they are
   * done: it holds this loop for up to the drain time. SSE streams then
   * flush from the loop (stream_close); the last one ends it. */
  hub_stop(hub, 1000);
  for (int i = 0; i < SHARDS; i++)
    event_del(shard_ev[i]);
  if (flushing == 0)
    event_base_loopbreak(base);
}

static int listen_on(const char *spec) {
  char host[64];
  const char *colon = strrchr(spec, ':');
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  if (!colon || (size_t)(colon - spec) >= sizeof(host))
    return -1;
  snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
  if (!(bound = evhttp_bind_socket_with_handle(http, host,
                                               (uint16_t)atoi(colon + 1))) ||
      getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sa,
                  &sl))
    return -1;
  evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound),
                              on_accept_error);
  printf("evhttp_host listening on http://%s:%u/\n", host, ntohs(sa.sin_port));
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL, *spec = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    char *eq = strchr(argv[i + 1], '=');
    if (strcmp(argv[i], "--db") == 0) {
      path = argv[i + 1];
    } else if (strcmp(argv[i], "--listen") == 0) {
      spec = argv[i + 1];
    } else if (strcmp(argv[i], "--token") == 0 && eq && ntokens < MAX_TOKENS) {
      *eq = '\0';
      tokens[ntokens].secret = argv[i + 1];
      tokens[ntokens++].who = eq + 1;
    }
  }
  if (!path) {
    fputs("usage: evhttp_host --db FILE [--listen HOST:PORT] "
          "[--token SECRET=WHO]...\n",
          stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  sqlite3_stmt *ins = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS items("
                   "id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
                   NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO items(name) VALUES(?)", -1, &ins,
                         NULL) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", path, sqlite3_errmsg(db));
    return 1;
  }

  hub_options *o;
  int rv = hub_options_new(&o);
  if (rv == 0)
    rv = hub_options_set_threads(o, 0);
  if (rv == 0)
    rv = hub_options_set_shards(o, SHARDS);
  if (rv == 0)
    rv = hub_options_set_auth_callback(o, authorize, NULL);
  if (rv == 0)
    rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv || (rv = hub_start(hub)) || (rv = hub_batch_new(hub, &batch))) {
    fprintf(stderr, "fanhub: %s\n", hub_strerror(rv));
    return 1;
  }
  /* Each row change on topic "<table>" as {"op":"insert","id":N}, staged
   * in batch until on_items publishes it after COMMIT. */
  sqlite_batch_init(&changes, db, batch, "", "id");

  base = event_base_new();
  http = base ? evhttp_new(base) : NULL;
  placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!http || placeholder < 0) {
    fputs("evhttp_host: cannot set up the loop\n", stderr);
    return 1;
  }
  for (int i = 0; i < SHARDS; i++) {
    shard_ev[i] = event_new(base, hub_shard_fd(hub, i), EV_READ | EV_PERSIST,
                            on_shard, (void *)(intptr_t)i);
    event_add(shard_ev[i], NULL);
  }
  resume_ev = evtimer_new(base, on_resume, NULL);
  sig_ev[0] = evsignal_new(base, SIGINT, on_signal, NULL);
  sig_ev[1] = evsignal_new(base, SIGTERM, on_signal, NULL);
  event_add(sig_ev[0], NULL);
  event_add(sig_ev[1], NULL);
  /* A request head must be in within 10 s; an SSE stream then drops the
   * timeouts (on_sse). */
  evhttp_set_timeout(http, 10);
  evhttp_set_max_headers_size(http, 8192);
  evhttp_set_max_body_size(http, 1 << 20);
  evhttp_set_cb(http, "/ws", on_ws, NULL);
  evhttp_set_cb(http, "/sse", on_sse, NULL);
  evhttp_set_cb(http, "/items", on_items, ins);
  if (listen_on(spec) != 0) {
    fprintf(stderr, "evhttp_host: cannot listen on %s\n", spec);
    return 1;
  }

  event_base_dispatch(base); /* until on_signal, and the streams' flush */
  evhttp_free(http);         /* the keep-alive connections left */
  for (int i = 0; i < SHARDS; i++)
    event_free(shard_ev[i]);
  event_free(resume_ev);
  event_free(sig_ev[0]);
  event_free(sig_ev[1]);
  hub_batch_free(batch);
  hub_free(hub);
  event_base_free(base);
  close(placeholder);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return 0;
}
