/* Hub lifecycle and the public entry points that travel to shards:
 * attach, subscribe, unsubscribe, close, writable, broadcast, stats. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "wildcard.h"
#include "subscription.h"
#include "hub.h"

#pragma weak hub__protocols

int hub_new(hub_t **out, const hub_options *opt) {
  if (!out)
    return HUB_EINVAL;
  struct hub_options o;
  if (opt)
    o = *opt;
  else
    hub__options_defaults(&o);
  hub_t *hub = o.mem.calloc(1, sizeof(*hub), o.mem.user_data);
  if (!hub)
    return HUB_ENOMEM;
  hub->opt = o;
  /* Whatever the options own stays theirs: the hub keeps its own copies
   * (origins below, history rules in the index, TLS in the shards). */
  hub->opt.hist_rules = NULL;
  hub->opt.nhist_rules = 0;
  hub->opt.origins = NULL;
  hub->opt.norigins = 0;
  hub->opt.presence = NULL; /* the index copies it */
  hub->opt.npresence = 0;
  hub->opt.tls_cert = hub->opt.tls_key = NULL;
  const hub_mem *mem = &hub->opt.mem;
  hub->proto = &hub__protocols;
  if (hub->proto)
    hub->proto->init(hub);
  if (getrandom(&hub->key, sizeof(hub->key), GRND_NONBLOCK) !=
      (ssize_t)sizeof(hub->key)) {
    /* No entropy yet (early boot): the seed only hardens hashing against
     * chosen topic names, so fall back to something unpredictable enough. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    hub->key.k0 = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    hub->key.k1 = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)hub;
  }
  snprintf(hub->epoch, sizeof(hub->epoch), "%016" PRIx64,
           (uint64_t)(hub->key.k0 ^ (hub->key.k1 * 0x9e3779b97f4a7c15ULL)));
  hub->nshards = o.shards;
  atomic_init(&hub->state, HUB_NEW);
  atomic_init(&hub->next_id, 0);
  atomic_init(&hub->broadcasts, 0);
  atomic_init(&hub->seq, 0);
  int rv = topic_index_init(&hub->index, mem, hub->nshards, &hub->seq,
                            &hub->key, &o.hist_default, o.hist_rules,
                            o.nhist_rules, o.presence, o.npresence);
  if (rv)
    goto fail;
  if (o.norigins &&
      !(hub->opt.origins = mem_calloc(mem, o.norigins, sizeof(char *)))) {
    rv = HUB_ENOMEM;
    goto fail;
  }
  for (size_t i = 0; i < o.norigins; i++) {
    size_t n = strlen(o.origins[i]) + 1;
    if (!(hub->opt.origins[i] = mem_malloc(mem, n))) {
      rv = HUB_ENOMEM;
      goto fail;
    }
    memcpy(hub->opt.origins[i], o.origins[i], n);
    hub->opt.norigins = i + 1;
  }
  hub->shards = mem_calloc(mem, hub->nshards, sizeof(*hub->shards));
  if (!hub->shards) {
    rv = HUB_ENOMEM;
    goto fail;
  }
  for (unsigned i = 0; i < hub->nshards; i++)
    hub->shards[i].epfd = hub->shards[i].evfd = hub->shards[i].tfd = -1;
  for (unsigned i = 0; i < hub->nshards; i++)
    if ((rv = shard_init(&hub->shards[i], hub, i, &o)))
      goto fail;
  hub->tls = o.tls_cert != NULL;
  *out = hub;
  return 0;

fail:
  hub_free(hub);
  return rv;
}

static int state(const hub_t *hub) { return atomic_load(&hub->state); }

int hub_start(hub_t *hub) {
  if (!hub)
    return HUB_EINVAL;
  int expect = HUB_NEW;
  if (!atomic_compare_exchange_strong(&hub->state, &expect, HUB_RUNNING))
    return HUB_ESTATE;
  if (!hub->opt.threads)
    return 0;
  /* Shard threads take no signals: those belong to the host's threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rv = 0;
  for (unsigned i = 0; i < hub->nshards; i++) {
    struct shard *s = &hub->shards[i];
    if (pthread_create(&s->thread, NULL, shard_main, s)) {
      rv = HUB_ESYS;
      break;
    }
    s->thread_started = true;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rv)
    hub_stop(hub, 0);
  return rv;
}

int hub_stop(hub_t *hub, int drain_ms) {
  if (!hub)
    return HUB_EINVAL;
  int expect = HUB_RUNNING;
  if (!atomic_compare_exchange_strong(&hub->state, &expect, HUB_STOPPING))
    return HUB_ESTATE;
  int64_t deadline = hub__now_ms() + (drain_ms > 0 ? drain_ms : 0);
  for (unsigned i = 0; i < hub->nshards; i++) {
    struct shard *s = &hub->shards[i];
    atomic_store(&s->stop_deadline_ms, deadline);
    shard_wake(s);
  }
  if (hub->opt.threads) {
    for (unsigned i = 0; i < hub->nshards; i++) {
      struct shard *s = &hub->shards[i];
      if (s->thread_started) {
        pthread_join(s->thread, NULL);
        s->thread_started = false;
      }
    }
  } else {
    for (bool busy = true; busy;) {
      busy = false;
      for (unsigned i = 0; i < hub->nshards; i++) {
        struct shard *s = &hub->shards[i];
        if (!s->exited) {
          shard_run_once(s, 1);
          busy = true;
        }
      }
    }
  }
  atomic_store(&hub->state, HUB_STOPPED);
  return 0;
}

void hub_free(hub_t *hub) {
  if (!hub)
    return;
  if (state(hub) == HUB_RUNNING)
    hub_stop(hub, 0);
  const hub_mem mem = hub->opt.mem;
  if (hub->shards) {
    for (unsigned i = 0; i < hub->nshards; i++)
      shard_destroy(&hub->shards[i]);
    mem_free(&hub->opt.mem, hub->shards);
  }
  topic_index_destroy(&hub->index);
  if (hub->proto)
    hub->proto->destroy(hub);
  for (size_t i = 0; i < hub->opt.norigins; i++)
    mem_free(&hub->opt.mem, hub->opt.origins[i]);
  mem_free(&hub->opt.mem, hub->opt.origins);
  mem.free(hub, mem.user_data);
}

/* Calls that enqueue work for a client are allowed before hub_start() (the
 * work waits) and refused once the hub stops. */
int hub__accepting(const hub_t *hub) {
  int st = state(hub);
  return st == HUB_NEW || st == HUB_RUNNING;
}

int hub__check_topic(const hub_t *hub, const char *topic, size_t *len) {
  if (!topic)
    return HUB_EINVAL;
  size_t n = strnlen(topic, hub->opt.max_topic_len + 1);
  if (n == 0 || n > hub->opt.max_topic_len ||
      (pattern_is_wild(topic, n) && !ptrie_valid(topic, n)))
    return HUB_ETOPIC;
  *len = n;
  return 0;
}

/* A topic a message can be sent to: hub__check_topic() and no pattern
 * ("*" and ">" tokens are for subscribing). */
static int check_msg_topic(const hub_t *hub, const char *topic, size_t *len) {
  int rv = hub__check_topic(hub, topic, len);
  if (!rv && pattern_is_wild(topic, *len))
    rv = HUB_ETOPIC;
  return rv;
}

struct cmd *hub__cmd_new(struct hub *hub, enum cmd_type type,
                         hub_client_id id, size_t topic_len) {
  struct cmd *c = mem_malloc(&hub->opt.mem, sizeof(*c) + topic_len + 1);
  if (c) {
    memset(c, 0, sizeof(*c));
    c->type = (uint8_t)type;
    c->id = id;
    c->len = topic_len;
  }
  return c;
}

void hub__send_cmd(struct hub *hub, struct cmd *c) {
  struct shard *s = hub_shard_of(hub, c->id);
  shard_push_cmd(s, c);
  shard_wake(s);
}

int hub__client_new(hub_t *hub, const hub_client_options *copt,
                    hub_protocol proto, struct client **out) {
  static const uint8_t kind[] = {[HUB_PROTO_RAW] = CLIENT_HOST,
                                 [HUB_PROTO_HTTP] = CLIENT_HTTP,
                                 [HUB_PROTO_WEBSOCKET] = CLIENT_WS,
                                 [HUB_PROTO_SSE] = CLIENT_SSE};
  *out = NULL;
  if (proto != HUB_PROTO_RAW && !hub->proto)
    return HUB_EINVAL; /* linked without the protocols */
  struct client *c = mem_calloc(
      &hub->opt.mem, 1,
      proto == HUB_PROTO_RAW ? sizeof(*c) : hub->proto->client_size);
  if (!c)
    return HUB_ENOMEM;
  c->id = atomic_fetch_add(&hub->next_id, 1) + 1;
  c->node.hash = hash_u64(c->id);
  c->fd = -1;
  c->tlist = TL_NONE;
  cqueue_init(&c->q, WIRE_RAW);
  c->max_msgs = hub->opt.queue_max_msgs;
  c->max_bytes = hub->opt.queue_max_bytes;
  c->policy = (uint8_t)hub->opt.policy;
  c->state = CLIENT_OPEN;
  c->kind = kind[proto];
  c->ops = proto == HUB_PROTO_RAW ? NULL : hub->proto->client;
  if (copt) {
    if (copt->set & COPT_LIMITS) {
      c->max_msgs = copt->queue_max_msgs;
      c->max_bytes = copt->queue_max_bytes;
    }
    if (copt->set & COPT_POLICY)
      c->policy = (uint8_t)copt->policy;
    c->user_data = copt->user_data;
  }
  int rv = 0;
  if (copt && copt->principal) {
    size_t n = strlen(copt->principal) + 1;
    if ((c->principal = mem_malloc(&hub->opt.mem, n)))
      memcpy(c->principal, copt->principal, n);
    else
      rv = HUB_ENOMEM;
  }
  if (!rv && c->ops)
    rv = hub->proto->client_init(hub, c, copt);
  if (rv) {
    hub__client_discard(hub, c);
    return rv;
  }
  *out = c;
  return 0;
}

/* Frees a client that was set up but never attached. */
void hub__client_discard(hub_t *hub, struct client *c) {
  if (!c)
    return;
  if (c->ops)
    hub->proto->client_discard(hub, c);
  mem_free(&hub->opt.mem, c->principal);
  mem_free(&hub->opt.mem, c);
}

int hub_attach_transport(hub_t *hub, const hub_transport *tp, void *io_user,
                         const hub_client_options *copt, hub_client_id *out) {
  hub_transport t;
  if (!hub || !tp || !out || hub__copy_sized(&t, sizeof(t), tp, sizeof(t)) ||
      !t.writev)
    return HUB_EINVAL;
  if (!hub__accepting(hub))
    return HUB_ESTATE;
  hub_protocol proto = copt && copt->protocol ? copt->protocol : HUB_PROTO_RAW;
  struct client *c;
  struct cmd *cmd = hub__cmd_new(hub, CMD_ATTACH, 0, 0);
  int rv = cmd ? hub__client_new(hub, copt, proto, &c) : HUB_ENOMEM;
  if (rv) {
    mem_free(&hub->opt.mem, cmd);
    return rv;
  }
  c->tp = t;
  c->io_user = io_user;
  hub__attach_client(hub, c, cmd, out);
  return 0;
}

/* Queues the attach of a set-up client on its shard. */
void hub__attach_client(hub_t *hub, struct client *c, struct cmd *cmd,
                          hub_client_id *out) {
  cmd->id = c->id;
  cmd->client = c;
  *out = c->id;
  hub__send_cmd(hub, cmd);
}

static int simple_cmd(hub_t *hub, enum cmd_type type, hub_client_id id,
                      int code) {
  if (!hub || id == 0)
    return HUB_EINVAL;
  /* Writable notices still matter while hub_stop() drains. */
  if (!hub__accepting(hub) && !(type == CMD_WRITABLE && state(hub) == HUB_STOPPING))
    return HUB_ESTATE;
  struct cmd *c = hub__cmd_new(hub, type, id, 0);
  if (!c)
    return HUB_ENOMEM;
  c->code = code;
  hub__send_cmd(hub, c);
  return 0;
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

int hub_client_writable(hub_t *hub, hub_client_id id) {
  return simple_cmd(hub, CMD_WRITABLE, id, 0);
}

int hub_client_close(hub_t *hub, hub_client_id id, int code) {
  return simple_cmd(hub, CMD_CLOSE, id, code ? code : HUB_CLOSE_NORMAL);
}

struct push_arg {
  struct shard *s;
  struct cmd *cmd;
};

static void push_locked(void *arg) {
  struct push_arg *pa = arg;
  shard_push_cmd(pa->s, pa->cmd);
}

/* `since` < 0: a plain subscribe. */
static int topic_cmd(hub_t *hub, enum cmd_type type, hub_client_id id,
                     const char *topic, const char *epoch, int64_t since) {
  size_t len;
  if (!hub || id == 0)
    return HUB_EINVAL;
  int rv = hub__check_topic(hub, topic, &len);
  if (rv)
    return rv;
  if (!hub__accepting(hub))
    return HUB_ESTATE;
  struct cmd *c = hub__cmd_new(hub, type, id, len);
  if (!c)
    return HUB_ENOMEM;
  memcpy(c->topic, topic, len);
  c->topic[len] = '\0';
  c->hash = hash_bytes(&hub->key, topic, len);
  struct shard *s = hub_shard_of(hub, id);
  if (type == CMD_SUBSCRIBE) {
    /* The command is queued under the reservation's lock: a broadcast
     * that starts after this call sees the shard in the topic's mask and
     * lands in the shard's ring after this command, with a seq above the
     * snapshot's. */
    struct push_arg pa = {s, c};
    rv = subs_reserve(&hub->index, s->idx, topic, len, c->hash, since,
                      !epoch || strcmp(epoch, hub->epoch) == 0, &c->replay,
                      push_locked, &pa);
    if (rv) {
      mem_free(&hub->opt.mem, c);
      return rv;
    }
  } else {
    shard_push_cmd(s, c);
  }
  shard_wake(s);
  return 0;
}

int hub_subscribe(hub_t *hub, hub_client_id id, const char *topic) {
  return topic_cmd(hub, CMD_SUBSCRIBE, id, topic, NULL, -1);
}

int hub_subscribe_since(hub_t *hub, hub_client_id id, const char *topic,
                        const char *epoch, int64_t since) {
  if (since < 0)
    return HUB_EINVAL;
  return topic_cmd(hub, CMD_SUBSCRIBE, id, topic, epoch, since);
}

int hub_unsubscribe(hub_t *hub, hub_client_id id, const char *topic) {
  return topic_cmd(hub, CMD_UNSUBSCRIBE, id, topic, NULL, -1);
}

int hub_send_to(hub_t *hub, hub_client_id id, const char *topic,
                const void *data, size_t len, unsigned flags) {
  size_t tlen;
  if (!hub || id == 0 || (!data && len) ||
      (flags & ~(HUB_MSG_JSON | HUB_MSG_BINARY)))
    return HUB_EINVAL;
  int rv = check_msg_topic(hub, topic, &tlen);
  if (rv)
    return rv;
  if (!hub__accepting(hub))
    return HUB_ESTATE;
  struct cmd *c = hub__cmd_new(hub, CMD_SEND, id, 0);
  struct msg *m = msg_new(&hub->opt.mem, topic, tlen,
                          hash_bytes(&hub->key, topic, tlen), data, len,
                          flags);
  if (!c || !m) {
    mem_free(&hub->opt.mem, c);
    if (m)
      msg_unref(&hub->opt.mem, m);
    return HUB_ENOMEM;
  }
  m->seq = atomic_load_explicit(&hub->seq, memory_order_relaxed);
  m->ts_ms = hub__now_ms();
  c->msg = m;
  hub__send_cmd(hub, c);
  return 0;
}

struct msg *hub__msg(struct hub *hub, const char *topic, size_t tlen,
                     const void *data, size_t len, unsigned flags) {
  struct msg *m =
      msg_new(&hub->opt.mem, topic, tlen, hash_bytes(&hub->key, topic, tlen),
              data, len, flags);
  if (m)
    m->ts_ms = hub__now_ms();
  return m;
}

int64_t hub__publish(struct hub *hub, const char *topic, size_t tlen,
                     const void *data, size_t len, unsigned flags) {
  struct msg *m = hub__msg(hub, topic, tlen, data, len, flags);
  return m ? hub__publish_msg(hub, m) : HUB_ENOMEM;
}

/* Takes the next local seq, or `ext` when an engine assigned it (0 if
 * ext is not above the hub's seq: a duplicate). Under the stripe lock. */
static int64_t next_seq(struct hub *hub, unsigned flags, int64_t ext) {
  if (ext) {
    int64_t cur = atomic_load_explicit(&hub->seq, memory_order_relaxed);
    do {
      if (ext <= cur)
        return 0;
    } while (!atomic_compare_exchange_weak(&hub->seq, &cur, ext));
    return ext;
  }
  /* Under a relay the engine owns the numbering: a local presence event
   * carries the current seq, as hub_send_to() does. */
  if (hub->relay && (flags & MSG_PRESENCE))
    return atomic_load_explicit(&hub->seq, memory_order_relaxed);
  return atomic_fetch_add_explicit(&hub->seq, 1, memory_order_relaxed) + 1;
}

static int64_t publish(struct hub *hub, struct msg *m, int64_t ext);

int64_t hub__publish_msg(struct hub *hub, struct msg *m) {
  return publish(hub, m, 0);
}

int64_t hub__deliver_msg(struct hub *hub, struct msg *m, int64_t seq) {
  return publish(hub, m, seq);
}

static int64_t publish(struct hub *hub, struct msg *m, int64_t ext) {
  const char *topic = m->topic;
  size_t tlen = m->topic_len;
  uint64_t hash = m->topic_hash;
  unsigned flags = m->flags;

  /* Sequence number, history and pushes under the topic's stripe lock, so
   * every shard receives a topic's messages in sequence order and a
   * subscription's snapshot (topic_cmd) splits them exactly. */
  struct ti_stripe *st = ti_stripe_of(&hub->index, hash);
  uint64_t pushed = 0;
  uint32_t failed = 0;
  pthread_mutex_lock(&st->lock);
  int64_t seq = next_seq(hub, flags, ext);
  if (!seq) {
    pthread_mutex_unlock(&st->lock);
    msg_unref(&hub->opt.mem, m);
    return 0;
  }
  m->seq = seq;
  struct gtopic *t = (flags & MSG_PRESENCE)
                         ? ti_find_locked(st, topic, tlen, hash)
                         : ti_for_publish_locked(&hub->index, st, topic, tlen,
                                                 hash);
  uint64_t mask = ti_pat_mask(&hub->index, topic, tlen);
  if (t) {
    if (!(flags & MSG_PRESENCE)) {
      t->last_seq = seq;
      if (t->hist.lim.max_msgs)
        history_append(&t->hist, &hub->opt.mem, m, m->ts_ms,
                       &hub->index.totals);
    }
    mask |= t->mask;
  }
  msg_ref_n(m, (uint32_t)__builtin_popcountll(mask));
  uint64_t lost = 0;
  while (mask) {
    unsigned i = (unsigned)__builtin_ctzll(mask);
    mask &= mask - 1;
    if (mpsc_ring_push(&hub->shards[i].ring, m)) {
      pushed |= UINT64_C(1) << i;
    } else {
      atomic_fetch_add_explicit(&hub->shards[i].overflows, 1,
                                memory_order_relaxed);
      lost |= UINT64_C(1) << i;
      failed++;
    }
  }
  pthread_mutex_unlock(&st->lock);
  /* A full shard queue loses the message there, never silently: the
   * shard tells its subscribers, through a command for each loss up to
   * SHARD_LOST_CMDS outstanding, past them through lost_upto. */
  for (uint64_t l = lost; l; l &= l - 1) {
    struct shard *sh = &hub->shards[__builtin_ctzll(l)];
    struct cmd *c = NULL;
    if (atomic_fetch_add(&sh->lost_cmds, 1) < SHARD_LOST_CMDS)
      c = hub__cmd_new(hub, CMD_LOST, 0, tlen);
    if (c) {
      memcpy(c->topic, topic, tlen);
      c->topic[tlen] = '\0';
      c->hash = hash;
      c->serial = (uint64_t)seq;
      c->lost = 1;
      shard_push_cmd(sh, c);
    } else {
      /* Too many already (or no memory): no topic is kept for this one,
       * so the shard will tell all of its subscribers. */
      atomic_fetch_sub(&sh->lost_cmds, 1);
      int64_t cur = atomic_load(&sh->lost_upto);
      while (seq > cur && !atomic_compare_exchange_weak(&sh->lost_upto, &cur,
                                                        seq))
        ;
      atomic_fetch_add(&sh->lost_more, 1);
    }
    pushed |= UINT64_C(1) << sh->idx;
  }

  /* Wake-ups outside the lock: an eventfd write is a syscall. */
  while (pushed) {
    unsigned i = (unsigned)__builtin_ctzll(pushed);
    pushed &= pushed - 1;
    shard_wake(&hub->shards[i]);
  }
  if (failed)
    atomic_fetch_sub_explicit(&m->refs, failed, memory_order_relaxed);
  msg_unref(&hub->opt.mem, m);
  return seq;
}

int64_t hub_broadcast(hub_t *hub, const char *topic, const void *data,
                      size_t len, unsigned flags) {
  size_t tlen;
  if (!hub || (!data && len) || (flags & ~(HUB_MSG_JSON | HUB_MSG_BINARY)))
    return HUB_EINVAL;
  int rv = check_msg_topic(hub, topic, &tlen);
  if (rv)
    return rv;
  if (state(hub) != HUB_RUNNING)
    return HUB_ESTATE;
  int64_t seq = hub->relay ? hub->relay(hub, topic, tlen, data, len, flags,
                                        hub->relay_user_data)
                           : hub__publish(hub, topic, tlen, data, len, flags);
  if (seq >= 0)
    atomic_fetch_add_explicit(&hub->broadcasts, 1, memory_order_relaxed);
  return seq;
}

int hub_set_relay(hub_t *hub, hub_relay_fn fn, void *user_data) {
  if (!hub)
    return HUB_EINVAL;
  if (state(hub) != HUB_NEW)
    return HUB_ESTATE;
  hub->relay = fn;
  hub->relay_user_data = fn ? user_data : NULL;
  return 0;
}

int hub_set_sequence(hub_t *hub, const char *epoch, int64_t seq) {
  if (!hub || !epoch || seq < 0)
    return HUB_EINVAL;
  size_t n = strnlen(epoch, sizeof(hub->epoch));
  if (!n || n >= sizeof(hub->epoch))
    return HUB_EINVAL;
  for (size_t i = 0; i < n; i++) /* it ends up in SSE ids and JSON */
    if (!(epoch[i] >= '0' && epoch[i] <= '9') &&
        !(epoch[i] >= 'a' && epoch[i] <= 'z') &&
        !(epoch[i] >= 'A' && epoch[i] <= 'Z'))
      return HUB_EINVAL;
  if (state(hub) != HUB_NEW)
    return HUB_ESTATE;
  memcpy(hub->epoch, epoch, n + 1);
  atomic_store(&hub->seq, seq);
  /* What came before `seq` happened elsewhere: no resume from there can
   * be proven gapless here. */
  atomic_store(&hub->index.horizon, seq);
  atomic_store(&hub->index.loss_seq, seq);
  return 0;
}

int64_t hub_deliver(hub_t *hub, const char *topic, const void *data,
                    size_t len, unsigned flags, int64_t seq) {
  size_t tlen;
  if (!hub || (!data && len) || seq <= 0 ||
      (flags & ~(HUB_MSG_JSON | HUB_MSG_BINARY)))
    return HUB_EINVAL;
  int rv = check_msg_topic(hub, topic, &tlen);
  if (rv)
    return rv;
  if (state(hub) != HUB_RUNNING)
    return HUB_ESTATE;
  struct msg *m = hub__msg(hub, topic, tlen, data, len, flags);
  return m ? hub__deliver_msg(hub, m, seq) : HUB_ENOMEM;
}

int hub_report_loss(hub_t *hub, const char *topic, uint64_t count,
                    int64_t seq) {
  size_t tlen = 0;
  if (!hub || !count || seq <= 0)
    return HUB_EINVAL;
  if (topic) {
    int rv = check_msg_topic(hub, topic, &tlen);
    if (rv)
      return rv;
  }
  if (!hub__accepting(hub))
    return HUB_ESTATE;
  uint64_t hash = topic ? hash_bytes(&hub->key, topic, tlen) : 0;
  uint64_t mask = ti_note_loss(&hub->index, topic, tlen, hash, seq);
  /* The subscribers learn it in order with the messages around it. */
  while (mask) {
    struct shard *sh = &hub->shards[__builtin_ctzll(mask)];
    mask &= mask - 1;
    struct cmd *c = hub__cmd_new(hub, CMD_LOST, 0, tlen);
    if (!c)
      return HUB_ENOMEM;
    if (tlen)
      memcpy(c->topic, topic, tlen);
    c->topic[tlen] = '\0';
    c->hash = hash;
    c->serial = (uint64_t)seq;
    c->lost = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    atomic_fetch_add(&sh->lost_cmds, 1);
    shard_push_cmd(sh, c);
    shard_wake(sh);
  }
  return 0;
}

int hub_shard_count(const hub_t *hub) {
  return hub ? (int)hub->nshards : HUB_EINVAL;
}

int hub_shard_fd(const hub_t *hub, int i) {
  if (!hub || i < 0 || (unsigned)i >= hub->nshards)
    return HUB_EINVAL;
  return hub->shards[i].epfd;
}

int hub_shard_run(hub_t *hub, int i, int timeout_ms) {
  if (!hub || i < 0 || (unsigned)i >= hub->nshards)
    return HUB_EINVAL;
  if (hub->opt.threads || state(hub) != HUB_RUNNING)
    return HUB_ESTATE;
  return shard_run_once(&hub->shards[i], timeout_ms);
}

int hub_stats(hub_t *hub, hub_stats_t *out, size_t size) {
  if (!hub || !out || size > sizeof(hub_stats_t))
    return HUB_EINVAL;
  hub_stats_t s;
  memset(&s, 0, sizeof(s));
  for (unsigned i = 0; i < hub->nshards; i++) {
    struct shard *sh = &hub->shards[i];
#define LOAD(f) atomic_load_explicit(&sh->pub.f, memory_order_relaxed)
    s.clients += LOAD(clients);
    s.subscriptions += LOAD(subscriptions);
    s.deliveries += LOAD(deliveries);
    s.drops += LOAD(drops);
    s.evictions += LOAD(evictions);
    s.bytes_queued += LOAD(bytes_queued);
    s.clients_closed += LOAD(clients_closed);
    s.ws_accepted += LOAD(ws_accepted);
    s.sse_accepted += LOAD(sse_accepted);
    s.http_refused += LOAD(http_refused);
    s.auth_denied += LOAD(auth_denied);
    s.auth_timeouts += LOAD(auth_timeouts);
    s.origin_refused += LOAD(origin_refused);
    s.capacity_refused += LOAD(capacity_refused);
    s.rate_limited += LOAD(rate_limited);
    s.write_timeouts += LOAD(write_timeouts);
    s.idle_timeouts += LOAD(idle_timeouts);
    s.queue_overflows +=
        atomic_load_explicit(&sh->overflows, memory_order_relaxed);
#undef LOAD
  }
  s.topics = atomic_load_explicit(&hub->index.ntopics, memory_order_relaxed);
  s.history_msgs =
      atomic_load_explicit(&hub->index.totals.msgs, memory_order_relaxed);
  s.history_bytes =
      atomic_load_explicit(&hub->index.totals.bytes, memory_order_relaxed);
  s.patterns = atomic_load_explicit(&hub->index.npats, memory_order_relaxed);
  s.broadcasts = atomic_load_explicit(&hub->broadcasts, memory_order_relaxed);
  memcpy(out, &s, size);
  return 0;
}

const char *hub_epoch(const hub_t *hub) { return hub ? hub->epoch : NULL; }
