/* Staged broadcasts, published together or dropped: what a database host
 * needs to broadcast a transaction's changes only once it has committed
 * (stage in the change hook, publish after COMMIT, discard on ROLLBACK). */
#include <string.h>

#include "hub.h"
#include "wildcard.h"

struct staged {
  size_t topic_off, topic_len, data_off, data_len;
  unsigned flags;
};

struct hub_batch {
  hub_t *hub;
  struct staged *items;
  size_t n, cap;
  char *buf; /* topics and payloads, copied */
  size_t used, size;
};

int hub_batch_new(hub_t *hub, hub_batch **out) {
  if (!hub || !out)
    return HUB_EINVAL;
  hub_batch *b = mem_calloc(&hub->opt.mem, 1, sizeof(*b));
  if (!b)
    return HUB_ENOMEM;
  b->hub = hub;
  *out = b;
  return 0;
}

static int reserve(hub_batch *b, size_t more) {
  const hub_mem *mem = &b->hub->opt.mem;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    struct staged *it = mem_realloc(mem, b->items, sizeof(*it) * cap);
    if (!it)
      return HUB_ENOMEM;
    b->items = it;
    b->cap = cap;
  }
  if (b->used + more > b->size) {
    size_t size = b->size ? b->size : 4096;
    while (size < b->used + more)
      size *= 2;
    char *nb = mem_realloc(mem, b->buf, size);
    if (!nb)
      return HUB_ENOMEM;
    b->buf = nb;
    b->size = size;
  }
  return 0;
}

int hub_batch_add(hub_batch *b, const char *topic, const void *data,
                  size_t len, unsigned flags) {
  if (!b || !topic || (!data && len) ||
      (flags & ~(HUB_MSG_JSON | HUB_MSG_BINARY)))
    return HUB_EINVAL;
  size_t tlen = strnlen(topic, b->hub->opt.max_topic_len + 1);
  if (!tlen || tlen > b->hub->opt.max_topic_len ||
      pattern_is_wild(topic, tlen))
    return HUB_ETOPIC;
  int rv = reserve(b, tlen + len);
  if (rv)
    return rv;
  struct staged *s = &b->items[b->n++];
  s->topic_off = b->used;
  s->topic_len = tlen;
  memcpy(b->buf + b->used, topic, tlen);
  b->used += tlen;
  s->data_off = b->used;
  s->data_len = len;
  if (len)
    memcpy(b->buf + b->used, data, len);
  b->used += len;
  s->flags = flags;
  return 0;
}

size_t hub_batch_count(const hub_batch *b) { return b ? b->n : 0; }

void hub_batch_discard(hub_batch *b) {
  if (b)
    b->n = b->used = 0;
}

int hub_batch_truncate(hub_batch *b, size_t count) {
  if (!b || count > b->n)
    return HUB_EINVAL;
  if (count < b->n) {
    b->used = b->items[count].topic_off; /* staged bytes are in order */
    b->n = count;
  }
  return 0;
}

/* Under a relay the engine sequences the messages: they are handed over
 * in order; if it refuses one, that one and those after stay staged. */
static int64_t relay_batch(hub_batch *b) {
  hub_t *hub = b->hub;
  size_t i = 0;
  int rv = 0;
  for (; i < b->n; i++) {
    const struct staged *s = &b->items[i];
    rv = hub->relay(hub, b->buf + s->topic_off, s->topic_len,
                    b->buf + s->data_off, s->data_len, s->flags,
                    hub->relay_user_data);
    if (rv < 0)
      break;
  }
  atomic_fetch_add_explicit(&hub->broadcasts, i, memory_order_relaxed);
  if (i == b->n) {
    hub_batch_discard(b);
    return 0;
  }
  size_t off = b->items[i].topic_off;
  memmove(b->buf, b->buf + off, b->used - off);
  b->used -= off;
  for (size_t j = i; j < b->n; j++) {
    b->items[j - i] = b->items[j];
    b->items[j - i].topic_off -= off;
    b->items[j - i].data_off -= off;
  }
  b->n -= i;
  return rv;
}

int64_t hub_batch_publish(hub_batch *b) {
  if (!b)
    return HUB_EINVAL;
  hub_t *hub = b->hub;
  if (atomic_load(&hub->state) != HUB_RUNNING)
    return HUB_ESTATE;
  if (!b->n)
    return 0;
  if (hub->relay)
    return relay_batch(b);
  /* Every message is made before any goes out: all or nothing. */
  struct msg **m = mem_malloc(&hub->opt.mem, sizeof(*m) * b->n);
  if (!m)
    return HUB_ENOMEM;
  for (size_t i = 0; i < b->n; i++) {
    const struct staged *s = &b->items[i];
    m[i] = hub__msg(hub, b->buf + s->topic_off, s->topic_len,
                    b->buf + s->data_off, s->data_len, s->flags);
    if (!m[i]) {
      while (i--)
        msg_unref(&hub->opt.mem, m[i]);
      mem_free(&hub->opt.mem, m);
      return HUB_ENOMEM;
    }
  }
  int64_t seq = 0;
  for (size_t i = 0; i < b->n; i++)
    seq = hub__publish_msg(hub, m[i]);
  atomic_fetch_add_explicit(&hub->broadcasts, b->n, memory_order_relaxed);
  mem_free(&hub->opt.mem, m);
  hub_batch_discard(b);
  return seq;
}

void hub_batch_free(hub_batch *b) {
  if (!b)
    return;
  const hub_mem *mem = &b->hub->opt.mem;
  mem_free(mem, b->items);
  mem_free(mem, b->buf);
  mem_free(mem, b);
}
