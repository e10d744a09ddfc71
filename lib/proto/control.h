/* The JSON control protocol a WebSocket client speaks (docs/protocol.md,
 * "WebSocket"), and what any client asks for itself: subscribe (also each
 * ?topic= of its request) and publish. Such requests are checked against
 * the limits, authorized (auth.c), then carried out here. Shard thread
 * only. */
#ifndef HUB_CONTROL_H
#define HUB_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct client;

/* A client's own subscribe or publish. */
struct client_req {
  int kind;   /* HUB_AUTH_SUBSCRIBE or HUB_AUTH_PUBLISH */
  bool reply; /* answer "subscribed"/"published" (control protocol) */
  const char *topic;
  size_t topic_len;
  int64_t since; /* subscribe: < 0 for none */
  bool epoch_ok;
  const char *id; /* raw JSON to echo, or NULL */
  size_t id_len;
  const char *data; /* publish: raw JSON */
  size_t data_len;
};

/* One complete inbound WebSocket message. */
void control_on_message(struct shard *s, struct client *c,
                        const unsigned char *data, size_t len, bool binary);
/* Checks the topic and limits, then authorizes and carries out `r`. */
void control_request(struct shard *s, struct client *c,
                     const struct client_req *r);
/* Carries out an authorized request. */
void control_execute(struct shard *s, struct client *c,
                     const struct client_req *r);
/* Tells the client its request was refused with `code` (and the host's
 * `reason`, or NULL). */
void control_refuse(struct shard *s, struct client *c,
                    const struct client_req *r, const char *code,
                    const char *reason);

#endif
