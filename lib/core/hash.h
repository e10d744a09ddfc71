/* A seeded string hash (SipHash-1-3, so clients cannot flood a bucket) and
 * an intrusive chained hash table. The table stores nodes embedded in the
 * caller's structs and compares keys through a callback. */
#ifndef HUB_HASH_H
#define HUB_HASH_H

#include "common.h"

typedef struct hash_key {
  uint64_t k0, k1;
} hash_key;

uint64_t hash_bytes(const hash_key *key, const void *data, size_t len);
/* Mixes a 64-bit integer key (client ids); not seeded, ids are ours. */
static inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

struct hnode {
  struct hnode *next;
  uint64_t hash;
};

struct htable {
  struct hnode **buckets;
  size_t mask; /* bucket count - 1; 0 buckets when mask == 0 && !buckets */
  size_t count;
  const hub_mem *mem;
};

typedef int (*hnode_eq_fn)(const struct hnode *node, const void *key);

void htable_init(struct htable *t, const hub_mem *mem);
void htable_destroy(struct htable *t);
struct hnode *htable_find(const struct htable *t, uint64_t hash, hnode_eq_fn eq,
                          const void *key);
/* Returns 0 or HUB_ENOMEM (only when the table has no buckets yet). It
 * grows the table when it can and keeps working with longer chains when
 * it cannot. */
int htable_insert(struct htable *t, struct hnode *node);
void htable_remove(struct htable *t, struct hnode *node);

/* Iterates every node. Removing a node inside the loop is not allowed:
 * the table may shrink under it. */
#define HTABLE_FOREACH(t, node, tmp)                                           \
  for (size_t hb__ = 0; (t)->buckets && hb__ <= (t)->mask; hb__++)             \
    for ((node) = (t)->buckets[hb__]; (node) && ((tmp) = (node)->next, 1);     \
         (node) = (tmp))

#endif
