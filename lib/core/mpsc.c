/* Setup of the bounded message ring; the hot paths are inline in mpsc.h. */
#include "mpsc.h"

int mpsc_ring_init(struct mpsc_ring *r, const hub_mem *mem, uint32_t size) {
  r->slots = mem_malloc(mem, sizeof(*r->slots) * size);
  if (!r->slots)
    return HUB_ENOMEM;
  for (uint32_t i = 0; i < size; i++) {
    atomic_init(&r->slots[i].seq, i);
    r->slots[i].ptr = NULL;
  }
  r->mask = size - 1;
  atomic_init(&r->head, 0);
  r->tail = 0;
  return 0;
}

void mpsc_ring_destroy(struct mpsc_ring *r, const hub_mem *mem) {
  mem_free(mem, r->slots);
  r->slots = NULL;
}
