/* The hub-wide topic index: for each topic, how many subscriptions each
 * shard holds (or has on the way), and the mask of shards with any. A
 * broadcast looks its topic up here and wakes only the shards in the mask.
 *
 * The index is split into stripes by topic hash, each with its own mutex,
 * so broadcasts on different topics rarely contend. A stripe's lock also
 * orders everything that must stay in order for its topics: sequence
 * numbers and pushes onto shard queues (see hub.c). */
#ifndef HUB_TOPIC_INDEX_H
#define HUB_TOPIC_INDEX_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "hash.h"

#define TI_STRIPES 64

struct gtopic {
  struct hnode node;
  uint64_t mask; /* bit i: shard i has subscriptions */
  size_t len;
  const char *name; /* inside this allocation, after counts */
  uint32_t counts[];
};

struct ti_stripe {
  alignas(HUB_CACHELINE) pthread_mutex_t lock;
  struct htable topics;
};

struct topic_index {
  struct ti_stripe *stripes;
  unsigned nshards;
  const hub_mem *mem;
  _Atomic uint64_t ntopics;
};

int topic_index_init(struct topic_index *ti, const hub_mem *mem,
                     unsigned nshards);
void topic_index_destroy(struct topic_index *ti);

static inline struct ti_stripe *ti_stripe_of(struct topic_index *ti,
                                             uint64_t hash) {
  return &ti->stripes[(hash >> 32) % TI_STRIPES];
}
struct gtopic *ti_find_locked(struct ti_stripe *st, const char *name,
                              size_t len, uint64_t hash);
/* Counts one more subscription of `shard` to the topic, creating it.
 * The stripe's lock is held. Returns 0 or HUB_ENOMEM. */
int ti_acquire_locked(struct topic_index *ti, struct ti_stripe *st,
                      const char *name, size_t len, uint64_t hash,
                      unsigned shard);
/* Counts one subscription fewer; takes the stripe's lock itself. */
void ti_release(struct topic_index *ti, const char *name, size_t len,
                uint64_t hash, unsigned shard);

#endif
