/* Options, errors, version, hub states, host-loop mode, stop and drain. */
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

void test_options_validation(void) {
  hub_options *o;
  CHECK(hub_options_new(NULL) == HUB_EINVAL);
  CHECK(hub_options_new(&o) == 0);
  CHECK(hub_options_set_shards(o, 0) == HUB_EINVAL);
  CHECK(hub_options_set_shards(o, 65) == HUB_EINVAL);
  CHECK(hub_options_set_shards(o, 64) == 0);
  CHECK(hub_options_set_threads(o, 2) == HUB_EINVAL);
  CHECK(hub_options_set_queue_limits(o, 0, 10) == HUB_EINVAL);
  CHECK(hub_options_set_queue_limits(o, 10, 0) == HUB_EINVAL);
  CHECK(hub_options_set_policy(o, (hub_policy)7) == HUB_EINVAL);
  CHECK(hub_options_set_shard_queue_size(o, 15) == HUB_EINVAL);
  CHECK(hub_options_set_shard_queue_size(o, (1u << 20) + 1) == HUB_EINVAL);
  CHECK(hub_options_set_max_topic_len(o, 0) == HUB_EINVAL);
  hub_mem bad = {0};
  CHECK(hub_options_set_mem(o, &bad) == HUB_EINVAL);
  /* The size field: an older host's smaller struct is refused below the
   * first version's size; a newer host's larger one is taken when what
   * this library does not know is zero, and refused otherwise. */
  struct {
    hub_mem m;
    uint64_t newer_field;
  } newer = {{0}, 0};
  newer.m = counting_mem;
  newer.m.size = sizeof(newer);
  CHECK(hub_options_set_mem(o, &newer.m) == 0);
  newer.newer_field = 1;
  CHECK(hub_options_set_mem(o, &newer.m) == HUB_EINVAL);
  newer.m.size = sizeof(hub_mem) - sizeof(void *);
  CHECK(hub_options_set_mem(o, &newer.m) == HUB_EINVAL);
  newer.m.size = sizeof(hub_mem);
  CHECK(hub_options_set_mem(o, &newer.m) == 0);
  CHECK(hub_options_set_mem(o, NULL) == 0);
  CHECK(hub_options_set_shards(NULL, 1) == HUB_EINVAL);
  hub_options_free(o);
  hub_options_free(NULL);

  hub_client_options *co;
  CHECK(hub_client_options_new(&co) == 0);
  CHECK(hub_client_options_set_queue_limits(co, 0, 1) == HUB_EINVAL);
  CHECK(hub_client_options_set_policy(co, (hub_policy)-1) == HUB_EINVAL);
  CHECK(hub_client_options_set_user_data(co, co) == 0);
  hub_client_options_free(co);
}

void test_errors_and_version(void) {
  const char *v;
  CHECK(hub_version(&v) == HUB_VERSION_NUM);
  CHECK(strcmp(v, HUB_VERSION_STRING) == 0);
  CHECK(strcmp(hub_strerror(HUB_EINVAL), "invalid argument") == 0);
  CHECK(strcmp(hub_err_name(HUB_ETOPIC), "HUB_ETOPIC") == 0);
  CHECK(strcmp(hub_strerror(12345), "unknown error") == 0);
  CHECK(strcmp(hub_err_name(-999), "HUB_UNKNOWN") == 0);
  /* Every code has a distinct, non-default string. */
#define X(name, code, msg) CHECK(strcmp(hub_strerror(code), msg) == 0);
  HUB_ERRNO_MAP(X)
#undef X
}

void test_lifecycle_states(void) {
  hub_t *hub;
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  CHECK(hub_new(NULL, o) == HUB_EINVAL);
  CHECK(hub_new(&hub, o) == 0);
  hub_options_free(o); /* the hub copied what it needs */
  CHECK(hub_shard_count(hub) == 2);
  CHECK(hub_broadcast(hub, "t", "x", 1, 0) == HUB_ESTATE); /* not started */
  CHECK(hub_stop(hub, 0) == HUB_ESTATE);
  CHECK(hub_start(hub) == 0);
  CHECK(hub_start(hub) == HUB_ESTATE);
  CHECK(hub_shard_run(hub, 0, 0) == HUB_ESTATE); /* threads own the loop */
  CHECK(hub_broadcast(hub, "", "x", 1, 0) == HUB_ETOPIC);
  CHECK(hub_broadcast(hub, NULL, "x", 1, 0) == HUB_EINVAL);
  CHECK(hub_broadcast(hub, "t", NULL, 1, 0) == HUB_EINVAL);
  CHECK(hub_broadcast(hub, "t", "x", 1, 0x80) == HUB_EINVAL);
  char longt[300];
  memset(longt, 'a', sizeof(longt) - 1);
  longt[299] = 0;
  CHECK(hub_broadcast(hub, longt, "x", 1, 0) == HUB_ETOPIC);
  CHECK(hub_subscribe(hub, 1, longt) == HUB_ETOPIC);
  CHECK(hub_subscribe(hub, 0, "t") == HUB_EINVAL);
  int64_t s1 = hub_broadcast(hub, "t", "x", 1, 0);
  int64_t s2 = hub_broadcast(hub, "u", NULL, 0, HUB_MSG_JSON);
  CHECK(s1 > 0 && s2 == s1 + 1);
  hub_client_id tid;
  hub_transport unsized = memtp_transport;
  unsized.size = 0;
  CHECK(hub_attach_transport(hub, &unsized, NULL, NULL, &tid) == HUB_EINVAL);
  CHECK(hub_stop(hub, 0) == 0);
  CHECK(hub_stop(hub, 0) == HUB_ESTATE);
  CHECK(hub_broadcast(hub, "t", "x", 1, 0) == HUB_ESTATE);
  hub_client_id id;
  CHECK(hub_attach_transport(hub, &memtp_transport, NULL, NULL, &id) ==
        HUB_ESTATE);
  CHECK(hub_subscribe(hub, 1, "t") == HUB_ESTATE);
  CHECK_EQ(stats_of(hub).broadcasts, 2);
  hub_free(hub);
  hub_free(NULL);
}

void test_free_unstarted_closes_transports(void) {
  struct closelog log;
  closelog_init(&log);
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_close_callback(o, closelog_cb, &log);
  hub_t *hub;
  CHECK(hub_new(&hub, o) == 0);
  hub_options_free(o);
  struct memtp *t[3];
  for (int i = 0; i < 3; i++) {
    t[i] = memtp_attach(hub, NULL);
    CHECK(t[i]);
    CHECK(hub_subscribe(hub, t[i]->id, "t") == 0);
  }
  hub_free(hub);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(memtp_closes(t[i]), 1);
    hub_close_info info;
    CHECK(closelog_find(&log, t[i]->id, &info));
    CHECK_EQ(info.code, HUB_CLOSE_GOING_AWAY);
    memtp_free(t[i]);
  }
  CHECK_EQ(log.n, 3);
}

void test_host_loop_mode(void) {
  hub_t *hub = hub_make(3, 0, NULL);
  CHECK(hub);
  for (int i = 0; i < 3; i++)
    CHECK(hub_shard_fd(hub, i) >= 0);
  CHECK(hub_shard_fd(hub, 3) == HUB_EINVAL);
  struct memtp *t[6];
  for (int i = 0; i < 6; i++) {
    t[i] = memtp_attach(hub, NULL);
    CHECK(t[i]);
    CHECK(hub_subscribe(hub, t[i]->id, "news") == 0);
  }
  CHECK(hub_broadcast(hub, "news", "a", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news", "b", 1, 0) > 0);
  /* Nothing moves until the host runs the shards. */
  for (int i = 0; i < 6; i++)
    CHECK_EQ(memtp_len(t[i]), 0);
  run_shards(hub);
  for (int i = 0; i < 6; i++) {
    char *got = memtp_take_copy(t[i], NULL);
    CHECK(strcmp(got, "ab") == 0);
    free(got);
  }
  CHECK_EQ(stats_of(hub).deliveries, 12);
  CHECK(hub_stop(hub, 100) == 0);
  hub_free(hub);
  for (int i = 0; i < 6; i++) {
    CHECK_EQ(memtp_closes(t[i]), 1);
    memtp_free(t[i]);
  }
}

void test_stop_drains(void) {
  /* A client that takes 1 byte per write still gets everything queued
   * when the drain deadline allows it; one that never takes anything is
   * closed once the deadline passes. */
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = hub_make(1, 1, &log);
  CHECK(hub);
  struct memtp *slow = memtp_attach(hub, NULL);
  struct memtp *stuck = memtp_attach(hub, NULL);
  memtp_set_accept(stuck, 0);
  CHECK(hub_subscribe(hub, slow->id, "t") == 0);
  CHECK(hub_subscribe(hub, stuck->id, "t") == 0);
  CHECK(WAIT_STAT(hub, subscriptions, 2, 2000));
  memtp_set_accept(slow, 0);
  for (int i = 0; i < 10; i++)
    CHECK(hub_broadcast(hub, "t", "0123456789", 10, 0) > 0);
  CHECK(WAIT_STAT(hub, bytes_queued, 200, 2000));
  memtp_set_accept(slow, 7);
  CHECK(hub_client_writable(hub, slow->id) == 0);
  int64_t t0 = test_now_us();
  CHECK(hub_stop(hub, 300) == 0);
  int64_t took = test_now_us() - t0;
  CHECK_EQ(memtp_len(slow), 100);
  CHECK_EQ(memtp_len(stuck), 0);
  CHECK(took >= 250 * 1000 && took < 2000 * 1000);
  CHECK_EQ(memtp_closes(slow), 1);
  CHECK_EQ(memtp_closes(stuck), 1);
  hub_free(hub);
  memtp_free(slow);
  memtp_free(stuck);
}
