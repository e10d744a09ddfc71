/* The registry through the public API: idempotence, cleanup, ordering of
 * subscribe against broadcast. */
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

void test_api_subscribe_idempotent(void) {
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *a = memtp_attach(hub, NULL);
  struct memtp *b = memtp_attach(hub, NULL);
  CHECK(a && b);
  for (int i = 0; i < 3; i++) {
    CHECK(hub_subscribe(hub, a->id, "news") == 0);
    CHECK(hub_subscribe(hub, b->id, "news") == 0);
  }
  CHECK(hub_subscribe(hub, a->id, "sport") == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 3, 2000));
  CHECK(WAIT_STAT(hub, topics, 2, 2000));
  /* One message each, not three. */
  CHECK(hub_broadcast(hub, "news", "n", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, 2, 2000));
  test_sleep_ms(20);
  CHECK_EQ(memtp_len(a), 1);
  CHECK_EQ(memtp_len(b), 1);
  /* Unsubscribe twice is one removal; the emptied topic disappears. */
  CHECK(hub_unsubscribe(hub, a->id, "sport") == 0);
  CHECK(hub_unsubscribe(hub, a->id, "sport") == 0);
  CHECK(hub_unsubscribe(hub, a->id, "never") == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 2, 2000));
  CHECK(WAIT_STAT(hub, topics, 1, 2000));
  /* Unknown ids are ignored and leave no count behind in the index. */
  CHECK(hub_subscribe(hub, 999999, "ghost") == 0);
  CHECK(hub_broadcast(hub, "news", "m", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, 4, 2000));
  CHECK(WAIT_STAT(hub, topics, 1, 2000));
  hub_free(hub);
  memtp_free(a);
  memtp_free(b);
}

void test_api_unsubscribe_all_on_close(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = hub_make(2, 1, &log);
  CHECK(hub);
  struct memtp *a = memtp_attach(hub, NULL);
  struct memtp *b = memtp_attach(hub, NULL);
  char name[16];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof(name), "t%d", i);
    CHECK(hub_subscribe(hub, a->id, name) == 0);
    if (i < 10)
      CHECK(hub_subscribe(hub, b->id, name) == 0);
  }
  CHECK(WAIT_STAT(hub, subscriptions, 110, 2000));
  CHECK(WAIT_STAT(hub, topics, 100, 2000));
  CHECK(hub_client_close(hub, a->id, 4000) == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 10, 2000));
  CHECK(WAIT_STAT(hub, topics, 10, 2000));
  CHECK(WAIT_STAT(hub, clients, 1, 2000));
  CHECK_EQ(memtp_closes(a), 1);
  hub_close_info info;
  CHECK(closelog_find(&log, a->id, &info));
  CHECK_EQ(info.code, 4000);
  /* Closing again, or subscribing a closed client, does nothing. */
  CHECK(hub_client_close(hub, a->id, 0) == 0);
  CHECK(hub_subscribe(hub, a->id, "t1") == 0);
  CHECK(hub_client_close(hub, b->id, 0) == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 0, 2000));
  CHECK(WAIT_STAT(hub, topics, 0, 2000));
  CHECK(WAIT_STAT(hub, clients_closed, 2, 2000));
  CHECK(closelog_find(&log, b->id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_NORMAL);
  CHECK_EQ(memtp_closes(a), 1);
  hub_free(hub);
  CHECK_EQ(log.n, 2);
  memtp_free(a);
  memtp_free(b);
}

void test_subscribe_then_broadcast(void) {
  /* A subscription requested before a broadcast starts gets it, with no
   * waiting in between: the index counts it at once. */
  hub_t *hub = hub_make(4, 1, NULL);
  CHECK(hub);
  enum { ROUNDS = 200 };
  struct memtp *t[ROUNDS];
  char topic[32];
  for (int i = 0; i < ROUNDS; i++) {
    t[i] = memtp_attach(hub, NULL);
    snprintf(topic, sizeof(topic), "fresh.%d", i);
    CHECK(hub_subscribe(hub, t[i]->id, topic) == 0);
    CHECK(hub_broadcast(hub, topic, "x", 1, 0) > 0);
  }
  CHECK(WAIT_STAT(hub, deliveries, ROUNDS, 5000));
  for (int i = 0; i < ROUNDS; i++)
    CHECK_EQ(memtp_len(t[i]), 1);
  /* And an unsubscribe before a broadcast keeps it away. */
  for (int i = 0; i < ROUNDS; i++) {
    snprintf(topic, sizeof(topic), "fresh.%d", i);
    CHECK(hub_unsubscribe(hub, t[i]->id, topic) == 0);
    CHECK(hub_broadcast(hub, topic, "y", 1, 0) > 0);
  }
  CHECK(WAIT_STAT(hub, topics, 0, 5000));
  CHECK_EQ(stats_of(hub).deliveries, ROUNDS);
  hub_free(hub);
  for (int i = 0; i < ROUNDS; i++)
    memtp_free(t[i]);
}
