/* No lost wake-ups. A producer writes a shard's eventfd only when the
 * shard declared itself asleep (lib/core/shard.c, shard_wake), so a broadcast
 * landing while the shard ends its pass, after it found its ring empty
 * and before it waits, must still be delivered. Each shard has a fast
 * subscriber, flushed first, and a slow one whose write takes ~20 µs:
 * each message is broadcast a varied delay after the previous one reached
 * the fast ones, mostly while the slow writes are still under way, and
 * must reach them in turn. A lost wake-up leaves it undelivered, since
 * nothing else wakes an idle hub here. The race matters most with napping
 * off: every wait is then a sleep only the eventfd ends. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "hub.h"
#include "shard.h"
#include "tests.h"

enum { ITERATIONS = 1000, LOST_AFTER_US = 2000000, SLOW_US = 20 };

static void spin_us(int64_t us) {
  int64_t end = test_now_us() + us;
  while (test_now_us() < end)
    ;
}

struct sink {
  bool slow;
  atomic_size_t bytes;
};

static int64_t sink_writev(void *io, const struct iovec *iov, int n) {
  struct sink *k = io;
  size_t total = 0;
  for (int i = 0; i < n; i++)
    total += iov[i].iov_len;
  if (k->slow)
    spin_us(SLOW_US);
  atomic_fetch_add(&k->bytes, total);
  return (int64_t)total;
}

static const hub_transport sink_transport = {sizeof(hub_transport),
                                             sink_writev, NULL};

/* The delay before the next broadcast: mostly within the slow write (the
 * shard's pass is not over yet); 1 in 8 within its first naps; 1 in 16
 * around the nap window of lib/core/shard.c (2 to 5 ms), where it goes from
 * napping to sleeping. */
static int64_t next_delay_us(unsigned *seed) {
  int r = rand_r(seed) % 16;
  return r < 13 ? rand_r(seed) % (SLOW_US + 5)
         : r < 15 ? rand_r(seed) % 300
                  : 2000 + rand_r(seed) % 3000;
}

/* sinks[0..n) fast, then n slow, all subscribed to "w"; n = shards, one
 * of each per shard (client ids go round the shards). */
static bool attach_sinks(hub_t *hub, struct sink *sinks, unsigned n) {
  for (unsigned i = 0; i < 2 * n; i++) {
    hub_client_id id;
    sinks[i].slow = i >= n;
    atomic_init(&sinks[i].bytes, 0);
    CHECK_B(hub_attach_transport(hub, &sink_transport, &sinks[i], NULL,
                                 &id) == 0);
    CHECK_B(hub_subscribe(hub, id, "w") == 0);
  }
  return true;
}

static bool wait_bytes(struct sink *k, size_t want, int i) {
  int64_t end = test_now_us() + LOST_AFTER_US;
  while (atomic_load(&k->bytes) < want) {
    if (test_now_us() > end) {
      fprintf(stderr, "  message %d: not delivered, a lost wake-up\n", i);
      CHECK_B(!"lost wake-up");
    }
    sched_yield();
  }
  return true;
}

static bool deliver_each(hub_t *hub, struct sink *sinks, unsigned n,
                         unsigned seed) {
  for (int i = 0; i < ITERATIONS; i++) {
    CHECK_B(hub_broadcast(hub, "w", "x", 1, 0) > 0);
    for (unsigned k = 0; k < n; k++)
      CHECK_B(wait_bytes(&sinks[k], (size_t)i + 1, i));
    spin_us(next_delay_us(&seed));
  }
  for (unsigned k = n; k < 2 * n; k++)
    CHECK_B(wait_bytes(&sinks[k], ITERATIONS, ITERATIONS));
  return true;
}

/* A hub whose shards have no timer to wake them (no write timeout and no
 * history age, so no sweep every second): only a wake-up can deliver a
 * message. */
static hub_t *quiet_hub(unsigned shards, int threads, bool nap) {
  hub_options *o;
  hub_t *hub = NULL;
  if (hub_options_new(&o))
    return NULL;
  if (hub_options_set_shards(o, shards) == 0 &&
      hub_options_set_threads(o, threads) == 0 &&
      hub_options_set_write_timeout(o, 0) == 0 &&
      hub_options_set_history(o, NULL, 0, 0, 0) == 0 &&
      hub_new(&hub, o) == 0) {
    for (unsigned i = 0; i < shards; i++)
      hub->shards[i].nap_ok = nap; /* before the shard threads exist */
    if (hub_start(hub)) {
      hub_free(hub);
      hub = NULL;
    }
  }
  hub_options_free(o);
  return hub;
}

static void threaded(unsigned shards, bool nap) {
  struct sink sinks[4];
  hub_t *hub = quiet_hub(shards, 1, nap);
  CHECK(hub);
  bool ok = attach_sinks(hub, sinks, shards) &&
            deliver_each(hub, sinks, shards, shards + 10 * nap);
  hub_stop(hub, 0);
  hub_free(hub);
  CHECK(ok);
}

/* Host-loop mode: a host thread polls the shard's fd and runs the shard
 * only when it is readable, while this thread broadcasts. */
struct host {
  hub_t *hub;
  atomic_bool stop;
};

static void *host_main(void *p) {
  struct host *h = p;
  struct pollfd pfd = {hub_shard_fd(h->hub, 0), POLLIN, 0};
  while (!atomic_load(&h->stop))
    if (poll(&pfd, 1, 10) > 0)
      hub_shard_run(h->hub, 0, 0);
  return NULL;
}

void test_wake_race(void) {
  threaded(1, false);
  threaded(2, false);
  threaded(1, true);
  threaded(2, true);

  hub_t *hub = quiet_hub(1, 0, false);
  CHECK(hub);
  struct sink sinks[2];
  struct host h = {hub, false};
  pthread_t th;
  bool ok = attach_sinks(hub, sinks, 1);
  CHECK(pthread_create(&th, NULL, host_main, &h) == 0);
  ok = ok && deliver_each(hub, sinks, 1, 3);
  atomic_store(&h.stop, true);
  pthread_join(th, NULL);
  hub_stop(hub, 0);
  hub_free(hub);
  CHECK(ok);
}
