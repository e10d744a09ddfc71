/* The hub itself: options, shards, topic index, sequence counter. */
#ifndef HUB_HUB_H
#define HUB_HUB_H

#include <stdatomic.h>

#include "hash.h"
#include "options.h"
#include "shard.h"
#include "topic_index.h"

enum hub_state { HUB_NEW, HUB_RUNNING, HUB_STOPPING, HUB_STOPPED };

/* The protocol layer as the core sees it, reached only through this table
 * (lib/proto/session.c): its hub-wide state, its frame encoders, its per-shard
 * side. */
struct hub_protocols {
  /* Before the shards exist, and after they are gone. */
  void (*init)(struct hub *hub);
  void (*destroy)(struct hub *hub);
  /* Builds a message's frame for a wire format. Returns 0 or
   * HUB_ENOMEM. */
  int (*encode)(enum wire w, const struct msg *m, const char *epoch,
                const hub_mem *mem, struct iovec *out);
  const struct shard_ops *shard;
  const struct client_ops *client; /* for clients that speak them */
  /* Such a client is one allocation of client_size bytes: struct client
   * first, their state of it after. client_init() sets that state up from
   * the attach's options (copt may be NULL), before the attach, on the
   * caller's thread: 0 or HUB_ENOMEM. client_discard() frees what it and
   * the attach set up, for a client that is never attached. */
  size_t client_size;
  int (*client_init)(struct hub *hub, struct client *c,
                     const hub_client_options *copt);
  void (*client_discard)(struct hub *hub, struct client *c);
};

/* The protocol layer's table, defined by it (session.c). The core refers to
 * it weakly: linked without the protocol layer, a hub carries raw
 * payloads on host transports only. */
extern const struct hub_protocols hub__protocols;

struct hub {
  struct hub_options opt; /* opt.mem is the allocator */
  hash_key key;
  unsigned nshards;
  struct shard *shards;
  struct topic_index index;
  _Atomic int state;
  _Atomic uint64_t next_id;
  _Atomic uint64_t broadcasts;
  char epoch[17];
  const struct hub_protocols *proto; /* hub__protocols, or NULL */
  bool tls; /* a certificate is loaded */
  hub_relay_fn relay; /* set before hub_start(), read-only after */
  void *relay_user_data;
  _Atomic uint64_t sockets; /* socket clients attached */
  pthread_mutex_t ips_lock; /* connections per IP (admission.c) */
  struct htable ips;
  alignas(HUB_CACHELINE) _Atomic int64_t seq;
};

static inline struct shard *hub_shard_of(struct hub *hub, hub_client_id id) {
  return &hub->shards[id % hub->nshards];
}

/* A command for the client `id` carrying `extra` bytes (+ a NUL) in
 * cmd->topic, and its delivery to the client's shard. */
struct cmd *hub__cmd_new(struct hub *hub, enum cmd_type type,
                         hub_client_id id, size_t extra);
void hub__send_cmd(struct hub *hub, struct cmd *c);
/* Whether the hub takes new clients and commands (started, not stopping). */
int hub__accepting(const hub_t *hub);
/* A topic or pattern a client may subscribe to: its length in *len, or
 * HUB_EINVAL / HUB_ETOPIC. */
int hub__check_topic(const hub_t *hub, const char *topic, size_t *len);
/* A client in *out set up with the hub's defaults and `copt` (may be
 * NULL) to speak `proto` (not HUB_PROTO_DEFAULT), with the principal and,
 * for a protocol, the initial subscriptions of `copt`; not yet attached.
 * Returns 0, HUB_EINVAL (a protocol, and none linked) or HUB_ENOMEM (and
 * *out is NULL). */
int hub__client_new(hub_t *hub, const hub_client_options *copt,
                    hub_protocol proto, struct client **out);
/* The attach of such a client on its shard through `cmd` (a CMD_ATTACH);
 * *out gets its id. */
void hub__attach_client(hub_t *hub, struct client *c, struct cmd *cmd,
                        hub_client_id *out);
/* Frees a client that was set up but never attached. */
void hub__client_discard(hub_t *hub, struct client *c);
/* hub_broadcast() past its checks; also for presence events (flags
 * MSG_JOIN/MSG_LEAVE: not kept in history). Returns the seq or
 * HUB_ENOMEM. */
int64_t hub__publish(struct hub *hub, const char *topic, size_t tlen,
                     const void *data, size_t len, unsigned flags);
/* The same in two steps, so a batch can make every message before it
 * publishes any: hub__msg() copies (NULL on ENOMEM), hub__publish_msg()
 * cannot fail and consumes the msg's ref. */
struct msg *hub__msg(struct hub *hub, const char *topic, size_t tlen,
                     const void *data, size_t len, unsigned flags);
int64_t hub__publish_msg(struct hub *hub, struct msg *m);
/* The same with a seq an engine assigned (hub_deliver()): 0 if it is not
 * above the hub's seq (a duplicate, dropped). */
int64_t hub__deliver_msg(struct hub *hub, struct msg *m, int64_t seq);

#endif
