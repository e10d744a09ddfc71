/* Notices the hub sends on its own about a subscription: "reset" (the
 * replay asked for cannot be given) and "lagged" (drop-oldest discarded
 * messages). WebSocket clients get a JSON text frame, SSE clients an
 * "event: hub.reset" / "event: hub.lagged" block with the same JSON as
 * data and no id, host transports nothing. Shard thread only. */
#ifndef HUB_NOTICE_H
#define HUB_NOTICE_H

#include <stddef.h>

struct shard;
struct client;
struct sub;

/* `reason`: RESET_RETENTION or RESET_EPOCH (topic_index.h). */
void notice_reset(struct shard *s, struct client *c, const char *topic,
                  size_t len, int reason);
/* One "lagged" notice per subscription with unreported drops. */
void notice_lagged_all(struct shard *s, struct client *c);

#endif
