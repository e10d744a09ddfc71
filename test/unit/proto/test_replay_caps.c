/* What one request can make the server hold: a resume replays history
 * within the client's queue caps, once per subscription, from frames the
 * shard shares; a message too large for the caps still reaches a client
 * that keeps up. Real sockets, a counting allocator for the hub's heap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

static hub_t *counted_hub(uint64_t qbytes) {
  hub_options *o;
  hub_t *hub = NULL;
    hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_mem(o, &counting_mem);
  if (qbytes)
    hub_options_set_queue_limits(o, 1024, qbytes);
  if (hub_new(&hub, o) || hub_start(hub)) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(o);
  return hub;
}

/* A client socket that takes at most ~4 KiB and never reads. */
static int stalled_client(hub_t *hub) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
    return -1;
  int small = 4096;
  setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  hub_client_id id;
  if (hub_attach_fd(hub, sp[0], NULL, 0, NULL, &id)) {
    close(sp[1]);
    return -1;
  }
  return sp[1];
}

/* "GET <path>?since=S&topic=t&topic=t..." with the topic `reps` times. */
static char *flood_request(const char *path, int64_t since, int reps,
                           bool ws) {
  size_t cap = 256 + (size_t)reps * 8;
  char *req = malloc(cap);
  int n = snprintf(req, cap, "GET %s?since=%lld", path, (long long)since);
  for (int i = 0; i < reps; i++)
    n += snprintf(req + n, cap - (size_t)n, "&topic=t");
  snprintf(req + n, cap - (size_t)n,
           " HTTP/1.1\r\nHost: x\r\n%s\r\n",
           ws ? "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              : "");
  return req;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
      res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

void test_resume_flood_bounded(void) {
  /* The review's attack: four 256 KiB messages in history, then requests
   * of ~4 KiB naming the topic 500 times with a starting point before
   * all of them, from clients that never read. Each may hold at most its
   * 1 MiB cap, and the frames are the shard's, shared: the hub's heap
   * grows by one set of frames, not by 500 x 4 x 256 KiB per client. */
  hub_t *hub = counted_hub(0);
  CHECK(hub);
  static char quarter[256 * 1024];
  memset(quarter, 'q', sizeof(quarter));
  int64_t first = 0;
  for (int i = 0; i < 4; i++) {
    int64_t seq = hub_broadcast(hub, "t", quarter, sizeof(quarter), 0);
    if (!first)
      first = seq;
  }
  CHECK(WAIT_STAT(hub, broadcasts, 4, 2000));
  long long before = counted_bytes();
  long rss_before = rss_kib();
  int fds[6];
  for (int i = 0; i < 6; i++) {
    fds[i] = stalled_client(hub);
    CHECK(fds[i] >= 0);
    char *req = flood_request(i % 2 ? "/ws" : "/sse", first - 1, 500, i % 2);
    CHECK(strlen(req) < 8192);
    CHECK(wsc_write(fds[i], req, strlen(req)));
    free(req);
  }
  CHECK(WAIT_STAT(hub, subscriptions, 6, 5000));
  CHECK(WAIT_STAT(hub, clients, 6, 5000));
  test_sleep_ms(100);
  hub_stats_t st;
  CHECK(hub_stats(hub, &st, sizeof(st)) == 0);
  long long grew = counted_bytes() - before;
  long rss_grew = rss_kib() - rss_before;
  printf("  6 flooding clients: queued %llu B, hub heap +%lld KiB, "
         "RSS +%ld KiB\n",
         (unsigned long long)st.bytes_queued, grew / 1024, rss_grew);
  /* Each client's queue within its cap (plus its own small frames). */
  CHECK(st.bytes_queued <= 6 * ((1u << 20) + 4096));
  CHECK(st.subscriptions == 6); /* one per client, not 500 */
  /* One shared set of frames: less than two clients' worth. */
  CHECK(grew < 2 * (1 << 20));
  CHECK(rss_grew < 64 * 1024);
  for (int i = 0; i < 6; i++)
    close(fds[i]);
  CHECK(WAIT_STAT(hub, clients, 0, 5000));
  hub_free(hub);
}

void test_resume_flood_pages(void) {
  /* A client that reads gets what fits in its caps, oldest first, each
   * message once however often the topic is named, then a "lagged"
   * notice naming the first seq not sent: its resume point. */
  hub_t *hub = counted_hub(0);
  CHECK(hub);
  static char quarter[256 * 1024];
  memset(quarter, 'q', sizeof(quarter));
  int64_t seqs[4];
  for (int i = 0; i < 4; i++)
    seqs[i] = hub_broadcast(hub, "t", quarter, sizeof(quarter), 0);
  CHECK(WAIT_STAT(hub, broadcasts, 4, 2000));
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  CHECK(fd >= 0);
  char *req = flood_request("/ws", seqs[0] - 1, 50, true);
  CHECK(wsc_write(fd, req, strlen(req)));
  free(req);
  char head[1024];
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 101);
  char *buf = malloc(300 * 1024);
  unsigned op;
  int got = 0;
  bool lagged = false;
  while (!lagged && wsc_recv(fd, &op, buf, 300 * 1024, 2000) >= 0) {
    char *seq = strstr(buf, "\"seq\":");
    if (strstr(buf, "\"type\":\"message\"")) {
      CHECK(got < 4 && seq && strtoll(seq + 6, NULL, 10) == seqs[got]);
      got++;
    } else if (strstr(buf, "\"type\":\"lagged\"")) {
      char from[32], to[32];
      snprintf(from, sizeof(from), "\"from\":%lld,", (long long)seqs[got]);
      snprintf(to, sizeof(to), "\"to\":%lld}", (long long)seqs[3]);
      CHECK(strstr(buf, from) && strstr(buf, to));
      lagged = true;
    }
  }
  /* 1 MiB holds three 256 KiB frames with their envelopes, not four. */
  CHECK_EQ(got, 3);
  CHECK(lagged);
  free(buf);
  close(fd);
  hub_free(hub);
}

void test_oversize_message_delivered(void) {
  /* A frame larger than the byte cap alone cannot fit any queue: it goes
   * into a queue holding no other message, so a client that keeps up
   * gets it; one that has others queued loses them (drop-oldest) and is
   * told at once, not at some later event. */
  hub_t *hub = counted_hub(64 * 1024);
  CHECK(hub);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  char head[1024];
  CHECK(fd >= 0);
  CHECK_EQ(wsc_upgrade(fd, "/ws?topic=big", NULL, head, sizeof(head)), 101);
  char *buf = malloc(400 * 1024);
  unsigned op;
  CHECK(wsc_recv_until(fd, "hello", buf, 400 * 1024, 2000));
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  /* 50,000 control bytes: ~300 KB once JSON-escaped. */
  static char ctl[50000];
  memset(ctl, 1, sizeof(ctl));
  int64_t seq = hub_broadcast(hub, "big", ctl, sizeof(ctl), 0);
  CHECK(seq > 0);
  long n = wsc_recv(fd, &op, buf, 400 * 1024, 2000);
  CHECK(n > 6 * (long)sizeof(ctl));
  char want[32];
  snprintf(want, sizeof(want), "\"seq\":%lld,", (long long)seq);
  CHECK(n > 0 && strstr(buf, want));
  hub_stats_t st;
  CHECK(hub_stats(hub, &st, sizeof(st)) == 0);
  CHECK_EQ(st.drops, 0);
  free(buf);
  close(fd);
  hub_free(hub);
}
