/* The shard event loop: commands, message fanout, coalesced flushes,
 * client teardown, and the drain on stop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "hub.h"
#include "replay.h"
#include "subscription.h"

/* The most messages a client is given between two of its writes: large
 * enough that a burst is written with one writev per client, small enough
 * to bound latency; not above the default queue cap (1,024 messages), so
 * a client that keeps up loses nothing to a burst. */
#define SHARD_BATCH 1024
/* Of those, the most a flush round takes in while it runs (see
 * flush_dirty()). A client written early in one round and late in the next
 * gets what that round took in after it, the next round's batch and what
 * that round took in before it, so a round's batch is SHARD_BATCH less two
 * of these. */
#define FLUSH_INTAKE_MAX 64
#define ROUND_BATCH (SHARD_BATCH - 2 * FLUSH_INTAKE_MAX)
/* How often aged history is swept out of topics nobody publishes to, and
 * write and idle timeouts are checked. */
#define HISTORY_SWEEP_MS 1000

/* The protocols' per-shard side, or NULL when the library was linked
 * without them (raw payloads only). */
static const struct shard_ops *sops(const struct shard *s) {
  return s->hub->proto ? s->hub->proto->shard : NULL;
}

/* When the shard next has timed work: a client timer, a history sweep,
 * the stop deadline. -1 if none. */
static int64_t next_due(struct shard *s) {
  int64_t first = s->next_sweep_ms ? s->next_sweep_ms : -1;
  for (int i = 0; i < TL_COUNT; i++) {
    struct client *c = s->timers[i].head;
    if (c && (first < 0 || c->due_ms < first))
      first = c->due_ms;
  }
  if (s->stopping && (first < 0 || s->deadline_ms < first))
    first = s->deadline_ms;
  int64_t proto = sops(s) ? sops(s)->next_due(s) : -1;
  if (proto >= 0 && (first < 0 || proto < first))
    first = proto;
  return first;
}

/* Points the shard's timerfd at `due` (ms, CLOCK_MONOTONIC; -1: off), so
 * its epoll fd, and a host loop polling it, wakes up in time. */
static void arm(struct shard *s, int64_t due) {
  if (due == s->armed_ms)
    return;
  struct itimerspec its = {{0, 0}, {0, 0}};
  if (due >= 0) {
    its.it_value.tv_sec = due / 1000;
    its.it_value.tv_nsec = (due % 1000) * 1000000 + 1; /* never {0, 0} */
  }
  if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
    s->armed_ms = due;
}

int shard_init(struct shard *s, struct hub *hub, unsigned idx,
               const struct hub_options *opt) {
  memset(s, 0, sizeof(*s));
  s->hub = hub;
  s->mem = &hub->opt.mem;
  s->idx = idx;
  s->evfd = s->tfd = -1;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0)
    return HUB_ESYS;
  s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->evfd < 0)
    return HUB_ESYS;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->evfd};
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) < 0)
    return HUB_ESYS;
  s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  ev.data.ptr = &s->tfd;
  if (s->tfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) < 0)
    return HUB_ESYS;
  s->armed_ms = -1;
  /* Until it first runs the shard is asleep: work queued before
   * hub_start() (or the host's first hub_shard_run()) writes the eventfd. */
  atomic_init(&s->wake, WAKE_ASLEEP);
  s->nap_ok = true;
  if (ti_ages(&hub->index) || hub->opt.write_timeout_ms ||
      hub->opt.idle_timeout_ms) {
    s->next_sweep_ms = hub__now_ms() + HISTORY_SWEEP_MS;
    arm(s, s->next_sweep_ms);
  }
  int rv = mpsc_ring_init(&s->ring, s->mem, hub->opt.shard_queue_size);
  if (rv)
    return rv;
  htable_init(&s->clients, s->mem);
  htable_init(&s->replayed, s->mem);
  registry_init(&s->reg, s->mem, &hub->key);
  s->rbuf = mem_malloc(s->mem, SHARD_RBUF);
  if (!s->rbuf)
    return HUB_ENOMEM;
  return sops(s) ? sops(s)->init(s, opt) : 0;
}

static void wake_write(struct shard *s) {
  uint64_t one = 1;
  /* Only fails if the counter would overflow, which a pending wake-up
   * already covers. */
  ssize_t rv = write(s->evfd, &one, sizeof(one));
  (void)rv;
}

void shard_wake(struct shard *s) {
  /* A read-modify-write, never a plain load: it is ordered against the
   * shard's own exchange and compare-exchange on `wake`. If it comes
   * first, the shard's later one reads WAKE_PENDING and synchronizes with
   * it, so the shard sees the work queued before this call and does not
   * wait. If it comes after, it reads the mode the shard declared. Only
   * the first producer to find the shard asleep writes the eventfd (the
   * write is a syscall, several µs on a VM, plus the wake-up it causes). */
  unsigned prev =
      atomic_fetch_or_explicit(&s->wake, WAKE_PENDING, memory_order_acq_rel);
  if ((prev & (WAKE_ASLEEP | WAKE_PENDING)) == WAKE_ASLEEP)
    wake_write(s);
}

void shard_push_cmd(struct shard *s, struct cmd *c) {
  cmd_stack_push(&s->cmds, &c->node);
}

static int client_id_eq(const struct hnode *n, const void *key) {
  return container_of(n, struct client, node)->id ==
         *(const hub_client_id *)key;
}

struct client *shard_find_client(struct shard *s, hub_client_id id) {
  struct hnode *n = htable_find(&s->clients, hash_u64(id), client_id_eq, &id);
  struct client *c = n ? container_of(n, struct client, node) : NULL;
  return c && c->state == CLIENT_OPEN ? c : NULL;
}

void shard_reread(struct shard *s, struct client *c) {
  if (c->on_reread)
    return;
  c->on_reread = true;
  c->reread_next = s->reread;
  s->reread = c;
}

void shard_reread_cancel(struct shard *s, struct client *c) {
  if (!c->on_reread)
    return;
  for (struct client **link = &s->reread; *link; link = &(*link)->reread_next)
    if (*link == c) {
      *link = c->reread_next;
      break;
    }
  c->on_reread = false;
}

/* Reads the clients shard_reread() listed; those that still hold input
 * list themselves again. */
static void run_rereads(struct shard *s) {
  struct client *c = s->reread;
  s->reread = NULL;
  while (c) {
    struct client *next = c->reread_next;
    c->on_reread = false;
    c->ops->event(s, c, EPOLLIN);
    c = next;
  }
}

void shard_want_write(struct shard *s, struct client *c, bool on) {
  if (c->epollout == on)
    return;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0),
                           .data.ptr = c};
  if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
    c->epollout = on;
  else
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
}

static void attach(struct shard *s, struct client *c) {
  if (htable_insert(&s->clients, &c->node)) {
    c->close_code = HUB_CLOSE_TRANSPORT;
    client_destroy(s, c, false);
    return;
  }
  s->st.clients++;
  if (c->ops)
    c->ops->attach(s, c);
  if (s->stopping)
    client_close_after_flush(s, c, HUB_CLOSE_GOING_AWAY);
}

static void deliver(struct shard *s, struct msg *m);
static void deliver_upto(struct shard *s, int64_t seq);

struct lost {
  struct shard *s;
  int64_t seq;
  uint32_t n;
};

static void lost_to(struct lost *l, struct ltopic *t) {
  for (uint32_t i = 0; i < t->nsubs; i++) {
    struct sub *sub = t->subs[i];
    if (l->seq > sub->last_seq) { /* else it was never this sub's */
      client_note_lag(sub->client, sub, l->seq, l->n);
      client_mark_dirty(l->s, sub->client);
    }
  }
}

static void lost_to_pattern(void *val, void *ud) { lost_to(ud, val); }

/* A broadcast the ring had no room for, or messages lost before they
 * reached the hub (hub_report_loss; no topic: any): its subscribers here
 * are told (a "lagged" notice), so they can fetch it from history with
 * "since" or learn there that it is gone. */
static void note_lost(struct shard *s, int64_t seq, uint32_t count,
                      const char *topic, size_t len, uint64_t hash) {
  struct lost l = {s, seq, count};
  if (!len) {
    struct hnode *n, *tmp;
    HTABLE_FOREACH(&s->reg.topics, n, tmp) {
      lost_to(&l, container_of(n, struct ltopic, node));
    }
    return;
  }
  struct ltopic *t = registry_find(&s->reg, topic, len, hash);
  if (t)
    lost_to(&l, t);
  if (s->reg.patterns.count)
    ptrie_match(&s->reg.patterns, topic, len, lost_to_pattern, &l);
}

/* Lost messages past SHARD_LOST_CMDS: their topics were not kept. */
static void note_lost_more(struct shard *s) {
  if (!atomic_load_explicit(&s->lost_upto, memory_order_relaxed))
    return;
  int64_t upto = atomic_exchange(&s->lost_upto, 0);
  uint32_t n = atomic_exchange(&s->lost_more, 0);
  deliver_upto(s, upto);
  note_lost(s, upto, n ? n : 1, NULL, 0, 0);
}

static void run_cmd(struct shard *s, struct cmd *cmd) {
  struct hub *hub = s->hub;
  struct client *c;
  switch (cmd->type) {
  case CMD_ATTACH:
    attach(s, cmd->client);
    break;
  case CMD_SUBSCRIBE: {
    /* hub_subscribe() reserved the subscription; an existing one is owed
     * nothing more: a repeated subscribe must not replay history again. */
    struct sub *sub = NULL;
    int rv = HUB_EINVAL;
    if ((c = shard_find_client(s, cmd->id)))
      rv = subs_bind(s, c, cmd->topic, cmd->len, cmd->hash, &sub);
    else /* closed meanwhile */
      subs_unreserve(&hub->index, s->idx, cmd->topic, cmd->len, cmd->hash);
    if (rv == 1)
      shard_replay(s, c, sub, true, &cmd->replay, NULL);
    else
      replay_free(s->mem, &cmd->replay);
    break;
  }
  case CMD_UNSUBSCRIBE:
    if ((c = shard_find_client(s, cmd->id)))
      subs_drop(s, c, cmd->topic, cmd->len, cmd->hash);
    break;
  case CMD_CLOSE:
    if ((c = shard_find_client(s, cmd->id)))
      client_doom(s, c, cmd->code);
    break;
  case CMD_WRITABLE:
    if ((c = shard_find_client(s, cmd->id))) {
      c->blocked = false;
      client_mark_dirty(s, c);
    }
    break;
  case CMD_AUTH:
    if (sops(s))
      sops(s)->command(s, cmd);
    break;
  case CMD_LOST:
    atomic_fetch_sub(&s->lost_cmds, 1);
    deliver_upto(s, (int64_t)cmd->serial); /* told after what came before */
    note_lost(s, (int64_t)cmd->serial, cmd->lost, cmd->topic, cmd->len,
              cmd->hash);
    break;
  case CMD_INPUT:
    atomic_fetch_sub(&s->input_pending, cmd->len);
    /* A socket client's bytes are the hub's to read, not the host's. */
    if (!(c = shard_find_client(s, cmd->id)) || c->fd >= 0)
      break;
    if (c->ops && cmd->len)
      c->ops->input(s, c, (const unsigned char *)cmd->topic, cmd->len);
    else if (c->ops)
      c->ops->eof(s, c);
    else if (!cmd->len) /* raw payloads: nothing to read, but an end */
      client_doom(s, c, HUB_CLOSE_NORMAL);
    break;
  case CMD_SEND: {
    deliver_upto(s, cmd->msg->seq);
    struct smsg *sm = (c = shard_find_client(s, cmd->id)) ? smsg_get(s, cmd->msg)
                                                    : NULL;
    if (!sm) {
      msg_unref(s->mem, cmd->msg);
      break;
    }
    client_enqueue_past_caps(s, c, sm);
    if (sm->refs == 0)
      smsg_put(s, sm);
    break;
  }
  }
}

/* Delivers the messages already in this shard's ring that were broadcast
 * before hub_send_to() read the hub's seq, so the one-off message comes
 * after them as well as before everything later. */
static void deliver_upto(struct shard *s, int64_t seq) {
  struct msg *m;
  if (s->pending && s->pending->seq <= seq) {
    deliver(s, s->pending);
    s->pending = NULL;
  }
  if (s->pending)
    return; /* the ring's next ones come after the pending one */
  while ((m = mpsc_ring_peek(&s->ring)) && m->seq <= seq)
    deliver(s, mpsc_ring_pop(&s->ring));
}

static void run_cmds(struct shard *s) {
  /* Looking is a load; taking is an exchange on a line producers write. */
  if (cmd_stack_empty(&s->cmds))
    return;
  struct cmd_node *n = cmd_stack_take(&s->cmds), *next;
  for (; n; n = next) {
    next = n->next;
    struct cmd *cmd = container_of(n, struct cmd, node);
    run_cmd(s, cmd);
    mem_free(s->mem, cmd);
  }
}

struct fanout {
  struct shard *s;
  struct msg *m;
  struct smsg *sm; /* made on the first subscriber */
};

/* Prefetches run ahead of the loop in three steps (the sub, its client,
 * the client's next ring slot): with 10k subscribers none of them is in
 * cache, and at ~30 messages a round each message walks them all. */
static void fan_to(struct fanout *f, struct ltopic *t) {
  for (uint32_t i = 0; i < t->nsubs; i++) {
    if (i + 8 < t->nsubs)
      __builtin_prefetch(t->subs[i + 8]);
    if (i + 4 < t->nsubs)
      __builtin_prefetch(t->subs[i + 4]->client);
    if (i + 2 < t->nsubs) {
      const struct cqueue *q = &t->subs[i + 2]->client->q;
      __builtin_prefetch(&q->items[(q->head + q->count) & (q->cap - 1)], 1);
    }
    struct sub *sub = t->subs[i];
    struct client *c = sub->client;
    /* Replayed already or older than the subscription; or this client
     * got the message through another of its subscriptions. */
    if (f->m->seq <= sub->last_seq || f->m->seq == c->stamp)
      continue;
    if (!f->sm && !(f->sm = smsg_get(f->s, f->m)))
      return;
    sub->last_seq = c->stamp = f->m->seq;
    client_enqueue(f->s, c, f->sm);
  }
}

static void fan_to_pattern(void *val, void *ud) { fan_to(ud, val); }

/* Hands one message to every local subscriber of its topic or of a
 * pattern matching it. Consumes the shard's ref on `m`. */
static void deliver(struct shard *s, struct msg *m) {
  struct fanout f = {s, m, NULL};
  struct ltopic *t =
      registry_find(&s->reg, m->topic, m->topic_len, m->topic_hash);
  if (t)
    fan_to(&f, t);
  if (s->reg.patterns.count)
    ptrie_match(&s->reg.patterns, m->topic, m->topic_len, fan_to_pattern, &f);
  if (!f.sm)
    msg_unref(s->mem, m);
  else if (f.sm->refs == 0)
    smsg_put(s, f.sm);
}

/* Fans out up to `max` messages from the ring and returns how many. A
 * command pushed before a message (a subscribe, say) must take effect
 * before it, so waiting commands run first; a send_to among them may
 * deliver the message itself. */
static uint32_t take_messages(struct shard *s, uint32_t max) {
  uint32_t i;
  for (i = 0; i < max; i++) {
    struct msg *m = mpsc_ring_pop(&s->ring);
    if (!m)
      break;
    if (!cmd_stack_empty(&s->cmds)) {
      s->pending = m;
      run_cmds(s);
      m = s->pending;
      s->pending = NULL;
    }
    if (m)
      deliver(s, m);
  }
  return i;
}

/* Clients written between two looks at the sockets and the ring during a
 * flush round. */
#define FLUSH_INTAKE_EVERY 64

/* Handles the socket events pending now, mid-round: a publish request,
 * a control message. The eventfd and timerfd are left readable for the
 * next wait (run_events() runs the timers; reading the timerfd here would
 * lose its expiry). */
static void poll_sockets(struct shard *s) {
  struct epoll_event ev[64];
  int n = epoll_wait(s->epfd, ev, 64, 0);
  for (int i = 0; i < n; i++) {
    if (ev[i].data.ptr == &s->evfd || ev[i].data.ptr == &s->tfd)
      continue;
    struct client *c = ev[i].data.ptr;
    c->ops->event(s, c, ev[i].events);
    /* An answered request goes out now, not after the round: its client
     * (a publisher, say) waits for it before it sends the next one. */
    if (c->kind == CLIENT_HTTP && c->state == CLIENT_OPEN && c->q.count)
      client_flush(s, c);
  }
}

/* Writes every dirty client once. A round over thousands of sockets takes
 * tens of milliseconds; with `intake`, every FLUSH_INTAKE_EVERY clients it
 * runs the commands, handles the socket events that came in meanwhile and
 * fans out the messages that reached the ring, so the rest of this round
 * writes them already (the clients written before are marked dirty again,
 * for the next round) instead of every subscriber waiting for the round to
 * end and then for a whole round more: under load a message reaches every
 * subscriber within about one round instead of up to two, and a write
 * carries more messages. None of this frees a client (closes are reaped
 * after the round), so `next` stays valid. */
static void flush_dirty(struct shard *s, bool intake) {
  struct client *c = s->dirty;
  s->dirty = s->dirty_tail = NULL;
  uint32_t n = 0, taken = 0;
  while (c) {
    struct client *next = c->dirty_next;
    c->dirty = false;
    client_flush(s, c);
    c = next;
    if (intake && ++n % FLUSH_INTAKE_EVERY == 0 && taken < FLUSH_INTAKE_MAX) {
      run_cmds(s); /* an attach: a publisher's new connection */
      poll_sockets(s);
      taken += take_messages(s, FLUSH_INTAKE_MAX - taken);
    }
  }
}

/* Frees the doomed clients, except those still on the dirty list (a
 * round's intake put them on the next round's): they go on the reap after
 * the flush that takes them off it. */
static void reap(struct shard *s) {
  struct client **link = &s->doomed;
  while (*link) {
    struct client *c = *link;
    if (c->dirty) {
      link = &c->doomed_next;
      continue;
    }
    *link = c->doomed_next;
    client_destroy(s, c, true);
  }
}

/* hub_stop() began: every client is closed once its queue is written
 * (its protocol may say goodbye first), or at the deadline. */
static void begin_stop(struct shard *s) {
  struct hnode *n, *tmp;
  HTABLE_FOREACH(&s->clients, n, tmp) {
    struct client *c = container_of(n, struct client, node);
    if (c->state != CLIENT_OPEN)
      continue;
    if (c->ops)
      c->ops->stop(s, c);
    else
      client_close_after_flush(s, c, HUB_CLOSE_GOING_AWAY);
  }
  flush_dirty(s, false);
  reap(s);
}

static void close_all(struct shard *s) {
  /* Nothing more is written: the dirty list goes, so all can be reaped. */
  for (struct client *c = s->dirty; c; c = c->dirty_next)
    c->dirty = false;
  s->dirty = s->dirty_tail = NULL;
  struct hnode *n, *tmp;
  HTABLE_FOREACH(&s->clients, n, tmp)
  client_doom(s, container_of(n, struct client, node), HUB_CLOSE_GOING_AWAY);
  reap(s);
}

static void process(struct shard *s) {
  /* Read the stop request first, act on it last: whatever the host queued
   * before hub_stop() (an attach, a subscribe, a broadcast) is handled as
   * usual and then drained. */
  int64_t stop_deadline = atomic_load(&s->stop_deadline_ms);
  run_cmds(s);
  for (;;) {
    uint32_t n = take_messages(s, ROUND_BATCH);
    note_lost_more(s);
    flush_dirty(s, true);
    reap(s);
    if (n < ROUND_BATCH)
      break;
  }
  /* Clients the last round's intake marked dirty again are written on the
   * next pass, after the sockets' events, and clients whose TLS layer holds
   * input are read then: the shard must not sleep first. */
  if (s->dirty || s->reread)
    atomic_fetch_or_explicit(&s->wake, WAKE_PENDING, memory_order_acq_rel);
  if (stop_deadline && !s->stopping) {
    s->stopping = true;
    s->deadline_ms = stop_deadline;
    begin_stop(s);
  }
}

static void publish_stats(struct shard *s) {
  s->st.subscriptions = s->reg.nsubs;
#define X(f) atomic_store_explicit(&s->pub.f, s->st.f, memory_order_relaxed);
  SHARD_STATS(X)
#undef X
}

/* Handles the events one wait returned, then everything due. */
static void run_events(struct shard *s, struct epoll_event *ev, int n) {
  for (int i = 0; i < n; i++) {
    if (ev[i].data.ptr == &s->evfd || ev[i].data.ptr == &s->tfd) {
      uint64_t v; /* a wake-up or a timer: what is due is found below */
      ssize_t rv = read(*(int *)ev[i].data.ptr, &v, sizeof(v));
      (void)rv;
    } else {
      struct client *c = ev[i].data.ptr;
      c->ops->event(s, c, ev[i].events);
    }
  }
  run_rereads(s);
  run_timers(s);
  int64_t now = hub__now_ms();
  if (sops(s))
    sops(s)->tick(s, now);
  process(s);
  if (s->next_sweep_ms && now >= s->next_sweep_ms) {
    /* Each shard ages out the history of its share of the stripes. */
    for (unsigned i = s->idx; i < TI_STRIPES; i += s->hub->nshards)
      ti_sweep(&s->hub->index, i, now);
    if (sops(s))
      sops(s)->sweep(s, now);
    flush_dirty(s, false);
    reap(s);
    s->next_sweep_ms = now + HISTORY_SWEEP_MS;
  }
  if (s->stopping && (s->st.clients == 0 || now >= s->deadline_ms)) {
    close_all(s);
    s->exited = true;
  }
  arm(s, s->exited ? -1 : next_due(s));
  publish_stats(s);
}

/* Host-loop mode: the host waits on the epoll fd, so the shard counts as
 * asleep whenever the host is outside this call. */
int shard_run_once(struct shard *s, int timeout_ms) {
  if (s->exited)
    return 0;
  struct epoll_event ev[64];
  int n = epoll_wait(s->epfd, ev, 64, timeout_ms);
  if (n < 0)
    n = 0; /* EINTR: handle whatever is pending anyway */
  /* Running: from here on producers only mark their work pending. */
  atomic_exchange_explicit(&s->wake, 0, memory_order_acq_rel);
  run_events(s, ev, n);
  /* Work queued since the exchange may have been missed by the drain: its
   * producer saw the shard running and wrote nothing, so the eventfd is
   * written here, making the epoll fd readable for the host. */
  unsigned prev =
      atomic_fetch_or_explicit(&s->wake, WAKE_ASLEEP, memory_order_acq_rel);
  if (prev & WAKE_PENDING)
    wake_write(s);
  return n;
}

/* The shard thread's wait. A broadcast every millisecond (a database
 * commit hook) finds an idle shard asleep each time, and waking it costs
 * the broadcaster an eventfd write: ~5 µs p50, 10-20 µs p99 on a 2-vCPU
 * VM. So for SHARD_NAP_WINDOW_MS after a producer last queued work the
 * shard naps instead: it waits at most SHARD_NAP_US, with WAKE_NAPPING
 * set, and looks at its queues when that ends; producers write nothing.
 * The price: a message can wait up to a nap (plus timer slack) before its
 * fanout starts, and a recently busy idle shard wakes every SHARD_NAP_US
 * until the window closes; after that it sleeps until woken, as before.
 * Spinning instead would not help: at 1000/s the shard sits idle for
 * 200 µs to 1 ms between messages, too long to spin on two CPUs. */
#ifndef SHARD_NAP_US
#define SHARD_NAP_US 100
#endif
#ifndef SHARD_NAP_WINDOW_MS
#define SHARD_NAP_WINDOW_MS 3
#endif

static int shard_wait(struct shard *s, struct epoll_event *ev, int max) {
  unsigned mode =
      s->nap_ok && hub__now_ms() - s->last_woken_ms < SHARD_NAP_WINDOW_MS
          ? WAKE_NAPPING
          : WAKE_ASLEEP;
  unsigned expect = 0;
  int n;
  /* The mode is declared only if no work came in while the shard ran;
   * else it goes round again at once, still polling its sockets. */
  if (!atomic_compare_exchange_strong_explicit(&s->wake, &expect, mode,
                                               memory_order_acq_rel,
                                               memory_order_acquire)) {
    n = epoll_wait(s->epfd, ev, max, 0);
  } else if (mode == WAKE_ASLEEP) {
    n = epoll_wait(s->epfd, ev, max, -1);
  } else {
    struct timespec nap = {0, SHARD_NAP_US * 1000};
    n = epoll_pwait2(s->epfd, ev, max, &nap, NULL);
    if (n < 0 && errno == ENOSYS)
      s->nap_ok = false; /* a kernel before 5.11: sleep until woken */
  }
  if (n < 0)
    n = 0; /* EINTR, ENOSYS: handle whatever is pending anyway */
  unsigned prev = atomic_exchange_explicit(&s->wake, 0, memory_order_acq_rel);
  if (prev & WAKE_PENDING)
    s->last_woken_ms = hub__now_ms();
  return n;
}

void *shard_main(void *arg) {
  struct shard *s = arg;
  struct epoll_event ev[64];
  while (!s->exited)
    run_events(s, ev, shard_wait(s, ev, 64));
  return NULL;
}

void shard_destroy(struct shard *s) {
  if (s->epfd < 0 && s->evfd < 0 && s->tfd < 0 && !s->ring.slots)
    return;
  if (s->ring.slots) {
    run_cmds(s);
    struct msg *m;
    while ((m = mpsc_ring_pop(&s->ring)))
      msg_unref(s->mem, m);
    close_all(s);
    publish_stats(s);
    mpsc_ring_destroy(&s->ring, s->mem);
  }
  smsg_pool_destroy(s);
  mem_free(s->mem, s->rbuf);
  if (s->hub && sops(s))
    sops(s)->destroy(s);
  registry_destroy(&s->reg);
  htable_destroy(&s->clients);
  if (s->evfd >= 0)
    close(s->evfd);
  if (s->tfd >= 0)
    close(s->tfd);
  if (s->epfd >= 0)
    close(s->epfd);
  s->evfd = s->epfd = s->tfd = -1;
}
