/* Publishing besides hub_broadcast(): a message to one client
 * (hub_send_to()) and a batch, staged and then published or dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

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
