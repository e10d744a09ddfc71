/* Messages.
 *
 * struct msg is what hub_broadcast() builds: the topic and payload copied
 * once into one allocation, shared by every shard through an atomic
 * refcount (one ref per shard it was handed to).
 *
 * struct smsg is one shard's view of a msg: the frames it writes, encoded
 * at most once per wire format, and a plain (non-atomic) count of the
 * client queue entries pointing at it. Fanning one message out to 10,000
 * local clients therefore costs no atomic operation per client, and no
 * cache line bounces between shards.
 */
#ifndef HUB_MSG_H
#define HUB_MSG_H

#include <stdatomic.h>
#include <sys/uio.h>

#include "common.h"

struct msg {
  _Atomic uint32_t refs;
  uint32_t flags; /* HUB_MSG_* */
  int64_t seq;
  uint64_t topic_hash;
  size_t topic_len;
  size_t len;
  const char *topic; /* NUL-terminated, inside this allocation */
  unsigned char data[];
};

/* Wire formats a client can speak; each has its own encoded frame. */
enum wire { WIRE_RAW, WIRE_COUNT };

struct smsg {
  struct msg *msg;
  uint32_t refs;     /* client queue entries; shard thread only */
  uint32_t encoded;  /* bit per wire whose frame is built */
  struct iovec frame[WIRE_COUNT];
  struct smsg *next_free;
};

/* A msg with one ref, or NULL. */
struct msg *msg_new(const hub_mem *mem, const char *topic, size_t topic_len,
                    uint64_t topic_hash, const void *data, size_t len,
                    unsigned flags);

static inline void msg_ref_n(struct msg *m, uint32_t n) {
  atomic_fetch_add_explicit(&m->refs, n, memory_order_relaxed);
}

static inline void msg_unref(const hub_mem *mem, struct msg *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
    mem_free(mem, m);
}

/* The frame `sm` sends to clients of wire format `w`, built on first use. */
static inline const struct iovec *smsg_frame(struct smsg *sm, enum wire w) {
  if (!(sm->encoded & (1u << w))) {
    /* WIRE_RAW: the payload as it is, no copy. */
    sm->frame[w].iov_base = sm->msg->data;
    sm->frame[w].iov_len = sm->msg->len;
    sm->encoded |= 1u << w;
  }
  return &sm->frame[w];
}

#endif
