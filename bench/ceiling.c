/* ceiling: the raw fanout ceiling fanhub is judged against.
 *
 * No hub: no topics, no registry, no history, no control protocol. It
 * speaks just enough HTTP for the load generator: GET with
 * "Upgrade: websocket" becomes a WebSocket subscriber, any other GET an SSE
 * subscriber, and POST (any path) publishes its body to every subscriber,
 * answered like fanhubd's /publish ({"seq":N}, then the connection closes).
 * Each published message is encoded once per wire format (WebSocket text
 * frame, SSE block) and every subscriber's queue holds a reference;
 * a thread drains everything it was handed, then writes each dirty socket
 * once: all its pending frames in one writev, first marked first written;
 * every 64 sockets of such a round it takes in what arrived meanwhile, so
 * the sockets not yet written get it in the same round. That is the shape
 * of a good fanout, with nothing else in the way.
 *
 * Threads: --threads N event loops (compare with fanhub shards); the main
 * thread accepts and deals sockets out round-robin. Per-socket queues are
 * capped (1024 messages, 1 MiB, drop-oldest) like fanhub's defaults. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_THREADS 64
#define HEAD_MAX 8192
#define BODY_MAX (1u << 20)
#define Q_MSGS 1024
#define Q_BYTES (1u << 20)
#define IOV_BATCH 1024

/* ---- SHA-1 and base64, for Sec-WebSocket-Accept ---- */
static uint32_t rol(uint32_t v, int n) { return v << n | v >> (32 - n); }

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64;
  unsigned char *m = calloc(1, total);
  memcpy(m, msg, len);
  m[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++)
    m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)m[off + 4 * i] << 24 | (uint32_t)m[off + 4 * i + 1] << 16 |
             (uint32_t)m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
    for (int i = 16; i < 80; i++)
      w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rol(b, 30);
      b = a;
      a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  free(m);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 4; j++)
      out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static void base64(const unsigned char *in, size_t len, char *out) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) |
                 (i + 2 < len ? in[i + 2] : 0);
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    out[o++] = i + 1 < len ? t[v >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? t[v & 63] : '=';
  }
  out[o] = '\0';
}

/* ---- messages ---- */
struct frame { /* shared by all threads */
  atomic_int refs;
  struct iovec ws, sse;
};

struct wmsg { /* one thread's reference to a frame */
  struct frame *f;
  uint32_t refs;
};

enum { C_HEAD, C_WS, C_SSE, C_DONE };

struct conn {
  int fd;
  uint8_t state;
  bool dirty, blocked, epollout;
  struct conn *dirty_next;
  char *head; /* request bytes while C_HEAD */
  uint32_t head_len, head_cap;
  /* ring of pending messages */
  struct wmsg **q;
  uint32_t qcap, qhead, qcount;
  uint64_t qbytes;
  size_t head_off; /* bytes of the first frame already written */
  struct conn *next, *prev; /* the thread's subscriber list */
};

struct item {
  int fd;          /* a new socket, or -1 */
  struct frame *f; /* a message to fan out */
};

struct worker {
  pthread_t th;
  int ep, evfd;
  pthread_mutex_t lock;
  struct item *inbox;
  size_t in_len, in_cap;
  atomic_bool wake_pending;
  struct conn *subs; /* streaming subscribers */
  struct conn *dirty, *dirty_tail; /* FIFO: first marked, first written */
  char rbuf[65536];
};

static struct worker workers[MAX_THREADS];
static int nworkers = 1;
static atomic_uint_fast64_t seq_counter;

static void push_item(struct worker *w, struct item it) {
  pthread_mutex_lock(&w->lock);
  if (w->in_len == w->in_cap) {
    w->in_cap = w->in_cap ? 2 * w->in_cap : 256;
    w->inbox = realloc(w->inbox, w->in_cap * sizeof(*w->inbox));
    if (!w->inbox)
      abort();
  }
  w->inbox[w->in_len++] = it;
  pthread_mutex_unlock(&w->lock);
  if (!atomic_exchange(&w->wake_pending, true)) {
    uint64_t one = 1;
    ssize_t r = write(w->evfd, &one, sizeof(one));
    (void)r;
  }
}

static void frame_unref(struct frame *f) {
  if (atomic_fetch_sub(&f->refs, 1) == 1) {
    free(f->ws.iov_base);
    free(f);
  }
}

static void wmsg_unref(struct wmsg *m) {
  if (--m->refs == 0) {
    frame_unref(m->f);
    free(m);
  }
}

static size_t frame_len(const struct conn *c, const struct wmsg *m) {
  return c->state == C_WS ? m->f->ws.iov_len : m->f->sse.iov_len;
}

static void want_out(struct worker *w, struct conn *c, bool on) {
  if (c->epollout == on)
    return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                           .data.ptr = c};
  epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->epollout = on;
}

static void mark_dirty(struct worker *w, struct conn *c) {
  if (!c->dirty) {
    c->dirty = true;
    c->dirty_next = NULL;
    if (w->dirty_tail)
      w->dirty_tail->dirty_next = c;
    else
      w->dirty = c;
    w->dirty_tail = c;
  }
}

static void conn_close(struct worker *w, struct conn *c) {
  epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->state == C_WS || c->state == C_SSE) {
    if (c->prev)
      c->prev->next = c->next;
    else
      w->subs = c->next;
    if (c->next)
      c->next->prev = c->prev;
  }
  while (c->qcount) {
    wmsg_unref(c->q[c->qhead]);
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qcount--;
  }
  free(c->q);
  free(c->head);
  c->state = C_DONE;
  c->fd = -1;
  /* A dirty conn is freed when the flush pass reaches it. */
  if (!c->dirty)
    free(c);
}

static void enqueue(struct worker *w, struct conn *c, struct wmsg *m) {
  size_t len = frame_len(c, m);
  while (c->qcount && (c->qcount >= Q_MSGS || c->qbytes + len > Q_BYTES) &&
         !(c->qcount == 1 && c->head_off)) {
    /* drop-oldest, but never a partly written head */
    uint32_t i = c->head_off ? (c->qhead + 1) % c->qcap : c->qhead;
    struct wmsg *old = c->q[i];
    c->qbytes -= frame_len(c, old);
    if (c->head_off) { /* remove the second element */
      c->q[i] = c->q[c->qhead];
      c->qhead = i;
    } else {
      c->qhead = (c->qhead + 1) % c->qcap;
    }
    c->qcount--;
    wmsg_unref(old);
  }
  if (c->qcount == c->qcap) {
    uint32_t ncap = c->qcap ? 2 * c->qcap : 8;
    struct wmsg **nq = malloc(ncap * sizeof(*nq));
    if (!nq)
      abort();
    for (uint32_t i = 0; i < c->qcount; i++)
      nq[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = nq;
    c->qcap = ncap;
    c->qhead = 0;
  }
  c->q[(c->qhead + c->qcount) % c->qcap] = m;
  c->qcount++;
  c->qbytes += len;
  m->refs++;
  mark_dirty(w, c);
}

/* Consumes this thread's reference on `f`: the wmsg holds it. */
static void deliver(struct worker *w, struct frame *f) {
  struct wmsg *m = malloc(sizeof(*m));
  if (!m)
    abort();
  m->f = f;
  m->refs = 1; /* held during the loop */
  for (struct conn *c = w->subs; c; c = c->next)
    enqueue(w, c, m);
  wmsg_unref(m);
}

static void flush(struct worker *w, struct conn *c) {
  while (c->qcount && !c->blocked) {
    struct iovec iov[IOV_BATCH];
    int n = 0;
    size_t total = 0;
    for (uint32_t i = 0; i < c->qcount && n < IOV_BATCH; i++) {
      struct wmsg *m = c->q[(c->qhead + i) % c->qcap];
      iov[n] = c->state == C_WS ? m->f->ws : m->f->sse;
      if (i == 0) {
        iov[n].iov_base = (char *)iov[n].iov_base + c->head_off;
        iov[n].iov_len -= c->head_off;
      }
      total += iov[n++].iov_len;
    }
    ssize_t wr = writev(c->fd, iov, n);
    if (wr < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        wr = 0;
      } else {
        conn_close(w, c);
        return;
      }
    }
    size_t left = (size_t)wr;
    while (c->qcount) {
      struct wmsg *m = c->q[c->qhead];
      size_t rem = frame_len(c, m) - c->head_off;
      if (rem > left) {
        c->head_off += left;
        break;
      }
      left -= rem;
      c->head_off = 0;
      c->qbytes -= frame_len(c, m);
      c->qhead = (c->qhead + 1) % c->qcap;
      c->qcount--;
      wmsg_unref(m);
    }
    if ((size_t)wr < total) {
      c->blocked = true;
      want_out(w, c, true);
    }
  }
}

static void handle_events(struct worker *w, int timeout_ms);

/* Every INTAKE_EVERY sockets written, a round handles what came in
 * meanwhile (socket events, messages from the other threads), so the
 * sockets it has not written yet get new messages in this round's write:
 * fanhub does the same (lib/core/shard.c, flush_dirty()), and a ceiling that
 * did not would not be one. A conn closed meanwhile is freed here if it
 * is still on the list (conn_close() leaves dirty conns to this loop). */
#define INTAKE_EVERY 64

static void flush_dirty(struct worker *w) {
  struct conn *c = w->dirty;
  w->dirty = w->dirty_tail = NULL;
  for (unsigned n = 1; c; n++) {
    struct conn *next = c->dirty_next;
    c->dirty = false;
    if (c->state == C_DONE)
      free(c);
    else
      flush(w, c);
    c = next;
    if (n % INTAKE_EVERY == 0)
      handle_events(w, 0);
  }
}

static void reply_and_close(struct worker *w, struct conn *c, const char *r,
                            size_t len) {
  ssize_t wr = send(c->fd, r, len, MSG_NOSIGNAL);
  (void)wr;
  conn_close(w, c);
}

static const char *header(const char *head, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
      p += 3 + nl;
      while (*p == ' ')
        p++;
      return p;
    }
  }
  return NULL;
}

/* The SSE block carries the same fields as fanhub's (id: <epoch>-<seq>,
 * event: <topic>), so both servers write the same bytes per delivery: the
 * ceiling is spared the work, not the wire format. */
#define SSE_EPOCH "0123456789abcdef"

static void publish(struct worker *w, const char *body, size_t len,
                    uint64_t seq, const char *topic, size_t topic_len) {
  struct frame *f = malloc(sizeof(*f));
  size_t hl = len < 126 ? 2 : len < 65536 ? 4 : 10;
  char fields[400];
  int fl = snprintf(fields, sizeof(fields), "id: %s-%llu\nevent: %.*s\n",
                    SSE_EPOCH, (unsigned long long)seq, (int)topic_len, topic);
  size_t ws_len = hl + len, sse_len = (size_t)fl + 6 + len + 2;
  char *buf = malloc(ws_len + sse_len);
  if (!f || !buf)
    abort();
  unsigned char *h = (unsigned char *)buf;
  h[0] = 0x81;
  if (hl == 2) {
    h[1] = (unsigned char)len;
  } else if (hl == 4) {
    h[1] = 126;
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)len;
  } else {
    h[1] = 127;
    for (int i = 0; i < 8; i++)
      h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
  }
  memcpy(buf + hl, body, len);
  char *s = buf + ws_len;
  memcpy(s, fields, (size_t)fl);
  memcpy(s + fl, "data: ", 6);
  memcpy(s + fl + 6, body, len);
  memcpy(s + fl + 6 + len, "\n\n", 2);
  f->ws = (struct iovec){buf, ws_len};
  f->sse = (struct iovec){s, sse_len};
  atomic_init(&f->refs, nworkers);
  for (int i = 0; i < nworkers; i++) {
    if (&workers[i] == w)
      deliver(w, f);
    else
      push_item(&workers[i], (struct item){-1, f});
  }
}

/* A complete request head (and body) is in c->head. */
static void on_request(struct worker *w, struct conn *c, size_t head_len) {
  char *head = c->head;
  if (strncmp(head, "POST ", 5) == 0) {
    const char *cl = header(head, "Content-Length");
    size_t len = cl ? strtoul(cl, NULL, 10) : 0;
    uint64_t seq = atomic_fetch_add(&seq_counter, 1) + 1;
    /* ?topic=T in the request target names the SSE event; no routing */
    const char *target_end = strpbrk(head + 5, " \r\n");
    const char *t = strstr(head + 5, "topic=");
    size_t tl = 0;
    if (t && target_end && t < target_end) {
      t += 6;
      tl = strcspn(t, "& \r\n");
    } else {
      t = "message";
      tl = 7;
    }
    publish(w, head + head_len, len, seq, t, tl > 200 ? 200 : tl);
    char body[64], resp[256];
    int bl = snprintf(body, sizeof(body), "{\"seq\":%llu}\n",
                      (unsigned long long)seq);
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     bl, body);
    reply_and_close(w, c, resp, (size_t)n);
    return;
  }
  if (strncmp(head, "GET ", 4) != 0) {
    static const char r[] = "HTTP/1.1 405 Method Not Allowed\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n";
    reply_and_close(w, c, r, sizeof(r) - 1);
    return;
  }
  char resp[512];
  int n;
  const char *key = header(head, "Sec-WebSocket-Key");
  if (header(head, "Upgrade") && key) {
    char k[128];
    size_t kl = strcspn(key, "\r\n ");
    if (kl > 64)
      kl = 64;
    memcpy(k, key, kl);
    memcpy(k + kl, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    unsigned char dig[20];
    char acc[32];
    sha1((unsigned char *)k, kl + 36, dig);
    base64(dig, 20, acc);
    const char *proto = header(head, "Sec-WebSocket-Protocol");
    size_t pl = proto ? strcspn(proto, "\r\n ,") : 0;
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                 "%s%.*s%s\r\n",
                 acc, proto ? "Sec-WebSocket-Protocol: " : "", (int)pl,
                 proto ? proto : "", proto ? "\r\n" : "");
    c->state = C_WS;
  } else {
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\n\r\n: connected\n\n");
    c->state = C_SSE;
  }
  free(c->head);
  c->head = NULL;
  /* The handshake answer is small: the socket buffer takes it whole. */
  if (send(c->fd, resp, (size_t)n, MSG_NOSIGNAL) != n) {
    c->state = C_HEAD;
    conn_close(w, c);
    return;
  }
  c->next = w->subs;
  c->prev = NULL;
  if (w->subs)
    w->subs->prev = c;
  w->subs = c;
}

static void on_readable(struct worker *w, struct conn *c) {
  if (c->state != C_HEAD) {
    ssize_t n = read(c->fd, w->rbuf, sizeof(w->rbuf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      conn_close(w, c); /* subscribers' own bytes are ignored */
    return;
  }
  if (c->head_cap - c->head_len < 4096) {
    c->head_cap = c->head_cap ? 2 * c->head_cap : 8192;
    if (c->head_cap > HEAD_MAX + BODY_MAX + 1) {
      conn_close(w, c);
      return;
    }
    c->head = realloc(c->head, c->head_cap);
    if (!c->head)
      abort();
  }
  ssize_t n = read(c->fd, c->head + c->head_len, c->head_cap - 1 - c->head_len);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    conn_close(w, c);
    return;
  }
  if (n < 0)
    return;
  c->head_len += (uint32_t)n;
  c->head[c->head_len] = '\0';
  char *end = strstr(c->head, "\r\n\r\n");
  if (!end) {
    if (c->head_len > HEAD_MAX)
      conn_close(w, c);
    return;
  }
  size_t hl = (size_t)(end - c->head) + 4;
  const char *cl = header(c->head, "Content-Length");
  size_t body = cl ? strtoul(cl, NULL, 10) : 0;
  if (body > BODY_MAX) {
    conn_close(w, c);
    return;
  }
  if (c->head_len < hl + body) {
    if (c->head_cap < hl + body + 1) {
      c->head_cap = (uint32_t)(hl + body + 1);
      c->head = realloc(c->head, c->head_cap);
      if (!c->head)
        abort();
    }
    return;
  }
  on_request(w, c, hl);
}

static void take_inbox(struct worker *w) {
  atomic_store(&w->wake_pending, false);
  pthread_mutex_lock(&w->lock);
  struct item *items = w->inbox;
  size_t n = w->in_len;
  w->inbox = NULL;
  w->in_len = w->in_cap = 0;
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < n; i++) {
    if (items[i].fd >= 0) {
      struct conn *c = calloc(1, sizeof(*c));
      if (!c)
        abort();
      c->fd = items[i].fd;
      c->state = C_HEAD;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
      epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
      on_readable(w, c); /* the request is often there already */
    } else {
      deliver(w, items[i].f);
    }
  }
  free(items);
}

static void handle_events(struct worker *w, int timeout_ms) {
  struct epoll_event evs[256];
  int n = epoll_wait(w->ep, evs, 256, timeout_ms);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.ptr == NULL) {
      uint64_t v;
      ssize_t r = read(w->evfd, &v, sizeof(v));
      (void)r;
      continue;
    }
    struct conn *c = evs[i].data.ptr;
    if (c->state == C_DONE)
      continue;
    if (evs[i].events & EPOLLOUT) {
      c->blocked = false;
      want_out(w, c, false);
      mark_dirty(w, c);
    }
    if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      on_readable(w, c);
  }
  if (atomic_load(&w->wake_pending))
    take_inbox(w);
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  for (;;) {
    /* Sockets a round marked dirty again are written without waiting. */
    handle_events(w, w->dirty ? 0 : -1);
    flush_dirty(w);
  }
  return NULL;
}

int main(int argc, char **argv) {
  static const struct option lo[] = {{"listen", 1, 0, 'l'},
                                     {"threads", 1, 0, 't'},
                                     {"help", 0, 0, 'h'},
                                     {0, 0, 0, 0}};
  const char *listen_spec = "127.0.0.1:0";
  int o;
  while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    if (o == 'l')
      listen_spec = optarg;
    else if (o == 't')
      nworkers = atoi(optarg);
    else {
      fputs("usage: ceiling [--listen 127.0.0.1:PORT] [--threads N]\n",
            o == 'h' ? stdout : stderr);
      return o == 'h' ? 0 : 2;
    }
  }
  if (nworkers < 1 || nworkers > MAX_THREADS)
    return 2;
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  char hostbuf[64];
  const char *colon = strrchr(listen_spec, ':');
  if (!colon || (size_t)(colon - listen_spec) >= sizeof(hostbuf))
    return 2;
  memcpy(hostbuf, listen_spec, (size_t)(colon - listen_spec));
  hostbuf[colon - listen_spec] = '\0';
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)atoi(colon + 1))};
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (inet_pton(AF_INET, hostbuf, &sa.sin_addr) != 1 ||
      bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096)) {
    perror("ceiling: listen");
    return 1;
  }
  socklen_t sl = sizeof(sa);
  getsockname(lfd, (struct sockaddr *)&sa, &sl);
  printf("ceiling listening on http://%s:%u/\n", hostbuf, ntohs(sa.sin_port));
  fflush(stdout);

  for (int i = 0; i < nworkers; i++) {
    struct worker *w = &workers[i];
    pthread_mutex_init(&w->lock, NULL);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev);
    pthread_create(&w->th, NULL, worker_main, w);
  }
  for (unsigned rr = 0;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
        continue;
      perror("ceiling: accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    push_item(&workers[rr++ % (unsigned)nworkers], (struct item){fd, NULL});
  }
}
