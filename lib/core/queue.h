/* A client's bounded queue: a ring of refs to shard messages not yet
 * written. It starts in two inline slots, so an idle client costs no heap,
 * moves to a 16-entry heap ring and grows by doubling while a client falls
 * behind, and returns to the inline slots once it has caught up (a busy
 * client keeps a ring of up to 64 entries, see cqueue_shrink()). Limits
 * and policy live in the caller (client.c); this is only the ring. */
#ifndef HUB_QUEUE_H
#define HUB_QUEUE_H

#include <stdbool.h>

#include "msg.h"

#define CQ_INLINE 2
#define CQ_FIRST_HEAP 16 /* entries of the first heap ring */
#define CQ_KEEP_MAX 64   /* the largest ring an emptied busy queue keeps */

struct cqueue {
  struct smsg **items; /* inline_items while cap == CQ_INLINE */
  struct smsg *inline_items[CQ_INLINE];
  uint32_t head, count, cap;
  uint8_t wire;    /* enum wire of every frame in this queue */
  bool outgrew;    /* held more than CQ_INLINE since it was last empty */
  size_t head_off; /* bytes of the head frame already written */
  uint64_t bytes;  /* sum of the frame lengths of every entry */
};

void cqueue_init(struct cqueue *q, enum wire wire);
/* The frame `sm` puts on this queue's wire; encoded before it is queued. */
static inline const struct iovec *cqueue_frame(const struct cqueue *q,
                                               const struct smsg *sm) {
  return &sm->frame[q->wire];
}
static inline size_t cqueue_len_of(const struct cqueue *q,
                                   const struct smsg *sm) {
  return sm->frame[q->wire].iov_len;
}
static inline struct smsg *cqueue_at(const struct cqueue *q, uint32_t i) {
  return q->items[(q->head + i) & (q->cap - 1)];
}
/* Appends; grows up to the power of two covering `limit` entries.
 * Returns 0 or HUB_ENOMEM. The caller has checked the limits. */
int cqueue_push(struct cqueue *q, const hub_mem *mem, struct smsg *sm,
                uint32_t limit);
/* Removes and returns the head (the caller has written all of it). */
struct smsg *cqueue_pop(struct cqueue *q);
/* Removes and returns the oldest entry that is neither partly written nor
 * pinned, or NULL when there is none. */
struct smsg *cqueue_drop_oldest(struct cqueue *q);
/* True if every entry is the client's own (pinned) frame or the partly
 * written head: nothing drop-oldest could drop. */
bool cqueue_holds_no_message(const struct cqueue *q);
/* Once the queue is empty, gives the heap ring back, except a ring of up
 * to CQ_KEEP_MAX entries the queue needed since it was last empty: a
 * client that busy needs it again next round, and allocating and freeing
 * it every round cost 1-2% of a shard's CPU at saturation. It goes back
 * once the queue has emptied without holding more than the inline slots
 * would. */
void cqueue_shrink(struct cqueue *q, const hub_mem *mem);
/* Frees the heap ring of an empty queue that is not used again. */
void cqueue_free(struct cqueue *q, const hub_mem *mem);

#endif
