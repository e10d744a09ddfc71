/* The control protocol and clients' own requests; see control.h. */
#include "control.h"

#include <string.h>

#include "auth.h"
#include "hub.h"
#include "json.h"
#include "replay.h"
#include "admission.h"
#include "notice.h"
#include "session.h"

void control_refuse(struct shard *s, struct client *c,
                    const struct client_req *r, const char *code,
                    const char *reason) {
  notice_error(s, c, r->topic, r->topic_len, code, reason, r->id, r->id_len);
}

void control_execute(struct shard *s, struct client *c,
                     const struct client_req *r) {
  struct hub *hub = s->hub;
  if (r->kind == HUB_AUTH_PUBLISH) {
    /* hub_broadcast() takes a C string; the parser gave a NUL-free one. */
    int64_t seq =
        hub_broadcast(hub, r->topic, r->data, r->data_len, HUB_MSG_JSON);
    if (seq < 0)
      control_refuse(s, c, r, seq == HUB_ETOPIC ? "bad-topic" : "internal",
                     NULL);
    else if (r->reply)
      notice_reply(s, c, "published", r->topic, r->topic_len, seq, NULL,
                   r->id, r->id_len);
    return;
  }
  if (c->subs.count >= hub->opt.max_subscriptions &&
      !registry_find_sub(&s->reg, c, &c->subs, r->topic, r->topic_len,
                         hash_bytes(&hub->key, r->topic, r->topic_len))) {
    control_refuse(s, c, r, "too-many-subscriptions", NULL);
    return;
  }
  struct replay rp;
  struct sub *sub;
  int rv = shard_subscribe(s, c, r->topic, r->topic_len, r->since,
                           r->epoch_ok, &rp, &sub);
  if (rv < 0) {
    control_refuse(s, c, r, rv == HUB_ETOPIC ? "bad-topic" : "internal",
                   NULL);
    return;
  }
  /* The reply first, then what the subscription is owed. */
  if (r->reply)
    notice_reply(s, c, "subscribed", r->topic, r->topic_len, rp.last, NULL,
                 r->id, r->id_len);
  shard_replay(s, c, sub, rv == 1, &rp, session_of(c)->batch);
}

void control_request(struct shard *s, struct client *c,
                     const struct client_req *r) {
  if (!limits_topic_ok(s->hub, r->topic, r->topic_len)) {
    control_refuse(s, c, r, "bad-topic", NULL);
    return;
  }
  if (r->kind == HUB_AUTH_PUBLISH && !s->hub->opt.client_publish) {
    control_refuse(s, c, r, "forbidden", NULL);
    return;
  }
  auth_request(s, c, r);
}

void control_on_message(struct shard *s, struct client *c,
                        const unsigned char *data, size_t len, bool binary) {
  struct hub *hub = s->hub;
  if (!limits_rate_ok(s, c))
    return;
  if (hub->opt.on_message) {
    hub_message_info info = {c->id,        data, len, binary, c->user_data,
                             c->principal ? c->principal : ""};
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
    bool id = rv != CTL_ESYNTAX && m.id;
    notice_reply(s, c, "error", NULL, 0, -1, ctl_strerror(rv),
                 id ? m.id : NULL, id ? m.id_len : 0);
    goto out;
  }
  struct client_req r = {0,         true,     m.topic, m.topic_len,
                         -1,        true,     m.id,    m.id_len,
                         m.data,    m.data_len};
  switch (m.op) {
  case CTL_SUBSCRIBE:
    r.kind = HUB_AUTH_SUBSCRIBE;
    r.since = m.has_since ? m.since : -1;
    r.epoch_ok = !m.since_epoch ||
                 (m.since_epoch_len == strlen(hub->epoch) &&
                  memcmp(m.since_epoch, hub->epoch, m.since_epoch_len) == 0);
    control_request(s, c, &r);
    break;
  case CTL_PUBLISH:
    r.kind = HUB_AUTH_PUBLISH;
    control_request(s, c, &r);
    break;
  case CTL_UNSUBSCRIBE:
    shard_unsubscribe(s, c, m.topic, m.topic_len);
    notice_reply(s, c, "unsubscribed", m.topic, m.topic_len, -1, NULL, m.id,
                 m.id_len);
    break;
  case CTL_PING:
    notice_reply(s, c, "pong", NULL, 0, -1, NULL, m.id, m.id_len);
    break;
  }
out:
  mem_free(s->mem, big);
}
