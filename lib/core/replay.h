/* Subscriptions made on the shard thread (a request's topics, a client's
 * own subscribe) and what each is owed: the replay of retained messages
 * within the client's queue caps, or a reset notice. Shard thread only. */
#ifndef HUB_REPLAY_H
#define HUB_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topic_index.h"

struct shard;
struct client;
struct sub;

/* A subscription made on the shard thread itself (query topics, a client's
 * own subscribe), wanting the messages after `since` (< 0: none). Fills
 * *r and *sub for shard_replay(), which the caller must call next unless
 * this fails. Returns 1 added, 0 already there, or HUB_ENOMEM. */
int shard_subscribe(struct shard *s, struct client *c, const char *topic,
                    size_t len, int64_t since, bool epoch_ok, struct replay *r,
                    struct sub **sub);
/* Replays several subscriptions of one client as one stream: given one,
 * shard_replay() collects there, and replay_batch_flush() sends it all in
 * seq order (an SSE stream has one Last-Event-ID for all its topics). */
struct replay_batch {
  struct msg **msgs;
  size_t n;
};
void replay_batch_flush(struct shard *s, struct client *c,
                        struct replay_batch *b);
/* Queues msgs[0..n) (refs, consumed, oldest first) as replayed messages,
 * within the client's queue caps: what does not fit, from the first
 * message that does not, is reported in a "lagged" notice instead. */
void replay_send(struct shard *s, struct client *c, struct msg **msgs,
                 uint32_t n);
/* Queues the replay (or the reset notice) for a subscription, or with a
 * batch `b` (else NULL) collects it there; `fresh`: it was just created.
 * Consumes *r. */
void shard_replay(struct shard *s, struct client *c, struct sub *sub,
                  bool fresh, struct replay *r, struct replay_batch *b);
/* 1 removed, 0 was not subscribed. */
int shard_unsubscribe(struct shard *s, struct client *c, const char *topic,
                      size_t len);

#endif
