/* The shard-local subscription registry; see registry.h. */
#include <string.h>

#include "registry.h"

#include "wildcard.h"

struct name_key {
  const char *name;
  size_t len;
};

static int ltopic_eq(const struct hnode *n, const void *key) {
  const struct ltopic *t = container_of(n, struct ltopic, node);
  const struct name_key *k = key;
  return t->len == k->len && memcmp(t->name, k->name, k->len) == 0;
}

void registry_init(struct registry *reg, const hub_mem *mem,
                   const hash_key *key) {
  htable_init(&reg->topics, mem);
  ptrie_init(&reg->patterns, mem, key);
  reg->mem = mem;
  reg->nsubs = 0;
}

void registry_destroy(struct registry *reg) {
  htable_destroy(&reg->topics);
  ptrie_destroy(&reg->patterns);
}

struct ltopic *registry_find(const struct registry *reg, const char *name,
                             size_t len, uint64_t hash) {
  struct name_key k = {name, len};
  struct hnode *n = htable_find(&reg->topics, hash, ltopic_eq, &k);
  return n ? container_of(n, struct ltopic, node) : NULL;
}

static void free_topic(struct registry *reg, struct ltopic *t) {
  htable_remove(&reg->topics, &t->node);
  if (t->pattern)
    ptrie_remove(&reg->patterns, t->name, t->len);
  mem_free(reg->mem, t->subs);
  mem_free(reg->mem, t);
}

static struct sub *find_sub(const struct ltopic *t, const struct client *c,
                            const struct sub_list *list) {
  /* Walk whichever side is shorter. */
  if (list->count <= t->nsubs) {
    for (struct sub *s = list->head; s; s = s->cnext)
      if (s->topic == t)
        return s;
  } else {
    for (uint32_t i = 0; i < t->nsubs; i++)
      if (t->subs[i]->client == c)
        return t->subs[i];
  }
  return NULL;
}

struct sub *registry_find_sub(const struct registry *reg,
                              const struct client *c,
                              const struct sub_list *list, const char *name,
                              size_t len, uint64_t hash) {
  struct ltopic *t = registry_find(reg, name, len, hash);
  return t ? find_sub(t, c, list) : NULL;
}

int registry_add(struct registry *reg, struct client *c, struct sub_list *list,
                 const char *name, size_t len, uint64_t hash,
                 struct sub **out) {
  struct ltopic *t = registry_find(reg, name, len, hash);
  int created = 0;
  if (t) {
    struct sub *s = find_sub(t, c, list);
    if (s) {
      if (out)
        *out = s;
      return 0;
    }
  } else {
    t = mem_malloc(reg->mem, sizeof(*t) + len + 1);
    if (!t)
      return HUB_ENOMEM;
    t->node.hash = hash;
    t->subs = NULL;
    t->nsubs = t->cap = 0;
    t->len = len;
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    t->pattern = pattern_is_wild(name, len);
    void **slot = NULL;
    if (t->pattern &&
        !(slot = ptrie_slot(&reg->patterns, name, len, true))) {
      mem_free(reg->mem, t);
      return HUB_ENOMEM;
    }
    if (htable_insert(&reg->topics, &t->node)) {
      if (t->pattern)
        ptrie_remove(&reg->patterns, name, len);
      mem_free(reg->mem, t);
      return HUB_ENOMEM;
    }
    if (slot)
      *slot = t;
    created = 1;
  }
  struct sub *s = NULL;
  if (t->nsubs == t->cap) {
    uint32_t ncap = t->cap ? t->cap * 2 : 4;
    struct sub **ns = mem_realloc(reg->mem, t->subs, sizeof(*ns) * ncap);
    if (!ns)
      goto fail;
    t->subs = ns;
    t->cap = ncap;
  }
  s = mem_calloc(reg->mem, 1, sizeof(*s));
  if (!s)
    goto fail;
  s->topic = t;
  s->client = c;
  s->idx = t->nsubs;
  t->subs[t->nsubs++] = s;
  s->cprev = NULL;
  s->cnext = list->head;
  if (list->head)
    list->head->cprev = s;
  list->head = s;
  list->count++;
  reg->nsubs++;
  if (out)
    *out = s;
  return 1;

fail:
  if (created)
    free_topic(reg, t);
  return HUB_ENOMEM;
}

void registry_del_sub(struct registry *reg, struct sub_list *list,
                      struct sub *s) {
  struct ltopic *t = s->topic;
  struct sub *last = t->subs[--t->nsubs];
  t->subs[s->idx] = last;
  last->idx = s->idx;
  if (s->cprev)
    s->cprev->cnext = s->cnext;
  else
    list->head = s->cnext;
  if (s->cnext)
    s->cnext->cprev = s->cprev;
  list->count--;
  reg->nsubs--;
  mem_free(reg->mem, s);
  if (t->nsubs == 0) {
    free_topic(reg, t);
  } else if (t->cap >= 64 && t->nsubs < t->cap / 4) {
    struct sub **ns = mem_realloc(reg->mem, t->subs, sizeof(*ns) * t->cap / 2);
    if (ns) {
      t->subs = ns;
      t->cap /= 2;
    }
  }
}

int registry_del(struct registry *reg, struct client *c, struct sub_list *list,
                 const char *name, size_t len, uint64_t hash) {
  struct ltopic *t = registry_find(reg, name, len, hash);
  struct sub *s = t ? find_sub(t, c, list) : NULL;
  if (!s)
    return 0;
  registry_del_sub(reg, list, s);
  return 1;
}
