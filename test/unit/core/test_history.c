/* History: the per-topic ring, resume from any point while broadcasts
 * run (exact, in order, no duplicate), and the sweep that ages out the
 * history of topics nobody publishes to. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "memtp.h"
#include "tests.h"
#include "util.h"

static struct msg *mkmsg(int64_t seq, int64_t ts, size_t len) {
  static const char pad[256];
  struct msg *m = msg_new(&hub__mem_default, "t", 1, 0, pad, len, 0);
  m->seq = seq;
  m->ts_ms = ts;
  return m;
}

void test_history_ring(void) {
  const hub_mem *mem = &hub__mem_default;
  struct hist_totals tot = {0, 0};
  struct history h;
  struct hist_limits lim = {.max_msgs = 3, .max_age_ms = 1000,
                            .max_bytes = 100};
  history_init(&h, &lim);
  for (int i = 1; i <= 5; i++) {
    struct msg *m = mkmsg(i * 10, 0, 10);
    CHECK(history_append(&h, mem, m, 0, &tot) == 0);
    msg_unref(mem, m);
  }
  CHECK_EQ(h.count, 3); /* 30 40 50 */
  CHECK_EQ(h.evicted_upto, 20);
  CHECK_EQ(atomic_load(&tot.msgs), 3);
  CHECK_EQ(atomic_load(&tot.bytes), 30);
  struct msg **out;
  uint32_t n;
  bool gap;
  CHECK(history_since(&h, mem, 35, &out, &n, &gap) == 0);
  CHECK(!gap && n == 2 && out[0]->seq == 40 && out[1]->seq == 50);
  for (uint32_t i = 0; i < n; i++)
    msg_unref(mem, out[i]);
  mem_free(mem, out);
  CHECK(history_since(&h, mem, 10, &out, &n, &gap) == 0);
  CHECK(gap && n == 3); /* 20 is gone */
  for (uint32_t i = 0; i < n; i++)
    msg_unref(mem, out[i]);
  mem_free(mem, out);
  CHECK(history_since(&h, mem, 50, &out, &n, &gap) == 0);
  CHECK(!gap && n == 0);
  /* Bytes: a 90-byte message pushes out the others. */
  struct msg *big = mkmsg(60, 0, 90);
  CHECK(history_append(&h, mem, big, 0, &tot) == 0);
  msg_unref(mem, big);
  CHECK_EQ(h.count, 2); /* 50 and 60: exactly 100 bytes */
  CHECK_EQ(h.evicted_upto, 40);
  /* Age: everything older than 1000 ms goes. */
  history_expire(&h, mem, 1001, &tot);
  CHECK_EQ(h.count, 0);
  CHECK_EQ(h.evicted_upto, 60);
  CHECK_EQ(atomic_load(&tot.msgs), 0);
  history_clear(&h, mem, &tot);
}

/* Random broadcasts from several threads while clients resubscribe from
 * random points: each client gets exactly the published messages after
 * its point, in order, no gap, no duplicate. Host transports: the payload
 * carries the message's index per topic. */
enum { PT_TOPICS = 4, PT_MSGS = 400, PT_CLIENTS = 24 };

struct pt {
  hub_t *hub;
  _Atomic int64_t seqs[PT_TOPICS][PT_MSGS]; /* index -> seq, 0 = not yet */
  atomic_int done;
};

static void *pt_broadcaster(void *p) {
  struct pt *pt = p;
  static atomic_int next;
  int k = atomic_fetch_add(&next, 1) % PT_TOPICS;
  char topic[16], payload[16];
  snprintf(topic, sizeof(topic), "p%d", k);
  for (int i = 0; i < PT_MSGS; i++) {
    int n = snprintf(payload, sizeof(payload), "%d,", i);
    atomic_store(&pt->seqs[k][i], hub_broadcast(pt->hub, topic, payload,
                                                (size_t)n, 0));
  }
  atomic_fetch_add(&pt->done, 1);
  return NULL;
}

void test_resume_property(void) {
  static struct pt pt;
  memset(&pt, 0, sizeof(pt));
  pt.hub = history_hub(PT_MSGS, 0);
  CHECK(pt.hub);
  hub_client_options *co;
  hub_client_options_new(&co);
  hub_client_options_set_queue_limits(co, 1u << 20, 1u << 30);
  pthread_t th[PT_TOPICS];
  for (int i = 0; i < PT_TOPICS; i++)
    pthread_create(&th[i], NULL, pt_broadcaster, &pt);
  struct memtp *c[PT_CLIENTS];
  int topic[PT_CLIENTS], from[PT_CLIENTS];
  unsigned seed = 7;
  for (int i = 0; i < PT_CLIENTS; i++) {
    test_sleep_ms(rand_r(&seed) % 5);
    topic[i] = i % PT_TOPICS;
    /* Resume from a message already published (its index and seq). */
    int hi = 0;
    while (hi < PT_MSGS && atomic_load(&pt.seqs[topic[i]][hi]))
      hi++;
    from[i] = hi ? rand_r(&seed) % hi : -1;
    c[i] = memtp_attach(pt.hub, co);
    CHECK(c[i]);
    char name[16];
    snprintf(name, sizeof(name), "p%d", topic[i]);
    int64_t since =
        from[i] >= 0 ? atomic_load(&pt.seqs[topic[i]][from[i]]) : 0;
    CHECK(hub_subscribe_since(pt.hub, c[i]->id, name, NULL, since) == 0);
  }
  for (int i = 0; i < PT_TOPICS; i++)
    pthread_join(th[i], NULL);
  hub_client_options_free(co);
  for (int i = 0; i < PT_CLIENTS; i++) {
    /* Everything after from[i], in order: indexes from[i]+1 .. end. */
    size_t want = 0;
    char expect[PT_MSGS * 5] = "";
    for (int j = from[i] + 1; j < PT_MSGS; j++) {
      char one[16];
      snprintf(one, sizeof(one), "%d,", j);
      strcat(expect, one);
    }
    want = strlen(expect);
    int64_t end = test_now_us() + 5000000;
    while (memtp_len(c[i]) < want && test_now_us() < end)
      test_sleep_ms(1);
    test_sleep_ms(i == 0 ? 20 : 0); /* a duplicate would show as extra */
    char *got = memtp_take_copy(c[i], NULL);
    if (strcmp(got, expect) != 0)
      fprintf(stderr, "  client %d from %d: got %.60s... want %.60s...\n", i,
              from[i], got, expect);
    CHECK(strcmp(got, expect) == 0);
    free(got);
  }
  hub_free(pt.hub);
  for (int i = 0; i < PT_CLIENTS; i++)
    memtp_free(c[i]);
}

void test_history_sweep(void) {
  /* History of a topic nobody publishes to any more is aged out by the
   * shards' sweep, and the entry is freed. Host-loop mode: the shard's fd
   * must become readable by itself when the sweep is due. */
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_threads(o, 0);
  hub_options_set_history(o, NULL, 10, 1 << 20, 50);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  CHECK(hub_broadcast(hub, "gone", "x", 1, 0) > 0);
  CHECK_EQ(stats_of(hub).history_msgs, 1);
  struct pollfd pfd = {hub_shard_fd(hub, 0), POLLIN, 0};
  int64_t end = test_now_us() + 3000000;
  while (stats_of(hub).history_msgs && test_now_us() < end)
    if (poll(&pfd, 1, 100) == 1)
      hub_shard_run(hub, 0, 0);
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.history_msgs, 0);
  CHECK_EQ(s.history_bytes, 0);
  hub_free(hub);
}
