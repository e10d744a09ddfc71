/* Request heads to WebSocket or SSE clients; see handshake.h. */
#include "handshake.h"

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "control.h"
#include "http.h"
#include "hub.h"
#include "replay.h"
#include "admission.h"
#include "session.h"
#include "wildcard.h"
#include "ws.h"

/* A buffer of its own with room for `cap` bytes, holding src's bytes. */
static struct handshake *own(const hub_mem *mem, const struct handshake *src,
                             uint32_t cap) {
  struct handshake *hs = mem_malloc(mem, sizeof(*hs) + cap);
  if (!hs)
    return NULL;
  *hs = *src;
  hs->buf = (char *)(hs + 1);
  hs->cap = cap;
  hs->borrowed = false;
  if (src->len)
    memcpy(hs->buf, src->buf, src->len);
  return hs;
}

struct handshake *handshake_new(const hub_mem *mem, uint32_t limit,
                                const void *head, size_t len) {
  struct handshake view = {(char *)head, (uint32_t)(len > limit ? limit : len),
                           0, 0, len > limit, true};
  view.cap = view.len;
  return own(mem, &view, view.len);
}

static void release(struct shard *s, struct handshake *hs) {
  if (hs && !hs->borrowed)
    mem_free(s->mem, hs);
}

void handshake_free(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  release(s, se->hs);
  se->hs = NULL;
}

int ws_accept_key(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char raw[18], sha[20], cat[24 + sizeof(guid)];
  size_t olen;
  if (key_len != 24 ||
      mbedtls_base64_decode(raw, sizeof(raw), &olen, (const unsigned char *)key,
                            key_len) ||
      olen != 16)
    return -1;
  memcpy(cat, key, 24);
  memcpy(cat + 24, guid, sizeof(guid) - 1);
  if (mbedtls_sha1_ret(cat, 24 + sizeof(guid) - 1, sha) ||
      mbedtls_base64_encode((unsigned char *)out, 29, &olen, sha, 20) ||
      olen != 28)
    return -1;
  out[28] = '\0';
  return 0;
}

static const char *reason(int status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 411:
    return "Length Required";
  case 413:
    return "Content Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 426:
    return "Upgrade Required";
  case 431:
    return "Request Header Fields Too Large";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Status";
  }
}

/* Ends the handshake: the head buffer and its timeout go. */
static void done(struct shard *s, struct client *c) {
  handshake_free(s, c);
  timer_remove(s, c);
}

/* Queues a complete response, without its body if `head_only` (the
 * answer to HEAD); unless `keep`, the connection closes once it is
 * written. The request stays: hub_respond() is called from the request
 * callback, which may still read it (host_routes() lets it go after the
 * callback). */
static void queue_answer(struct shard *s, struct client *c, int status,
                         const char *type, const char *extra_headers,
                         const void *body, size_t len, bool keep,
                         bool head_only) {
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Length: %zu\r\n"
                   "Cache-Control: no-cache\r\n"
                   "Connection: %s\r\n%s\r\n",
                   status, reason(status), type, len,
                   keep ? "keep-alive" : "close", extra_headers);
  if (n < 0 || (size_t)n >= sizeof(head)) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  if (head_only)
    len = 0; /* Content-Length still says how long the body would be */
  struct smsg *sm =
      smsg_private(s, (enum wire)c->q.wire, NULL, (size_t)n + len);
  if (!sm) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  char *p = sm->frame[c->q.wire].iov_base;
  memcpy(p, head, (size_t)n);
  if (len)
    memcpy(p + n, body, len);
  /* The same bytes on every wire: a pipelined upgrade after it switches
   * the queue's wire before it is written. */
  for (int w = 0; w < WIRE_COUNT; w++)
    sm->frame[w] = sm->frame[c->q.wire];
  sm->encoded = (uint8_t)((1u << WIRE_COUNT) - 1);
  client_enqueue_pinned(s, c, sm);
  if (!keep)
    client_close_after_flush(
        s, c, status < 400 ? HUB_CLOSE_NORMAL : HUB_CLOSE_HTTP_BASE + status);
}

/* queue_answer() and close, and the request goes: fanhub's own answers
 * (errors) end the connection, whose next bytes it cannot trust. */
static void answer(struct shard *s, struct client *c, int status,
                   const char *type, const char *extra_headers,
                   const void *body, size_t len) {
  queue_answer(s, c, status, type, extra_headers, body, len, false, false);
  done(s, c);
}

static void refuse(struct shard *s, struct client *c, int status,
                   const char *why, const char *extra_headers) {
  char body[256];
  int n = snprintf(body, sizeof(body), "%s\n", why);
  answer(s, c, status, "text/plain", extra_headers, body, (size_t)n);
  s->st.http_refused++;
}

/* Parses a starting point: "<epoch>-<seq>" (an SSE id) or "<seq>".
 * Returns false if it is neither. */
static bool parse_since(struct shard *s, const char *v, size_t len,
                        int64_t *since, bool *epoch_ok) {
  const char *dash = NULL;
  for (size_t i = 0; i < len; i++)
    if (v[i] == '-')
      dash = v + i;
  const char *num = dash ? dash + 1 : v;
  size_t nlen = (size_t)(v + len - num);
  if (nlen == 0 || nlen > 18)
    return false;
  int64_t n = 0;
  for (size_t i = 0; i < nlen; i++) {
    if (num[i] < '0' || num[i] > '9')
      return false;
    n = n * 10 + (num[i] - '0');
  }
  size_t elen = dash ? (size_t)(dash - v) : 0;
  *epoch_ok = !dash || (elen == strlen(s->hub->epoch) &&
                        memcmp(v, s->hub->epoch, elen) == 0);
  *since = n;
  return true;
}

/* Subscribes to every ?topic= of the query, each from the starting point
 * in ?since= or the Last-Event-ID header, if any; with `check` only
 * validates them. Returns 0 or the HTTP status to refuse with. */
static int query_topics(struct shard *s, struct client *c,
                        const struct http_request *req, bool check) {
  int64_t since = -1;
  bool epoch_ok = true;
  const struct http_header *last = http_find_header(req, "Last-Event-ID");
  if (last && !parse_since(s, last->value, last->value_len, &since, &epoch_ok))
    since = -1; /* an id we never sent: start live */
  const char *q = req->query;
  size_t qlen = req->query_len, klen, vlen;
  if (!qlen)
    return 0;
  /* Room for any one parameter, so unrelated long ones do not fail. */
  char *key = mem_malloc(s->mem, 2 * (qlen + 1));
  if (!key)
    return 500;
  char *val = key + qlen + 1;
  int r, status = 0;
  /* Two passes: ?since= may come after the topics. */
  for (int pass = 0; pass < 2 && !status; pass++) {
    q = req->query;
    qlen = req->query_len;
    while (!status &&
           (r = http_query_next(&q, &qlen, key, req->query_len + 1, &klen, val,
                                req->query_len + 1, &vlen)) == 1) {
      if (pass == 0) {
        if (klen == 5 && memcmp(key, "since", 5) == 0 &&
            !parse_since(s, val, vlen, &since, &epoch_ok))
          status = 400;
        continue;
      }
      if (klen != 5 || memcmp(key, "topic", 5) != 0)
        continue;
      if (vlen > s->hub->opt.max_topic_len ||
          !limits_topic_ok(s->hub, val, vlen) ||
          (pattern_is_wild(val, vlen) && !ptrie_valid(val, vlen))) {
        status = 400;
      } else if (!check) {
        /* Authorized and limited like a subscribe the client sends. */
        struct client_req cr = {HUB_AUTH_SUBSCRIBE, false, val, vlen, since,
                                epoch_ok, NULL, 0, NULL, 0};
        control_request(s, c, &cr);
      }
    }
    if (r < 0)
      status = 400;
  }
  mem_free(s->mem, key);
  return status;
}

/* Subscribes to the topics the client was attached with. */
static void init_topics(struct shard *s, struct client *c) {
  struct stream_init *in = session_of(c)->init;
  session_of(c)->init = NULL;
  if (!in)
    return;
  const char *t = in->topics;
  for (uint32_t i = 0; i < in->ntopics && c->state == CLIENT_OPEN; i++) {
    size_t len = strlen(t);
    struct client_req cr = {HUB_AUTH_SUBSCRIBE, false, t, len, in->since,
                            in->epoch_ok, NULL, 0, NULL, 0};
    /* Refused like a subscribe the client sends, with a notice: the host
     * may have answered the request already. */
    if (len == 0 || len > s->hub->opt.max_topic_len ||
        (pattern_is_wild(t, len) && !ptrie_valid(t, len)))
      control_refuse(s, c, &cr, "bad-topic", NULL);
    else
      control_request(s, c, &cr);
    t += len + 1;
  }
  mem_free(s->mem, in);
}

/* Makes the subscriptions a stream starts with, from its request's query
 * (`req`, may be NULL) and its attach, replayed as one stream merged in
 * seq order (an SSE stream has one Last-Event-ID for all its topics).
 * Returns 0, or a status if the query was refused. */
static int start_topics(struct shard *s, struct client *c,
                        const struct http_request *req) {
  struct replay_batch batch = {NULL, 0};
  session_of(c)->batch = &batch;
  int status = req ? query_topics(s, c, req, false) : 0;
  init_topics(s, c);
  session_of(c)->batch = NULL;
  replay_batch_flush(s, c, &batch);
  return status;
}

/* A stream's start once its response head is out (or was sent by the
 * host's server): the hello (WebSocket) or the preamble (SSE), then the
 * subscriptions and their replays. */
static void begin_stream(struct shard *s, struct client *c,
                         const struct http_request *req) {
  if (c->kind == CLIENT_WS) {
    c->q.wire = session_of(c)->raw ? WIRE_WS_RAW : WIRE_WS_JSON;
    s->st.ws_accepted++;
    ws_start(s, c); /* hello before any replay */
  } else {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), ": connected\n\nretry: %u\n\n",
                     (unsigned)s->hub->opt.sse_retry_ms);
    c->q.wire = WIRE_SSE;
    s->st.sse_accepted++;
    client_send_own(s, c, buf, (size_t)n);
    timer_add(s, c, TL_SSE_KEEPALIVE);
  }
  if (start_topics(s, c, req))
    client_doom(s, c, HUB_CLOSE_TRANSPORT); /* out of memory */
}

static bool header_is(const struct http_request *req, const char *name,
                      const char *value) {
  const struct http_header *h = http_find_header(req, name);
  return h && http_count_header(req, name) == 1 &&
         h->value_len == strlen(value) &&
         strncasecmp(h->value, value, h->value_len) == 0;
}

bool ws_next_protocol(const struct http_request *req, size_t *pos,
                      const char **tok, size_t *len) {
  /* *pos packs the header index (high bits) and the offset in it. */
  for (size_t i = *pos >> 32; i < req->nheaders; i++, *pos = (size_t)i << 32) {
    const struct http_header *h = &req->headers[i];
    if (h->name_len != 22 ||
        strncasecmp(h->name, "Sec-WebSocket-Protocol", 22) != 0)
      continue;
    const char *p = h->value + (*pos & 0xffffffff), *end = h->value + h->value_len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
      p++;
    const char *t = p;
    while (p < end && *p != ',' && *p != ' ' && *p != '\t')
      p++;
    if (p > t) {
      *tok = t;
      *len = (size_t)(p - t);
      *pos = ((size_t)i << 32) | (size_t)(p - h->value);
      return true;
    }
  }
  return false;
}

/* Picks the subprotocol to echo: fanhub's own first, else a bearer token
 * offered alone (browsers fail a handshake that offered protocols and got
 * none back). Points into the request; *len 0: none. *raw is set for
 * "fanhub.raw". */
static const char *pick_protocol(const struct http_request *req, size_t *len,
                                 bool *raw) {
  const char *bearer = NULL, *t;
  size_t tl, pos = 0;
  *len = 0;
  while (ws_next_protocol(req, &pos, &t, &tl)) {
    if ((tl == 11 && memcmp(t, "fanhub.json", 11) == 0) ||
        (tl == 10 && memcmp(t, "fanhub.raw", 10) == 0)) {
      *raw = tl == 10;
      *len = tl;
      return t;
    }
    if (!bearer && tl > 7 && memcmp(t, "bearer.", 7) == 0) {
      bearer = t;
      *len = tl;
    }
  }
  return bearer;
}

static void upgrade_ws(struct shard *s, struct client *c,
                       const struct http_request *req, size_t head_len) {
  const struct http_header *upg = http_find_header(req, "Connection");
  const struct http_header *key = http_find_header(req, "Sec-WebSocket-Key");
  char accept[29];
  if (req->minor_version < 1 || !upg ||
      !http_has_token(upg->value, upg->value_len, "upgrade") ||
      http_count_header(req, "Host") != 1) {
    refuse(s, c, 400, "not a valid WebSocket upgrade", "");
    return;
  }
  if (!http_find_header(req, "Sec-WebSocket-Version")) {
    refuse(s, c, 400, "missing Sec-WebSocket-Version", "");
    return;
  }
  if (!header_is(req, "Sec-WebSocket-Version", "13")) {
    refuse(s, c, 426, "only WebSocket version 13 is supported",
           "Sec-WebSocket-Version: 13\r\n");
    return;
  }
  if (!key || http_count_header(req, "Sec-WebSocket-Key") != 1 ||
      ws_accept_key(key->value, key->value_len, accept)) {
    refuse(s, c, 400, "bad Sec-WebSocket-Key", "");
    return;
  }
  struct session *se = session_of(c);
  bool raw = se->raw;
  size_t plen;
  const char *proto = pick_protocol(req, &plen, &raw);
  int status = query_topics(s, c, req, true);
  if (status) {
    refuse(s, c, status, "bad query", "");
    return;
  }

  size_t cap = 160 + plen;
  char *buf = mem_malloc(s->mem, cap);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  int n = snprintf(buf, cap,
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n"
                   "%s%.*s%s\r\n",
                   accept, plen ? "Sec-WebSocket-Protocol: " : "", (int)plen,
                   plen ? proto : "", plen ? "\r\n" : "");
  c->kind = CLIENT_WS;
  se->raw = raw;
  c->q.wire = raw ? WIRE_WS_RAW : WIRE_WS_JSON;
  client_send_own(s, c, buf, (size_t)n);
  mem_free(s->mem, buf);
  begin_stream(s, c, req); /* its timer replaced the handshake's */
  /* Bytes after the head are the client's first frames. */
  struct handshake *hs = se->hs;
  se->hs = NULL;
  if (hs->len > head_len && c->state == CLIENT_OPEN)
    ws_input(s, c, (const unsigned char *)hs->buf + head_len,
             hs->len - head_len);
  release(s, hs);
}

static void start_sse(struct shard *s, struct client *c,
                      const struct http_request *req, size_t head_len) {
  /* A client says nothing on an event stream; bytes after its request
   * would be a second request, which the stream can never answer. */
  if (session_of(c)->hs->len > head_len) {
    refuse(s, c, 400, "an event stream takes no bytes after its request",
           "");
    return;
  }
  int status = query_topics(s, c, req, true);
  if (status) {
    refuse(s, c, status, "bad query", "");
    return;
  }
  static const char head[] = "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/event-stream\r\n"
                             "Cache-Control: no-cache\r\n"
                             "X-Accel-Buffering: no\r\n"
                             "Connection: keep-alive\r\n"
                             "\r\n";
  c->kind = CLIENT_SSE;
  c->q.wire = WIRE_SSE;
  client_send_own(s, c, head, sizeof(head) - 1);
  begin_stream(s, c, req); /* its timer replaced the handshake's */
  handshake_free(s, c); /* req points into the head buffer: free it last */
}

bool handshake_attach(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  se->input_ms = hub__now_ms();
  if (c->kind == CLIENT_HTTP)
    timer_add(s, c, TL_HANDSHAKE);
  if (limits_admit(s, c)) {
    s->st.capacity_refused++;
    if (c->kind == CLIENT_HTTP)
      handshake_refuse(s, c, 503, "too many connections",
                       "Retry-After: 5\r\n");
    else
      client_doom(s, c, HUB_CLOSE_HTTP_BASE + 503);
    return false;
  }
  if (c->kind == CLIENT_HTTP)
    return true;
  begin_stream(s, c, NULL);
  /* What the host read past the request: the client's first frames. */
  struct handshake *hs = se->hs;
  se->hs = NULL;
  if (hs && hs->len && c->kind == CLIENT_WS && c->state == CLIENT_OPEN)
    ws_input(s, c, (const unsigned char *)hs->buf, hs->len);
  release(s, hs);
  return false;
}

/* What hub_request_info.internal points at. */
struct request_ctx {
  struct shard *s;
  struct client *c;
  const struct http_request *req;
  bool answered;
  bool keep; /* the connection stays open for the next request */
};

/* The Content-Length of the request (0 without one), or -1 if it is not
 * one plain decimal number. */
static int64_t content_length(const struct http_request *req) {
  const struct http_header *h = http_find_header(req, "Content-Length");
  if (!h)
    return 0;
  if (http_count_header(req, "Content-Length") != 1 || h->value_len == 0 ||
      h->value_len > 10)
    return -1;
  int64_t v = 0;
  for (size_t i = 0; i < h->value_len; i++) {
    if (h->value[i] < '0' || h->value[i] > '9')
      return -1;
    v = v * 10 + (h->value[i] - '0');
  }
  return v;
}

/* Makes room for `need` bytes in a buffer of the client's own; false
 * (and the client closed) on ENOMEM. */
static bool reserve(struct shard *s, struct client *c, uint32_t need) {
  struct handshake *hs = session_of(c)->hs;
  if (need <= hs->cap && !hs->borrowed)
    return true;
  if (hs->borrowed) {
    hs = own(s->mem, hs, need > hs->len ? need : hs->len);
  } else {
    hs = mem_realloc(s->mem, hs, sizeof(*hs) + need);
    if (hs) {
      hs->buf = (char *)(hs + 1);
      hs->cap = need;
    }
  }
  if (!hs) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return false;
  }
  session_of(c)->hs = hs;
  return true;
}

/* Whether the client wants the connection kept after the answer (RFC 9112
 * 9.3): HTTP/1.1 unless it says "Connection: close", HTTP/1.0 only if it
 * says "Connection: keep-alive". */
static bool wants_keep_alive(const struct http_request *req) {
  bool close = false, keep = false;
  for (size_t i = 0; i < req->nheaders; i++) {
    const struct http_header *h = &req->headers[i];
    if (h->name_len != 10 || strncasecmp(h->name, "Connection", 10) != 0)
      continue;
    close |= http_has_token(h->value, h->value_len, "close");
    keep |= http_has_token(h->value, h->value_len, "keep-alive");
  }
  return !close && (req->minor_version >= 1 || keep);
}

/* The host answered the request and the connection stays: its `used`
 * bytes (head and body) go, the bytes after them begin the next request
 * (pipelining), which the handshake timeout bounds again. Only one
 * request is held at a time: an empty buffer is freed, a large one that
 * held a body shrinks to what is left. */
static void next_request(struct shard *s, struct client *c, size_t used) {
  struct session *se = session_of(c);
  struct handshake *hs = se->hs;
  se->routed = false;
  timer_add(s, c, TL_HANDSHAKE);
  if (used >= hs->len) {
    release(s, hs);
    se->hs = NULL;
    return;
  }
  hs->len -= (uint32_t)used;
  hs->need = 0;
  if (hs->borrowed) {
    hs->buf += used; /* a view of the read buffer: the rest is still there */
    hs->cap = hs->len;
    return;
  }
  memmove(hs->buf, hs->buf + used, hs->len);
  if (hs->cap > 4096 && hs->len < hs->cap / 4) {
    uint32_t cap = hs->len > 256 ? hs->len : 256;
    struct handshake *smaller = mem_realloc(s->mem, hs, sizeof(*hs) + cap);
    if (smaller) { /* else the larger one does */
      smaller->buf = (char *)(smaller + 1);
      smaller->cap = cap;
      se->hs = smaller;
    }
  }
}

/* What host_routes() did with the request. */
enum route { ROUTE_NONE, ROUTE_ANSWERED, ROUTE_NEXT };

/* Gives the request to the host's callback: ROUTE_NONE if fanhub is to
 * answer it, ROUTE_ANSWERED if it was answered (or refused) and the
 * connection closes once that is written, ROUTE_NEXT if it was answered
 * and the next request is to be read (next_request()). */
static enum route host_routes(struct shard *s, struct client *c,
                              const struct http_request *req, size_t head_len,
                              size_t body_len) {
  struct hub *hub = s->hub;
  if (!hub->opt.on_request)
    return ROUTE_NONE;
  struct handshake *hs = session_of(c)->hs;
  bool keep = wants_keep_alive(req) && !s->stopping;
  struct request_ctx ctx = {s, c, req, false, keep};
  hub_request_info info = {c->id,
                           req->method,
                           req->method_len,
                           req->path,
                           req->path_len,
                           req->query,
                           req->query_len,
                           hs->buf + head_len,
                           body_len,
                           c->user_data,
                           &ctx};
  int route = hub->opt.on_request(hub, &info, hub->opt.on_request_user_data);
  if (route == HUB_ROUTE_STREAM && !ctx.answered)
    return ROUTE_NONE;
  if (ctx.answered && ctx.keep && c->state == CLIENT_OPEN &&
      !c->close_after_flush) {
    next_request(s, c, head_len + body_len);
    return ROUTE_NEXT;
  }
  if (ctx.answered)
    done(s, c); /* the callback may have read the request until now */
  else if (c->state == CLIENT_OPEN)
    refuse(s, c, 500, "the request callback gave no answer", "");
  return ROUTE_ANSWERED;
}

/* Answers the request in the client's buffer if it is complete (or
 * hopeless); true if the host answered it and the connection waits for
 * the next one. */
static bool step(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  struct handshake *hs = se->hs;
  if (!hs)
    return false; /* nothing read yet */
  struct http_limits lim;
  struct http_request req;
  http_limits_default(&lim);
  lim.max_head = s->hub->opt.max_request_head;
  if (lim.max_line > lim.max_head)
    lim.max_line = lim.max_head;
  int r = http_parse_request(hs->buf, hs->len, &lim, &req);
  if (r == HTTP_INCOMPLETE) {
    if (hs->overflow || hs->len >= lim.max_head) {
      refuse(s, c, 431, "request head too large", "");
    }
    return false;
  }
  if (r == HTTP_EVERSION) {
    refuse(s, c, 505, "HTTP/1.x only", "");
    return false;
  }
  if (r == HTTP_ETOOLARGE || (r > 0 && hs->overflow)) {
    refuse(s, c, 431, "request head too large", "");
    return false;
  }
  if (r < 0) {
    refuse(s, c, 400, "malformed request", "");
    return false;
  }
  if (http_find_header(&req, "Transfer-Encoding")) {
    refuse(s, c, 501, "no Transfer-Encoding, please", "");
    return false;
  }
  int64_t body = content_length(&req);
  if (body < 0) {
    refuse(s, c, 400, "bad Content-Length", "");
    return false;
  }
  if (body > s->hub->opt.max_request_body) {
    refuse(s, c, 413, "request body too large", "");
    return false;
  }
  hs->need = (uint32_t)r + (uint32_t)body;
  if (hs->len < hs->need) {
    reserve(s, c, hs->need);
    return false; /* the body is still on its way */
  }
  /* Once: a pending auth decision runs this step again. */
  if (!se->routed) {
    enum route rt = host_routes(s, c, &req, (size_t)r, (size_t)body);
    if (rt != ROUTE_NONE)
      return rt == ROUTE_NEXT;
    se->routed = true;
  }
  if (req.method_len != 3 || memcmp(req.method, "GET", 3) != 0) {
    refuse(s, c, 405, "only GET", "Allow: GET\r\n");
    return false;
  }
  if (body) { /* bytes that would be read as frames: smuggling */
    refuse(s, c, 400, "a stream request has no body", "");
    return false;
  }
  const struct http_header *upg = http_find_header(&req, "Upgrade");
  bool ws = upg && http_has_token(upg->value, upg->value_len, "websocket");
  if (ws && !limits_origin_ok(s->hub, &req)) {
    s->st.origin_refused++;
    refuse(s, c, 403, "origin not allowed", "");
    return false;
  }
  if (!auth_connect(s, c, &req))
    return false; /* refused, or waiting for the host */
  if (ws)
    upgrade_ws(s, c, &req, (size_t)r);
  else
    start_sse(s, c, &req, (size_t)r);
  return false;
}

/* Unwritten answers past which a socket's next request waits: a client
 * pipelining requests without reading the answers is answered up to
 * here, then not read until they are out (conn.c), so it holds at most
 * this, one answer, one request and one read of the server's memory. */
#define ANSWERS_AHEAD (64 * 1024)

bool handshake_paused(const struct client *c) {
  if (c->fd < 0 || c->kind != CLIENT_HTTP)
    return false;
  uint64_t cap = c->max_bytes < ANSWERS_AHEAD ? c->max_bytes : ANSWERS_AHEAD;
  return c->close_after_flush || c->q.bytes >= cap;
}

void handshake_step(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  se->paused = false;
  while (step(s, c)) {
    if (!se->hs || c->state != CLIENT_OPEN)
      return;
    if (handshake_paused(c)) {
      /* The rest waits in the buffer; conn_event() goes on with it once
       * the answers are out. Looked at again after this round's writes,
       * in case they all go at once. */
      se->paused = true;
      shard_reread(s, c);
      return;
    }
  }
}

int hub_ws_accept_key(const char *key, char out[29]) {
  if (!key || !out || ws_accept_key(key, strlen(key), out))
    return HUB_EINVAL;
  return 0;
}

const char *hub_request_header(const hub_request_info *req, const char *name,
                               size_t *len) {
  if (!req || !req->internal || !name)
    return NULL;
  const struct request_ctx *ctx = req->internal;
  const struct http_header *h = http_find_header(ctx->req, name);
  if (!h)
    return NULL;
  if (len)
    *len = h->value_len;
  return h->value;
}

int hub_respond(hub_t *hub, const hub_request_info *req, int status,
                const char *content_type, const void *body, size_t len) {
  if (!hub || !req || !req->internal || status < 100 || status > 999 ||
      (!body && len) || (content_type && strpbrk(content_type, "\r\n")))
    return HUB_EINVAL;
  struct request_ctx *ctx = (struct request_ctx *)req->internal;
  if (ctx->answered || ctx->c->state != CLIENT_OPEN)
    return HUB_ESTATE;
  ctx->answered = true;
  const struct http_request *r = ctx->req;
  bool head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
  queue_answer(ctx->s, ctx->c, status,
               content_type ? content_type : "text/plain", "", body, len,
               ctx->keep, head);
  return 0;
}

/* Appends one read's bytes to a buffer of the client's own, growing it
 * by doubling. Before the head is complete it holds less than
 * max_request_head bytes and one read (handshake_step() refuses a longer
 * head with 431); once it is, at most the request (head and body),
 * max_request_head bytes more that came before the answer (a WebSocket
 * client's first frames, while an auth decision is pending) and one read
 * (which may end a body and carry the pipelined requests after it). */
static bool append(struct shard *s, struct client *c, const unsigned char *buf,
                   size_t n) {
  struct handshake *hs = session_of(c)->hs;
  uint32_t max_head = s->hub->opt.max_request_head;
  if (hs->need && (uint64_t)hs->len > (uint64_t)hs->need + max_head) {
    refuse(s, c, 400, "too many bytes before the response", "");
    return false;
  }
  uint64_t cap = hs->cap > 256 ? hs->cap : 256;
  while (cap < hs->len + n)
    cap *= 2;
  if (cap > UINT32_MAX)
    cap = hs->len + n;
  if (!reserve(s, c, (uint32_t)cap))
    return false;
  hs = session_of(c)->hs;
  memcpy(hs->buf + hs->len, buf, n);
  hs->len += (uint32_t)n;
  return true;
}

void handshake_input(struct shard *s, struct client *c,
                     const unsigned char *buf, size_t n) {
  if (c->state != CLIENT_OPEN || c->kind != CLIENT_HTTP)
    return;
  if (c->close_after_flush)
    return; /* answered, closing once that is out: the rest is not read */
  struct session *se = session_of(c);
  if (se->hs) { /* the request began in an earlier read, or came with attach,
                   or pipelined requests wait */
    if (append(s, c, buf, n))
      handshake_step(s, c);
    return;
  }
  struct handshake view = {(char *)buf, (uint32_t)n, (uint32_t)n, 0, false,
                           true};
  se->hs = &view;
  handshake_step(s, c);
  if (se->hs != &view)
    return; /* answered, or moved to a buffer of its own */
  se->hs = NULL;
  /* It has to wait for more bytes, a decision, or the answers to the
   * requests before it: keep a copy of what is left. */
  if (c->state == CLIENT_OPEN && c->kind == CLIENT_HTTP &&
      !c->close_after_flush && view.len &&
      !(se->hs = own(s->mem, &view, view.len)))
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
}

void handshake_refuse(struct shard *s, struct client *c, int status,
                      const char *why, const char *extra_headers) {
  refuse(s, c, status, why, extra_headers);
}
