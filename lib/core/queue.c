/* The client ring; see queue.h. */
#include <string.h>

#include "queue.h"

void cqueue_init(struct cqueue *q, enum wire wire) {
  memset(q, 0, sizeof(*q));
  q->items = q->inline_items;
  q->cap = CQ_INLINE;
  q->wire = (uint8_t)wire;
}

static int grow(struct cqueue *q, const hub_mem *mem, uint32_t limit) {
  if (q->cap >= limit) /* already covers the limit */
    return HUB_ENOMEM;
  uint32_t ncap = q->cap * 2;
  /* Leaving the inline slots, go straight to CQ_FIRST_HEAP (or what covers
   * the limit): a subscriber a few messages behind at each flush round
   * would otherwise reallocate 2 -> 4 -> 8 -> 16 every round, since an
   * emptied queue goes back to the inline slots. */
  if (q->cap == CQ_INLINE)
    while (ncap < CQ_FIRST_HEAP && ncap < limit)
      ncap *= 2;
  struct smsg **n = mem_malloc(mem, sizeof(*n) * ncap);
  if (!n)
    return HUB_ENOMEM;
  for (uint32_t i = 0; i < q->count; i++)
    n[i] = cqueue_at(q, i);
  if (q->items != q->inline_items)
    mem_free(mem, q->items);
  q->items = n;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

int cqueue_push(struct cqueue *q, const hub_mem *mem, struct smsg *sm,
                uint32_t limit) {
  if (q->count == q->cap) {
    int rv = grow(q, mem, limit);
    if (rv)
      return rv;
  }
  q->items[(q->head + q->count) & (q->cap - 1)] = sm;
  q->count++;
  q->bytes += cqueue_len_of(q, sm);
  if (q->count > CQ_INLINE)
    q->outgrew = true;
  return 0;
}

struct smsg *cqueue_pop(struct cqueue *q) {
  struct smsg *sm = q->items[q->head];
  q->head = (q->head + 1) & (q->cap - 1);
  q->count--;
  q->head_off = 0;
  q->bytes -= cqueue_len_of(q, sm);
  return sm;
}

/* The first entry drop-oldest may take, or q->count if there is none. */
static uint32_t first_droppable(const struct cqueue *q) {
  uint32_t i = q->head_off ? 1 : 0;
  while (i < q->count && (cqueue_at(q, i)->flags & SMSG_PINNED))
    i++;
  return i;
}

bool cqueue_holds_no_message(const struct cqueue *q) {
  return first_droppable(q) >= q->count;
}

struct smsg *cqueue_drop_oldest(struct cqueue *q) {
  uint32_t i = first_droppable(q);
  if (i >= q->count)
    return NULL;
  if (i == 0)
    return cqueue_pop(q);
  /* Close the gap by moving the entries before it (the partly written
   * head, pinned notices: rarely more than one or two) one slot on. */
  uint32_t mask = q->cap - 1;
  struct smsg *dropped = q->items[(q->head + i) & mask];
  for (; i > 0; i--)
    q->items[(q->head + i) & mask] = q->items[(q->head + i - 1) & mask];
  q->head = (q->head + 1) & mask;
  q->count--;
  q->bytes -= cqueue_len_of(q, dropped);
  return dropped;
}

void cqueue_free(struct cqueue *q, const hub_mem *mem) {
  if (q->items != q->inline_items) {
    mem_free(mem, q->items);
    q->items = q->inline_items;
    q->cap = CQ_INLINE;
    q->head = 0;
  }
}

void cqueue_shrink(struct cqueue *q, const hub_mem *mem) {
  if (q->count)
    return;
  if (q->cap > CQ_KEEP_MAX || !q->outgrew)
    cqueue_free(q, mem);
  q->outgrew = false;
}
