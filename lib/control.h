/* The JSON control protocol a WebSocket client speaks (DESIGN.md, "Wire
 * protocols"): subscribe, unsubscribe, publish, ping, and the replies and
 * error notices. The host's message callback sees each message first. */
#ifndef HUB_CONTROL_H
#define HUB_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct shard;
struct client;

/* One complete inbound WebSocket message. Shard thread only. */
void control_on_message(struct shard *s, struct client *c,
                        const unsigned char *data, size_t len, bool binary);

#endif
