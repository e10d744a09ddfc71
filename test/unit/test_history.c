/* History, resume and lagged notices (issue: delivery guarantees), and
 * the NATS-style pattern matcher. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "history.h"
#include "hub.h"
#include "memtp.h"
#include "test.h"
#include "util.h"
#include "wildcard.h"
#include "wsclient.h"

static struct msg *mkmsg(int64_t seq, int64_t ts, size_t len) {
  static const char pad[256];
  struct msg *m = msg_new(&hub__mem_default, "t", 1, 0, pad, len, 0);
  m->seq = seq;
  m->ts_ms = ts;
  return m;
}

void test_history_ring(void) {
  const hub_mem *mem = &hub__mem_default;
  struct hist_totals tot = {0, 0};
  struct history h;
  struct hist_limits lim = {.max_msgs = 3, .max_age_ms = 1000,
                            .max_bytes = 100};
  history_init(&h, &lim);
  for (int i = 1; i <= 5; i++) {
    struct msg *m = mkmsg(i * 10, 0, 10);
    CHECK(history_append(&h, mem, m, 0, &tot) == 0);
    msg_unref(mem, m);
  }
  CHECK_EQ(h.count, 3); /* 30 40 50 */
  CHECK_EQ(h.evicted_upto, 20);
  CHECK_EQ(atomic_load(&tot.msgs), 3);
  CHECK_EQ(atomic_load(&tot.bytes), 30);
  struct msg **out;
  uint32_t n;
  bool gap;
  CHECK(history_since(&h, mem, 35, &out, &n, &gap) == 0);
  CHECK(!gap && n == 2 && out[0]->seq == 40 && out[1]->seq == 50);
  for (uint32_t i = 0; i < n; i++)
    msg_unref(mem, out[i]);
  mem_free(mem, out);
  CHECK(history_since(&h, mem, 10, &out, &n, &gap) == 0);
  CHECK(gap && n == 3); /* 20 is gone */
  for (uint32_t i = 0; i < n; i++)
    msg_unref(mem, out[i]);
  mem_free(mem, out);
  CHECK(history_since(&h, mem, 50, &out, &n, &gap) == 0);
  CHECK(!gap && n == 0);
  /* Bytes: a 90-byte message pushes out the others. */
  struct msg *big = mkmsg(60, 0, 90);
  CHECK(history_append(&h, mem, big, 0, &tot) == 0);
  msg_unref(mem, big);
  CHECK_EQ(h.count, 2); /* 50 and 60: exactly 100 bytes */
  CHECK_EQ(h.evicted_upto, 40);
  /* Age: everything older than 1000 ms goes. */
  history_expire(&h, mem, 1001, &tot);
  CHECK_EQ(h.count, 0);
  CHECK_EQ(h.evicted_upto, 60);
  CHECK_EQ(atomic_load(&tot.msgs), 0);
  history_clear(&h, mem, &tot);
}

/* The reference: split both on '.', compare token by token. */
static bool ref_match(const char *pat, const char *topic) {
  char p[64], t[64];
  snprintf(p, sizeof(p), "%s", pat);
  snprintf(t, sizeof(t), "%s", topic);
  const char *pt[32], *tt[32];
  int np = 0, nt = 0;
  for (char *s = p, *e;; s = e + 1) {
    pt[np++] = s;
    if (!(e = strchr(s, '.')))
      break;
    *e = 0;
  }
  for (char *s = t, *e;; s = e + 1) {
    tt[nt++] = s;
    if (!(e = strchr(s, '.')))
      break;
    *e = 0;
  }
  for (int i = 0; i < np; i++) {
    if (!strcmp(pt[i], ">") && i == np - 1)
      return nt > i;
    if (i >= nt || (strcmp(pt[i], "*") && strcmp(pt[i], tt[i])))
      return false;
  }
  return np == nt;
}

void test_wildcard_match(void) {
  CHECK(pattern_match("news.*", 6, "news.sport", 10));
  CHECK(!pattern_match("news.*", 6, "news.sport.x", 12));
  CHECK(pattern_match("news.>", 6, "news.sport.x", 12));
  CHECK(!pattern_match("news.>", 6, "news", 4));
  CHECK(pattern_match(">", 1, "a", 1));
  CHECK(pattern_is_wild("a.*.b", 5) && !pattern_is_wild("a.b*", 4));
  unsigned seed = 42;
  static const char *tok[] = {"a", "b", "cc", "*", ">", ""};
  char pat[64], topic[64];
  for (int iter = 0; iter < 200000; iter++) {
    int np = 1 + rand_r(&seed) % 4, nt = 1 + rand_r(&seed) % 4;
    pat[0] = topic[0] = 0;
    for (int i = 0; i < np; i++) {
      strcat(pat, tok[rand_r(&seed) % 6]);
      if (i + 1 < np)
        strcat(pat, ".");
    }
    for (int i = 0; i < nt; i++) {
      strcat(topic, tok[rand_r(&seed) % 3 + (rand_r(&seed) % 8 == 0 ? 3 : 0)]);
      if (i + 1 < nt)
        strcat(topic, ".");
    }
    if (pattern_match(pat, strlen(pat), topic, strlen(topic)) !=
        ref_match(pat, topic)) {
      fprintf(stderr, "  pattern '%s' topic '%s'\n", pat, topic);
      CHECK(0);
    }
  }
}

static hub_t *history_hub(uint32_t max_msgs, uint32_t qmax) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  hub_options_set_history(o, NULL, max_msgs, 1 << 20, 0);
  hub_options_set_history(o, "nohist.>", 0, 0, 0);
  if (qmax)
    hub_options_set_queue_limits(o, qmax, 1 << 20);
  if (hub_new(&hub, o) || hub_start(hub)) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(o);
  return hub;
}

void test_resume_ws(void) {
  hub_t *hub = history_hub(5, 0);
  CHECK(hub);
  int64_t seq[10];
  for (int i = 0; i < 10; i++)
    seq[i] = hub_broadcast(hub, "t", "x", 1, 0);
  int fd = wsc_open(hub);
  CHECK(fd >= 0);
  char buf[512], req[256];
  /* Resume from seq[6]: 7, 8, 9 are retained. */
  snprintf(req, sizeof(req),
           "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":%lld}",
           (long long)seq[6]);
  CHECK(wsc_send_text(fd, req));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  snprintf(req, sizeof(req), "\"seq\":%lld", (long long)seq[9]);
  CHECK(strstr(buf, req)); /* the topic's newest seq at subscribe time */
  int64_t got[16];
  int64_t live = hub_broadcast(hub, "t", "y", 1, 0);
  snprintf(req, sizeof(req), "\"seq\":%lld", (long long)live);
  CHECK_EQ(wsc_read_seqs(fd, req, got, 16, buf, sizeof(buf)), 4);
  CHECK(got[0] == seq[7] && got[1] == seq[8] && got[2] == seq[9] &&
        got[3] == live);
  /* From seq[0]: 1..4 were evicted, so a reset instead of a replay. */
  CHECK(wsc_send_text(fd, "{\"op\":\"unsubscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_recv_until(fd, "unsubscribed", buf, sizeof(buf), 2000));
  snprintf(req, sizeof(req),
           "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":%lld}",
           (long long)seq[0]);
  CHECK(wsc_send_text(fd, req));
  CHECK(wsc_recv_until(fd, "\"type\":\"reset\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "retention-exhausted"));
  /* Another epoch: reset too. */
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"u\","
                          "\"since\":\"0000000000000000-3\"}"));
  CHECK(wsc_recv_until(fd, "\"type\":\"reset\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "epoch-changed") && strstr(buf, "\"topic\":\"u\""));
  /* A topic without history cannot be resumed once it has moved on. */
  CHECK(hub_broadcast(hub, "nohist.a", "z", 1, 0) > 0);
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"nohist.a\","
                          "\"since\":1}"));
  CHECK(wsc_recv_until(fd, "\"type\":\"reset\"", buf, sizeof(buf), 2000));
  close(fd);
  hub_free(hub);
}

void test_resume_sse(void) {
  hub_t *hub = history_hub(100, 0);
  CHECK(hub);
  int64_t seq[5];
  for (int i = 0; i < 5; i++)
    seq[i] = hub_broadcast(hub, "t", i % 2 ? "odd" : "even", i % 2 ? 3 : 4, 0);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  char req[256], head[1024], buf[4096];
  snprintf(req, sizeof(req),
           "GET /sse?topic=t HTTP/1.1\r\nHost: x\r\n"
           "Last-Event-ID: %s-%lld\r\n\r\n",
           hub_epoch(hub), (long long)seq[2]);
  CHECK(wsc_write(fd, req, strlen(req)));
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 200);
  int64_t live = hub_broadcast(hub, "t", "live", 4, 0);
  char want[64];
  snprintf(want, sizeof(want), "-%lld\n", (long long)live);
  size_t len = 0;
  int64_t end = test_now_us() + 2000000;
  while (test_now_us() < end && !strstr(buf, want)) {
    ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (r <= 0)
      break;
    len += (size_t)r;
    buf[len] = 0;
  }
  char e3[64], e4[64];
  snprintf(e3, sizeof(e3), "id: %s-%lld\nevent: t\ndata: odd\n", hub_epoch(hub),
           (long long)seq[3]);
  snprintf(e4, sizeof(e4), "id: %s-%lld\nevent: t\ndata: even\n",
           hub_epoch(hub), (long long)seq[4]);
  char *p3 = strstr(buf, e3), *p4 = strstr(buf, e4), *pl = strstr(buf, want);
  CHECK(p3 && p4 && pl && p3 < p4 && p4 < pl);
  snprintf(e3, sizeof(e3), "-%lld\n", (long long)seq[2]);
  CHECK(!strstr(buf, e3)); /* nothing at or before Last-Event-ID */
  close(fd);
  hub_free(hub);
}

/* True once the hub's drops count reaches `n` (within 200 ms): stats are
 * published after the loop iteration that sent the notice. */
static bool drops_settle(hub_t *hub, uint64_t n) {
  for (int i = 0; i < 200; i++, test_sleep_ms(1))
    if (stats_of(hub).drops == n)
      return true;
  return false;
}

void test_lagged_notice(void) {
  /* A WebSocket client that reads nothing while 60 messages of 1 KiB go
   * out with a 4-message queue: drop-oldest discards some; once it reads
   * it gets a "lagged" notice with their range, and resubscribing from
   * just before it replays every one of them. */
  hub_t *hub = history_hub(100, 4);
  CHECK(hub);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  int small = 4096;
  setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  hub_client_id id;
  CHECK(hub_attach_fd(hub, sp[0], NULL, 0, NULL, &id) == 0);
  char head[1024], buf[8192];
  CHECK_EQ(wsc_upgrade(sp[1], "/ws?topic=t", NULL, head, sizeof(head)), 101);
  CHECK(wsc_recv_until(sp[1], "hello", buf, sizeof(buf), 2000));
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  static char kib[1024];
  memset(kib, 'k', sizeof(kib));
  int64_t first = 0, last = 0;
  for (int i = 0; i < 60; i++) {
    last = hub_broadcast(hub, "t", kib, sizeof(kib), 0);
    if (!first)
      first = last;
  }
  CHECK(WAIT_STAT(hub, broadcasts, 60, 2000));
  /* Read the last message and lagged notices until they count every
   * message drop-oldest discarded (one notice, or more when the shard was
   * still queueing as the client began to read; a notice can follow the
   * last message). */
  uint64_t dropped = 0;
  int64_t from = INT64_MAX, to = 0;
  char needle[32];
  snprintf(needle, sizeof(needle), "\"seq\":%lld,", (long long)last);
  unsigned op;
  bool seen_last = false;
  while (!seen_last || !dropped || !drops_settle(hub, dropped)) {
    CHECK(wsc_recv(sp[1], &op, buf, sizeof(buf), 2000) >= 0);
    seen_last |= strstr(buf, needle) != NULL;
    if (!strstr(buf, "\"type\":\"lagged\""))
      continue;
    char *d = strstr(buf, "\"dropped\":"), *f = strstr(buf, "\"from\":"),
         *t = strstr(buf, "\"to\":");
    CHECK(d && f && t);
    dropped += strtoull(d + 10, NULL, 10);
    int64_t nf = strtoll(f + 7, NULL, 10), nt = strtoll(t + 5, NULL, 10);
    CHECK(nf <= nt);
    from = nf < from ? nf : from;
    to = nt > to ? nt : to;
  }
  CHECK(from >= first && to <= last && from <= to);
  /* Recover: subscribe anew from just before the gap (a subscription's
   * history is replayed once, when it is made). A replay counts against
   * the 4-message queue too, so it comes in pages: what fits, then a
   * "lagged" notice from the first seq not sent, to resume from. */
  int64_t want = from;
  for (int page = 0; want <= last && page < 64; page++) {
    CHECK(wsc_send_text(sp[1], "{\"op\":\"unsubscribe\",\"topic\":\"t\"}"));
    char req[128];
    snprintf(req, sizeof(req),
             "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":%lld}",
             (long long)(want - 1));
    CHECK(wsc_send_text(sp[1], req));
    int64_t page_from = want;
    for (int frames = 0; frames < 256; frames++) {
      if (wsc_recv(sp[1], &op, buf, sizeof(buf), 2000) < 0) {
        CHECK(!"a page ends with its last message or a lagged notice");
        break;
      }
      char *seq = strstr(buf, "\"seq\":");
      if (strstr(buf, "\"type\":\"message\"")) {
        CHECK(seq && strtoll(seq + 6, NULL, 10) == want);
        if (want++ == last)
          break;
      } else if (strstr(buf, "\"type\":\"lagged\"")) {
        char *f = strstr(buf, "\"from\":"), *t = strstr(buf, "\"to\":");
        CHECK(f && strtoll(f + 7, NULL, 10) == want);
        CHECK(t && strtoll(t + 5, NULL, 10) == last);
        break;
      }
    }
    CHECK(want > page_from); /* every page gets somewhere */
    if (want == page_from)
      break;
  }
  CHECK(want == last + 1);
  close(sp[1]);
  hub_free(hub);
}

/* Random broadcasts from several threads while clients resubscribe from
 * random points: each client gets exactly the published messages after
 * its point, in order, no gap, no duplicate. Host transports: the payload
 * carries the message's index per topic. */
enum { PT_TOPICS = 4, PT_MSGS = 400, PT_CLIENTS = 24 };

struct pt {
  hub_t *hub;
  _Atomic int64_t seqs[PT_TOPICS][PT_MSGS]; /* index -> seq, 0 = not yet */
  atomic_int done;
};

static void *pt_broadcaster(void *p) {
  struct pt *pt = p;
  static atomic_int next;
  int k = atomic_fetch_add(&next, 1) % PT_TOPICS;
  char topic[16], payload[16];
  snprintf(topic, sizeof(topic), "p%d", k);
  for (int i = 0; i < PT_MSGS; i++) {
    int n = snprintf(payload, sizeof(payload), "%d,", i);
    atomic_store(&pt->seqs[k][i], hub_broadcast(pt->hub, topic, payload,
                                                (size_t)n, 0));
  }
  atomic_fetch_add(&pt->done, 1);
  return NULL;
}

void test_resume_property(void) {
  static struct pt pt;
  memset(&pt, 0, sizeof(pt));
  pt.hub = history_hub(PT_MSGS, 0);
  CHECK(pt.hub);
  hub_client_options *co;
  hub_client_options_new(&co);
  hub_client_options_set_queue_limits(co, 1u << 20, 1u << 30);
  pthread_t th[PT_TOPICS];
  for (int i = 0; i < PT_TOPICS; i++)
    pthread_create(&th[i], NULL, pt_broadcaster, &pt);
  struct memtp *c[PT_CLIENTS];
  int topic[PT_CLIENTS], from[PT_CLIENTS];
  unsigned seed = 7;
  for (int i = 0; i < PT_CLIENTS; i++) {
    test_sleep_ms(rand_r(&seed) % 5);
    topic[i] = i % PT_TOPICS;
    /* Resume from a message already published (its index and seq). */
    int hi = 0;
    while (hi < PT_MSGS && atomic_load(&pt.seqs[topic[i]][hi]))
      hi++;
    from[i] = hi ? rand_r(&seed) % hi : -1;
    c[i] = memtp_attach(pt.hub, co);
    CHECK(c[i]);
    char name[16];
    snprintf(name, sizeof(name), "p%d", topic[i]);
    int64_t since =
        from[i] >= 0 ? atomic_load(&pt.seqs[topic[i]][from[i]]) : 0;
    CHECK(hub_subscribe_since(pt.hub, c[i]->id, name, NULL, since) == 0);
  }
  for (int i = 0; i < PT_TOPICS; i++)
    pthread_join(th[i], NULL);
  hub_client_options_free(co);
  for (int i = 0; i < PT_CLIENTS; i++) {
    /* Everything after from[i], in order: indexes from[i]+1 .. end. */
    size_t want = 0;
    char expect[PT_MSGS * 5] = "";
    for (int j = from[i] + 1; j < PT_MSGS; j++) {
      char one[16];
      snprintf(one, sizeof(one), "%d,", j);
      strcat(expect, one);
    }
    want = strlen(expect);
    int64_t end = test_now_us() + 5000000;
    while (memtp_len(c[i]) < want && test_now_us() < end)
      test_sleep_ms(1);
    test_sleep_ms(i == 0 ? 20 : 0); /* a duplicate would show as extra */
    char *got = memtp_take_copy(c[i], NULL);
    if (strcmp(got, expect) != 0)
      fprintf(stderr, "  client %d from %d: got %.60s... want %.60s...\n", i,
              from[i], got, expect);
    CHECK(strcmp(got, expect) == 0);
    free(got);
  }
  hub_free(pt.hub);
  for (int i = 0; i < PT_CLIENTS; i++)
    memtp_free(c[i]);
}

void test_history_sweep(void) {
  /* History of a topic nobody publishes to any more is aged out by the
   * shards' sweep, and the entry is freed. Host-loop mode: the shard's fd
   * must become readable by itself when the sweep is due. */
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_threads(o, 0);
  hub_options_set_history(o, NULL, 10, 1 << 20, 50);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  CHECK(hub_broadcast(hub, "gone", "x", 1, 0) > 0);
  CHECK_EQ(stats_of(hub).history_msgs, 1);
  struct pollfd pfd = {hub_shard_fd(hub, 0), POLLIN, 0};
  int64_t end = test_now_us() + 3000000;
  while (stats_of(hub).history_msgs && test_now_us() < end)
    if (poll(&pfd, 1, 100) == 1)
      hub_shard_run(hub, 0, 0);
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.history_msgs, 0);
  CHECK_EQ(s.history_bytes, 0);
  hub_free(hub);
}

void test_wildcard_subscribe(void) {
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *a = memtp_attach(hub, NULL), *b = memtp_attach(hub, NULL),
               *c = memtp_attach(hub, NULL), *d = memtp_attach(hub, NULL);
  CHECK(hub_subscribe(hub, a->id, "news.*") == 0);
  CHECK(hub_subscribe(hub, b->id, "news.>") == 0);
  CHECK(hub_subscribe(hub, c->id, "news.sport") == 0);
  CHECK(hub_subscribe(hub, c->id, "news.*") == 0); /* overlaps: one copy */
  CHECK(hub_subscribe(hub, d->id, "*.weather") == 0);
  CHECK(hub_subscribe(hub, d->id, "a.>.b") == HUB_ETOPIC);
  CHECK(hub_broadcast(hub, "news.*", "x", 1, 0) == HUB_ETOPIC);
  CHECK(WAIT_STAT(hub, subscriptions, 5, 2000));
  CHECK_EQ(stats_of(hub).patterns, 3);
  CHECK(hub_broadcast(hub, "news.sport", "1", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news.sport.live", "2", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news", "3", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news.weather", "4", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "sea.weather", "5", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, 3 + 1 + 0 + 4 + 1, 2000));
  test_sleep_ms(20);
  char *s;
  CHECK(strcmp(s = memtp_take_copy(a, NULL), "14") == 0);
  free(s);
  CHECK(strcmp(s = memtp_take_copy(b, NULL), "124") == 0);
  free(s);
  CHECK(strcmp(s = memtp_take_copy(c, NULL), "14") == 0);
  free(s);
  CHECK(strcmp(s = memtp_take_copy(d, NULL), "45") == 0);
  free(s);
  /* Patterns leave the index with their last subscriber. */
  CHECK(hub_unsubscribe(hub, a->id, "news.*") == 0);
  CHECK(hub_client_close(hub, c->id, 0) == 0);
  CHECK(WAIT_STAT(hub, patterns, 2, 2000));
  CHECK(hub_client_close(hub, b->id, 0) == 0);
  CHECK(hub_client_close(hub, d->id, 0) == 0);
  CHECK(WAIT_STAT(hub, patterns, 0, 2000));
  hub_free(hub);
  memtp_free(a);
  memtp_free(b);
  memtp_free(c);
  memtp_free(d);
}

void test_wildcard_10k(void) {
  /* 10,000 patterns in the hub's index: matching a topic costs a walk
   * down its tokens, not a scan. Prints the figure; asserts only that
   * the matches are right. */
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  struct memtp *t = memtp_attach(hub, NULL);
  char pat[64];
  for (int i = 0; i < 10000; i++) {
    snprintf(pat, sizeof(pat), i % 2 ? "dev.%d.*" : "dev.%d.>", i);
    CHECK(hub_subscribe(hub, t->id, pat) == 0);
  }
  CHECK(WAIT_STAT(hub, patterns, 10000, 5000));
  enum { N = 200000 };
  int64_t t0 = test_now_us();
  uint64_t hits = 0;
  for (int i = 0; i < N; i++) {
    snprintf(pat, sizeof(pat), "dev.%d.temp", (i * 7919) % 20000);
    hits += ti_pat_mask(&((struct hub *)hub)->index, pat, strlen(pat)) != 0;
  }
  int64_t us = test_now_us() - t0;
  printf("     wildcard: %d matches against 10,000 patterns: %.0f ns each\n",
         N, us * 1000.0 / N);
  CHECK_EQ(hits, N / 2); /* dev.0..9999 match, 10000..19999 do not */
  hub_free(hub);
  memtp_free(t);
}

void test_send_to(void) {
  /* A snapshot sent to one client lands before the broadcasts that follow
   * it, and nobody else gets it. */
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *a = memtp_attach(hub, NULL), *b = memtp_attach(hub, NULL);
  for (int round = 0; round < 50; round++) {
    char topic[16];
    snprintf(topic, sizeof(topic), "s%d", round);
    CHECK(hub_subscribe(hub, a->id, topic) == 0);
    CHECK(hub_subscribe(hub, b->id, topic) == 0);
    CHECK(hub_send_to(hub, a->id, topic, "S", 1, 0) == 0);
    CHECK(hub_broadcast(hub, topic, "L", 1, 0) > 0);
  }
  CHECK(hub_send_to(hub, a->id, "x.*", "S", 1, 0) == HUB_ETOPIC);
  CHECK(hub_send_to(hub, 0, "x", "S", 1, 0) == HUB_EINVAL);
  CHECK(WAIT_STAT(hub, deliveries, 150, 2000));
  char *s = memtp_take_copy(a, NULL);
  for (int i = 0; i < 50; i++)
    CHECK(s[2 * i] == 'S' && s[2 * i + 1] == 'L');
  free(s);
  s = memtp_take_copy(b, NULL);
  CHECK(strlen(s) == 50 && !strchr(s, 'S'));
  free(s);
  hub_free(hub);
  memtp_free(a);
  memtp_free(b);
}

static void count_member(hub_t *hub, hub_client_id id, const char *principal,
                         void *ud) {
  (void)hub;
  (void)id;
  (void)principal;
  (*(int *)ud)++;
}

void test_presence(void) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  CHECK(hub_options_set_presence(o, "room.*") == 0);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  char head[1024], buf[512];
  hub_client_id ida, idb;
  int a = wsc_attach(hub, &ida), b = wsc_attach(hub, &idb);
  CHECK_EQ(wsc_upgrade(a, "/ws?topic=room.1", NULL, head, sizeof(head)), 101);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  CHECK_EQ(wsc_upgrade(b, "/ws?topic=room.1&topic=lobby", NULL, head,
                       sizeof(head)), 101);
  /* a sees b join; b gets no join for "lobby" (no presence there). */
  char want[64];
  snprintf(want, sizeof(want), "\"client\":\"%llu\"", (unsigned long long)idb);
  CHECK(wsc_recv_until(a, "\"type\":\"join\"", buf, sizeof(buf), 2000));
  if (!strstr(buf, want)) /* a's own join came first */
    CHECK(wsc_recv_until(a, "\"type\":\"join\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, want) && strstr(buf, "\"topic\":\"room.1\""));
  CHECK(WAIT_STAT(hub, subscriptions, 3, 2000));
  int n = 0;
  CHECK_EQ(hub_presence(hub, "room.1", count_member, &n), 2);
  CHECK_EQ(n, 2);
  CHECK_EQ(hub_presence(hub, "lobby", count_member, &n), 0);
  close(b);
  CHECK(wsc_recv_until(a, "\"type\":\"leave\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, want));
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  n = 0;
  CHECK_EQ(hub_presence(hub, "room.1", count_member, &n), 1);
  close(a);
  hub_free(hub);
}

void test_batch(void) {
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *t = memtp_attach(hub, NULL);
  CHECK(hub_subscribe(hub, t->id, "row.*") == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  hub_batch *b;
  CHECK(hub_batch_new(hub, &b) == 0);
  /* A rolled-back transaction: staged, dropped, nothing goes out. */
  CHECK(hub_batch_add(b, "row.1", "x", 1, 0) == 0);
  CHECK_EQ(hub_batch_count(b), 1);
  hub_batch_discard(b);
  CHECK_EQ(hub_batch_count(b), 0);
  CHECK(hub_batch_publish(b) == 0);
  /* A committed one: all of it, in order. */
  char p[16];
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(p, sizeof(p), "%d,", i);
    CHECK(hub_batch_add(b, i % 2 ? "row.odd" : "row.even", p, (size_t)n, 0) ==
          0);
  }
  CHECK(hub_batch_add(b, "row.*", "x", 1, 0) == HUB_ETOPIC);
  /* A savepoint rolled back: what came after it goes, the rest stays. */
  size_t mark = hub_batch_count(b);
  CHECK(hub_batch_add(b, "row.even", "undone,", 7, 0) == 0);
  CHECK(hub_batch_truncate(b, mark + 2) == HUB_EINVAL);
  CHECK(hub_batch_truncate(b, mark) == 0);
  CHECK_EQ(hub_batch_count(b), 1000);
  int64_t last = hub_batch_publish(b);
  CHECK(last > 0);
  CHECK_EQ(hub_batch_count(b), 0);
  CHECK(WAIT_STAT(hub, deliveries, 1000, 2000));
  char *got = memtp_take_copy(t, NULL);
  char *p2 = got;
  for (int i = 0; i < 1000; i++) {
    CHECK(strtol(p2, &p2, 10) == i && *p2 == ',');
    p2++;
  }
  free(got);
  CHECK_EQ(stats_of(hub).broadcasts, 1000);
  hub_batch_free(b);
  hub_free(hub);
  memtp_free(t);
}
