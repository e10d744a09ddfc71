/* History as WebSocket and SSE clients see it: resume with "since" or
 * Last-Event-ID, and the "lagged" notice when drop-oldest discards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

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

/* Adds a "lagged" notice in buf (anything else is ignored) to the drops
 * counted and the range of seqs they span. */
static void note_lagged(const char *buf, uint64_t *dropped, int64_t *from,
                        int64_t *to) {
  if (!strstr(buf, "\"type\":\"lagged\""))
    return;
  const char *d = strstr(buf, "\"dropped\":"), *f = strstr(buf, "\"from\":"),
             *t = strstr(buf, "\"to\":");
  CHECK(d && f && t);
  if (!d || !f || !t)
    return;
  *dropped += strtoull(d + 10, NULL, 10);
  int64_t nf = strtoll(f + 7, NULL, 10), nt = strtoll(t + 5, NULL, 10);
  CHECK(nf <= nt);
  *from = nf < *from ? nf : *from;
  *to = nt > *to ? nt : *to;
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
    note_lagged(buf, &dropped, &from, &to);
  }
  /* The drop counter is a snapshot the shard publishes as it goes, so it
   * can match the notices read so far while one more is on its way: read
   * until the socket has been quiet a while, and count again. */
  while (wsc_recv(sp[1], &op, buf, sizeof(buf), 300) >= 0)
    note_lagged(buf, &dropped, &from, &to);
  CHECK(drops_settle(hub, dropped));
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
