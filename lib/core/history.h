/* Per-topic history: the most recent messages of a topic, bounded by
 * count, bytes and age, so a client that reconnects can be replayed what
 * it missed. Lives in the topic index entry and is used under its
 * stripe's lock only. */
#ifndef HUB_HISTORY_H
#define HUB_HISTORY_H

#include <stdbool.h>

#include "msg.h"

struct hist_limits {
  uint32_t max_msgs; /* 0: no history for the topic */
  uint32_t max_age_ms;
  uint64_t max_bytes;
};

struct history {
  struct msg **ring;
  uint32_t head, count, cap;
  uint64_t bytes;
  int64_t evicted_upto; /* highest seq evicted so far, 0 if none */
  struct hist_limits lim;
};

/* Hub-wide gauges of what all histories hold. */
struct hist_totals {
  _Atomic uint64_t msgs, bytes;
};

void history_init(struct history *h, const struct hist_limits *lim);
/* Frees every retained message. */
void history_clear(struct history *h, const hub_mem *mem,
                   struct hist_totals *tot);
/* Retains `m` (taking a ref), then evicts past the limits. Returns 0 or
 * HUB_ENOMEM (then m is not retained and counts as evicted). */
int history_append(struct history *h, const hub_mem *mem, struct msg *m,
                   int64_t now_ms, struct hist_totals *tot);
/* Drops messages older than the age limit. */
void history_expire(struct history *h, const hub_mem *mem, int64_t now_ms,
                    struct hist_totals *tot);
/* Refs to the retained messages with seq > since, oldest first, in a new
 * array (*out, *n; the caller unrefs and frees). *gap is set when some
 * message after `since` is no longer retained. Returns 0 or HUB_ENOMEM. */
int history_since(struct history *h, const hub_mem *mem, int64_t since,
                  struct msg ***out, uint32_t *n, bool *gap);

#endif
