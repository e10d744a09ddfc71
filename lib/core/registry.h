/* One shard's subscription registry, with both reverse maps:
 * topic -> clients (an array per topic, for fanout) and client -> topics
 * (a list per client, for unsubscribe-all on close). A topic whose last
 * subscriber leaves is freed at once. Shard thread only. */
#ifndef HUB_REGISTRY_H
#define HUB_REGISTRY_H

#include "hash.h"
#include "ptrie.h"

struct client;

/* A topic, or a pattern, with this shard's subscribers. */
struct ltopic {
  struct hnode node;
  struct sub **subs;
  uint32_t nsubs, cap;
  bool pattern; /* also in registry->patterns */
  size_t len;
  char name[];
};

struct sub {
  struct ltopic *topic;
  struct client *client;
  uint32_t idx;   /* position in topic->subs */
  uint32_t lag_n; /* messages drop-oldest discarded, not yet reported */
  struct sub *cnext, *cprev;
  int64_t last_seq; /* newest seq queued (or replayed): older are skipped */
  int64_t lag_from, lag_to; /* seq range of those lag_n messages */
};

/* A client's subscriptions. */
struct sub_list {
  struct sub *head;
  uint32_t count;
};

struct registry {
  struct htable topics; /* topics and patterns, by name */
  struct ptrie patterns; /* pattern -> its ltopic, for matching */
  const hub_mem *mem;
  uint64_t nsubs;
};

void registry_init(struct registry *reg, const hub_mem *mem,
                   const hash_key *key);
/* Frees the table; every subscription must have been removed. */
void registry_destroy(struct registry *reg);
struct ltopic *registry_find(const struct registry *reg, const char *name,
                             size_t len, uint64_t hash);
/* Returns 1 (added), 0 (already subscribed) or HUB_ENOMEM; *out (may be
 * NULL) receives the subscription. */
int registry_add(struct registry *reg, struct client *c, struct sub_list *list,
                 const char *name, size_t len, uint64_t hash, struct sub **out);
/* The client's subscription to the topic, or NULL. */
struct sub *registry_find_sub(const struct registry *reg,
                              const struct client *c,
                              const struct sub_list *list, const char *name,
                              size_t len, uint64_t hash);
/* Returns 1 (removed) or 0 (was not subscribed). */
int registry_del(struct registry *reg, struct client *c, struct sub_list *list,
                 const char *name, size_t len, uint64_t hash);
void registry_del_sub(struct registry *reg, struct sub_list *list,
                      struct sub *s);

#endif
