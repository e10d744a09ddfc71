/* Internal helpers shared by every lib/ file: the allocator and a few
 * macros. Nothing here is exported. */
#ifndef HUB_COMMON_H
#define HUB_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fanhub.h"

#define HUB_LIKELY(x) __builtin_expect(!!(x), 1)
#define HUB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HUB_CACHELINE 64
#define HUB_MAX_SHARDS 64

#define container_of(ptr, type, member)                                        \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* The libc allocator in hub_mem form; hub_new() copies the host's or this. */
extern const hub_mem hub__mem_default;

/* Copies a struct the host filled, whose first field is its `size`
 * (sizeof as the host was built; docs/design.md, "ABI"), into dst, `ours`
 * bytes (this library's sizeof): what an older host's holds, zeros past
 * it. HUB_EINVAL for a size below `min` (the fields every version has),
 * or for a newer host's larger struct whose bytes past ours are not all
 * zero (fields this library would ignore). */
int hub__copy_sized(void *dst, size_t ours, const void *src, size_t min);

static inline void *mem_malloc(const hub_mem *m, size_t n) {
  return m->malloc(n, m->user_data);
}
static inline void *mem_calloc(const hub_mem *m, size_t k, size_t n) {
  return m->calloc(k, n, m->user_data);
}
static inline void *mem_realloc(const hub_mem *m, void *p, size_t n) {
  return m->realloc(p, n, m->user_data);
}
static inline void mem_free(const hub_mem *m, void *p) {
  if (p)
    m->free(p, m->user_data);
}

/* Monotonic clock in milliseconds. */
int64_t hub__now_ms(void);

#endif
