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
  uint32_t ncap = q->cap * 2;
  if (ncap / 2 >= limit) /* already covers the limit */
    return HUB_ENOMEM;
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

struct smsg *cqueue_drop_oldest(struct cqueue *q) {
  if (q->count == 0 || (q->head_off && q->count == 1))
    return NULL;
  if (q->head_off) {
    /* Keep the partly written head: move it one slot forward over the
     * entry being dropped. */
    uint32_t second = (q->head + 1) & (q->cap - 1);
    struct smsg *dropped = q->items[second];
    q->items[second] = q->items[q->head];
    q->head = second;
    q->count--;
    q->bytes -= cqueue_len_of(q, dropped);
    return dropped;
  }
  return cqueue_pop(q);
}

void cqueue_shrink(struct cqueue *q, const hub_mem *mem) {
  if (q->count == 0 && q->items != q->inline_items) {
    mem_free(mem, q->items);
    q->items = q->inline_items;
    q->cap = CQ_INLINE;
    q->head = 0;
  }
}
