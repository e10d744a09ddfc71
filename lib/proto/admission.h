/* Admission control and per-client limits (see fanhub.h, "Security"):
 * connection caps (total and per IP), Origin checks, the characters of
 * client-chosen topics, the inbound message rate, and the write and idle
 * timeouts. */
#ifndef HUB_ADMISSION_H
#define HUB_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hub;
struct shard;
struct client;
struct session;
struct http_request;

/* Hub-wide state: connection counts. */
void limits_init(struct hub *hub);
void limits_destroy(struct hub *hub);

/* A socket client arrives (shard thread): records its address and counts
 * it. Returns 0, or 503 when a cap is reached. */
int limits_admit(struct shard *s, struct client *c);
/* The client goes: uncounts it. */
void limits_release(struct shard *s, struct client *c);
/* The client's address as "ip:port" into out[64] ("" if unknown). */
void limits_addr(const struct session *se, char out[64]);

bool limits_origin_ok(const struct hub *hub, const struct http_request *req);
bool limits_topic_ok(const struct hub *hub, const char *topic, size_t len);
/* Spends one inbound message from the client's budget; false when it is
 * over the rate (it has been told, or closed). */
bool limits_rate_ok(struct shard *s, struct client *c);
/* Once a second: write and idle timeouts. */
void limits_tick(struct shard *s, int64_t now_ms);

#endif
