/* Attaching clients that speak fanhub's protocols: sockets
 * (hub_attach_fd, hub_attach_fd_request), host streams with a protocol
 * (hub_attach_transport), and the bytes a host feeds them
 * (hub_client_input). The protocol layer's side of the public API; the
 * core's side is hub.c. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "handshake.h"
#include "hub.h"
#include "session.h"

/* Sets the client up to speak `proto` (resolved from HUB_PROTO_DEFAULT by
 * the caller), with the principal and initial subscriptions of `copt`.
 * Returns 0 or HUB_ENOMEM; the caller frees the client. */
static int client_protocol(hub_t *hub, struct client *c,
                           const hub_client_options *copt,
                           hub_protocol proto) {
  static const uint8_t kind[] = {[HUB_PROTO_RAW] = CLIENT_HOST,
                                 [HUB_PROTO_HTTP] = CLIENT_HTTP,
                                 [HUB_PROTO_WEBSOCKET] = CLIENT_WS,
                                 [HUB_PROTO_SSE] = CLIENT_SSE};
  c->kind = kind[proto];
  c->ops = proto == HUB_PROTO_RAW ? NULL : &session_ops;
  if (!copt)
    return 0;
  if (copt->principal && !(c->principal = mem_malloc(
                               &hub->opt.mem, strlen(copt->principal) + 1)))
    return HUB_ENOMEM;
  if (copt->principal)
    strcpy(c->principal, copt->principal);
  if (!copt->ntopics || proto == HUB_PROTO_RAW)
    return 0;
  struct stream_init *in =
      mem_malloc(&hub->opt.mem, sizeof(*in) + copt->topics_len);
  if (!in)
    return HUB_ENOMEM;
  in->since = copt->since;
  in->epoch_ok = !copt->epoch[0] || strcmp(copt->epoch, hub->epoch) == 0;
  in->ntopics = copt->ntopics;
  memcpy(in->topics, copt->topics, copt->topics_len);
  c->init = in;
  return 0;
}

/* Frees a client that was set up but never attached. */
static void client_discard(hub_t *hub, struct client *c) {
  if (!c)
    return;
  mem_free(&hub->opt.mem, c->principal);
  mem_free(&hub->opt.mem, c->init);
  mem_free(&hub->opt.mem, c->hs);
  mem_free(&hub->opt.mem, c);
}

int hub_attach_transport(hub_t *hub, const hub_transport *tp, void *io_user,
                         const hub_client_options *copt, hub_client_id *out) {
  if (!hub || !tp || !tp->writev || !out)
    return HUB_EINVAL;
  if (!hub__accepting(hub))
    return HUB_ESTATE;
  hub_protocol proto = copt && copt->protocol ? copt->protocol : HUB_PROTO_RAW;
  struct client *c = hub__client_new(hub, copt);
  struct cmd *cmd = hub__cmd_new(hub, CMD_ATTACH, 0, 0);
  int rv = c && cmd ? client_protocol(hub, c, copt, proto) : HUB_ENOMEM;
  if (rv) {
    client_discard(hub, c);
    mem_free(&hub->opt.mem, cmd);
    return rv;
  }
  c->tp = *tp;
  c->io_user = io_user;
  hub__attach_client(hub, c, cmd, out);
  return 0;
}

/* How much of what the host read is kept: a head, a body, and as many
 * bytes again as a head may have (a WebSocket client's first frames). */
static uint32_t head_cap(const hub_t *hub) {
  return 2 * hub->opt.max_request_head + hub->opt.max_request_body;
}

int hub_attach_fd(hub_t *hub, int fd, const void *head, size_t head_len,
                  const hub_client_options *copt, hub_client_id *out) {
  hub_protocol proto =
      copt && copt->protocol ? copt->protocol : HUB_PROTO_HTTP;
  /* A socket whose request the host's server answered speaks the TLS of
   * that server, which cannot be handed over. */
  if (!hub || fd < 0 || !out || (!head && head_len) ||
      (copt && copt->tls && (!hub->tls || proto != HUB_PROTO_HTTP)) ||
      proto == HUB_PROTO_RAW)
    return HUB_EINVAL;
  int rv = 0;
  struct client *c = NULL;
  struct cmd *cmd = NULL;
  if (!hub__accepting(hub)) {
    rv = HUB_ESTATE;
    goto fail;
  }
  c = hub__client_new(hub, copt);
  cmd = hub__cmd_new(hub, CMD_ATTACH, 0, 0);
  /* A head the host read is copied now; bytes read later go to a buffer
   * only if the request has to wait for more (see struct handshake). */
  if (!c || !cmd ||
      (head_len && !(c->hs = handshake_new(&hub->opt.mem, head_cap(hub), head,
                                           head_len)))) {
    rv = HUB_ENOMEM;
    goto fail;
  }
  if ((rv = client_protocol(hub, c, copt, proto)))
    goto fail;
  c->fd = fd;
  c->tp = conn_fd_transport;
  c->io_user = (void *)(intptr_t)fd;
  c->want_tls = copt && copt->tls; /* the shard sets up the TLS side */
  hub__attach_client(hub, c, cmd, out);
  return 0;

fail:
  client_discard(hub, c);
  mem_free(&hub->opt.mem, cmd);
  close(fd);
  return rv;
}

/* A request string may not smuggle in a line break. */
static bool clean(const char *s) { return s && !strpbrk(s, "\r\n"); }

int hub_attach_fd_request(hub_t *hub, int fd, const hub_request *req,
                          const hub_client_options *copt, hub_client_id *out) {
  if (!hub || fd < 0 || !req || !clean(req->method) || !clean(req->target) ||
      (req->nheaders && !req->headers))
    return HUB_EINVAL;
  size_t len = strlen(req->method) + strlen(req->target) + 13;
  for (size_t i = 0; i < req->nheaders; i++) {
    if (!clean(req->headers[i].name) || !clean(req->headers[i].value))
      return HUB_EINVAL;
    len += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 4;
  }
  len += 2;
  if (len > hub->opt.max_request_head)
    return HUB_EINVAL;
  char *head = mem_malloc(&hub->opt.mem, len + 1);
  if (!head) {
    close(fd);
    return HUB_ENOMEM;
  }
  char *p =
      head + sprintf(head, "%s %s HTTP/1.1\r\n", req->method, req->target);
  for (size_t i = 0; i < req->nheaders; i++)
    p += sprintf(p, "%s: %s\r\n", req->headers[i].name, req->headers[i].value);
  p += sprintf(p, "\r\n");
  int rv = hub_attach_fd(hub, fd, head, (size_t)(p - head), copt, out);
  mem_free(&hub->opt.mem, head);
  return rv;
}

int hub_client_input(hub_t *hub, hub_client_id id, const void *data,
                     size_t len) {
  if (!hub || id == 0 || (!data && len) || len > INPUT_CALL_MAX)
    return HUB_EINVAL;
  if (!hub__accepting(hub))
    return HUB_ESTATE;
  struct shard *s = hub_shard_of(hub, id);
  /* A host reading faster than the shard handles it must pause: the
   * bytes stay the host's (its socket's buffer, its reading loop). */
  if (atomic_load_explicit(&s->input_pending, memory_order_relaxed) + len >
      SHARD_INPUT_MAX)
    return HUB_EAGAIN;
  struct cmd *c = hub__cmd_new(hub, CMD_INPUT, id, len);
  if (!c)
    return HUB_ENOMEM;
  if (len)
    memcpy(c->topic, data, len);
  atomic_fetch_add_explicit(&s->input_pending, len, memory_order_relaxed);
  hub__send_cmd(hub, c);
  return 0;
}
