/* A full shard queue: broadcasting goes on, the loss is counted. */
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "memtp.h"
#include "tests.h"
#include "util.h"

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
