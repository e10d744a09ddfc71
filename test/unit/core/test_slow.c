/* Slow clients: drop-oldest, disconnect, isolation, partial writes,
 * broken transports. */
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

static hub_client_options *limits(uint32_t msgs, uint64_t bytes,
                                  hub_policy policy) {
  hub_client_options *co;
  hub_client_options_new(&co);
  hub_client_options_set_queue_limits(co, msgs, bytes);
  hub_client_options_set_policy(co, policy);
  return co;
}

void test_drop_oldest_keeps_newest(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = hub_make(1, 0, &log);
  CHECK(hub);
  hub_client_options *co = limits(4, 1 << 20, HUB_DROP_OLDEST);
  struct memtp *slow = memtp_attach(hub, co);
  hub_client_options_free(co);
  co = limits(100, 10, HUB_DROP_OLDEST); /* byte cap: two 4-byte msgs */
  struct memtp *tight = memtp_attach(hub, co);
  hub_client_options_free(co);
  memtp_set_accept(slow, 0);
  memtp_set_accept(tight, 0);
  CHECK(hub_subscribe(hub, slow->id, "t") == 0);
  CHECK(hub_subscribe(hub, tight->id, "t") == 0);
  run_shards(hub);
  char p[8];
  for (int i = 0; i < 10; i++) {
    snprintf(p, sizeof(p), "m%d;", i);
    CHECK(hub_broadcast(hub, "t", p, 3, 0) > 0);
  }
  run_shards(hub);
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.drops, 6 + 7);
  CHECK_EQ(s.bytes_queued, 4 * 3 + 3 * 3);
  memtp_set_accept(slow, SIZE_MAX);
  memtp_set_accept(tight, SIZE_MAX);
  CHECK(hub_client_writable(hub, slow->id) == 0);
  CHECK(hub_client_writable(hub, tight->id) == 0);
  run_shards(hub);
  char *got = memtp_take_copy(slow, NULL);
  CHECK(strcmp(got, "m6;m7;m8;m9;") == 0);
  free(got);
  got = memtp_take_copy(tight, NULL);
  CHECK(strcmp(got, "m7;m8;m9;") == 0);
  free(got);
  CHECK(hub_client_close(hub, slow->id, 0) == 0);
  run_shards(hub);
  hub_close_info info;
  CHECK(closelog_find(&log, slow->id, &info));
  CHECK_EQ(info.drops, 6);
  CHECK_EQ(info.deliveries, 4);
  hub_free(hub);
  CHECK(closelog_find(&log, tight->id, &info));
  CHECK_EQ(info.drops, 7);
  memtp_free(slow);
  memtp_free(tight);
}

void test_disconnect_policy(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = hub_make(1, 0, &log);
  CHECK(hub);
  hub_client_options *co = limits(3, 1 << 20, HUB_DISCONNECT);
  struct memtp *slow = memtp_attach(hub, co);
  struct memtp *fine = memtp_attach(hub, co);
  struct memtp *other = memtp_attach(hub, NULL);
  hub_client_options_free(co);
  memtp_set_accept(slow, 0);
  CHECK(hub_subscribe(hub, slow->id, "t") == 0);
  CHECK(hub_subscribe(hub, fine->id, "t") == 0);
  CHECK(hub_subscribe(hub, other->id, "t") == 0);
  run_shards(hub);
  for (int i = 0; i < 5; i++) {
    CHECK(hub_broadcast(hub, "t", "x", 1, 0) > 0);
    run_shards(hub);
  }
  CHECK_EQ(memtp_closes(slow), 1);
  CHECK_EQ(memtp_closes(fine), 0);
  CHECK_EQ(memtp_closes(other), 0);
  CHECK_EQ(memtp_len(fine), 5);
  CHECK_EQ(memtp_len(other), 5);
  hub_close_info info;
  CHECK(closelog_find(&log, slow->id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_POLICY);
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.evictions, 1);
  CHECK_EQ(s.clients, 2);
  CHECK_EQ(s.subscriptions, 2);
  hub_free(hub);
  memtp_free(slow);
  memtp_free(fine);
  memtp_free(other);
}

void test_stalled_client_isolation(void) {
  enum { HEALTHY = 100, MSGS = 3000 };
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  struct memtp *stalled = memtp_attach(hub, NULL);
  memtp_set_accept(stalled, 0);
  CHECK(hub_subscribe(hub, stalled->id, "t") == 0);
  struct memtp *ok[HEALTHY];
  for (int i = 0; i < HEALTHY; i++) {
    ok[i] = memtp_attach(hub, NULL);
    CHECK(hub_subscribe(hub, ok[i]->id, "t") == 0);
  }
  CHECK(WAIT_STAT(hub, subscriptions, HEALTHY + 1, 2000));
  for (int i = 0; i < MSGS; i++)
    CHECK(hub_broadcast(hub, "t", "0123456789abcdef", 16, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, (uint64_t)HEALTHY * MSGS, 10000));
  for (int i = 0; i < HEALTHY; i++)
    CHECK_EQ(memtp_len(ok[i]), 16 * MSGS);
  /* The stalled one holds exactly its cap (1024 messages by default),
   * was offered bytes once and then left alone until it says writable. */
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.bytes_queued, 1024 * 16);
  CHECK_EQ(s.drops, MSGS - 1024);
  hub_free(hub);
  CHECK(stalled->writes <= 2); /* read once the shard threads are gone */
  memtp_free(stalled);
  for (int i = 0; i < HEALTHY; i++)
    memtp_free(ok[i]);
}

void test_partial_writes(void) {
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *t = memtp_attach(hub, NULL);
  memtp_set_accept(t, 3); /* takes 3 bytes a call, then says writable */
  CHECK(hub_subscribe(hub, t->id, "t") == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  char want[50 * 10 + 1], p[16];
  want[0] = 0;
  for (int i = 0; i < 50; i++) {
    snprintf(p, sizeof(p), "<msg %03d>", i);
    strcat(want, p);
    CHECK(hub_broadcast(hub, "t", p, strlen(p), 0) > 0);
  }
  CHECK(WAIT_STAT(hub, deliveries, 50, 5000));
  char *got = memtp_take_copy(t, NULL);
  CHECK(strcmp(got, want) == 0);
  free(got);
  hub_free(hub);
  memtp_free(t);
}

void test_transport_error_closes(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = hub_make(1, 1, &log);
  CHECK(hub);
  struct memtp *bad = memtp_attach(hub, NULL);
  struct memtp *good = memtp_attach(hub, NULL);
  memtp_set_fail(bad, 1);
  CHECK(hub_subscribe(hub, bad->id, "t") == 0);
  CHECK(hub_subscribe(hub, good->id, "t") == 0);
  CHECK(hub_broadcast(hub, "t", "a", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, clients_closed, 1, 2000));
  CHECK(hub_broadcast(hub, "t", "b", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, 2, 2000));
  hub_close_info info;
  CHECK(closelog_find(&log, bad->id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_TRANSPORT);
  CHECK_EQ(memtp_closes(bad), 1);
  CHECK_EQ(memtp_len(good), 2);
  CHECK_EQ(stats_of(hub).subscriptions, 1);
  hub_free(hub);
  memtp_free(bad);
  memtp_free(good);
}
