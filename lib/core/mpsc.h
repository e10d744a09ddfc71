/* The two ways into a shard from other threads.
 *
 * mpsc_ring: bounded, lock-free queue of message pointers (Dmitry Vyukov's
 * bounded MPMC array queue, used with one consumer). A push onto a full
 * ring fails at once: broadcasting never waits for a shard.
 *
 * cmd_stack: unbounded lock-free list of control commands (attach,
 * subscribe, close). Producers push with CAS; the consumer takes the whole
 * list with one exchange and reverses it into FIFO order. Commands are rare
 * and must never be lost, so they are not bounded.
 */
#ifndef HUB_MPSC_H
#define HUB_MPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"

struct ring_slot {
  _Atomic uint64_t seq;
  void *ptr;
};

struct mpsc_ring {
  struct ring_slot *slots;
  uint64_t mask;
  alignas(HUB_CACHELINE) _Atomic uint64_t head; /* producers */
  alignas(HUB_CACHELINE) uint64_t tail;         /* the consumer only */
};

int mpsc_ring_init(struct mpsc_ring *r, const hub_mem *mem, uint32_t size);
void mpsc_ring_destroy(struct mpsc_ring *r, const hub_mem *mem);

static inline bool mpsc_ring_push(struct mpsc_ring *r, void *ptr) {
  uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
  struct ring_slot *s;
  for (;;) {
    s = &r->slots[pos & r->mask];
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    int64_t dif = (int64_t)(seq - pos);
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (dif < 0) {
      return false; /* full */
    } else {
      pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    }
  }
  s->ptr = ptr;
  atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
  return true;
}

/* NULL when empty, or when the next producer has claimed its slot but not
 * yet filled it; that producer wakes the shard once it has. */
static inline void *mpsc_ring_pop(struct mpsc_ring *r) {
  uint64_t pos = r->tail;
  struct ring_slot *s = &r->slots[pos & r->mask];
  uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
  if (seq != pos + 1)
    return NULL;
  void *ptr = s->ptr;
  r->tail = pos + 1;
  atomic_store_explicit(&s->seq, pos + r->mask + 1, memory_order_release);
  return ptr;
}

/* The next message without taking it, or NULL (as mpsc_ring_pop). */
static inline void *mpsc_ring_peek(struct mpsc_ring *r) {
  struct ring_slot *s = &r->slots[r->tail & r->mask];
  if (atomic_load_explicit(&s->seq, memory_order_acquire) != r->tail + 1)
    return NULL;
  return s->ptr;
}

struct cmd_node {
  struct cmd_node *next;
};

struct cmd_stack {
  _Atomic(struct cmd_node *) head;
};

static inline void cmd_stack_push(struct cmd_stack *st, struct cmd_node *n) {
  n->next = atomic_load_explicit(&st->head, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      &st->head, &n->next, n, memory_order_release, memory_order_relaxed))
    ;
}

static inline bool cmd_stack_empty(struct cmd_stack *st) {
  return atomic_load_explicit(&st->head, memory_order_relaxed) == NULL;
}

/* Takes every pushed command, oldest first. */
static inline struct cmd_node *cmd_stack_take(struct cmd_stack *st) {
  struct cmd_node *n =
      atomic_exchange_explicit(&st->head, NULL, memory_order_acquire);
  struct cmd_node *fifo = NULL;
  while (n) {
    struct cmd_node *next = n->next;
    n->next = fifo;
    fifo = n;
    n = next;
  }
  return fifo;
}

#endif
