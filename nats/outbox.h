/* The outbox: broadcasts waiting to be published to NATS, in order,
 * bounded by count and bytes, and a note of what was dropped while it was
 * full (per topic, for the loss markers that replace them). Filled by
 * the hub's relay on any thread, emptied by the publisher thread. */
#ifndef FANHUB_NATS_OUTBOX_H
#define FANHUB_NATS_OUTBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One message to publish: a broadcast, or a marker for `lost` dropped
 * ones (topic_len 0: on any topic). */
struct ob_item {
  struct ob_item *next;
  uint64_t id;   /* Nats-Msg-Id sequence, given when first published */
  uint64_t lost; /* > 0: a loss marker */
  uint32_t sends; /* publish attempts so far */
  unsigned flags;
  size_t topic_len, len;
  char *data; /* after the topic, in this allocation */
  char topic[];
};

/* Drops are noted per topic for this many topics; past them a marker
 * for every topic stands in. */
#define OB_LOSS_TOPICS 64

struct ob_loss {
  uint64_t count;
  size_t len;
  char *topic;
};

struct outbox {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* an item, a loss, a connection change, a stop */
  struct ob_item *head, *tail;
  size_t count, bytes, max_msgs, max_bytes;
  struct ob_loss losses[OB_LOSS_TOPICS];
  unsigned nlosses;
  uint64_t lost_any; /* drops past the per-topic notes */
  uint64_t dropped;  /* every drop, for the stats */
};

int outbox_init(struct outbox *ob, size_t max_msgs, size_t max_bytes);
void outbox_destroy(struct outbox *ob);
/* Queues a copy. Returns 0, 1 when the outbox is full (dropped, noted
 * for a marker) or -1 when out of memory (noted the same way). */
int outbox_push(struct outbox *ob, const char *topic, size_t topic_len,
                const void *data, size_t len, unsigned flags);
/* With the lock held: moves up to `max` items to *out (oldest first),
 * markers for the noted losses when no broadcast waits. Returns how many. */
unsigned outbox_take_locked(struct outbox *ob, struct ob_item **out,
                            unsigned max);
/* Notes that `item` could not be published (refused, or left at the
 * end): a marker will stand in for it. Takes the lock. */
void outbox_note_loss(struct outbox *ob, const struct ob_item *item);
bool outbox_has_work_locked(const struct outbox *ob);
void ob_item_free(struct ob_item *it);

#endif
