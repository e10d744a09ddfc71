/* A trie of NATS-style patterns, one node per token, for matching a topic
 * against many wildcard subscriptions at once: the cost of a match grows
 * with the topic's tokens and the wildcards along its path, not with the
 * number of patterns. Matching is iterative (no recursion on input); a
 * pattern has at most PTRIE_MAX_DEPTH tokens. Not thread-safe: callers
 * lock. */
#ifndef HUB_PTRIE_H
#define HUB_PTRIE_H

#include <stdbool.h>

#include "hash.h"

#define PTRIE_MAX_DEPTH 32

struct pnode;

struct ptrie {
  struct pnode *root;
  const hub_mem *mem;
  const hash_key *key;
  size_t count; /* patterns */
};

/* True if `pat` is a valid pattern: wildcards are whole tokens, '>' only
 * last, at most PTRIE_MAX_DEPTH tokens. */
bool ptrie_valid(const char *pat, size_t len);
void ptrie_init(struct ptrie *t, const hub_mem *mem, const hash_key *key);
/* Frees the nodes; values must have been taken out. */
void ptrie_destroy(struct ptrie *t);
/* The value slot of `pat`, created empty (NULL) if `create`; NULL when
 * absent (or on ENOMEM). */
void **ptrie_slot(struct ptrie *t, const char *pat, size_t len, bool create);
/* Removes `pat` (its value already released) and prunes empty nodes. */
void ptrie_remove(struct ptrie *t, const char *pat, size_t len);
/* Calls fn for the value of every pattern that matches `topic`. */
void ptrie_match(const struct ptrie *t, const char *topic, size_t len,
                 void (*fn)(void *val, void *ud), void *ud);

#endif
