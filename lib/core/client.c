/* Per-client delivery: limits and slow-client policy on enqueue, coalesced
 * writes on flush, and teardown. Shard thread only. */
#include "client.h"

#include <sys/epoll.h>

#include "hub.h"
#include "subscription.h"
#include "wildcard.h"

void client_mark_dirty(struct shard *s, struct client *c) {
  if (!c->dirty) {
    /* First marked, first written: a request's answer, queued before the
     * fanout it caused, does not wait behind every subscriber's write. */
    c->dirty = true;
    c->dirty_next = NULL;
    if (s->dirty_tail)
      s->dirty_tail->dirty_next = c;
    else
      s->dirty = c;
    s->dirty_tail = c;
  }
}

void client_doom(struct shard *s, struct client *c, int code) {
  if (c->state != CLIENT_OPEN)
    return;
  c->state = CLIENT_DOOMED;
  c->close_code = code;
  c->doomed_next = s->doomed;
  s->doomed = c;
  if (code == HUB_CLOSE_POLICY)
    s->st.evictions++;
}

static void discard_head(struct shard *s, struct client *c, struct smsg *sm) {
  s->st.bytes_queued -= cqueue_len_of(&c->q, sm);
  smsg_release(s, sm);
}

void client_note_drop(struct shard *s, struct client *c,
                      const struct msg *m) {
  c->drops++;
  s->st.drops++;
  if (!m)
    return;
  /* The subscription it came through: the topic's own, or a pattern. */
  struct sub *sub = registry_find_sub(&s->reg, c, &c->subs, m->topic,
                                      m->topic_len, m->topic_hash);
  for (struct sub *p = c->subs.head; !sub && p; p = p->cnext)
    if (p->topic->pattern && pattern_match(p->topic->name, p->topic->len,
                                           m->topic, m->topic_len))
      sub = p;
  if (sub) {
    client_note_lag(c, sub, m->seq, 1);
    /* The notice goes out with the next flush, not with the next
     * message that happens to fit. */
    client_mark_dirty(s, c);
  }
}

void client_note_lag(struct client *c, struct sub *sub, int64_t seq,
                     uint32_t n) {
  bool first = sub->lag_n == 0;
  sub->lag_n = sub->lag_n > UINT32_MAX - n ? UINT32_MAX : sub->lag_n + n;
  if (first || seq < sub->lag_from)
    sub->lag_from = seq;
  if (first || seq > sub->lag_to)
    sub->lag_to = seq;
  c->lag_pending = true;
}

/* Whether a frame of `len` bytes may join the client's queue. A frame
 * larger than the byte cap alone is let into a queue that holds no other
 * message (only the client's own frames, or a head partly written): else
 * a message that big would be accepted by hub_broadcast() and reach
 * nobody. It costs no more memory: frames are shared, a client holds a
 * reference. */
static bool fits(const struct client *c, size_t len) {
  if (c->q.count >= c->max_msgs)
    return false;
  if (c->q.bytes + len <= c->max_bytes)
    return true;
  return len > c->max_bytes && cqueue_holds_no_message(&c->q);
}

/* Queues sm (encoded for the client's wire), counted in the stats. */
static void push(struct shard *s, struct client *c, struct smsg *sm,
                 uint32_t limit) {
  if (cqueue_push(&c->q, s->mem, sm, limit)) {
    client_note_drop(s, c, sm->msg);
    return;
  }
  sm->refs++;
  s->st.bytes_queued += cqueue_len_of(&c->q, sm);
  client_mark_dirty(s, c);
}

void client_enqueue(struct shard *s, struct client *c, struct smsg *sm) {
  if (c->state != CLIENT_OPEN || c->kind == CLIENT_HTTP)
    return;
  if (sm->msg && (sm->msg->flags & MSG_PRESENCE) && c->q.wire == WIRE_RAW)
    return; /* host transports carry payloads only */
  if (!smsg_encode(s, sm, (enum wire)c->q.wire)) {
    client_note_drop(s, c, sm->msg);
    return;
  }
  size_t len = cqueue_len_of(&c->q, sm);
  if (!fits(c, len)) {
    if (c->policy == HUB_DISCONNECT) {
      client_doom(s, c, HUB_CLOSE_POLICY);
      return;
    }
    struct smsg *old;
    while (!fits(c, len) && (old = cqueue_drop_oldest(&c->q))) {
      s->st.bytes_queued -= cqueue_len_of(&c->q, old);
      client_note_drop(s, c, old->msg);
      smsg_release(s, old);
    }
    if (!fits(c, len)) {
      /* Stuck behind a partly written head: the new message is the one
       * dropped. */
      client_note_drop(s, c, sm->msg);
      return;
    }
  }
  push(s, c, sm, c->max_msgs);
}

bool client_enqueue_replay(struct shard *s, struct client *c,
                           struct smsg *sm) {
  if (c->state != CLIENT_OPEN || c->kind == CLIENT_HTTP)
    return false;
  if (!smsg_encode(s, sm, (enum wire)c->q.wire) ||
      !fits(c, cqueue_len_of(&c->q, sm))) {
    client_note_drop(s, c, sm->msg);
    return false;
  }
  uint32_t count = c->q.count;
  push(s, c, sm, c->max_msgs);
  return c->q.count > count;
}

void client_enqueue_past_caps(struct shard *s, struct client *c,
                              struct smsg *sm) {
  if (c->state != CLIENT_OPEN || c->kind == CLIENT_HTTP)
    return;
  if (!smsg_encode(s, sm, (enum wire)c->q.wire)) {
    client_note_drop(s, c, sm->msg);
    return;
  }
  push(s, c, sm, UINT32_MAX / 2);
}

void client_enqueue_pinned(struct shard *s, struct client *c, struct smsg *sm) {
  if (c->state != CLIENT_OPEN) {
    sm->refs++; /* taken over, and let go: a fresh frame is freed */
    smsg_release(s, sm);
    return;
  }
  sm->refs++;
  if (cqueue_push(&c->q, s->mem, sm, UINT32_MAX / 2)) {
    smsg_release(s, sm);
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  s->st.bytes_queued += cqueue_len_of(&c->q, sm);
  client_mark_dirty(s, c);
  /* Own frames go past the caps so a notice is never lost, but a client
   * that makes us answer (pings, requests) without reading the answers
   * must not grow its queue forever. */
  if (c->q.count > 2 * (uint64_t)c->max_msgs || c->q.bytes > 2 * c->max_bytes)
    client_doom(s, c, HUB_CLOSE_POLICY);
}

void client_send_own(struct shard *s, struct client *c, const void *data,
                     size_t len) {
  struct smsg *sm = smsg_private(s, (enum wire)c->q.wire, data, len);
  if (sm)
    client_enqueue_pinned(s, c, sm);
  else
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
}

void client_close_after_flush(struct shard *s, struct client *c, int code) {
  if (!c->close_after_flush) {
    c->close_after_flush = true;
    c->close_code = code;
  }
  client_mark_dirty(s, c);
}

/* One "lagged" notice per subscription with drops not reported yet (a
 * client without a protocol layer only has them counted). */
static void report_lags(struct shard *s, struct client *c) {
  for (struct sub *sub = c->subs.head; sub && c->state == CLIENT_OPEN;
       sub = sub->cnext) {
    if (!sub->lag_n)
      continue;
    if (c->ops)
      c->ops->lagged(s, c, sub->topic->name, sub->topic->len, sub->lag_n,
                     sub->lag_from, sub->lag_to);
    sub->lag_n = 0;
  }
}

#define FLUSH_IOV 64

void client_flush(struct shard *s, struct client *c) {
  if (c->lag_pending && !c->blocked && c->state == CLIENT_OPEN) {
    c->lag_pending = false;
    report_lags(s, c);
  }
  while (c->state == CLIENT_OPEN && !c->blocked && c->q.count) {
    struct iovec iov[FLUSH_IOV];
    int n = 0;
    size_t total = 0;
    for (uint32_t i = 0; i < c->q.count && n < FLUSH_IOV; i++) {
      iov[n] = *cqueue_frame(&c->q, cqueue_at(&c->q, i));
      if (i == 0) {
        iov[n].iov_base = (char *)iov[n].iov_base + c->q.head_off;
        iov[n].iov_len -= c->q.head_off;
      }
      total += iov[n].iov_len;
      if (iov[n].iov_len)
        n++;
    }
    int64_t w = 0;
    if (total) {
      w = c->tp.writev(c->io_user, iov, n);
      if (w < 0 || (uint64_t)w > total) {
        client_doom(s, c, HUB_CLOSE_TRANSPORT);
        return;
      }
    }
    size_t left = (size_t)w;
    while (c->q.count) {
      struct smsg *head = cqueue_at(&c->q, 0);
      size_t rem = cqueue_len_of(&c->q, head) - c->q.head_off;
      if (rem > left) {
        c->q.head_off += left;
        break;
      }
      left -= rem;
      struct smsg *done = cqueue_pop(&c->q);
      if (done->msg) { /* a broadcast, not a reply or a ping */
        c->deliveries++;
        s->st.deliveries++;
      }
      discard_head(s, c, done);
    }
    if (w > 0)
      c->stuck_ms = 0; /* progress */
    if ((size_t)w < total || c->held) {
      c->blocked = true;
      if (!c->stuck_ms)
        c->stuck_ms = hub__now_ms();
      if (c->fd >= 0)
        shard_want_write(s, c, true);
    }
  }
  cqueue_shrink(&c->q, s->mem);
  if (c->close_after_flush && c->q.count == 0)
    client_doom(s, c, c->close_code);
}

void client_destroy(struct shard *s, struct client *c, bool in_map) {
  struct hub *hub = s->hub;
  timer_remove(s, c);
  shard_reread_cancel(s, c);
  if (c->ops)
    c->ops->release(s, c);
  if (c->fd >= 0)
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  subs_drop_all(s, c);
  while (c->q.count)
    discard_head(s, c, cqueue_pop(&c->q));
  cqueue_free(&c->q, s->mem);
  if (in_map) {
    htable_remove(&s->clients, &c->node);
    s->st.clients--;
  }
  s->st.clients_closed++;
  if (c->tp.close)
    c->tp.close(c->io_user);
  if (hub->opt.on_close) {
    hub_close_info info = {c->id,    c->close_code, c->user_data,
                           c->drops, c->deliveries,
                           c->principal ? c->principal : ""};
    hub->opt.on_close(hub, &info, hub->opt.on_close_user_data);
  }
  mem_free(s->mem, c->principal);
  mem_free(s->mem, c);
}
