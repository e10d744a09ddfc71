/* 8 threads broadcast while others attach, subscribe, unsubscribe and
 * close clients: clients that stay subscribed lose nothing and get
 * nothing twice, in order per topic. Run under TSan by `make check
 * SAN=thread`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

enum {
  BROADCASTERS = 8,
  PER_BROADCASTER = 1000,
  STABLE = 64,
  CHURNERS = 3,
  CHURN_MAX = 3000
};
#define LINE_LEN 9 /* "k:nnnnnn\n" */

struct shared {
  hub_t *hub;
  atomic_int broadcasting;
  atomic_int failures;
};

struct bc {
  struct shared *sh;
  int k;
};

static void *broadcast_main(void *p) {
  struct bc *b = p;
  char topic[8], line[16];
  snprintf(topic, sizeof(topic), "b%d", b->k);
  for (int n = 0; n < PER_BROADCASTER; n++) {
    snprintf(line, sizeof(line), "%d:%06d\n", b->k, n);
    if (hub_broadcast(b->sh->hub, topic, line, LINE_LEN, 0) <= 0)
      atomic_fetch_add(&b->sh->failures, 1);
  }
  atomic_fetch_sub(&b->sh->broadcasting, 1);
  return NULL;
}

struct churn {
  struct shared *sh;
  unsigned seed;
  int n;
  struct memtp *made[CHURN_MAX];
};

static void *churn_main(void *p) {
  struct churn *c = p;
  hub_t *hub = c->sh->hub;
  char topic[8];
  while (atomic_load(&c->sh->broadcasting) > 0 && c->n < CHURN_MAX) {
    struct memtp *t = memtp_attach(hub, NULL);
    if (!t) {
      atomic_fetch_add(&c->sh->failures, 1);
      break;
    }
    c->made[c->n++] = t;
    for (int i = 0; i < 3; i++) {
      snprintf(topic, sizeof(topic), "b%d", rand_r(&c->seed) % BROADCASTERS);
      hub_subscribe(hub, t->id, topic);
    }
    snprintf(topic, sizeof(topic), "b%d", rand_r(&c->seed) % BROADCASTERS);
    hub_unsubscribe(hub, t->id, topic);
    if (rand_r(&c->seed) % 4 == 0)
      memtp_set_accept(t, 0); /* a few go silent before they close */
    hub_stats_t s;
    hub_stats(hub, &s, sizeof(s));
    if (rand_r(&c->seed) % 8)
      hub_client_close(hub, t->id, 0);
  }
  return NULL;
}

static bool stable_ok(struct memtp *t) {
  size_t len;
  char *buf = memtp_take_copy(t, &len);
  int next[BROADCASTERS] = {0};
  bool ok = len == (size_t)BROADCASTERS * PER_BROADCASTER * LINE_LEN;
  for (size_t off = 0; ok && off < len; off += LINE_LEN) {
    int k, n;
    if (sscanf(buf + off, "%d:%d", &k, &n) != 2 || k < 0 ||
        k >= BROADCASTERS || n != next[k])
      ok = false;
    else
      next[k]++;
  }
  free(buf);
  CHECK_B(ok);
  return true;
}

void test_concurrent_broadcast_churn(void) {
  struct shared sh;
  sh.hub = hub_make(2, 1, NULL);
  CHECK(sh.hub);
  atomic_init(&sh.broadcasting, BROADCASTERS);
  atomic_init(&sh.failures, 0);
  hub_client_options *co;
  hub_client_options_new(&co);
  hub_client_options_set_queue_limits(co, 1u << 20, 1u << 30);
  struct memtp *stable[STABLE];
  char topic[8];
  for (int i = 0; i < STABLE; i++) {
    stable[i] = memtp_attach(sh.hub, co);
    CHECK(stable[i]);
    for (int k = 0; k < BROADCASTERS; k++) {
      snprintf(topic, sizeof(topic), "b%d", k);
      CHECK(hub_subscribe(sh.hub, stable[i]->id, topic) == 0);
    }
  }
  hub_client_options_free(co);
  CHECK(WAIT_STAT(sh.hub, subscriptions, STABLE * BROADCASTERS, 5000));

  static struct churn churn[CHURNERS];
  pthread_t cth[CHURNERS], bth[BROADCASTERS];
  struct bc bcs[BROADCASTERS];
  for (int i = 0; i < CHURNERS; i++) {
    churn[i].sh = &sh;
    churn[i].seed = (unsigned)i * 7919u + 1;
    churn[i].n = 0;
    pthread_create(&cth[i], NULL, churn_main, &churn[i]);
  }
  for (int i = 0; i < BROADCASTERS; i++) {
    bcs[i] = (struct bc){&sh, i};
    pthread_create(&bth[i], NULL, broadcast_main, &bcs[i]);
  }
  for (int i = 0; i < BROADCASTERS; i++)
    pthread_join(bth[i], NULL);
  int churned = 0;
  for (int i = 0; i < CHURNERS; i++) {
    pthread_join(cth[i], NULL);
    churned += churn[i].n;
  }
  CHECK_EQ(atomic_load(&sh.failures), 0);
  const size_t want = (size_t)BROADCASTERS * PER_BROADCASTER * LINE_LEN;
  int64_t end = test_now_us() + 60 * 1000000LL;
  for (int i = 0; i < STABLE; i++)
    while (memtp_len(stable[i]) < want && test_now_us() < end)
      test_sleep_ms(2);
  printf("     %d clients churned during %d broadcasts\n", churned,
         BROADCASTERS * PER_BROADCASTER);
  CHECK_EQ(stats_of(sh.hub).queue_overflows, 0);
  for (int i = 0; i < STABLE; i++)
    CHECK(stable_ok(stable[i]));
  hub_free(sh.hub);
  for (int i = 0; i < STABLE; i++) {
    CHECK_EQ(memtp_closes(stable[i]), 1);
    memtp_free(stable[i]);
  }
  for (int i = 0; i < CHURNERS; i++)
    for (int j = 0; j < churn[i].n; j++) {
      CHECK_EQ(memtp_closes(churn[i].made[j]), 1);
      memtp_free(churn[i].made[j]);
    }
}
