/* The control protocol; see control.h. */
#include "control.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "json.h"
#include "ws.h"

/* Sends {"type":TYPE[,"topic":T][,"seq":N][,"code":C][,"id":ID]}. */
static void reply(struct shard *s, struct client *c, const char *type,
                  const struct ctl_msg *m, int64_t seq, const char *code) {
  size_t tlen = m && m->topic ? json_escaped_len(m->topic, m->topic_len) : 0;
  size_t idlen = m && m->id ? m->id_len : 0;
  size_t cap = 96 + strlen(type) + tlen + idlen + (code ? strlen(code) : 0);
  char stackbuf[512];
  char *buf = cap <= sizeof(stackbuf) ? stackbuf : mem_malloc(s->mem, cap);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  char *p = buf + sprintf(buf, "{\"type\":\"%s\"", type);
  if (m && m->topic) {
    p += sprintf(p, ",\"topic\":\"");
    p += json_escape(p, m->topic, m->topic_len);
    *p++ = '"';
  }
  if (seq >= 0)
    p += sprintf(p, ",\"seq\":%" PRId64, seq);
  if (code)
    p += sprintf(p, ",\"code\":\"%s\"", code);
  if (idlen) {
    p += sprintf(p, ",\"id\":");
    memcpy(p, m->id, idlen);
    p += idlen;
  }
  *p++ = '}';
  ws_send_text(s, c, buf, (size_t)(p - buf));
  if (buf != stackbuf)
    mem_free(s->mem, buf);
}

void control_on_message(struct shard *s, struct client *c,
                        const unsigned char *data, size_t len, bool binary) {
  struct hub *hub = s->hub;
  if (hub->opt.on_message) {
    hub_message_info info = {c->id, data, len, binary, c->user_data};
    if (hub->opt.on_message(hub, &info, hub->opt.on_message_user_data) == 0)
      return;
    if (c->state != CLIENT_OPEN)
      return;
  }
  struct ctl_msg m;
  char scratch[1024];
  char *big = NULL, *sc = scratch;
  size_t sc_cap = sizeof(scratch);
  if (hub->opt.max_topic_len + 32 > sc_cap) {
    sc_cap = hub->opt.max_topic_len * 2 + 64;
    sc = big = mem_malloc(s->mem, sc_cap);
    if (!big) {
      client_doom(s, c, HUB_CLOSE_TRANSPORT);
      return;
    }
  }
  int rv = ctl_parse((const char *)data, len, hub->opt.max_topic_len, sc,
                     sc_cap, &m);
  if (rv) {
    /* Past a syntax error the parser still vouches for "id" alone. */
    struct ctl_msg id_only = {0};
    if (rv != CTL_ESYNTAX) {
      id_only.id = m.id;
      id_only.id_len = m.id_len;
    }
    reply(s, c, "error", &id_only, -1, ctl_strerror(rv));
    goto out;
  }
  switch (m.op) {
  case CTL_SUBSCRIBE: {
    struct replay r;
    struct sub *sub;
    bool epoch_ok = !m.since_epoch ||
                    (m.since_epoch_len == strlen(hub->epoch) &&
                     memcmp(m.since_epoch, hub->epoch, m.since_epoch_len) == 0);
    rv = shard_subscribe(s, c, m.topic, m.topic_len, m.has_since ? m.since : -1,
                         epoch_ok, &r, &sub);
    if (rv < 0) {
      reply(s, c, "error", &m, -1, "internal");
      break;
    }
    /* The reply first, then what the subscription is owed. */
    reply(s, c, "subscribed", &m, r.last, NULL);
    shard_replay(s, c, sub, rv == 1, &r);
    break;
  }
  case CTL_UNSUBSCRIBE:
    shard_unsubscribe(s, c, m.topic, m.topic_len);
    reply(s, c, "unsubscribed", &m, -1, NULL);
    break;
  case CTL_PUBLISH: {
    if (!hub->opt.client_publish) {
      reply(s, c, "error", &m, -1, "forbidden");
      break;
    }
    int64_t seq = hub_broadcast(hub, m.topic, m.data, m.data_len, HUB_MSG_JSON);
    if (seq < 0)
      reply(s, c, "error", &m, -1, "internal");
    else
      reply(s, c, "published", &m, seq, NULL);
    break;
  }
  case CTL_PING:
    reply(s, c, "pong", &m, -1, NULL);
    break;
  }
out:
  mem_free(s->mem, big);
}
