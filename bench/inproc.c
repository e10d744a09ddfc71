/* inproc: what hub_broadcast() costs its caller (a database commit hook,
 * say), measured in-process with 10k subscribers on in-memory transports.
 *
 * Cases:
 *   healthy        every transport takes everything at once
 *   stalled-client one transport never takes a byte (a client that never
 *                  reads): its queue fills to the caps, drop-oldest
 *   stalled-shard  one transport blocks inside writev until the end: that
 *                  shard's thread is stuck and messages pile up in its
 *                  inbound queue
 * and two rates: paced (1000 broadcasts/s, the commit-hook case) and
 * burst (back to back). Each call is timed with CLOCK_MONOTONIC. One JSON
 * line per (shards, case, rate), and first the floor: what one eventfd
 * write that wakes a sleeping thread costs here (an idle shard's wake-up).
 *
 * usage: inproc [SUBS [PACED_CALLS [BURST_CALLS]]]   (10000 1000 2000) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fanhub.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t) {
  struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

enum tmode { T_SINK, T_STALL, T_BLOCK };

struct mtp {
  enum tmode mode;
  atomic_uint_fast64_t bytes;
};

static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static bool release_blocked;
static atomic_bool blocked_entered;

static int64_t mtp_writev(void *io, const struct iovec *iov, int n) {
  struct mtp *t = io;
  if (t->mode == T_STALL)
    return 0; /* never readable again: hub_client_writable is never called */
  if (t->mode == T_BLOCK) {
    atomic_store(&blocked_entered, true);
    pthread_mutex_lock(&block_lock);
    while (!release_blocked)
      pthread_cond_wait(&block_cond, &block_lock);
    pthread_mutex_unlock(&block_lock);
  }
  size_t total = 0;
  for (int i = 0; i < n; i++)
    total += iov[i].iov_len;
  atomic_fetch_add_explicit(&t->bytes, total, memory_order_relaxed);
  return (int64_t)total;
}

static const hub_transport mtp_transport = {mtp_writev, NULL};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double q) {
  size_t i = (size_t)(q * (double)n);
  if (i >= n)
    i = n - 1;
  return (double)v[i] / 1e3;
}

static const char *case_name[] = {"healthy", "stalled-client", "stalled-shard"};

static int run(unsigned shards, unsigned nsubs, int mode, bool burst,
               unsigned calls, unsigned size) {
  hub_options *o;
  hub_t *hub;
  if (hub_options_new(&o) || hub_options_set_shards(o, shards) ||
      hub_new(&hub, o) || hub_start(hub)) {
    fprintf(stderr, "inproc: hub setup failed\n");
    return 1;
  }
  hub_options_free(o);
  struct mtp *tps = calloc(nsubs, sizeof(*tps));
  release_blocked = false;
  atomic_store(&blocked_entered, false);
  for (unsigned i = 0; i < nsubs; i++) {
    hub_client_id id;
    tps[i].mode = i == 0 ? (mode == 1 ? T_STALL : mode == 2 ? T_BLOCK : T_SINK)
                         : T_SINK;
    if (hub_attach_transport(hub, &mtp_transport, &tps[i], NULL, &id) ||
        hub_subscribe(hub, id, "bench")) {
      fprintf(stderr, "inproc: attach failed\n");
      return 1;
    }
  }
  char *payload = malloc(size);
  memset(payload, 'x', size);
  /* warm up: every client has been written to once; in stalled-shard mode
   * that parks the blocking client's shard inside writev */
  for (int i = 0; i < 10; i++)
    hub_broadcast(hub, "bench", payload, size, 0);
  uint64_t wait_until = now_ns() + 2000000000u;
  while (now_ns() < wait_until) {
    bool all = true;
    for (unsigned i = 1; i < nsubs && all; i++)
      all = atomic_load_explicit(&tps[i].bytes, memory_order_relaxed) > 0;
    if (all && (mode != 2 || atomic_load(&blocked_entered)))
      break;
    sleep_until(now_ns() + 1000000);
  }
  uint64_t *t = malloc(calls * sizeof(*t));
  struct rusage ru0, ru1;
  getrusage(RUSAGE_THREAD, &ru0);
  uint64_t start = now_ns(), period = 1000000; /* 1000/s */
  int failures = 0;
  for (unsigned i = 0; i < calls; i++) {
    if (!burst)
      sleep_until(start + (uint64_t)i * period);
    uint64_t a = now_ns();
    int64_t seq = hub_broadcast(hub, "bench", payload, size, 0);
    t[i] = now_ns() - a;
    failures += seq < 0;
  }
  double elapsed = (double)(now_ns() - start) / 1e9;
  getrusage(RUSAGE_THREAD, &ru1);
  hub_stats_t st;
  hub_stats(hub, &st, sizeof(st));
  qsort(t, calls, sizeof(*t), cmp_u64);
  printf("{\"shards\":%u,\"subs\":%u,\"case\":\"%s\",\"rate\":\"%s\","
         "\"calls\":%u,\"size\":%u,\"calls_per_s\":%.0f,"
         "\"call_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f},"
         "\"failures\":%d,\"queue_overflows\":%llu,\"drops\":%llu,"
         "\"caller_involuntary_switches\":%ld,\"caller_page_faults\":%ld}\n",
         shards, nsubs, case_name[mode], burst ? "burst" : "1000/s", calls,
         size, calls / elapsed, pct(t, calls, 0.5), pct(t, calls, 0.99),
         pct(t, calls, 0.999), (double)t[calls - 1] / 1e3, failures,
         (unsigned long long)st.queue_overflows,
         (unsigned long long)st.drops, ru1.ru_nivcsw - ru0.ru_nivcsw,
         ru1.ru_minflt - ru0.ru_minflt);
  fflush(stdout);
  pthread_mutex_lock(&block_lock);
  release_blocked = true;
  pthread_cond_broadcast(&block_cond);
  pthread_mutex_unlock(&block_lock);
  hub_stop(hub, 0);
  hub_free(hub);
  free(tps);
  free(t);
  free(payload);
  return failures ? 1 : 0;
}

/* The floor under a paced hub_broadcast(): one eventfd write() that wakes
 * a thread sleeping in epoll_wait, which is what waking an idle shard
 * costs. Same pacing, same timing. */
static atomic_bool waker_stop;
static void *waiter(void *arg) {
  int ep = *(int *)arg;
  struct epoll_event ev;
  while (!atomic_load(&waker_stop))
    if (epoll_wait(ep, &ev, 1, 100) == 1) {
      uint64_t v;
      ssize_t r = read(ev.data.fd, &v, sizeof(v));
      (void)r;
    }
  return NULL;
}

static void wake_floor(unsigned calls) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  pthread_t th;
  atomic_store(&waker_stop, false);
  pthread_create(&th, NULL, waiter, &ep);
  uint64_t *t = malloc(calls * sizeof(*t));
  uint64_t start = now_ns() + 10000000;
  for (unsigned i = 0; i < calls; i++) {
    sleep_until(start + (uint64_t)i * 1000000);
    uint64_t one = 1, a = now_ns();
    ssize_t r = write(efd, &one, sizeof(one));
    t[i] = now_ns() - a;
    (void)r;
  }
  atomic_store(&waker_stop, true);
  pthread_join(th, NULL);
  qsort(t, calls, sizeof(*t), cmp_u64);
  printf("{\"case\":\"eventfd-wake\",\"rate\":\"1000/s\",\"calls\":%u,"
         "\"call_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}}\n",
         calls, pct(t, calls, 0.5), pct(t, calls, 0.99), pct(t, calls, 0.999),
         (double)t[calls - 1] / 1e3);
  fflush(stdout);
  free(t);
  close(ep);
  close(efd);
}

int main(int argc, char **argv) {
  unsigned nsubs = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
  unsigned paced = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
  unsigned burst = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
  int rc = 0;
  wake_floor(paced);
  for (unsigned shards = 1; shards <= 2; shards++)
    for (int mode = 0; mode < 3; mode++) {
      rc |= run(shards, nsubs, mode, false, paced, 64);
      rc |= run(shards, nsubs, mode, true, burst, 64);
    }
  return rc;
}
