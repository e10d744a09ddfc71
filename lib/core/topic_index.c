/* The striped topic -> shard-mask index; see topic_index.h. */
#include <string.h>

#include "topic_index.h"

#include "wildcard.h"

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
                     unsigned nshards, _Atomic int64_t *seq,
                     const hash_key *key, const struct hist_limits *defaults,
                     const struct hist_rule *rules, size_t nrules,
                     char *const *presence, size_t npresence) {
  memset(ti, 0, sizeof(*ti));
  ti->mem = mem;
  ti->seq = seq;
  pthread_rwlock_init(&ti->pat_lock, NULL);
  ptrie_init(&ti->pats, mem, key);
  ti->nshards = nshards;
  ti->defaults = *defaults;
  ti->stripes = mem_calloc(mem, TI_STRIPES, sizeof(*ti->stripes));
  if (!ti->stripes)
    return HUB_ENOMEM;
  for (int i = 0; i < TI_STRIPES; i++) {
    pthread_mutex_init(&ti->stripes[i].lock, NULL);
    htable_init(&ti->stripes[i].topics, mem);
  }
  if (nrules) {
    ti->rules = mem_calloc(mem, nrules, sizeof(*ti->rules));
    if (!ti->rules)
      return HUB_ENOMEM;
    for (size_t i = 0; i < nrules; i++) {
      ti->rules[i] = rules[i];
      ti->rules[i].pattern = mem_malloc(mem, rules[i].len + 1);
      if (!ti->rules[i].pattern)
        return HUB_ENOMEM;
      memcpy(ti->rules[i].pattern, rules[i].pattern, rules[i].len + 1);
      ti->nrules = i + 1;
    }
  }
  if (npresence) {
    ti->presence = mem_calloc(mem, npresence, sizeof(char *));
    if (!ti->presence)
      return HUB_ENOMEM;
    for (size_t i = 0; i < npresence; i++) {
      size_t n = strlen(presence[i]) + 1;
      if (!(ti->presence[i] = mem_malloc(mem, n)))
        return HUB_ENOMEM;
      memcpy(ti->presence[i], presence[i], n);
      ti->npresence = i + 1;
    }
  }
  return 0;
}

static void gtopic_free(struct topic_index *ti, struct gtopic *t) {
  for (uint32_t i = 0; i < t->nmembers; i++)
    mem_free(ti->mem, t->members[i].principal);
  mem_free(ti->mem, t->members);
  history_clear(&t->hist, ti->mem, &ti->totals);
  mem_free(ti->mem, t);
}

void topic_index_destroy(struct topic_index *ti) {
  if (ti->stripes) {
    for (int i = 0; i < TI_STRIPES; i++) {
      struct ti_stripe *st = &ti->stripes[i];
      struct hnode *n, *tmp;
      HTABLE_FOREACH(&st->topics, n, tmp)
      gtopic_free(ti, container_of(n, struct gtopic, node));
      htable_destroy(&st->topics);
      pthread_mutex_destroy(&st->lock);
    }
    mem_free(ti->mem, ti->stripes);
    ti->stripes = NULL;
  }
  for (size_t i = 0; i < ti->nrules; i++)
    mem_free(ti->mem, ti->rules[i].pattern);
  mem_free(ti->mem, ti->rules);
  ti->rules = NULL;
  ti->nrules = 0;
  ptrie_destroy(&ti->pats); /* every pattern was released with its sub */
  for (size_t i = 0; i < ti->npresence; i++)
    mem_free(ti->mem, ti->presence[i]);
  mem_free(ti->mem, ti->presence);
  ti->presence = NULL;
  ti->npresence = 0;
  pthread_rwlock_destroy(&ti->pat_lock);
}

static const struct hist_limits *limits_for(const struct topic_index *ti,
                                            const char *name, size_t len) {
  for (size_t i = 0; i < ti->nrules; i++)
    if (pattern_match(ti->rules[i].pattern, ti->rules[i].len, name, len))
      return &ti->rules[i].lim;
  return &ti->defaults;
}

static struct gtopic *create_locked(struct topic_index *ti,
                                    struct ti_stripe *st, const char *name,
                                    size_t len, uint64_t hash) {
  size_t counts = sizeof(uint32_t) * ti->nshards;
  struct gtopic *t = mem_calloc(ti->mem, 1, sizeof(*t) + counts + len + 1);
  if (!t)
    return NULL;
  t->node.hash = hash;
  t->len = len;
  t->created_seq = atomic_load_explicit(ti->seq, memory_order_relaxed);
  char *nm = (char *)t->counts + counts;
  memcpy(nm, name, len);
  t->name = nm;
  history_init(&t->hist, limits_for(ti, name, len));
  for (size_t i = 0; i < ti->npresence && !t->presence; i++)
    t->presence = pattern_match(ti->presence[i], strlen(ti->presence[i]),
                                name, len);
  if (htable_insert(&st->topics, &t->node)) {
    mem_free(ti->mem, t);
    return NULL;
  }
  return t;
}

static void raise_to(_Atomic int64_t *v, int64_t to) {
  int64_t cur = atomic_load_explicit(v, memory_order_relaxed);
  while (to > cur && !atomic_compare_exchange_weak(v, &cur, to))
    ;
}

/* Frees the entry once nothing needs it: no subscriber, no history. */
static void maybe_free_locked(struct topic_index *ti, struct ti_stripe *st,
                              struct gtopic *t) {
  if (t->mask || t->hist.count)
    return;
  raise_to(&ti->horizon,
           t->last_seq > t->loss_seq ? t->last_seq : t->loss_seq);
  htable_remove(&st->topics, &t->node);
  gtopic_free(ti, t);
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
  if (!t && !(t = create_locked(ti, st, name, len, hash)))
    return HUB_ENOMEM;
  if (!t->mask)
    atomic_fetch_add_explicit(&ti->ntopics, 1, memory_order_relaxed);
  t->counts[shard]++;
  t->mask |= UINT64_C(1) << shard;
  return 0;
}

int ti_pat_acquire_locked(struct topic_index *ti, const char *pat,
                          size_t len, unsigned shard) {
  void **slot = ptrie_slot(&ti->pats, pat, len, true);
  if (!slot)
    return HUB_ENOMEM;
  struct gpat *g = *slot;
  if (!g) {
    g = mem_calloc(ti->mem, 1, sizeof(*g) + sizeof(uint32_t) * ti->nshards);
    if (!g) {
      ptrie_remove(&ti->pats, pat, len);
      return HUB_ENOMEM;
    }
    *slot = g;
    atomic_fetch_add_explicit(&ti->npats, 1, memory_order_relaxed);
  }
  g->counts[shard]++;
  g->mask |= UINT64_C(1) << shard;
  return 0;
}

static void or_mask(void *val, void *ud) {
  *(uint64_t *)ud |= ((struct gpat *)val)->mask;
}

uint64_t ti_pat_mask(struct topic_index *ti, const char *topic, size_t len) {
  if (!atomic_load_explicit(&ti->npats, memory_order_relaxed))
    return 0;
  uint64_t mask = 0;
  pthread_rwlock_rdlock(&ti->pat_lock);
  ptrie_match(&ti->pats, topic, len, or_mask, &mask);
  pthread_rwlock_unlock(&ti->pat_lock);
  return mask;
}

static void pat_release(struct topic_index *ti, const char *pat, size_t len,
                        unsigned shard) {
  pthread_rwlock_wrlock(&ti->pat_lock);
  void **slot = ptrie_slot(&ti->pats, pat, len, false);
  struct gpat *g = slot ? *slot : NULL;
  if (g && g->counts[shard] && --g->counts[shard] == 0) {
    g->mask &= ~(UINT64_C(1) << shard);
    if (!g->mask) {
      mem_free(ti->mem, g);
      ptrie_remove(&ti->pats, pat, len);
      atomic_fetch_sub_explicit(&ti->npats, 1, memory_order_relaxed);
    }
  }
  pthread_rwlock_unlock(&ti->pat_lock);
}

void ti_release(struct topic_index *ti, const char *name, size_t len,
                uint64_t hash, unsigned shard) {
  if (pattern_is_wild(name, len)) {
    pat_release(ti, name, len, shard);
    return;
  }
  struct ti_stripe *st = ti_stripe_of(ti, hash);
  pthread_mutex_lock(&st->lock);
  struct gtopic *t = ti_find_locked(st, name, len, hash);
  if (t && t->counts[shard] && --t->counts[shard] == 0) {
    t->mask &= ~(UINT64_C(1) << shard);
    if (!t->mask) {
      atomic_fetch_sub_explicit(&ti->ntopics, 1, memory_order_relaxed);
      maybe_free_locked(ti, st, t);
    }
  }
  pthread_mutex_unlock(&st->lock);
}

struct gtopic *ti_for_publish_locked(struct topic_index *ti,
                                     struct ti_stripe *st, const char *name,
                                     size_t len, uint64_t hash) {
  struct gtopic *t = ti_find_locked(st, name, len, hash);
  if (!t && limits_for(ti, name, len)->max_msgs)
    t = create_locked(ti, st, name, len, hash);
  return t;
}

int ti_replay_locked(struct topic_index *ti, struct gtopic *t, int64_t since,
                     bool epoch_ok, struct replay *r) {
  memset(r, 0, sizeof(*r));
  r->last = t->last_seq;
  if (since < 0)
    return 0;
  r->resume = true;
  if (!epoch_ok) {
    r->reset = RESET_EPOCH;
    return 0;
  }
  int64_t now = atomic_load_explicit(ti->seq, memory_order_relaxed);
  if (!t->hist.lim.max_msgs) {
    /* Nothing kept: broadcasts to it may have come and gone unseen. */
    if (since < now)
      r->reset = RESET_RETENTION;
    return 0;
  }
  bool gap;
  if (history_since(&t->hist, ti->mem, since, &r->msgs, &r->n, &gap))
    return HUB_ENOMEM;
  if (gap || since < t->loss_seq ||
      since < atomic_load_explicit(&ti->loss_seq, memory_order_relaxed) ||
      (since < t->created_seq &&
       since < atomic_load_explicit(&ti->horizon, memory_order_relaxed))) {
    replay_free(ti->mem, r);
    r->reset = RESET_RETENTION;
  }
  return 0;
}

void replay_free(const hub_mem *mem, struct replay *r) {
  for (uint32_t i = 0; i < r->n; i++)
    msg_unref(mem, r->msgs[i]);
  mem_free(mem, r->msgs);
  r->msgs = NULL;
  r->n = 0;
}

void ti_sweep(struct topic_index *ti, unsigned i, int64_t now_ms) {
  struct ti_stripe *st = &ti->stripes[i];
  pthread_mutex_lock(&st->lock);
  struct hnode *n, *tmp;
  struct gtopic *empty = NULL;
  HTABLE_FOREACH(&st->topics, n, tmp) {
    struct gtopic *t = container_of(n, struct gtopic, node);
    history_expire(&t->hist, ti->mem, now_ms, &ti->totals);
    if (!t->mask && !t->hist.count) {
      t->sweep_next = empty; /* freed after the walk: the table may shrink */
      empty = t;
    }
  }
  while (empty) {
    struct gtopic *t = empty;
    empty = t->sweep_next;
    maybe_free_locked(ti, st, t);
  }
  pthread_mutex_unlock(&st->lock);
}

bool ti_ages(const struct topic_index *ti) {
  bool ages = ti->defaults.max_msgs && ti->defaults.max_age_ms;
  for (size_t i = 0; i < ti->nrules; i++)
    ages |= ti->rules[i].lim.max_msgs && ti->rules[i].lim.max_age_ms;
  return ages;
}

void ti_pat_replay(struct topic_index *ti, int64_t since, struct replay *r) {
  memset(r, 0, sizeof(*r));
  r->last = atomic_load_explicit(ti->seq, memory_order_relaxed);
  r->resume = since >= 0;
  if (r->resume)
    r->reset = RESET_RETENTION;
}

uint64_t ti_note_loss(struct topic_index *ti, const char *name, size_t len,
                      uint64_t hash, int64_t seq) {
  if (!name) {
    raise_to(&ti->loss_seq, seq);
    return ti->nshards == 64 ? UINT64_MAX
                             : (UINT64_C(1) << ti->nshards) - 1;
  }
  struct ti_stripe *st = ti_stripe_of(ti, hash);
  uint64_t mask = 0;
  pthread_mutex_lock(&st->lock);
  struct gtopic *t = ti_find_locked(st, name, len, hash);
  if (t) {
    if (seq > t->loss_seq)
      t->loss_seq = seq;
    mask = t->mask;
  } else {
    /* An entry made later starts after `seq`: the horizon covers it. */
    raise_to(&ti->horizon, seq);
  }
  pthread_mutex_unlock(&st->lock);
  return mask | ti_pat_mask(ti, name, len);
}
