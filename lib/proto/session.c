/* fanhub's protocols behind the core's client ops; see session.h. */
#include "session.h"

#include <string.h>

#include "admission.h"
#include "auth.h"
#include "conn.h"
#include "frame.h"
#include "handshake.h"
#include "hub.h"
#include "notice.h"
#include "tls.h"
#include "ws.h"

static void attach(struct shard *s, struct client *c) {
  if (c->fd >= 0)
    conn_attach(s, c);
  else
    handshake_attach(s, c);
}

static void tick(struct shard *s, struct client *c, int list) {
  struct proto_shard *ps = s->proto;
  struct tls_conn *t = session_of(c)->tls;
  if (t && list != TL_HANDSHAKE)
    tls_idle_tick(t); /* before this tick's ping or keepalive */
  switch (list) {
  case TL_HANDSHAKE:
    /* Between keep-alive requests: a connection whose answers are still
     * being written is not idle (the write timeout watches it). */
    if (c->kind == CLIENT_HTTP && c->q.count)
      break;
    client_doom(s, c, HUB_CLOSE_TIMEOUT);
    return;
  case TL_WS_PING: {
    struct session *se = session_of(c);
    if (se->ping_due && !se->got_input) {
      client_doom(s, c, HUB_CLOSE_ABNORMAL); /* no pong, no anything */
      return;
    }
    se->ping_due = true;
    se->got_input = false;
    client_enqueue_pinned(s, c, &ps->ping_frame);
    break;
  }
  case TL_SSE_KEEPALIVE:
    client_enqueue_pinned(s, c, &ps->keepalive_frame);
    break;
  }
  timer_add(s, c, list);
}

/* hub_stop(): a WebSocket client gets a close frame (1001), a request not
 * answered yet goes at once, a stream once its queue is written. */
static void stop(struct shard *s, struct client *c) {
  if (c->kind == CLIENT_WS && !c->close_after_flush)
    ws_close(s, c, HUB_CLOSE_GOING_AWAY, "server shutting down");
  else if (c->kind == CLIENT_HTTP)
    client_doom(s, c, HUB_CLOSE_GOING_AWAY);
  else
    client_close_after_flush(s, c, HUB_CLOSE_GOING_AWAY);
}

static void release(struct shard *s, struct client *c) {
  auth_forget(s, c);
  limits_release(s, c);
  handshake_free(s, c);
  struct session *se = session_of(c);
  mem_free(s->mem, se->init);
  se->init = NULL;
  ws_free(s, c);
}

const struct client_ops session_ops = {attach,       conn_event, conn_input,
                                       conn_eof,     tick,       notice_lagged,
                                       notice_reset, stop,       release};

static int client_init(struct hub *hub, struct client *c,
                       const hub_client_options *copt) {
  struct session *se = session_of(c);
  if (!copt)
    return 0;
  se->raw = copt->raw;
  if (!copt->ntopics)
    return 0;
  struct stream_init *in =
      mem_malloc(&hub->opt.mem, sizeof(*in) + copt->topics_len);
  if (!in)
    return HUB_ENOMEM;
  in->since = copt->since;
  in->epoch_ok = !copt->epoch[0] || strcmp(copt->epoch, hub->epoch) == 0;
  in->ntopics = copt->ntopics;
  memcpy(in->topics, copt->topics, copt->topics_len);
  se->init = in;
  return 0;
}

/* Before the attach only the attach's topics and the head the host read
 * (a buffer of its own, see handshake_new()) can be there. */
static void client_discard(struct hub *hub, struct client *c) {
  struct session *se = session_of(c);
  mem_free(&hub->opt.mem, se->init);
  mem_free(&hub->opt.mem, se->hs);
}

static int shard_init_(struct shard *s, const struct hub_options *opt) {
  struct hub *hub = s->hub;
  struct proto_shard *ps = mem_calloc(s->mem, 1, sizeof(*ps));
  if (!ps)
    return HUB_ENOMEM;
  s->proto = ps;
  s->timers[TL_HANDSHAKE].period_ms = hub->opt.handshake_timeout_ms;
  s->timers[TL_WS_PING].period_ms = hub->opt.ping_interval_ms;
  s->timers[TL_SSE_KEEPALIVE].period_ms = hub->opt.sse_keepalive_ms;
  static const unsigned char ping[] = {0x80 | WS_OP_PING, 0};
  static const char keepalive[] = ": keepalive\n\n";
  ps->ping_frame.flags = ps->keepalive_frame.flags = SMSG_STATIC | SMSG_PINNED;
  ps->ping_frame.frame[WIRE_WS_JSON].iov_base = (void *)ping;
  ps->ping_frame.frame[WIRE_WS_JSON].iov_len = sizeof(ping);
  ps->ping_frame.frame[WIRE_WS_RAW] = ps->ping_frame.frame[WIRE_WS_JSON];
  ps->keepalive_frame.frame[WIRE_SSE].iov_base = (void *)keepalive;
  ps->keepalive_frame.frame[WIRE_SSE].iov_len = sizeof(keepalive) - 1;
  if (opt->tls_cert)
    return tls_shard_new(s->mem, opt->tls_cert, opt->tls_cert_len, opt->tls_key,
                         opt->tls_key_len, &ps->tls);
  return 0;
}

/* After the shard's clients are gone (their queues may hold the ping and
 * keepalive frames); also after a failed or skipped init. */
static void shard_destroy_(struct shard *s) {
  struct proto_shard *ps = s->proto;
  if (!ps)
    return;
  tls_shard_free(ps->tls);
  mem_free(s->mem, ps);
  s->proto = NULL;
}

static const struct shard_ops shard_ops = {shard_init_,        shard_destroy_,
                                           auth_next_deadline, auth_expire,
                                           limits_tick,        auth_answer};

const struct hub_protocols hub__protocols = {
    .init = limits_init,
    .destroy = limits_destroy,
    .encode = frame_encode,
    .shard = &shard_ops,
    .client = &session_ops,
    .client_size = sizeof(struct session),
    .client_init = client_init,
    .client_discard = client_discard,
};
