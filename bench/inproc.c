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
 *   no-subscriber  healthy hub, broadcasts to a topic nobody subscribed to:
 *                  the call's floor (no shard is handed anything)
 * and two ways to call (see enum pace): paced at 1000/s, the caller
 * sleeping in between, and back to back. Each call is timed with
 * CLOCK_MONOTONIC. One JSON line per (round, shards, case, pace), and
 * first a floor: what one eventfd write that wakes a sleeping thread
 * costs here (an idle shard's wake-up). The whole set runs ROUNDS times,
 * so that a few seconds in which the host takes the VM's CPUs away (tens
 * of µs at a time, seen here at the 1% level) spoil one round of a case,
 * not its median.
 *
 * usage: inproc [SUBS [PACED_CALLS [BURST_CALLS [ROUNDS]]]]
 *        (10000 1000 2000 3; make bench runs 5 rounds) */
#define _GNU_SOURCE
#include <malloc.h>
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

static const hub_transport mtp_transport = {sizeof(hub_transport),
                                            mtp_writev, NULL};

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

enum { HEALTHY, STALLED_CLIENT, STALLED_SHARD, NO_SUBSCRIBER };
static const char *case_name[] = {"healthy", "stalled-client", "stalled-shard",
                                  "no-subscriber"};

/* Paced: the caller sleeps until the next millisecond, as a commit thread
 * waits for its fsync; each call starts cold (caches, and on an idle VM a
 * halted vCPU), which the no-subscriber case shows is the floor of any
 * call here. Burst: back to back. */
enum pace { PACE_PACED, PACE_BURST };
static const char *pace_name[] = {"1000/s", "burst"};

struct bench_hub {
  hub_t *hub;
  struct mtp *tps;
  char *payload;
  unsigned shards, size;
  int mode;
};

static int bench_hub_start(struct bench_hub *b, unsigned shards,
                           unsigned nsubs, int mode, unsigned size) {
  hub_options *o;
  b->shards = shards;
  b->size = size;
  b->mode = mode;
  if (hub_options_new(&o) || hub_options_set_shards(o, shards) ||
      hub_new(&b->hub, o) || hub_start(b->hub)) {
    fprintf(stderr, "inproc: hub setup failed\n");
    return 1;
  }
  hub_options_free(o);
  b->tps = calloc(nsubs, sizeof(*b->tps));
  release_blocked = false;
  atomic_store(&blocked_entered, false);
  for (unsigned i = 0; i < nsubs; i++) {
    hub_client_id id;
    b->tps[i].mode = i == 0 && mode == STALLED_CLIENT  ? T_STALL
                     : i == 0 && mode == STALLED_SHARD ? T_BLOCK
                                                       : T_SINK;
    if (hub_attach_transport(b->hub, &mtp_transport, &b->tps[i], NULL, &id) ||
        hub_subscribe(b->hub, id, "bench")) {
      fprintf(stderr, "inproc: attach failed\n");
      return 1;
    }
  }
  b->payload = malloc(size);
  memset(b->payload, 'x', size);
  /* warm up: every client has been written to once; in stalled-shard mode
   * that parks the blocking client's shard inside writev */
  for (int i = 0; i < 10; i++)
    hub_broadcast(b->hub, "bench", b->payload, size, 0);
  uint64_t wait_until = now_ns() + 2000000000u;
  while (now_ns() < wait_until) {
    bool all = true;
    for (unsigned i = 1; i < nsubs && all; i++)
      all = atomic_load_explicit(&b->tps[i].bytes, memory_order_relaxed) > 0;
    if (all && (mode != STALLED_SHARD || atomic_load(&blocked_entered)))
      break;
    sleep_until(now_ns() + 1000000);
  }
  return 0;
}

static int measure(struct bench_hub *b, unsigned round, unsigned nsubs,
                   enum pace pace, unsigned calls) {
  /* no-subscriber: the same hub, a topic nobody is subscribed to: no shard
   * is handed the message, so what is left is the call's own floor */
  const char *topic = b->mode == NO_SUBSCRIBER ? "nobody" : "bench";
  uint64_t *t = malloc(calls * sizeof(*t));
  struct rusage ru0, ru1;
  hub_stats_t st0, st;
  hub_stats(b->hub, &st0, sizeof(st0));
  getrusage(RUSAGE_THREAD, &ru0);
  /* paced: the first call a period from now, on the clock's grid */
  uint64_t period = 1000000; /* 1000/s */
  uint64_t start = now_ns() + (pace == PACE_PACED ? period : 0);
  int failures = 0;
  for (unsigned i = 0; i < calls; i++) {
    if (pace == PACE_PACED)
      sleep_until(start + (uint64_t)i * period);
    uint64_t a = now_ns();
    int64_t seq = hub_broadcast(b->hub, topic, b->payload, b->size, 0);
    t[i] = now_ns() - a;
    failures += seq < 0;
  }
  double elapsed = (double)(now_ns() - start) / 1e9;
  getrusage(RUSAGE_THREAD, &ru1);
  hub_stats(b->hub, &st, sizeof(st));
  qsort(t, calls, sizeof(*t), cmp_u64);
  printf("{\"round\":%u,\"shards\":%u,\"subs\":%u,\"case\":\"%s\","
         "\"rate\":\"%s\",\"calls\":%u,\"size\":%u,\"calls_per_s\":%.0f,"
         "\"call_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f},"
         "\"failures\":%d,\"queue_overflows\":%llu,\"drops\":%llu,"
         "\"caller_involuntary_switches\":%ld,\"caller_page_faults\":%ld}\n",
         round, b->shards, nsubs, case_name[b->mode], pace_name[pace], calls,
         b->size, calls / elapsed, pct(t, calls, 0.5), pct(t, calls, 0.99),
         pct(t, calls, 0.999), (double)t[calls - 1] / 1e3, failures,
         (unsigned long long)(st.queue_overflows - st0.queue_overflows),
         (unsigned long long)(st.drops - st0.drops),
         ru1.ru_nivcsw - ru0.ru_nivcsw, ru1.ru_minflt - ru0.ru_minflt);
  fflush(stdout);
  free(t);
  return failures ? 1 : 0;
}

static void bench_hub_stop(struct bench_hub *b) {
  pthread_mutex_lock(&block_lock);
  release_blocked = true;
  pthread_cond_broadcast(&block_cond);
  pthread_mutex_unlock(&block_lock);
  hub_stop(b->hub, 0);
  hub_free(b->hub);
  free(b->tps);
  free(b->payload);
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

/* What a latency-sensitive host does with its heap: keep what it freed
 * (no trimming back to the kernel) and touch it once up front. Messages
 * that pile up behind a stalled shard (or a burst) then reuse pages the
 * process already has; otherwise every ~28th call takes a page fault,
 * which costs 25-50 µs on the bench VM and would be what the p99 shows.
 * The calling thread's page faults are reported either way. */
static void keep_heap(size_t bytes) {
  mallopt(M_TRIM_THRESHOLD, (int)(bytes * 2));
  mallopt(M_MMAP_THRESHOLD, (int)(bytes * 2));
  char *p = malloc(bytes);
  if (p) {
    memset(p, 1, bytes);
    free(p);
  }
}

int main(int argc, char **argv) {
  keep_heap((size_t)64 << 20);
  unsigned nsubs = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
  unsigned paced = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
  unsigned burst = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
  unsigned rounds = argc > 4 ? (unsigned)atoi(argv[4]) : 3;
  int rc = 0;
  wake_floor(paced);
  for (unsigned round = 0; round < rounds; round++)
    for (unsigned shards = 1; shards <= 2; shards++)
      for (int mode = HEALTHY; mode <= NO_SUBSCRIBER; mode++) {
        if (mode == NO_SUBSCRIBER && shards > 1)
          continue;
        struct bench_hub b;
        if (bench_hub_start(&b, shards, nsubs, mode, 64))
          return 1;
        for (enum pace p = PACE_PACED; p <= PACE_BURST; p++)
          rc |= measure(&b, round, nsubs, p, p == PACE_BURST ? burst : paced);
        bench_hub_stop(&b);
      }
  return rc;
}
