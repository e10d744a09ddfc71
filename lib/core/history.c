/* The history ring; see history.h. */
#include "history.h"

#include <stdlib.h>

void history_init(struct history *h, const struct hist_limits *lim) {
  h->ring = NULL;
  h->head = h->count = h->cap = 0;
  h->bytes = 0;
  h->evicted_upto = 0;
  h->lim = *lim;
}

static struct msg *at(const struct history *h, uint32_t i) {
  return h->ring[(h->head + i) & (h->cap - 1)];
}

static void evict_oldest(struct history *h, const hub_mem *mem,
                         struct hist_totals *tot) {
  struct msg *m = h->ring[h->head];
  h->head = (h->head + 1) & (h->cap - 1);
  h->count--;
  h->bytes -= m->len;
  if (m->seq > h->evicted_upto)
    h->evicted_upto = m->seq;
  atomic_fetch_sub_explicit(&tot->msgs, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&tot->bytes, m->len, memory_order_relaxed);
  msg_unref(mem, m);
}

void history_clear(struct history *h, const hub_mem *mem,
                   struct hist_totals *tot) {
  while (h->count)
    evict_oldest(h, mem, tot);
  mem_free(mem, h->ring);
  h->ring = NULL;
  h->cap = h->head = 0;
}

void history_expire(struct history *h, const hub_mem *mem, int64_t now_ms,
                    struct hist_totals *tot) {
  if (!h->lim.max_age_ms)
    return;
  while (h->count && now_ms - at(h, 0)->ts_ms > (int64_t)h->lim.max_age_ms)
    evict_oldest(h, mem, tot);
}

int history_append(struct history *h, const hub_mem *mem, struct msg *m,
                   int64_t now_ms, struct hist_totals *tot) {
  if (h->count == h->cap) {
    uint32_t ncap = h->cap ? h->cap * 2 : 8;
    if (h->cap >= h->lim.max_msgs) {
      evict_oldest(h, mem, tot); /* full by count: make room */
    } else {
      struct msg **n = mem_malloc(mem, sizeof(*n) * ncap);
      if (!n) {
        if (m->seq > h->evicted_upto)
          h->evicted_upto = m->seq;
        return HUB_ENOMEM;
      }
      for (uint32_t i = 0; i < h->count; i++)
        n[i] = at(h, i);
      mem_free(mem, h->ring);
      h->ring = n;
      h->cap = ncap;
      h->head = 0;
    }
  }
  msg_ref_n(m, 1);
  h->ring[(h->head + h->count) & (h->cap - 1)] = m;
  h->count++;
  h->bytes += m->len;
  atomic_fetch_add_explicit(&tot->msgs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&tot->bytes, m->len, memory_order_relaxed);
  while (h->count > h->lim.max_msgs ||
         (h->bytes > h->lim.max_bytes && h->count > 0))
    evict_oldest(h, mem, tot);
  history_expire(h, mem, now_ms, tot);
  return 0;
}

int history_since(struct history *h, const hub_mem *mem, int64_t since,
                  struct msg ***out, uint32_t *n, bool *gap) {
  *gap = since < h->evicted_upto;
  *out = NULL;
  *n = 0;
  /* Retained seqs increase: skip to the first one after `since`. */
  uint32_t first = 0;
  while (first < h->count && at(h, first)->seq <= since)
    first++;
  uint32_t k = h->count - first;
  if (!k)
    return 0;
  struct msg **arr = mem_malloc(mem, sizeof(*arr) * k);
  if (!arr)
    return HUB_ENOMEM;
  for (uint32_t i = 0; i < k; i++) {
    arr[i] = at(h, first + i);
    msg_ref_n(arr[i], 1);
  }
  *out = arr;
  *n = k;
  return 0;
}
