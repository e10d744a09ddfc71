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
#include "history.h"
#include "ptrie.h"

#define TI_STRIPES 64

/* A topic lives here while it has subscriptions or retained history. */
struct gtopic {
  struct hnode node;
  uint64_t mask;    /* bit i: shard i has subscriptions */
  int64_t last_seq; /* the topic's newest message, 0 if none yet */
  int64_t created_seq; /* the hub's seq when this entry was made */
  int64_t loss_seq;    /* messages before it were lost (hub_report_loss) */
  struct gtopic *sweep_next;
  struct history hist;
  struct member *members; /* presence: who is subscribed, any shard */
  uint32_t nmembers, cmembers;
  bool presence;
  size_t len;
  const char *name; /* inside this allocation, after counts */
  uint32_t counts[];
};

/* One subscriber of a presence topic. */
struct member {
  hub_client_id id;
  char *principal;
};

/* History limits for the topics a pattern matches. */
struct hist_rule {
  char *pattern;
  size_t len;
  struct hist_limits lim;
};

struct ti_stripe {
  alignas(HUB_CACHELINE) pthread_mutex_t lock;
  struct htable topics;
};

struct topic_index {
  struct ti_stripe *stripes;
  unsigned nshards;
  const hub_mem *mem;
  _Atomic uint64_t ntopics; /* topics with subscribers */
  struct hist_rule *rules;  /* first match wins, else defaults */
  size_t nrules;
  struct hist_limits defaults;
  struct hist_totals totals;
  char **presence; /* patterns of the topics that keep presence */
  size_t npresence;
  /* The newest seq of any topic whose entry is gone: a resume from before
   * it, on a topic without an entry, may have missed messages. */
  _Atomic int64_t horizon;
  /* Messages on unknown topics were lost before it (hub_report_loss with
   * no topic): a resume from before it cannot be proven gapless. */
  _Atomic int64_t loss_seq;
  _Atomic int64_t *seq; /* the hub's sequence counter */
  /* Wildcard subscriptions: pattern -> struct gpat, under pat_lock. A
   * broadcast reads it (inside its stripe lock) only when npats > 0. */
  pthread_rwlock_t pat_lock;
  struct ptrie pats;
  _Atomic uint64_t npats;
};

/* Which shards hold subscriptions to one pattern. */
struct gpat {
  uint64_t mask;
  uint32_t counts[];
};

int topic_index_init(struct topic_index *ti, const hub_mem *mem,
                     unsigned nshards, _Atomic int64_t *seq,
                     const hash_key *key, const struct hist_limits *defaults,
                     const struct hist_rule *rules, size_t nrules,
                     char *const *presence, size_t npresence);
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
/* Counts one more subscription of `shard` to a pattern; pat_lock is held
 * for writing. Returns 0 or HUB_ENOMEM. */
int ti_pat_acquire_locked(struct topic_index *ti, const char *pat,
                          size_t len, unsigned shard);
/* The shards with a wildcard subscription matching `topic`; pat_lock is
 * taken for reading inside. */
uint64_t ti_pat_mask(struct topic_index *ti, const char *topic, size_t len);
/* Counts one subscription fewer, to a topic or a pattern; takes the lock
 * it needs itself. */
void ti_release(struct topic_index *ti, const char *name, size_t len,
                uint64_t hash, unsigned shard);
/* The entry a broadcast to the topic appends to: found, or created when
 * the topic keeps history; NULL if it has neither subscribers nor
 * history (or on ENOMEM). The stripe's lock is held. */
struct gtopic *ti_for_publish_locked(struct topic_index *ti,
                                     struct ti_stripe *st, const char *name,
                                     size_t len, uint64_t hash);

/* What a subscription with a starting point gets: the retained messages
 * after it, or a reset. */
enum { RESET_NONE, RESET_RETENTION, RESET_EPOCH };
struct replay {
  struct msg **msgs; /* refs, oldest first */
  uint32_t n;
  uint8_t reset; /* RESET_* */
  bool resume;   /* a starting point was given */
  int64_t last;  /* the topic's newest seq when the snapshot was made */
};
/* Fills *r for a subscription to topic `t` wanting the messages after
 * `since` (< 0: none wanted, only r->last). A reset is given whenever a
 * message after `since` may have been missed: evicted from the history, a
 * topic without history that has moved on, or an earlier incarnation of
 * the entry (see horizon). The stripe's lock is held. Returns 0 or
 * HUB_ENOMEM. */
int ti_replay_locked(struct topic_index *ti, struct gtopic *t, int64_t since,
                     bool epoch_ok, struct replay *r);
/* Records that messages on a topic (NULL: any) were lost before `seq`,
 * so resumes from before it get a reset. Returns the shards holding the
 * topic's subscribers (every shard for NULL). Takes the locks it needs. */
uint64_t ti_note_loss(struct topic_index *ti, const char *name, size_t len,
                      uint64_t hash, int64_t seq);
/* A pattern subscription starts live: r->last is the hub's seq now, and a
 * starting point gets a reset (no history spans a pattern). */
void ti_pat_replay(struct topic_index *ti, int64_t since, struct replay *r);
void replay_free(const hub_mem *mem, struct replay *r);
/* True if some topic's history has an age limit (then shards sweep). */
bool ti_ages(const struct topic_index *ti);
/* Drops aged history in stripe `i` and the entries left empty. */
void ti_sweep(struct topic_index *ti, unsigned i, int64_t now_ms);

#endif
