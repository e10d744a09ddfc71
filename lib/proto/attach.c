/* Attaching sockets (hub_attach_fd, hub_attach_fd_request): the protocol
 * layer's side of the public API. Host streams (hub_attach_transport,
 * hub_client_input) are the core's, in hub.c. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "handshake.h"
#include "hub.h"
#include "session.h"

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
  if (!(cmd = hub__cmd_new(hub, CMD_ATTACH, 0, 0))) {
    rv = HUB_ENOMEM;
    goto fail;
  }
  if ((rv = hub__client_new(hub, copt, proto, &c)))
    goto fail;
  struct session *se = session_of(c);
  /* A head the host read is copied now; bytes read later go to a buffer
   * only if the request has to wait for more (see struct handshake). */
  if (head_len && !(se->hs = handshake_new(&hub->opt.mem, head_cap(hub),
                                           head, head_len))) {
    rv = HUB_ENOMEM;
    goto fail;
  }
  c->fd = fd;
  c->tp = conn_fd_transport;
  c->io_user = (void *)(intptr_t)fd;
  se->want_tls = copt && copt->tls; /* the shard sets up the TLS side */
  hub__attach_client(hub, c, cmd, out);
  return 0;

fail:
  hub__client_discard(hub, c);
  mem_free(&hub->opt.mem, cmd);
  close(fd);
  return rv;
}

/* A request string may not smuggle in a line break. */
static bool clean(const char *s) { return s && !strpbrk(s, "\r\n"); }

int hub_attach_fd_request(hub_t *hub, int fd, const hub_request *req,
                          const hub_client_options *copt, hub_client_id *out) {
  hub_request r;
  if (!hub || fd < 0 || !req || hub__copy_sized(&r, sizeof(r), req, sizeof(r)) ||
      !clean(r.method) || !clean(r.target) || (r.nheaders && !r.headers) ||
      (r.extra_len && !r.extra))
    return HUB_EINVAL;
  size_t len = strlen(r.method) + strlen(r.target) + 13;
  for (size_t i = 0; i < r.nheaders; i++) {
    if (!clean(r.headers[i].name) || !clean(r.headers[i].value))
      return HUB_EINVAL;
    len += strlen(r.headers[i].name) + strlen(r.headers[i].value) + 4;
  }
  len += 2;
  /* The bytes past the head are kept like those hub_attach_fd() gets. */
  if (len > hub->opt.max_request_head || r.extra_len > head_cap(hub) - len)
    return HUB_EINVAL;
  char *head = mem_malloc(&hub->opt.mem, len + 1 + r.extra_len);
  if (!head) {
    close(fd);
    return HUB_ENOMEM;
  }
  char *p = head + sprintf(head, "%s %s HTTP/1.1\r\n", r.method, r.target);
  for (size_t i = 0; i < r.nheaders; i++)
    p += sprintf(p, "%s: %s\r\n", r.headers[i].name, r.headers[i].value);
  p += sprintf(p, "\r\n");
  if (r.extra_len) {
    memcpy(p, r.extra, r.extra_len);
    p += r.extra_len;
  }
  int rv = hub_attach_fd(hub, fd, head, (size_t)(p - head), copt, out);
  mem_free(&hub->opt.mem, head);
  return rv;
}
