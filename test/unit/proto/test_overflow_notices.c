/* A full shard queue, seen by a WebSocket client: it is told what it
 * lost ("lagged"), however many messages that was. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hub.h"
#include "tests.h"
#include "util.h"
#include "wsclient.h"

/* A WebSocket client subscribed to "t" on a host-loop hub: its shard
 * runs only inside run_shards(). Returns the socket or -1. */
static int ws_on_t(hub_t *hub) {
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  static const char req[] =
      "GET /ws?topic=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  char head[1024];
  if (fd < 0 || !wsc_write(fd, req, sizeof(req) - 1))
    return -1;
  run_shards(hub);
  if (wsc_read_head(fd, head, sizeof(head), 2000) != 101 ||
      stats_of(hub).subscriptions != 1) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A started host-loop hub with one shard and a 16-slot queue (its shard
 * is stuck whenever the test does not call run_shards()), and in *fd a
 * WebSocket client subscribed to "t". NULL on failure. */
static hub_t *stuck_hub_ws(int *fd) {
  hub_options *o;
  hub_t *hub = NULL;
  if (hub_options_new(&o))
    return NULL;
  hub_options_set_shards(o, 1);
  hub_options_set_threads(o, 0);
  hub_options_set_shard_queue_size(o, 16);
  int rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv || hub_start(hub) || (*fd = ws_on_t(hub)) < 0) {
    hub_free(hub);
    return NULL;
  }
  return hub;
}

void test_shard_queue_overflow_lagged(void) {
  /* The same overflow with a WebSocket client: it is told what it lost
   * ("lagged" with the count and range) and gets it back from history
   * with "since". */
  int fd;
  hub_t *hub = stuck_hub_ws(&fd);
  CHECK(hub);
  char buf[4096];
  int64_t first = 0, last = 0;
  for (int i = 0; i < 40; i++) {
    last = hub_broadcast(hub, "t", "x", 1, 0);
    if (i == 16)
      first = last; /* the 17th and later do not fit in 16 slots */
  }
  run_shards(hub);
  CHECK_EQ(stats_of(hub).queue_overflows, 24);
  CHECK(wsc_recv_until(fd, "\"type\":\"lagged\"", buf, sizeof(buf), 2000));
  char want[96];
  snprintf(want, sizeof(want), "\"dropped\":24,\"from\":%lld,\"to\":%lld",
           (long long)first, (long long)last);
  CHECK(strstr(buf, want));
  close(fd);
  hub_free(hub);
}

void test_shard_queue_overflow_bounded(void) {
  /* A shard stuck for long (host-loop mode: it does not run while we
   * broadcast) with a 16-slot queue: past SHARD_LOST_CMDS lost messages
   * the hub stops keeping one command per loss, and the subscriber still
   * hears of every one: "dropped" counts them all, up to the last. */
  int fd;
  hub_t *hub = stuck_hub_ws(&fd);
  CHECK(hub);
  char buf[4096];
  enum { N = 16 + SHARD_LOST_CMDS + 500 };
  int64_t first = 0, last = 0;
  for (int i = 0; i < N; i++) {
    last = hub_broadcast(hub, "t", "x", 1, 0);
    if (i == 16)
      first = last;
  }
  CHECK_EQ(atomic_load(&hub->shards[0].lost_cmds), SHARD_LOST_CMDS);
  CHECK_EQ(atomic_load(&hub->shards[0].lost_more), 500);
  CHECK_EQ(stats_of(hub).queue_overflows, N - 16);
  run_shards(hub);
  CHECK_EQ(atomic_load(&hub->shards[0].lost_cmds), 0);
  CHECK(wsc_recv_until(fd, "\"type\":\"lagged\"", buf, sizeof(buf), 2000));
  char want[96];
  snprintf(want, sizeof(want), "\"dropped\":%d,\"from\":%lld,\"to\":%lld",
           N - 16, (long long)first, (long long)last);
  CHECK(strstr(buf, want));
  close(fd);
  hub_free(hub);
}
