/* Notices the hub sends on its own about a subscription: "reset" (the
 * replay asked for cannot be given) and "lagged" (drop-oldest discarded
 * messages). WebSocket clients get a JSON text frame, SSE clients an
 * "event: hub.reset" / "event: hub.lagged" block with the same JSON as
 * data and no id, host transports nothing. Shard thread only. */
#ifndef HUB_NOTICE_H
#define HUB_NOTICE_H

#include <stddef.h>
#include <stdint.h>

struct shard;
struct client;
struct sub;

/* {"type":TYPE[,"topic":T][,"seq":N][,"code":C][,"id":ID]} (id is raw
 * JSON; seq < 0, topic/code/id NULL: left out). SSE clients get it as
 * "event: hub.TYPE". */
void notice_reply(struct shard *s, struct client *c, const char *type,
                  const char *topic, size_t topic_len, int64_t seq,
                  const char *code, const char *id, size_t id_len);
/* {"type":"error",...,"code":C[,"reason":R]}: R is the host's words (the
 * auth callback's), escaped. */
void notice_error(struct shard *s, struct client *c, const char *topic,
                  size_t topic_len, const char *code, const char *reason,
                  const char *id, size_t id_len);
/* `reason`: RESET_RETENTION or RESET_EPOCH (topic_index.h). */
void notice_reset(struct shard *s, struct client *c, const char *topic,
                  size_t len, int reason);
/* {"type":"lagged","topic":T,"dropped":N,"from":A,"to":B}. */
void notice_lagged(struct shard *s, struct client *c, const char *topic,
                   size_t len, uint32_t dropped, int64_t from, int64_t to);

#endif
