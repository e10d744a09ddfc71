/* Helpers shared by the hub-level tests; see util.h. */
#include "util.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "test.h"

hub_stats_t stats_of(hub_t *hub) {
  hub_stats_t s;
  memset(&s, 0, sizeof(s));
  hub_stats(hub, &s, sizeof(s));
  return s;
}

bool wait_stat(hub_t *hub, size_t off, uint64_t want, int ms) {
  int64_t end = test_now_us() + (int64_t)ms * 1000;
  for (;;) {
    hub_stats_t s = stats_of(hub);
    uint64_t v;
    memcpy(&v, (char *)&s + off, sizeof(v));
    if (v == want)
      return true;
    if (test_now_us() > end) {
      fprintf(stderr, "  wait_stat: field at %zu is %llu, want %llu\n", off,
              (unsigned long long)v, (unsigned long long)want);
      return false;
    }
    test_sleep_ms(1);
  }
}

void run_shards(hub_t *hub) {
  for (int busy = 1, rounds = 0; busy && rounds < 1000; rounds++) {
    busy = 0;
    for (int i = 0; i < hub_shard_count(hub); i++)
      if (hub_shard_run(hub, i, 0) > 0)
        busy = 1;
  }
}

void closelog_init(struct closelog *log) {
  memset(log, 0, sizeof(*log));
  pthread_mutex_init(&log->lock, NULL);
}

void closelog_cb(hub_t *hub, const hub_close_info *info, void *user_data) {
  (void)hub;
  struct closelog *log = user_data;
  pthread_mutex_lock(&log->lock);
  if (log->n < 64) {
    log->info[log->n] = *info;
    /* The hub's string dies with the client: keep a copy. */
    snprintf(log->principals[log->n], sizeof(log->principals[0]), "%s",
             info->principal);
    log->info[log->n].principal = log->principals[log->n];
  }
  log->n++;
  pthread_mutex_unlock(&log->lock);
}

bool closelog_find(struct closelog *log, hub_client_id id,
                   hub_close_info *out) {
  bool found = false;
  pthread_mutex_lock(&log->lock);
  for (int i = 0; i < log->n && i < 64; i++)
    if (log->info[i].id == id) {
      *out = log->info[i];
      found = true;
    }
  pthread_mutex_unlock(&log->lock);
  return found;
}

hub_t *hub_make(unsigned shards, int threads, struct closelog *log) {
  hub_options *opt;
  hub_t *hub = NULL;
  if (hub_options_new(&opt))
    return NULL;
  hub_options_set_shards(opt, shards);
  hub_options_set_threads(opt, threads);
  if (log)
    hub_options_set_close_callback(opt, closelog_cb, log);
  if (hub_new(&hub, opt) == 0 && hub_start(hub) != 0) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(opt);
  return hub;
}

hub_t *history_hub(uint32_t max_msgs, uint32_t qmax) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  hub_options_set_history(o, NULL, max_msgs, 1 << 20, 0);
  hub_options_set_history(o, "nohist.>", 0, 0, 0);
  if (qmax)
    hub_options_set_queue_limits(o, qmax, 1 << 20);
  if (hub_new(&hub, o) || hub_start(hub)) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(o);
  return hub;
}

static int64_t fd_writev(void *io, const struct iovec *iov, int n) {
  ssize_t w = writev((int)(intptr_t)io, iov, n);
  if (w >= 0)
    return w;
  return errno == EAGAIN ? 0 : HUB_ESYS;
}
static void fd_close(void *io) { close((int)(intptr_t)io); }
const hub_transport fd_transport = {sizeof(hub_transport), fd_writev,
                                    fd_close};

/* Live bytes, counted by the allocator's own sizes so that a free needs no
 * header of ours. */
static _Atomic long long live;

long long counted_bytes(void) { return live; }

static void *cnt_malloc(size_t n, void *ud) {
  (void)ud;
  void *p = malloc(n);
  if (p)
    live += (long long)malloc_usable_size(p);
  return p;
}
static void cnt_free(void *p, void *ud) {
  (void)ud;
  if (p)
    live -= (long long)malloc_usable_size(p);
  free(p);
}
static void *cnt_calloc(size_t k, size_t n, void *ud) {
  (void)ud;
  void *p = calloc(k, n);
  if (p)
    live += (long long)malloc_usable_size(p);
  return p;
}
static void *cnt_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  long long before = p ? (long long)malloc_usable_size(p) : 0;
  void *q = realloc(p, n);
  if (q)
    live += (long long)malloc_usable_size(q) - before;
  return q;
}

const hub_mem counting_mem = {sizeof(hub_mem), NULL,       cnt_malloc,
                              cnt_free,        cnt_calloc, cnt_realloc};
