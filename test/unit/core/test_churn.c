/* Thousands of attach / subscribe / broadcast / close cycles on a
 * threaded hub; `make valgrind` runs this one under valgrind and requires
 * zero leaks and zero errors. */
#include <stdio.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

void churn(void) {
  enum { CYCLES = 3000, LIVE = 32 };
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *all[CYCLES];
  char topic[16];
  for (int i = 0; i < CYCLES; i++) {
    all[i] = memtp_attach(hub, NULL);
    CHECK(all[i]);
    if (i % 5 == 0)
      memtp_set_accept(all[i], 3);
    for (int k = 0; k < 3; k++) {
      snprintf(topic, sizeof(topic), "c%d", (i + k) % 17);
      CHECK(hub_subscribe(hub, all[i]->id, topic) == 0);
    }
    snprintf(topic, sizeof(topic), "c%d", i % 17);
    CHECK(hub_broadcast(hub, topic, "churn-message", 13, 0) > 0);
    if (i >= LIVE)
      CHECK(hub_client_close(hub, all[i - LIVE]->id, 0) == 0);
  }
  CHECK(WAIT_STAT(hub, clients_closed, CYCLES - LIVE, 60000));
  CHECK(WAIT_STAT(hub, clients, LIVE, 5000));
  CHECK(WAIT_STAT(hub, subscriptions, LIVE * 3, 5000));
  hub_stop(hub, 1000);
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.clients, 0);
  CHECK_EQ(s.subscriptions, 0);
  CHECK_EQ(s.topics, 0);
  CHECK_EQ(s.clients_closed, CYCLES);
  hub_free(hub);
  for (int i = 0; i < CYCLES; i++) {
    CHECK_EQ(memtp_closes(all[i]), 1);
    memtp_free(all[i]);
  }
}
