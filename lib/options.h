/* Hub and client options: plain structs behind the public setters. All
 * defaults live in hub__options_defaults(). */
#ifndef HUB_OPTIONS_H
#define HUB_OPTIONS_H

#include "common.h"

struct hub_options {
  unsigned shards;
  int threads;
  uint32_t queue_max_msgs;
  uint64_t queue_max_bytes;
  hub_policy policy;
  uint32_t shard_queue_size;
  size_t max_topic_len;
  hub_mem mem;
  hub_close_fn on_close;
  void *on_close_user_data;
};

/* Which client fields a hub_client_options overrides. */
enum { COPT_LIMITS = 1, COPT_POLICY = 2 };

struct hub_client_options {
  unsigned set;
  uint32_t queue_max_msgs;
  uint64_t queue_max_bytes;
  hub_policy policy;
  void *user_data;
};

void hub__options_defaults(struct hub_options *opt);

#endif
