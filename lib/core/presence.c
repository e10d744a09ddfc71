/* Presence; see presence.h. */
#include "presence.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "json.h"
#include "wildcard.h"

/* Publishes {"type":"join"|"leave","topic":T,"principal":P,"client":"ID"}
 * to the topic's subscribers. */
static void announce(struct hub *hub, const char *topic, size_t len,
                     const char *principal, hub_client_id id, unsigned flag) {
  /* Once stopping, shards are being torn down: nobody to tell. */
  if (atomic_load(&hub->state) != HUB_RUNNING)
    return;
  size_t plen = strlen(principal);
  size_t cap = 96 + json_escaped_len(topic, len) +
               json_escaped_len(principal, plen);
  char *buf = mem_malloc(&hub->opt.mem, cap);
  if (!buf)
    return;
  char *p = buf + sprintf(buf, "{\"type\":\"%s\",\"topic\":\"",
                          flag == MSG_JOIN ? "join" : "leave");
  p += json_escape(p, topic, len);
  p += sprintf(p, "\",\"principal\":\"");
  p += json_escape(p, principal, plen);
  p += sprintf(p, "\",\"client\":\"%" PRIu64 "\"}", id);
  hub__publish(hub, topic, len, buf, (size_t)(p - buf), flag);
  mem_free(&hub->opt.mem, buf);
}

void presence_joined(struct shard *s, struct client *c, const char *topic,
                     size_t len, uint64_t hash) {
  struct hub *hub = s->hub;
  if (!hub->index.npresence || pattern_is_wild(topic, len))
    return;
  const char *principal = c->principal ? c->principal : "";
  bool added = false;
  struct ti_stripe *st = ti_stripe_of(&hub->index, hash);
  pthread_mutex_lock(&st->lock);
  struct gtopic *t = ti_find_locked(st, topic, len, hash);
  if (t && t->presence) {
    if (t->nmembers == t->cmembers) {
      uint32_t n = t->cmembers ? t->cmembers * 2 : 4;
      struct member *m = mem_realloc(s->mem, t->members, sizeof(*m) * n);
      if (m) {
        t->members = m;
        t->cmembers = n;
      }
    }
    char *pc = mem_malloc(s->mem, strlen(principal) + 1);
    if (pc && t->nmembers < t->cmembers) {
      strcpy(pc, principal);
      t->members[t->nmembers++] = (struct member){c->id, pc};
      added = true;
    } else {
      mem_free(s->mem, pc);
    }
  }
  pthread_mutex_unlock(&st->lock);
  if (added)
    announce(hub, topic, len, principal, c->id, MSG_JOIN);
}

void presence_left(struct shard *s, struct client *c, const char *topic,
                   size_t len, uint64_t hash) {
  struct hub *hub = s->hub;
  if (!hub->index.npresence || pattern_is_wild(topic, len))
    return;
  bool removed = false;
  struct ti_stripe *st = ti_stripe_of(&hub->index, hash);
  pthread_mutex_lock(&st->lock);
  struct gtopic *t = ti_find_locked(st, topic, len, hash);
  for (uint32_t i = 0; t && i < t->nmembers; i++) {
    if (t->members[i].id == c->id) {
      mem_free(s->mem, t->members[i].principal);
      t->members[i] = t->members[--t->nmembers];
      removed = true;
      break;
    }
  }
  pthread_mutex_unlock(&st->lock);
  if (removed)
    announce(hub, topic, len, c->principal ? c->principal : "", c->id,
             MSG_LEAVE);
}

int hub_presence(hub_t *hub, const char *topic, hub_presence_fn fn,
                 void *user_data) {
  if (!hub || !topic || !fn)
    return HUB_EINVAL;
  size_t len = strlen(topic);
  uint64_t hash = hash_bytes(&hub->key, topic, len);
  struct ti_stripe *st = ti_stripe_of(&hub->index, hash);
  int n = 0;
  pthread_mutex_lock(&st->lock);
  struct gtopic *t = ti_find_locked(st, topic, len, hash);
  for (uint32_t i = 0; t && t->presence && i < t->nmembers; i++, n++)
    fn(hub, t->members[i].id, t->members[i].principal, user_data);
  pthread_mutex_unlock(&st->lock);
  return n;
}
