/* Socket clients; see conn.h. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handshake.h"
#include "hub.h"
#include "admission.h"
#include "session.h"
#include "tls.h"
#include "ws.h"

static int64_t fd_writev(void *io, const struct iovec *iov, int n) {
  int fd = (int)(intptr_t)io;
  /* sendmsg for MSG_NOSIGNAL: a peer that hung up must not SIGPIPE the
   * host; writev for what is not a socket. */
  struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
  ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
  if (w < 0 && errno == ENOTSOCK)
    w = writev(fd, iov, n);
  if (w >= 0)
    return w;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return 0;
  return HUB_ESYS;
}

static void fd_close(void *io) { close((int)(intptr_t)io); }

const hub_transport conn_fd_transport = {sizeof(hub_transport), fd_writev,
                                         fd_close};

void conn_attach(struct shard *s, struct client *c) {
  int fl = fcntl(c->fd, F_GETFL);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  /* Frames are whole and coalesced by writev already; Nagle would only
   * hold back the last one. Fails harmlessly on non-TCP sockets. */
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (!handshake_attach(s, c))
    return; /* refused, or streaming already */
  struct session *se = session_of(c);
  if (se->want_tls) {
    struct proto_shard *ps = s->proto;
    if (!(se->tls = tls_conn_new(ps->tls, c->fd, &c->held))) {
      client_doom(s, c, HUB_CLOSE_TRANSPORT);
      return;
    }
    c->tp = tls_transport;
    c->io_user = se->tls;
    return; /* the ClientHello comes first */
  }
  handshake_step(s, c);
}

void conn_input(struct shard *s, struct client *c, const unsigned char *buf,
                size_t n) {
  struct session *se = session_of(c);
  se->got_input = true;
  se->input_ms = hub__now_ms();
  switch (c->kind) {
  case CLIENT_HTTP:
    handshake_input(s, c, buf, n);
    break;
  case CLIENT_WS:
    ws_input(s, c, buf, n);
    break;
  default:
    break; /* SSE clients have nothing to say; their bytes are dropped */
  }
}

void conn_eof(struct shard *s, struct client *c) {
  /* A client that sent its requests and then shut down its side (or
   * ended its stream) still gets the answers to them. */
  if (c->kind == CLIENT_HTTP && c->q.count && !c->close_after_flush) {
    client_close_after_flush(s, c, HUB_CLOSE_NORMAL);
    if (c->fd >= 0)
      session_of(c)->paused = true; /* the EOF is not read again */
    return;
  }
  int code = c->close_after_flush   ? c->close_code
             : c->kind == CLIENT_WS ? HUB_CLOSE_ABNORMAL
                                    : HUB_CLOSE_NORMAL;
  client_doom(s, c, code);
}

/* Reads a bounded number of times per event, TLS or not: with
 * level-triggered epoll a busy socket comes back next round instead of
 * starving the others. */
#define READS_PER_EVENT 4

static void read_plain(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  for (int i = 0; i < READS_PER_EVENT && c->state == CLIENT_OPEN && !se->paused;
       i++) {
    ssize_t n = read(c->fd, s->rbuf, SHARD_RBUF);
    if (n > 0) {
      conn_input(s, c, s->rbuf, (size_t)n);
      if ((size_t)n < SHARD_RBUF)
        break;
    } else if (n == 0) {
      conn_eof(s, c);
      break;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        conn_eof(s, c);
      break;
    }
  }
}

/* TLS: the same budget as plain sockets (a client streaming records
 * must not keep its shard in this loop). mbedTLS may then hold input the
 * socket will not signal again; such a client is read again on the
 * shard's next pass (shard_reread), before it waits. */
static void read_tls(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  struct tls_conn *t = se->tls;
  if (!t)
    return;
  for (int i = 0; i < READS_PER_EVENT && c->state == CLIENT_OPEN && !se->paused;
       i++) {
    ssize_t n = tls_read(t, s->rbuf, SHARD_RBUF);
    if (n > 0) {
      conn_input(s, c, s->rbuf, (size_t)n);
    } else {
      if (n == 0 || n == -2)
        conn_eof(s, c);
      return;
    }
  }
  if (c->state == CLIENT_OPEN && !se->paused && tls_has_buffered(t))
    shard_reread(s, c);
}

/* HTTP keep-alive: a connection whose answers are not written yet
 * (handshake_paused()) is not read, so a client pipelining requests
 * without reading the answers stops being served and its socket's
 * buffers fill, instead of the server's memory. With the socket full
 * (EPOLLOUT armed) it waits for EPOLLOUT alone, which level-triggered
 * EPOLLIN would not let it do; otherwise the answers go out in this
 * round's writes and it is looked at again after them. */
static void hold_back(struct shard *s, struct client *c) {
  session_of(c)->paused = true;
  if (c->blocked && c->epollout) {
    /* shard_want_write(), on EPOLLOUT, sets EPOLLIN again */
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
      client_doom(s, c, HUB_CLOSE_TRANSPORT);
  } else {
    shard_reread(s, c);
  }
}

/* Whether an HTTP client is to be read now; a paused one whose answers
 * are out first goes on with the requests it sent before. */
static bool http_readable(struct shard *s, struct client *c, uint32_t *events) {
  struct session *se = session_of(c);
  if (!se->paused)
    return true;
  if (handshake_paused(c)) {
    if (*events & (EPOLLHUP | EPOLLERR))
      client_doom(s, c, HUB_CLOSE_NORMAL); /* gone: the answers cannot go */
    else
      hold_back(s, c);
    return false;
  }
  se->paused = false;
  *events |= EPOLLIN; /* what it was not read for meanwhile */
  handshake_step(s, c);
  if (c->state != CLIENT_OPEN)
    return false;
  if (se->paused) {
    hold_back(s, c);
    return false;
  }
  return true;
}

/* Advances a TLS handshake; true once it is done. */
static bool tls_ready(struct shard *s, struct client *c, struct tls_conn *t) {
  int r = tls_handshake(t);
  if (r < 0) {
    client_doom(s, c, HUB_CLOSE_TLS);
    return false;
  }
  shard_want_write(s, c, tls_wants_write(t));
  return r == 1;
}

void conn_event(struct shard *s, struct client *c, uint32_t events) {
  if (c->state != CLIENT_OPEN)
    return;
  struct session *se = session_of(c);
  if (se->tls && !se->tls_ready) {
    if (!(se->tls_ready = tls_ready(s, c, se->tls)))
      return;
    events |= EPOLLIN; /* the request may be in the same flight */
  }
  if (events & EPOLLOUT) {
    if (se->tls && tls_flush(se->tls) != 0) {
      if (tls_wants_write(se->tls))
        return; /* still full: EPOLLOUT stays armed */
      client_doom(s, c, HUB_CLOSE_TLS);
      return;
    }
    shard_want_write(s, c, false);
    c->blocked = false;
    client_mark_dirty(s, c);
  }
  if (c->kind == CLIENT_HTTP && !http_readable(s, c, &events))
    return;
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    return;
  if (se->tls)
    read_tls(s, c);
  else
    read_plain(s, c);
  if (se->paused && c->state == CLIENT_OPEN)
    hold_back(s, c);
}
