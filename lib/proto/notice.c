/* Reset and lagged notices; see notice.h. */
#include "notice.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "json.h"
#include "ws.h"

/* Sends a JSON notice: a text frame, or an SSE "hub.TYPE" event. */
static void send_json(struct shard *s, struct client *c, const char *type,
                      const char *json, size_t len) {
  if (c->kind == CLIENT_WS) {
    ws_send_text(s, c, json, len);
    return;
  }
  if (c->kind != CLIENT_SSE)
    return; /* host transports carry payloads only */
  size_t cap = 32 + strlen(type) + len;
  char *buf = mem_malloc(s->mem, cap);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  int n = snprintf(buf, cap, "event: hub.%s\ndata: %.*s\n\n", type,
                   (int)len, json);
  client_send_own(s, c, buf, (size_t)n);
  mem_free(s->mem, buf);
}

static void build(struct shard *s, struct client *c, const char *type,
                  const char *topic, size_t topic_len, int64_t seq,
                  const char *code, const char *reason, const char *id,
                  size_t id_len) {
  size_t rlen = reason ? strlen(reason) : 0;
  size_t cap = 112 + strlen(type) + (code ? strlen(code) : 0) + id_len +
               (topic ? json_escaped_len(topic, topic_len) : 0) +
               json_escaped_len(reason ? reason : "", rlen);
  char stackbuf[512];
  char *buf = cap <= sizeof(stackbuf) ? stackbuf : mem_malloc(s->mem, cap);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  char *p = buf + sprintf(buf, "{\"type\":\"%s\"", type);
  if (topic) {
    p += sprintf(p, ",\"topic\":\"");
    p += json_escape(p, topic, topic_len);
    *p++ = '"';
  }
  if (seq >= 0)
    p += sprintf(p, ",\"seq\":%" PRId64, seq);
  if (code)
    p += sprintf(p, ",\"code\":\"%s\"", code);
  if (rlen) {
    p += sprintf(p, ",\"reason\":\"");
    p += json_escape(p, reason, rlen);
    *p++ = '"';
  }
  if (id) {
    p += sprintf(p, ",\"id\":");
    memcpy(p, id, id_len);
    p += id_len;
  }
  *p++ = '}';
  send_json(s, c, type, buf, (size_t)(p - buf));
  if (buf != stackbuf)
    mem_free(s->mem, buf);
}

void notice_reply(struct shard *s, struct client *c, const char *type,
                  const char *topic, size_t topic_len, int64_t seq,
                  const char *code, const char *id, size_t id_len) {
  build(s, c, type, topic, topic_len, seq, code, NULL, id, id_len);
}

void notice_error(struct shard *s, struct client *c, const char *topic,
                  size_t topic_len, const char *code, const char *reason,
                  const char *id, size_t id_len) {
  build(s, c, "error", topic, topic_len, -1, code, reason, id, id_len);
}

/* {"type":TYPE,"topic":T<tail>} where tail is already JSON. */
static void send_notice(struct shard *s, struct client *c, const char *type,
                        const char *topic, size_t len, const char *tail) {
  size_t cap = 64 + strlen(type) + json_escaped_len(topic, len) + strlen(tail);
  char *buf = mem_malloc(s->mem, cap);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  char *p = buf + sprintf(buf, "{\"type\":\"%s\",\"topic\":\"", type);
  p += json_escape(p, topic, len);
  p += sprintf(p, "\"%s}", tail);
  send_json(s, c, type, buf, (size_t)(p - buf));
  mem_free(s->mem, buf);
}

void notice_reset(struct shard *s, struct client *c, const char *topic,
                  size_t len, int reason) {
  send_notice(s, c, "reset", topic, len,
              reason == RESET_EPOCH ? ",\"reason\":\"epoch-changed\""
                                    : ",\"reason\":\"retention-exhausted\"");
}

void notice_lagged(struct shard *s, struct client *c, const char *topic,
                   size_t len, uint32_t dropped, int64_t from, int64_t to) {
  char tail[96];
  snprintf(tail, sizeof(tail),
           ",\"dropped\":%" PRIu32 ",\"from\":%" PRId64 ",\"to\":%" PRId64,
           dropped, from, to);
  send_notice(s, c, "lagged", topic, len, tail);
}
