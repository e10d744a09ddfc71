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
#include "hash.h"

struct msg {
  _Atomic uint32_t refs;
  uint32_t flags; /* HUB_MSG_* */
  int64_t seq;
  int64_t ts_ms; /* broadcast time, for history age limits */
  uint64_t topic_hash;
  size_t topic_len;
  size_t len;
  const char *topic; /* NUL-terminated, inside this allocation */
  unsigned char data[];
};

/* Internal msg flags, above the public HUB_MSG_*: presence events, whose
 * payload is the whole JSON notice; never kept in history. */
#define MSG_JOIN 0x100u
#define MSG_LEAVE 0x200u
#define MSG_PRESENCE (MSG_JOIN | MSG_LEAVE)

/* Wire formats a client can speak; each has its own encoded frame. */
enum wire {
  WIRE_RAW,     /* host transports: the payload bytes only */
  WIRE_WS_JSON, /* WebSocket, JSON envelope */
  WIRE_WS_RAW,  /* WebSocket, payload only */
  WIRE_SSE,     /* Server-Sent Events block */
  WIRE_COUNT
};

enum {
  SMSG_PRIVATE = 1, /* one client's frame (a reply, a notice): no msg */
  SMSG_STATIC = 2,  /* shared by a shard for its whole life (ping) */
  SMSG_PINNED = 4,  /* never dropped by drop-oldest */
  SMSG_SHARED = 8   /* in shard->replayed (see smsg_shared()) */
};

struct smsg {
  struct msg *msg; /* NULL for private and static frames */
  uint32_t refs;   /* client queue entries; shard thread only */
  uint8_t encoded; /* bit per wire whose frame is built */
  uint8_t flags;   /* SMSG_* */
  struct iovec frame[WIRE_COUNT];
  struct smsg *next_free;
  struct hnode node; /* in shard->replayed, keyed by msg, if SMSG_SHARED */
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

#endif
