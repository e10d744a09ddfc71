/* Helpers shared by the hub-level tests. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanhub.h"

hub_stats_t stats_of(hub_t *hub);
/* Polls hub_stats() every ms until the uint64_t field at `off` is `want`
 * or `ms` pass. */
bool wait_stat(hub_t *hub, size_t off, uint64_t want, int ms);
#define WAIT_STAT(hub, field, want, ms)                                       \
  wait_stat(hub, offsetof(hub_stats_t, field), want, ms)

/* Runs every shard of a host-loop hub until a pass handles nothing. */
void run_shards(hub_t *hub);

/* Records close callbacks. */
struct closelog {
  pthread_mutex_t lock;
  int n;
  hub_close_info info[64]; /* .principal points into principals[] */
  char principals[64][32];
};
void closelog_init(struct closelog *log);
void closelog_cb(hub_t *hub, const hub_close_info *info, void *user_data);
/* The info for `id`, copied into *out; false if it did not close. */
bool closelog_find(struct closelog *log, hub_client_id id,
                   hub_close_info *out);

/* A started hub with `shards` shards (threads: 1 or 0) and optionally a
 * close log. */
hub_t *hub_make(unsigned shards, int threads, struct closelog *log);
/* A started hub with 2 shards keeping `max_msgs` messages of history per
 * topic (none for "nohist.>"), and queue caps of `qmax` messages if not 0;
 * NULL on failure. */
hub_t *history_hub(uint32_t max_msgs, uint32_t qmax);

/* An allocator (hub_options_set_mem) that counts the bytes live in every
 * hub using it, and that count: memory tests compare it before and after. */
extern const hub_mem counting_mem;
long long counted_bytes(void);

/* A host's transport on its end of a socketpair (io_user: the fd). */
extern const hub_transport fd_transport;

#endif
