/* Subscription bookkeeping; see subscription.h. */
#include "subscription.h"

#include "hub.h"
#include "presence.h"
#include "wildcard.h"

int subs_reserve(struct topic_index *ti, unsigned shard, const char *topic,
                 size_t len, uint64_t hash, int64_t since, bool epoch_ok,
                 struct replay *r, void (*locked)(void *arg), void *arg) {
  int rv;
  if (pattern_is_wild(topic, len)) {
    if (!ptrie_valid(topic, len))
      return HUB_ETOPIC;
    pthread_rwlock_wrlock(&ti->pat_lock);
    rv = ti_pat_acquire_locked(ti, topic, len, shard);
    if (!rv) {
      ti_pat_replay(ti, since, r);
      if (locked)
        locked(arg);
    }
    pthread_rwlock_unlock(&ti->pat_lock);
    return rv;
  }
  struct ti_stripe *st = ti_stripe_of(ti, hash);
  pthread_mutex_lock(&st->lock);
  rv = ti_acquire_locked(ti, st, topic, len, hash, shard);
  bool counted = rv == 0;
  if (counted) {
    rv = ti_replay_locked(ti, ti_find_locked(st, topic, len, hash), since,
                          epoch_ok, r);
    if (!rv && locked)
      locked(arg);
  }
  pthread_mutex_unlock(&st->lock);
  if (rv && counted) /* the snapshot failed: the count goes back */
    ti_release(ti, topic, len, hash, shard);
  return rv;
}

void subs_unreserve(struct topic_index *ti, unsigned shard, const char *topic,
                    size_t len, uint64_t hash) {
  ti_release(ti, topic, len, hash, shard);
}

int subs_bind(struct shard *s, struct client *c, const char *topic,
              size_t len, uint64_t hash, struct sub **sub) {
  int rv = registry_add(&s->reg, c, &c->subs, topic, len, hash, sub);
  if (rv != 1)
    subs_unreserve(&s->hub->index, s->idx, topic, len, hash);
  else
    presence_joined(s, c, topic, len, hash);
  return rv;
}

bool subs_drop(struct shard *s, struct client *c, const char *topic,
               size_t len, uint64_t hash) {
  if (!registry_del(&s->reg, c, &c->subs, topic, len, hash))
    return false;
  presence_left(s, c, topic, len, hash);
  subs_unreserve(&s->hub->index, s->idx, topic, len, hash);
  return true;
}

void subs_drop_all(struct shard *s, struct client *c) {
  while (c->subs.head) {
    struct sub *sub = c->subs.head;
    struct ltopic *t = sub->topic;
    presence_left(s, c, t->name, t->len, t->node.hash);
    subs_unreserve(&s->hub->index, s->idx, t->name, t->len, t->node.hash);
    registry_del_sub(&s->reg, &c->subs, sub);
  }
}
