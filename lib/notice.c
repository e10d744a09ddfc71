/* Reset and lagged notices; see notice.h. */
#include "notice.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "json.h"
#include "ws.h"

/* Sends {"type":TYPE,"topic":T<tail>} where tail is already JSON. */
static void send_notice(struct shard *s, struct client *c, const char *type,
                        const char *topic, size_t len, const char *tail) {
  if (c->kind != CLIENT_WS && c->kind != CLIENT_SSE)
    return;
  size_t cap =
      64 + 2 * strlen(type) + json_escaped_len(topic, len) + strlen(tail);
  char *buf = mem_malloc(s->mem, cap);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  char *p = buf;
  if (c->kind == CLIENT_SSE)
    p += sprintf(p, "event: hub.%s\ndata: ", type);
  char *json = p;
  p += sprintf(p, "{\"type\":\"%s\",\"topic\":\"", type);
  p += json_escape(p, topic, len);
  p += sprintf(p, "\"%s}", tail);
  if (c->kind == CLIENT_WS) {
    ws_send_text(s, c, json, (size_t)(p - json));
  } else {
    memcpy(p, "\n\n", 2);
    p += 2;
    struct smsg *sm = smsg_private(s, WIRE_SSE, buf, (size_t)(p - buf));
    if (sm)
      client_enqueue_pinned(s, c, sm);
    else
      client_doom(s, c, HUB_CLOSE_TRANSPORT);
  }
  mem_free(s->mem, buf);
}

void notice_reset(struct shard *s, struct client *c, const char *topic,
                  size_t len, int reason) {
  send_notice(s, c, "reset", topic, len,
              reason == RESET_EPOCH ? ",\"reason\":\"epoch-changed\""
                                    : ",\"reason\":\"retention-exhausted\"");
}

void notice_lagged_all(struct shard *s, struct client *c) {
  for (struct sub *sub = c->subs.head; sub && c->state == CLIENT_OPEN;
       sub = sub->cnext) {
    if (!sub->lag_n)
      continue;
    char tail[96];
    snprintf(tail, sizeof(tail),
             ",\"dropped\":%" PRIu32 ",\"from\":%" PRId64 ",\"to\":%" PRId64,
             sub->lag_n, sub->lag_from, sub->lag_to);
    send_notice(s, c, "lagged", sub->topic->name, sub->topic->len, tail);
    sub->lag_n = 0;
  }
}
