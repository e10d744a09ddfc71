/* Subscription bookkeeping: the one owner of the rule that the hub-wide
 * topic index counts exactly the subscriptions the shards' registries
 * hold, and of the locking that keeps a subscription and the broadcasts
 * around it in order.
 *
 * A subscription is made in two halves. subs_reserve() counts it in the
 * index for the client's shard and snapshots what it is owed (the replay
 * after a starting point, or a reset), under the topic's lock, on any
 * thread. subs_bind(), on the shard thread, adds it to the shard's
 * registry, or gives the reservation back if the client was subscribed
 * already. subs_drop() undoes a bound subscription and subs_drop_all()
 * every one of a client's. Nothing else touches the index counts. */
#ifndef HUB_SUBSCRIPTION_H
#define HUB_SUBSCRIPTION_H

#include <stdbool.h>

#include "topic_index.h"

struct shard;
struct client;
struct sub;

/* Counts a subscription of shard `shard` to `topic` (a topic or a
 * pattern) and fills *r with what it is owed after `since` (< 0: nothing,
 * only r->last). `locked`, if not NULL, runs under the same lock once the
 * reservation holds: a broadcast that starts after it sees the shard in
 * the topic's mask and has a seq above the snapshot's. Returns 0,
 * HUB_ETOPIC (an invalid pattern) or HUB_ENOMEM (nothing reserved). */
int subs_reserve(struct topic_index *ti, unsigned shard, const char *topic,
                 size_t len, uint64_t hash, int64_t since, bool epoch_ok,
                 struct replay *r, void (*locked)(void *arg), void *arg);
/* Gives a reservation back. */
void subs_unreserve(struct topic_index *ti, unsigned shard, const char *topic,
                    size_t len, uint64_t hash);
/* Adds a reserved subscription to the shard's registry (and announces it
 * to presence). Returns 1 added (*sub set), 0 the client had it already,
 * or HUB_ENOMEM; in both of the latter the reservation is given back. */
int subs_bind(struct shard *s, struct client *c, const char *topic,
              size_t len, uint64_t hash, struct sub **sub);
/* Removes one subscription; false if the client had none to `topic`. */
bool subs_drop(struct shard *s, struct client *c, const char *topic,
               size_t len, uint64_t hash);
/* Removes every subscription of a client that is going away. */
void subs_drop_all(struct shard *s, struct client *c);

#endif
