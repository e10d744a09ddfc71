/* Hub and client options: plain structs behind the public setters. All
 * defaults live in hub__options_defaults(). */
#ifndef HUB_OPTIONS_H
#define HUB_OPTIONS_H

#include "common.h"
#include "topic_index.h"

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
  hub_auth_fn on_auth;
  void *on_auth_user_data;
  uint32_t ping_interval_ms;
  uint32_t sse_keepalive_ms;
  uint32_t sse_retry_ms;
  uint32_t max_message_size;
  uint32_t max_request_head;
  uint32_t handshake_timeout_ms;
  int client_publish;
  hub_message_fn on_message;
  void *on_message_user_data;
  hub_request_fn on_request;
  void *on_request_user_data;
  uint32_t max_request_body;
  char *tls_cert, *tls_key; /* PEM, NUL-terminated; owned */
  size_t tls_cert_len, tls_key_len;
  struct hist_limits hist_default;
  struct hist_rule *hist_rules; /* owned, patterns too */
  size_t nhist_rules;
  uint32_t auth_timeout_ms;
  char **origins; /* owned */
  size_t norigins;
  uint32_t max_connections, max_conn_per_ip, max_subscriptions;
  uint8_t topic_chars[32]; /* bit per byte value a client topic may hold */
  uint32_t rate_per_sec, rate_burst;
  uint32_t write_timeout_ms, idle_timeout_ms;
  char **presence; /* owned */
  size_t npresence;
};

/* Which client fields a hub_client_options overrides. */
enum { COPT_LIMITS = 1, COPT_POLICY = 2 };

struct hub_client_options {
  unsigned set;
  uint32_t queue_max_msgs;
  uint64_t queue_max_bytes;
  hub_policy policy;
  void *user_data;
  int raw;
  int tls;
  hub_protocol protocol;
  /* Initial subscriptions: ntopics NUL-terminated names, one after the
   * other, and their starting point. */
  char *topics;
  size_t topics_len;
  uint32_t ntopics;
  int64_t since; /* -1: none */
  char epoch[65];
  char *principal;
};

void hub__options_defaults(struct hub_options *opt);

#endif
