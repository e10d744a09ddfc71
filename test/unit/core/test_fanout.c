/* Fanout to 10,000 memory-transport clients over 4 shards: exact delivery
 * count and per-topic order for every client. A message broadcast during a
 * flush round reaches the clients the round has not written yet. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

enum { CLIENTS = 10000, TOPICS = 4, PER_TOPIC = 50 };

struct bc_arg {
  hub_t *hub;
  int topic;
  int failures;
};

static void *broadcaster(void *p) {
  struct bc_arg *a = p;
  char topic[16], payload[32];
  snprintf(topic, sizeof(topic), "topic.%d", a->topic);
  for (int n = 0; n < PER_TOPIC; n++) {
    int len = snprintf(payload, sizeof(payload), "%d:%d\n", a->topic, n);
    if (hub_broadcast(a->hub, topic, payload, (size_t)len, 0) <= 0)
      a->failures++;
  }
  return NULL;
}

/* Each line is "<topic>:<n>"; per topic, n must run 0..PER_TOPIC-1. */
static bool check_client(struct memtp *t, int ta, int tb) {
  char *buf = memtp_take_copy(t, NULL);
  int next[TOPICS] = {0};
  bool ok = true;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    int topic, n;
    if (sscanf(line, "%d:%d", &topic, &n) != 2 || topic < 0 ||
        topic >= TOPICS || (topic != ta && topic != tb) || n != next[topic]) {
      ok = false;
      break;
    }
    next[topic]++;
  }
  free(buf);
  CHECK_B(ok);
  CHECK_B(next[ta] == PER_TOPIC && next[tb] == PER_TOPIC);
  return true;
}

void test_fanout_10k(void) {
  hub_t *hub = hub_make(4, 1, NULL);
  CHECK(hub);
  struct memtp **t = calloc(CLIENTS, sizeof(*t));
  char topic[16];
  for (int i = 0; i < CLIENTS; i++) {
    t[i] = memtp_attach(hub, NULL);
    CHECK(t[i]);
    snprintf(topic, sizeof(topic), "topic.%d", i % TOPICS);
    CHECK(hub_subscribe(hub, t[i]->id, topic) == 0);
    snprintf(topic, sizeof(topic), "topic.%d", (i + 1) % TOPICS);
    CHECK(hub_subscribe(hub, t[i]->id, topic) == 0);
  }
  CHECK(WAIT_STAT(hub, subscriptions, 2 * CLIENTS, 5000));

  int64_t t0 = test_now_us();
  pthread_t th[TOPICS];
  struct bc_arg args[TOPICS];
  for (int i = 0; i < TOPICS; i++) {
    args[i] = (struct bc_arg){hub, i, 0};
    pthread_create(&th[i], NULL, broadcaster, &args[i]);
  }
  for (int i = 0; i < TOPICS; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ(args[i].failures, 0);
  }
  const uint64_t want = (uint64_t)CLIENTS * 2 * PER_TOPIC;
  CHECK(WAIT_STAT(hub, deliveries, want, 30000));
  int64_t us = test_now_us() - t0;
  printf("     fanout: %llu deliveries to %d memory clients over 4 shards "
         "in %.1f ms (%.2f M deliveries/s)\n",
         (unsigned long long)want, CLIENTS, us / 1000.0,
         (double)want / (double)us);

  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.broadcasts, TOPICS * PER_TOPIC);
  CHECK_EQ(s.drops, 0);
  CHECK_EQ(s.queue_overflows, 0);
  CHECK_EQ(s.clients, CLIENTS);
  CHECK_EQ(s.topics, TOPICS);
  for (int i = 0; i < CLIENTS; i++)
    CHECK(check_client(t[i], i % TOPICS, (i + 1) % TOPICS));
  hub_free(hub);
  for (int i = 0; i < CLIENTS; i++)
    memtp_free(t[i]);
  free(t);
}

static struct memtp *late_subscriber;

static void subscribe_and_broadcast_once(struct memtp *t) {
  t->on_write = NULL;
  CHECK(hub_subscribe(t->hub, late_subscriber->id, "t") == 0);
  CHECK(hub_broadcast(t->hub, "t", "b", 1, 0) > 0);
}

static void broadcast_b_once(struct memtp *t) {
  t->on_write = NULL;
  CHECK(hub_broadcast(t->hub, "t", "b", 1, 0) > 0);
}

static struct memtp *to_close;

static void close_other_once(struct memtp *t) {
  t->on_write = NULL;
  CHECK(hub_client_close(t->hub, to_close->id, 0) == 0);
}
/* Host-loop mode, one shard: the first client's write subscribes one more
 * client and broadcasts "b" while the round that writes "a" runs. The
 * round takes "b" in after its first FLUSH_INTAKE_EVERY (64) clients, the
 * subscribe first: the clients after those get "ab" in one write, the ones
 * before get "b" in a second, the new subscriber gets "b"; nobody misses
 * or repeats it. */
void test_broadcast_mid_round(void) {
  enum { N = 200 };
  hub_t *hub = hub_make(1, 0, NULL);
  CHECK(hub);
  struct memtp *t[N];
  for (int i = 0; i < N; i++) {
    t[i] = memtp_attach(hub, NULL);
    CHECK(t[i]);
    CHECK(hub_subscribe(hub, t[i]->id, "t") == 0);
    run_shards(hub); /* subscribed, and so written, in this order */
  }
  late_subscriber = memtp_attach(hub, NULL);
  CHECK(late_subscriber);
  run_shards(hub);
  t[0]->on_write = subscribe_and_broadcast_once;
  CHECK(hub_broadcast(hub, "t", "a", 1, 0) > 0);
  run_shards(hub);
  int one_write = 0;
  for (int i = 0; i < N; i++) {
    CHECK(memtp_got(t[i], "ab"));
    one_write += t[i]->writes == 1;
  }
  CHECK_EQ(t[0]->writes, 2);
  CHECK_EQ(one_write, N - 64);
  CHECK(memtp_got(late_subscriber, "b"));
  /* A client the intake put on the next round's list and that is closed
   * meanwhile is freed after that round, not while still on the list
   * (ASan: a use after free before). */
  t[1]->on_write = broadcast_b_once; /* taken in after t[63] */
  to_close = t[1];
  t[100]->on_write = close_other_once; /* run after t[127] */
  CHECK(hub_broadcast(hub, "t", "c", 1, 0) > 0);
  run_shards(hub);
  CHECK_EQ(memtp_closes(t[1]), 1);
  CHECK(memtp_got(t[1], "abc"));
  CHECK(memtp_got(t[N - 1], "abcb"));
  CHECK_EQ(stats_of(hub).clients, N);
  hub_free(hub);
  for (int i = 0; i < N; i++)
    memtp_free(t[i]);
  memtp_free(late_subscriber);
}
