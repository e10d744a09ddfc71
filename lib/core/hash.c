/* SipHash-1-3 (Aumasson & Bernstein) and the intrusive hash table. */
#include <string.h>

#include "hash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

uint64_t hash_bytes(const hash_key *key, const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ key->k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0;
  uint64_t v3 = 0x7465646279746573ULL ^ key->k1;
  uint64_t b = (uint64_t)len << 56;
  size_t left = len & 7;
  const unsigned char *end = p + len - left;

  for (; p != end; p += 8) {
    uint64_t m;
    memcpy(&m, p, 8); /* little-endian hosts only: Linux x86-64/arm64 */
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
  }
  for (size_t i = 0; i < left; i++)
    b |= (uint64_t)p[i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

void htable_init(struct htable *t, const hub_mem *mem) {
  t->buckets = NULL;
  t->mask = 0;
  t->count = 0;
  t->mem = mem;
}

void htable_destroy(struct htable *t) {
  mem_free(t->mem, t->buckets);
  t->buckets = NULL;
  t->mask = 0;
  t->count = 0;
}

struct hnode *htable_find(const struct htable *t, uint64_t hash, hnode_eq_fn eq,
                          const void *key) {
  if (!t->buckets)
    return NULL;
  for (struct hnode *n = t->buckets[hash & t->mask]; n; n = n->next)
    if (n->hash == hash && eq(n, key))
      return n;
  return NULL;
}

/* Rehashes into `nbuckets` (a power of two); on allocation failure the
 * table stays as it was. */
static void resize(struct htable *t, size_t nbuckets) {
  struct hnode **nb = mem_calloc(t->mem, nbuckets, sizeof(*nb));
  if (!nb)
    return;
  size_t nmask = nbuckets - 1;
  for (size_t i = 0; t->buckets && i <= t->mask; i++) {
    struct hnode *n = t->buckets[i], *next;
    for (; n; n = next) {
      next = n->next;
      n->next = nb[n->hash & nmask];
      nb[n->hash & nmask] = n;
    }
  }
  mem_free(t->mem, t->buckets);
  t->buckets = nb;
  t->mask = nmask;
}

int htable_insert(struct htable *t, struct hnode *node) {
  if (!t->buckets) {
    resize(t, 8);
    if (!t->buckets)
      return HUB_ENOMEM;
  } else if (t->count >= t->mask + 1) {
    resize(t, (t->mask + 1) * 2);
  }
  struct hnode **b = &t->buckets[node->hash & t->mask];
  node->next = *b;
  *b = node;
  t->count++;
  return 0;
}

void htable_remove(struct htable *t, struct hnode *node) {
  struct hnode **pp = &t->buckets[node->hash & t->mask];
  while (*pp != node)
    pp = &(*pp)->next;
  *pp = node->next;
  t->count--;
  if (t->count == 0) {
    htable_destroy(t);
  } else if (t->mask >= 63 && t->count < (t->mask + 1) / 8) {
    resize(t, (t->mask + 1) / 4);
  }
}
