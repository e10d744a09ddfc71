/* The shard's smsg pool and frames; see smsg.h. */
#include "smsg.h"

#include <string.h>

#include "hub.h"

/* Spare smsg structs a shard keeps instead of freeing. */
#define SMSG_FREE_MAX 4096

struct smsg *smsg_get(struct shard *s, struct msg *m) {
  struct smsg *sm = s->free_smsgs;
  if (sm) {
    s->free_smsgs = sm->next_free;
    s->nfree--;
  } else {
    sm = mem_malloc(s->mem, sizeof(*sm));
    if (!sm)
      return NULL;
  }
  sm->msg = m;
  sm->refs = 0;
  sm->encoded = 0;
  sm->flags = 0;
  return sm;
}

void smsg_put(struct shard *s, struct smsg *sm) {
  if (sm->flags & SMSG_SHARED)
    htable_remove(&s->replayed, &sm->node);
  for (int w = 0; w < WIRE_COUNT; w++)
    if (w != WIRE_RAW && (sm->encoded & (1u << w)))
      mem_free(s->mem, sm->frame[w].iov_base);
  msg_unref(s->mem, sm->msg);
  if (s->nfree < SMSG_FREE_MAX) {
    sm->next_free = s->free_smsgs;
    s->free_smsgs = sm;
    s->nfree++;
  } else {
    mem_free(s->mem, sm);
  }
}

static int smsg_msg_eq(const struct hnode *n, const void *key) {
  return container_of(n, struct smsg, node)->msg == key;
}

struct smsg *smsg_shared(struct shard *s, struct msg *m) {
  /* The entry holds a ref on m until smsg_put() removes it, so the
   * address cannot be reused by another msg meanwhile. */
  uint64_t hash = hash_u64((uint64_t)(uintptr_t)m);
  struct hnode *n = htable_find(&s->replayed, hash, smsg_msg_eq, m);
  if (n) {
    msg_unref(s->mem, m);
    return container_of(n, struct smsg, node);
  }
  struct smsg *sm = smsg_get(s, m);
  if (!sm)
    return NULL;
  sm->node.hash = hash;
  /* Not indexed (ENOMEM): still correct, only not shared. */
  if (htable_insert(&s->replayed, &sm->node) == 0)
    sm->flags |= SMSG_SHARED;
  return sm;
}

void smsg_release(struct shard *s, struct smsg *sm) {
  if (sm->flags & SMSG_STATIC)
    return;
  if (--sm->refs == 0) {
    if (sm->flags & SMSG_PRIVATE)
      mem_free(s->mem, sm);
    else
      smsg_put(s, sm);
  }
}

bool smsg_encode(struct shard *s, struct smsg *sm, enum wire w) {
  if (sm->encoded & (1u << w))
    return true;
  if (w == WIRE_RAW) /* the payload itself: the core's own wire */
    sm->frame[w] = (struct iovec){(void *)sm->msg->data, sm->msg->len};
  else if (!s->hub->proto || s->hub->proto->encode(w, sm->msg, s->hub->epoch,
                                                   s->mem, &sm->frame[w]))
    return false;
  sm->encoded |= (uint8_t)(1u << w);
  return true;
}

struct smsg *smsg_private(struct shard *s, enum wire w, const void *data,
                          size_t len) {
  struct smsg *sm = mem_malloc(s->mem, sizeof(*sm) + len);
  if (!sm)
    return NULL;
  memset(sm, 0, sizeof(*sm));
  sm->flags = SMSG_PRIVATE | SMSG_PINNED;
  sm->encoded = (uint8_t)(1u << w);
  sm->frame[w].iov_base = sm + 1;
  sm->frame[w].iov_len = len;
  if (data)
    memcpy(sm + 1, data, len);
  return sm;
}

void smsg_pool_destroy(struct shard *s) {
  while (s->free_smsgs) {
    struct smsg *sm = s->free_smsgs;
    s->free_smsgs = sm->next_free;
    mem_free(s->mem, sm);
  }
  htable_destroy(&s->replayed);
}
