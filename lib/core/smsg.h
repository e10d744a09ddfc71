/* A shard's smsgs (its view of a message: the frames it writes, shared by
 * its clients' queues, see msg.h): a pool of spare structs, the frames
 * encoded at most once per wire format, the replayed messages shared
 * through a table, and the private frames of one client (replies,
 * notices). Shard thread only. */
#ifndef HUB_SMSG_H
#define HUB_SMSG_H

#include <stdbool.h>

#include "msg.h"

struct shard;

/* A pooled smsg for `m`, taking over the caller's ref on it; NULL on
 * ENOMEM (the ref stays the caller's). */
struct smsg *smsg_get(struct shard *s, struct msg *m);
/* Gives an smsg no queue holds back to the pool, with its frames and its
 * msg ref. */
void smsg_put(struct shard *s, struct smsg *sm);
/* The shard's smsg for replaying `m`, shared with every client already
 * replayed it; takes over the caller's ref on `m` (NULL on ENOMEM, and
 * the ref stays the caller's). */
struct smsg *smsg_shared(struct shard *s, struct msg *m);
/* Drops one queue's ref; the last one puts the smsg back. */
void smsg_release(struct shard *s, struct smsg *sm);
/* Builds sm's frame for wire `w` if not yet built; false on ENOMEM. */
bool smsg_encode(struct shard *s, struct smsg *sm, enum wire w);
/* A frame of one client's own, holding a copy of data[0..len) (or len
 * bytes for the caller to fill when data is NULL). */
struct smsg *smsg_private(struct shard *s, enum wire w, const void *data,
                          size_t len);
/* Frees the pool and the table (the shard is going). */
void smsg_pool_destroy(struct shard *s);

#endif
