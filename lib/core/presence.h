/* Presence: for topics that keep it (hub_options_set_presence), who is
 * subscribed, across all shards, kept in the topic's index entry; and the
 * "join"/"leave" events its subscribers get. */
#ifndef HUB_PRESENCE_H
#define HUB_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

struct shard;
struct client;

/* The client's subscription to `topic` was added or removed (shard
 * thread). Cheap when no topic keeps presence. */
void presence_joined(struct shard *s, struct client *c, const char *topic,
                     size_t len, uint64_t hash);
void presence_left(struct shard *s, struct client *c, const char *topic,
                   size_t len, uint64_t hash);

#endif
