/* Subscriptions made on the shard thread and what they are owed; see
 * replay.h. */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "smsg.h"
#include "subscription.h"

int shard_subscribe(struct shard *s, struct client *c, const char *topic,
                    size_t len, int64_t since, bool epoch_ok,
                    struct replay *r, struct sub **sub) {
  uint64_t hash = hash_bytes(&s->hub->key, topic, len);
  /* Subscribed already (a topic repeated in a query, a subscribe sent
   * again): nothing is replayed twice, whatever the starting point. */
  if (registry_find_sub(&s->reg, c, &c->subs, topic, len, hash))
    since = -1;
  int rv = subs_reserve(&s->hub->index, s->idx, topic, len, hash, since,
                        epoch_ok, r, NULL, NULL);
  if (rv)
    return rv;
  rv = subs_bind(s, c, topic, len, hash, sub);
  if (rv < 0)
    replay_free(s->mem, r);
  return rv;
}

void replay_send(struct shard *s, struct client *c, struct msg **msgs,
                 uint32_t n) {
  uint32_t i = 0;
  while (i < n && c->state == CLIENT_OPEN) {
    struct msg *m = msgs[i++];
    struct smsg *sm = smsg_shared(s, m);
    if (!sm) {
      client_note_drop(s, c, m);
      msg_unref(s->mem, m);
      continue;
    }
    bool queued = client_enqueue_replay(s, c, sm);
    if (sm->refs == 0)
      smsg_put(s, sm);
    if (!queued)
      break;
  }
  /* Past the caps: the client hears of the rest as lost, from the oldest
   * not sent, and resumes from there once it has read what it got. */
  for (; i < n; i++) {
    if (c->state == CLIENT_OPEN)
      client_note_drop(s, c, msgs[i]);
    msg_unref(s->mem, msgs[i]);
  }
}

static int by_seq(const void *a, const void *b) {
  int64_t x = (*(struct msg *const *)a)->seq, y = (*(struct msg *const *)b)->seq;
  return (x > y) - (x < y);
}

void replay_batch_flush(struct shard *s, struct client *c,
                        struct replay_batch *b) {
  if (b->n > 1)
    qsort(b->msgs, b->n, sizeof(*b->msgs), by_seq);
  replay_send(s, c, b->msgs, (uint32_t)b->n);
  mem_free(s->mem, b->msgs);
  b->msgs = NULL;
  b->n = 0;
}

void shard_replay(struct shard *s, struct client *c, struct sub *sub,
                  bool fresh, struct replay *r, struct replay_batch *b) {
  if (r->reset) {
    if (c->ops)
      c->ops->reset(s, c, sub->topic->name, sub->topic->len, r->reset);
  } else if (b && r->n) {
    /* Collected: the batch is sent merged in seq order. */
    struct msg **m =
        mem_realloc(s->mem, b->msgs, sizeof(*m) * (b->n + r->n));
    if (m) {
      b->msgs = m;
      memcpy(m + b->n, r->msgs, sizeof(*m) * r->n);
      b->n += r->n;
      r->n = 0;
    }
  }
  replay_send(s, c, r->msgs, r->n);
  /* Messages up to r->last are in the replay, or were published before a
   * fresh subscription began: the copies still in the ring are skipped.
   * An existing subscription without a replay keeps its own mark, or the
   * ring's undelivered messages would be lost to it. */
  if ((fresh || (r->resume && !r->reset)) && r->last > sub->last_seq)
    sub->last_seq = r->last;
  mem_free(s->mem, r->msgs);
  r->msgs = NULL;
  r->n = 0;
}

int shard_unsubscribe(struct shard *s, struct client *c, const char *topic,
                      size_t len) {
  return subs_drop(s, c, topic, len, hash_bytes(&s->hub->key, topic, len));
}
