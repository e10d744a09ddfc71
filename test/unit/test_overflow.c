/* A full shard queue: broadcasting goes on, the loss is counted. */
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "test.h"
#include "util.h"
#include "wsclient.h"
#include <unistd.h>

void test_shard_queue_overflow(void) {
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  hub_options_set_threads(o, 0);
  hub_options_set_shard_queue_size(o, 16);
  hub_t *hub;
  CHECK(hub_new(&hub, o) == 0);
  hub_options_free(o);
  CHECK(hub_start(hub) == 0);
  struct memtp *t = memtp_attach(hub, NULL);
  CHECK(hub_subscribe(hub, t->id, "t") == 0);
  run_shards(hub);
  /* The shard never runs while we broadcast: if a full queue made
   * hub_broadcast() wait, this loop would never end. */
  char p[8];
  for (int i = 0; i < 100; i++) {
    snprintf(p, sizeof(p), "%02d,", i);
    CHECK(hub_broadcast(hub, "t", p, 3, 0) == i + 1);
  }
  CHECK_EQ(stats_of(hub).queue_overflows, 84);
  run_shards(hub);
  char *got = memtp_take_copy(t, NULL);
  CHECK(strncmp(got, "00,01,02,", 9) == 0);
  CHECK_EQ(strlen(got), 16 * 3);
  CHECK(strcmp(got + 15 * 3, "15,") == 0);
  free(got);
  /* Room again: the next broadcast goes through. */
  CHECK(hub_broadcast(hub, "t", "ok", 2, 0) > 0);
  run_shards(hub);
  CHECK_EQ(memtp_len(t), 16 * 3 + 2);
  CHECK_EQ(stats_of(hub).queue_overflows, 84);
  hub_free(hub);
  memtp_free(t);
}

void test_shard_queue_overflow_lagged(void) {
  /* The same overflow with a WebSocket client: it is told what it lost
   * ("lagged" with the count and range) and gets it back from history
   * with "since". */
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_threads(o, 0);
  hub_options_set_shard_queue_size(o, 16);
  hub_t *hub;
  CHECK(hub_new(&hub, o) == 0);
  hub_options_free(o);
  CHECK(hub_start(hub) == 0);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  static const char req[] =
      "GET /ws?topic=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  CHECK(wsc_write(fd, req, sizeof(req) - 1));
  run_shards(hub);
  char head[1024], buf[4096];
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 101);
  CHECK_EQ(stats_of(hub).subscriptions, 1);
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
