/* nghttp2's failmalloc idea: run a scenario once counting allocations,
 * then again failing the i-th allocation for every i. Every call must fail
 * cleanly: nothing may leak, crash, or close a transport twice. */
#include <stdlib.h>
#include <string.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"

struct fm {
  long count;    /* allocations so far */
  long fail_at;  /* 1-based index of the allocation to fail; 0 = never */
  long live;     /* allocated and not freed */
};

static bool fail_now(struct fm *f) {
  return ++f->count == f->fail_at;
}
static void *fm_malloc(size_t n, void *u) {
  struct fm *f = u;
  if (fail_now(f))
    return NULL;
  void *p = malloc(n);
  if (p)
    f->live++;
  return p;
}
static void fm_free(void *p, void *u) {
  struct fm *f = u;
  if (p)
    f->live--;
  free(p);
}
static void *fm_calloc(size_t k, size_t n, void *u) {
  struct fm *f = u;
  if (fail_now(f))
    return NULL;
  void *p = calloc(k, n);
  if (p)
    f->live++;
  return p;
}
static void *fm_realloc(void *p, size_t n, void *u) {
  struct fm *f = u;
  if (fail_now(f))
    return NULL;
  void *q = realloc(p, n);
  if (q && !p)
    f->live++;
  return q;
}

/* The scenario; returns the number of memtps it made (all freed). */
static bool scenario(struct fm *f) {
  hub_mem mem = {sizeof(mem), f, fm_malloc, fm_free, fm_calloc, fm_realloc};
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_mem(o, &mem);
  hub_options_set_shards(o, 2);
  hub_options_set_threads(o, 0);
  hub_t *hub = NULL;
  int rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv) {
    CHECK_B(rv == HUB_ENOMEM || rv == HUB_ESYS);
    CHECK_B(f->live == 0);
    return true;
  }
  CHECK_B(hub_start(hub) == 0);
  struct memtp *t[4] = {0};
  hub_client_options *co;
  hub_client_options_new(&co);
  hub_client_options_set_queue_limits(co, 3, 1 << 20);
  for (int i = 0; i < 4; i++) {
    t[i] = memtp_new();
    t[i]->hub = hub;
    rv = hub_attach_transport(hub, &memtp_transport, t[i], i ? NULL : co,
                              &t[i]->id);
    if (rv) {
      CHECK_B(rv == HUB_ENOMEM);
      memtp_free(t[i]);
      t[i] = NULL;
      continue;
    }
    if (i == 0)
      memtp_set_accept(t[i], 2);
    const char *topics[] = {"a", "b", "c"};
    for (int k = 0; k <= i % 3; k++) {
      rv = hub_subscribe(hub, t[i]->id, topics[k]);
      CHECK_B(rv == 0 || rv == HUB_ENOMEM);
    }
  }
  hub_client_options_free(co);
  run_shards(hub);
  for (int n = 0; n < 6; n++) {
    int64_t seq = hub_broadcast(hub, n % 2 ? "a" : "b", "payload", 7, 0);
    CHECK_B(seq > 0 || seq == HUB_ENOMEM);
  }
  run_shards(hub);
  if (t[1]) {
    rv = hub_unsubscribe(hub, t[1]->id, "b");
    CHECK_B(rv == 0 || rv == HUB_ENOMEM);
  }
  if (t[2]) {
    rv = hub_client_close(hub, t[2]->id, 0);
    CHECK_B(rv == 0 || rv == HUB_ENOMEM);
  }
  run_shards(hub);
  hub_stop(hub, 0);
  hub_free(hub);
  CHECK_B(f->live == 0);
  for (int i = 0; i < 4; i++) {
    if (t[i]) {
      CHECK_B(memtp_closes(t[i]) == 1);
      memtp_free(t[i]);
    }
  }
  return true;
}

void test_failmalloc(void) {
  struct fm f = {0, 0, 0};
  CHECK(scenario(&f));
  long total = f.count;
  CHECK(total > 20);
  for (long i = 1; i <= total; i++) {
    f = (struct fm){0, i, 0};
    if (!scenario(&f)) {
      fprintf(stderr, "  failing allocation %ld of %ld\n", i, total);
      CHECK(0);
    }
  }
}
