/* The striped topic -> shard-mask index; see topic_index.h. */
#include <string.h>

#include "topic_index.h"

struct name_key {
  const char *name;
  size_t len;
};

static int gtopic_eq(const struct hnode *n, const void *key) {
  const struct gtopic *t = container_of(n, struct gtopic, node);
  const struct name_key *k = key;
  return t->len == k->len && memcmp(t->name, k->name, k->len) == 0;
}

int topic_index_init(struct topic_index *ti, const hub_mem *mem,
                     unsigned nshards) {
  ti->stripes = mem_calloc(mem, TI_STRIPES, sizeof(*ti->stripes));
  if (!ti->stripes)
    return HUB_ENOMEM;
  for (int i = 0; i < TI_STRIPES; i++) {
    pthread_mutex_init(&ti->stripes[i].lock, NULL);
    htable_init(&ti->stripes[i].topics, mem);
  }
  ti->nshards = nshards;
  ti->mem = mem;
  atomic_init(&ti->ntopics, 0);
  return 0;
}

void topic_index_destroy(struct topic_index *ti) {
  if (!ti->stripes)
    return;
  for (int i = 0; i < TI_STRIPES; i++) {
    struct ti_stripe *st = &ti->stripes[i];
    struct hnode *n, *tmp;
    HTABLE_FOREACH(&st->topics, n, tmp)
    mem_free(ti->mem, container_of(n, struct gtopic, node));
    htable_destroy(&st->topics);
    pthread_mutex_destroy(&st->lock);
  }
  mem_free(ti->mem, ti->stripes);
  ti->stripes = NULL;
}

struct gtopic *ti_find_locked(struct ti_stripe *st, const char *name,
                              size_t len, uint64_t hash) {
  struct name_key k = {name, len};
  struct hnode *n = htable_find(&st->topics, hash, gtopic_eq, &k);
  return n ? container_of(n, struct gtopic, node) : NULL;
}

int ti_acquire_locked(struct topic_index *ti, struct ti_stripe *st,
                      const char *name, size_t len, uint64_t hash,
                      unsigned shard) {
  struct gtopic *t = ti_find_locked(st, name, len, hash);
  if (!t) {
    size_t counts = sizeof(uint32_t) * ti->nshards;
    t = mem_calloc(ti->mem, 1, sizeof(*t) + counts + len + 1);
    if (!t)
      return HUB_ENOMEM;
    t->node.hash = hash;
    t->len = len;
    char *nm = (char *)t->counts + counts;
    memcpy(nm, name, len);
    t->name = nm;
    if (htable_insert(&st->topics, &t->node)) {
      mem_free(ti->mem, t);
      return HUB_ENOMEM;
    }
    atomic_fetch_add_explicit(&ti->ntopics, 1, memory_order_relaxed);
  }
  t->counts[shard]++;
  t->mask |= UINT64_C(1) << shard;
  return 0;
}

void ti_release(struct topic_index *ti, const char *name, size_t len,
                uint64_t hash, unsigned shard) {
  struct ti_stripe *st = ti_stripe_of(ti, hash);
  pthread_mutex_lock(&st->lock);
  struct gtopic *t = ti_find_locked(st, name, len, hash);
  if (t && t->counts[shard] && --t->counts[shard] == 0) {
    t->mask &= ~(UINT64_C(1) << shard);
    if (t->mask == 0) {
      htable_remove(&st->topics, &t->node);
      mem_free(ti->mem, t);
      atomic_fetch_sub_explicit(&ti->ntopics, 1, memory_order_relaxed);
    }
  }
  pthread_mutex_unlock(&st->lock);
}
