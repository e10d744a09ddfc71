/* A client: one transport, one bounded queue, its subscriptions. Owned by
 * one shard and touched only by that shard's thread once attached. */
#ifndef HUB_CLIENT_H
#define HUB_CLIENT_H

#include <stdbool.h>

#include "queue.h"
#include "registry.h"

struct shard;

enum client_state {
  CLIENT_OPEN,
  CLIENT_DOOMED /* closing: no more writes; freed when the shard reaps */
};

struct client {
  struct hnode node; /* in shard->clients, keyed by id */
  hub_client_id id;
  hub_transport tp;
  void *io_user;
  void *user_data;
  struct cqueue q;
  struct sub_list subs;
  uint64_t max_bytes;
  uint32_t max_msgs;
  uint8_t policy;
  uint8_t state;
  bool dirty;   /* on shard->dirty */
  bool blocked; /* the transport took less than offered */
  int close_code;
  struct client *dirty_next;
  struct client *doomed_next;
  uint64_t drops;
  uint64_t deliveries;
};

/* Queues one message for the client, applying its limits and policy. */
void client_enqueue(struct shard *s, struct client *c, struct smsg *sm);
/* Writes what is queued, as few writev calls as the transport allows. */
void client_flush(struct shard *s, struct client *c);
/* Marks the client for closing; the shard frees it in shard_reap(). */
void client_doom(struct shard *s, struct client *c, int code);
void client_mark_dirty(struct shard *s, struct client *c);
/* Removes subscriptions and queue, releases the transport, tells the host
 * and frees the client. `in_map`: the client is in shard->clients. */
void client_destroy(struct shard *s, struct client *c, bool in_map);

#endif
