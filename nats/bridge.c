/* libfanhub-nats: a hub's broadcasts go through NATS (JetStream or core)
 * and come back to every node with one numbering; see fanhub_nats.h.
 *
 * Three threads touch a bridge: the host's (hub_broadcast() -> relay ->
 * outbox), the publisher (outbox -> NATS, in windows of acknowledged
 * publishes), and cnats's delivery thread for our subscription (NATS ->
 * hub_deliver()). cnats's own threads call the connection callbacks. */
#include "fanhub_nats.h"

#include <inttypes.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "outbox.h"
#include "wire.h"

#define HDR_TOPIC "Fanhub-Topic"
#define HDR_FLAGS "Fanhub-Flags"
#define HDR_LOST "Fanhub-Lost"
#define ACK_WAIT_MS 2000
#define STREAM_MAX_AGE_NS (24LL * 3600 * 1000000000)
#define PREFIX_MAX 255 /* so "<prefix>.>" fits the buffers below */

struct hub_nats_options {
  char *url, *stream, *prefix;
  size_t max_msgs, max_bytes;
  unsigned in_flight;
};

/* Where a window's publish stands. */
enum { W_UNSENT, W_SENT, W_ACKED, W_REFUSED };

struct hub_nats {
  hub_t *hub;
  struct hub_nats_options o;
  size_t prefix_len;
  natsOptions *nopts;
  natsConnection *nc;
  jsCtx *js;
  natsSubscription *sub;
  int64_t base_seq; /* JetStream: the stream's last seq at attach */
  struct outbox ob;
  pthread_t publisher;
  bool started, stopping; /* under ob.lock */
  int64_t drain_deadline_ms;
  atomic_bool connected;
  _Atomic int64_t down_since_ms; /* 0 while connected */
  char node[17];                 /* this process's Nats-Msg-Id prefix */
  uint64_t next_id;              /* publisher thread */
  /* The window in flight: the publisher thread fills it, acks (cnats's
   * thread) set states; win_lock guards which ids it spans. */
  struct ob_item **win;
  _Atomic uint8_t *state;
  unsigned nwin;
  pthread_mutex_t win_lock;
  uint64_t win_first, win_n; /* under win_lock */
  bool win_lock_ready, ob_ready;
  int64_t last_seq;  /* delivery thread: the newest stream seq seen */
  int64_t local_seq; /* delivery thread, core NATS: our own numbering */
  struct {
    _Atomic uint64_t disconnects, reconnects, outage_ms, published, resent,
        received, duplicates, gaps, losses;
  } st;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- options ---------------------------------------------------------- */

static int set_str(char **dst, const char *src) {
  char *copy = NULL;
  if (src && !(copy = strdup(src)))
    return HUB_ENOMEM;
  free(*dst);
  *dst = copy;
  return 0;
}

int hub_nats_options_new(hub_nats_options **out) {
  if (!out)
    return HUB_EINVAL;
  hub_nats_options *o = calloc(1, sizeof(*o));
  if (!o || set_str(&o->url, "nats://127.0.0.1:4222") ||
      set_str(&o->prefix, "fanhub")) {
    hub_nats_options_free(o);
    return HUB_ENOMEM;
  }
  o->max_msgs = 65536;
  o->max_bytes = 64u << 20;
  o->in_flight = 256;
  *out = o;
  return 0;
}

void hub_nats_options_free(hub_nats_options *o) {
  if (!o)
    return;
  free(o->url);
  free(o->stream);
  free(o->prefix);
  free(o);
}

int hub_nats_options_set_url(hub_nats_options *o, const char *url) {
  if (!o || !url || !*url)
    return HUB_EINVAL;
  return set_str(&o->url, url);
}

/* Stream names: no spaces, '.', '*', '>', path separators or controls. */
static bool stream_name_ok(const char *s) {
  if (!*s || strlen(s) > 255)
    return false;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
        strchr(".*>/\\", *s))
      return false;
  return true;
}

int hub_nats_options_set_jetstream(hub_nats_options *o, const char *stream) {
  if (!o || (stream && !stream_name_ok(stream)))
    return HUB_EINVAL;
  return set_str(&o->stream, stream);
}

int hub_nats_options_set_subject_prefix(hub_nats_options *o,
                                        const char *prefix) {
  if (!o || !prefix || strlen(prefix) > PREFIX_MAX ||
      !wire_subject_ok(prefix, strlen(prefix)))
    return HUB_EINVAL;
  return set_str(&o->prefix, prefix);
}

int hub_nats_options_set_buffer(hub_nats_options *o, size_t max_msgs,
                                size_t max_bytes) {
  if (!o || !max_msgs || !max_bytes)
    return HUB_EINVAL;
  o->max_msgs = max_msgs;
  o->max_bytes = max_bytes;
  return 0;
}

int hub_nats_options_set_max_in_flight(hub_nats_options *o, unsigned n) {
  if (!o || n < 1 || n > 65536)
    return HUB_EINVAL;
  o->in_flight = n;
  return 0;
}

/* ---- connection state -------------------------------------------------- */

static void on_disconnected(natsConnection *nc, void *closure) {
  (void)nc;
  struct hub_nats *n = closure;
  if (atomic_exchange(&n->connected, false)) {
    atomic_store(&n->down_since_ms, now_ms());
    atomic_fetch_add(&n->st.disconnects, 1);
  }
}

static void on_reconnected(natsConnection *nc, void *closure) {
  (void)nc;
  struct hub_nats *n = closure;
  int64_t since = atomic_exchange(&n->down_since_ms, 0);
  if (since)
    atomic_fetch_add(&n->st.outage_ms, (uint64_t)(now_ms() - since));
  atomic_fetch_add(&n->st.reconnects, 1);
  pthread_mutex_lock(&n->ob.lock);
  atomic_store(&n->connected, true);
  pthread_cond_broadcast(&n->ob.cond);
  pthread_mutex_unlock(&n->ob.lock);
}

/* 100 ms, doubling, at most 2 s between attempts. */
static int64_t reconnect_delay(natsConnection *nc, int attempts,
                               void *closure) {
  (void)nc;
  (void)closure;
  return attempts >= 5 ? 2000 : 100LL << attempts;
}

/* ---- the relay: hub_broadcast() on the host's thread ------------------- */

static int relay(hub_t *hub, const char *topic, size_t topic_len,
                 const void *data, size_t len, unsigned flags, void *ud) {
  (void)hub;
  struct hub_nats *n = ud;
  /* Full or out of memory: dropped, and a marker will say so. The caller
   * is not failed: the message is gone for every node alike, and every
   * subscriber of the topic hears of it. */
  (void)outbox_push(&n->ob, topic, topic_len, data, len, flags);
  return 0;
}

/* ---- the publisher thread ---------------------------------------------- */

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                   void *closure) {
  (void)js;
  struct hub_nats *n = closure;
  const char *id;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK) {
    const char *dash = strrchr(id, '-');
    uint64_t v = dash ? strtoull(dash + 1, NULL, 10) : 0;
    /* Only acks for the window in flight count; a late one for a window
     * already sent again is answered by that resend too. */
    pthread_mutex_lock(&n->win_lock);
    if (v >= n->win_first && v < n->win_first + n->win_n) {
      uint8_t to = pa ? W_ACKED
                   /* The stream answered with an error of its own (too
                    * big, limits): sending again will not help. Anything
                    * else (no responders, timeouts) is worth a retry. */
                   : pae && pae->ErrCode ? W_REFUSED
                                         : W_UNSENT;
      atomic_store(&n->state[v - n->win_first], to);
    }
    pthread_mutex_unlock(&n->win_lock);
  }
  natsMsg_Destroy(msg);
}

static natsMsg *make_msg(struct hub_nats *n, const struct ob_item *it) {
  char subj[1024], hdr[32], *enc = NULL;
  natsMsg *m = NULL;
  bool plain = it->topic_len &&
               n->prefix_len + 1 + it->topic_len < sizeof(subj) &&
               wire_subject_ok(it->topic, it->topic_len);
  snprintf(subj, sizeof(subj), "%s.%s", n->o.prefix, plain ? it->topic : "_");
  if (natsMsg_Create(&m, subj, NULL, it->data, (int)it->len) != NATS_OK)
    return NULL;
  if (it->topic_len) {
    if (!(enc = malloc(it->topic_len * 3 + 1)))
      goto fail;
    wire_topic_encode(enc, it->topic, it->topic_len);
    if (natsMsgHeader_Set(m, HDR_TOPIC, enc) != NATS_OK)
      goto fail;
  }
  if (it->flags) {
    snprintf(hdr, sizeof(hdr), "%u", it->flags);
    if (natsMsgHeader_Set(m, HDR_FLAGS, hdr) != NATS_OK)
      goto fail;
  }
  if (it->lost) {
    snprintf(hdr, sizeof(hdr), "%" PRIu64, it->lost);
    if (natsMsgHeader_Set(m, HDR_LOST, hdr) != NATS_OK)
      goto fail;
  }
  if (n->js) {
    char id[40];
    snprintf(id, sizeof(id), "%s-%" PRIu64, n->node, it->id);
    if (natsMsgHeader_Set(m, "Nats-Msg-Id", id) != NATS_OK)
      goto fail;
  }
  free(enc);
  return m;
fail:
  free(enc);
  natsMsg_Destroy(m);
  return NULL;
}

/* Waits (lock held) for a signal on the outbox, at most `ms`. */
static void wait_locked(struct hub_nats *n, int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_cond_timedwait(&n->ob.cond, &n->ob.lock, &ts);
}

static bool give_up(struct hub_nats *n) {
  return n->stopping && now_ms() >= n->drain_deadline_ms;
}

/* A publish NATS will never take (bigger than the server's max_payload,
 * say): dropped and reported, instead of holding up everything after it. */
static bool never(natsStatus s) {
  return s == NATS_MAX_PAYLOAD || s == NATS_INVALID_SUBJECT ||
         s == NATS_INVALID_ARG;
}

/* The message for one send of `it`, counting a second one as a resend. */
static natsMsg *make_send(struct hub_nats *n, struct ob_item *it) {
  natsMsg *m = make_msg(n, it);
  if (m && it->sends++)
    atomic_fetch_add(&n->st.resent, 1);
  return m;
}

/* Core NATS: at most once, whatever the connection takes. */
static bool send_core(struct hub_nats *n) {
  for (unsigned i = 0; i < n->nwin; i++) {
    if (n->state[i] != W_UNSENT)
      continue;
    natsMsg *m = make_send(n, n->win[i]);
    if (!m)
      return false;
    natsStatus s = natsConnection_PublishMsg(n->nc, m);
    natsMsg_Destroy(m);
    if (never(s)) {
      n->state[i] = W_REFUSED;
      continue;
    }
    if (s != NATS_OK)
      return false;
    n->state[i] = W_ACKED;
  }
  return true;
}

/* JetStream: publishes what is not acknowledged yet, in order, and waits
 * for the answers. True when every one is acknowledged or refused. */
static bool send_js(struct hub_nats *n) {
  bool all = true;
  for (unsigned i = 0; i < n->nwin; i++) {
    if (n->state[i] != W_UNSENT)
      continue;
    natsMsg *m = make_send(n, n->win[i]);
    if (!m)
      return false;
    atomic_store(&n->state[i], W_SENT);
    natsStatus s = js_PublishMsgAsync(n->js, &m, NULL);
    natsMsg_Destroy(m); /* a no-op when the library took it */
    if (never(s)) {
      atomic_store(&n->state[i], W_REFUSED);
      continue;
    }
    if (s != NATS_OK) {
      atomic_store(&n->state[i], W_UNSENT);
      all = false;
      break; /* the rest after it, in order, next time */
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = ACK_WAIT_MS;
  if (js_PublishAsyncComplete(n->js, &po) != NATS_OK) {
    /* Unanswered: take them back from the library and send them again
     * (Nats-Msg-Id makes a second copy of a stored one a no-op). */
    natsMsgList pending;
    if (js_PublishAsyncGetPendingList(&pending, n->js) == NATS_OK)
      natsMsgList_Destroy(&pending);
  }
  for (unsigned i = 0; i < n->nwin; i++) {
    uint8_t expect = W_SENT;
    atomic_compare_exchange_strong(&n->state[i], &expect, W_UNSENT);
    if (atomic_load(&n->state[i]) == W_UNSENT)
      all = false;
  }
  return all;
}

static void finish_window(struct hub_nats *n) {
  uint64_t done = 0;
  for (unsigned i = 0; i < n->nwin; i++) {
    struct ob_item *it = n->win[i];
    if (n->state[i] == W_ACKED)
      done += !it->lost;
    else
      outbox_note_loss(&n->ob, it); /* refused, or given up at the end */
    ob_item_free(it);
  }
  atomic_fetch_add(&n->st.published, done);
  pthread_mutex_lock(&n->win_lock);
  n->win_n = 0;
  pthread_mutex_unlock(&n->win_lock);
  n->nwin = 0;
}

static void *publisher_main(void *arg) {
  struct hub_nats *n = arg;
  pthread_mutex_lock(&n->ob.lock);
  for (;;) {
    while (!n->stopping &&
           !(outbox_has_work_locked(&n->ob) && atomic_load(&n->connected)))
      wait_locked(n, 1000);
    if (n->stopping &&
        (!n->ob.head || give_up(n) || !atomic_load(&n->connected)))
      break;
    unsigned k = outbox_take_locked(&n->ob, n->win, n->o.in_flight);
    pthread_mutex_unlock(&n->ob.lock);
    for (unsigned i = 0; i < k; i++) {
      n->win[i]->id = ++n->next_id;
      atomic_store(&n->state[i], W_UNSENT);
    }
    n->nwin = k;
    pthread_mutex_lock(&n->win_lock);
    n->win_first = k ? n->win[0]->id : 0;
    n->win_n = k;
    pthread_mutex_unlock(&n->win_lock);
    for (int attempt = 0;; attempt++) {
      if (n->js ? send_js(n) : send_core(n))
        break;
      /* Back off; every queued broadcast signals the outbox, so wait the
       * time out unless the connection comes back or the drain ends. */
      pthread_mutex_lock(&n->ob.lock);
      bool was = atomic_load(&n->connected);
      int64_t until = now_ms() + (attempt < 4 ? 100 << attempt : 2000);
      while (!give_up(n) && now_ms() < until &&
             (was || !atomic_load(&n->connected)))
        wait_locked(n, until - now_ms());
      bool stop = give_up(n);
      pthread_mutex_unlock(&n->ob.lock);
      if (stop)
        break;
    }
    finish_window(n);
    pthread_mutex_lock(&n->ob.lock);
  }
  pthread_mutex_unlock(&n->ob.lock);
  return NULL;
}

/* ---- delivery: cnats's thread for our subscription -------------------- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                   void *closure) {
  (void)nc;
  (void)sub;
  struct hub_nats *n = closure;
  const char *v, *lost_hdr;
  char *topic = NULL;
  int64_t seq;
  if (n->js) {
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
      goto done; /* not a stream message (a status, say) */
    seq = (int64_t)meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    if (seq <= n->last_seq) {
      atomic_fetch_add(&n->st.duplicates, 1);
      goto done;
    }
    if (seq > n->last_seq + 1) {
      /* Messages left the stream before we saw them: which topics they
       * were on is unknown, so every subscriber hears of it. */
      atomic_fetch_add(&n->st.gaps, 1);
      atomic_fetch_add(&n->st.losses, 1);
      hub_report_loss(n->hub, NULL, (uint64_t)(seq - n->last_seq - 1), seq);
    }
    n->last_seq = seq;
  } else {
    seq = ++n->local_seq;
  }
  bool named = natsMsgHeader_Get(msg, HDR_TOPIC, &v) == NATS_OK;
  if (natsMsgHeader_Get(msg, HDR_LOST, &lost_hdr) == NATS_OK) {
    /* A marker: its topic is the header's; none means any topic. */
    uint64_t lost = strtoull(lost_hdr, NULL, 10);
    if (named && (!(topic = strdup(v)) || !wire_topic_decode(topic)))
      goto done;
    atomic_fetch_add(&n->st.losses, 1);
    hub_report_loss(n->hub, topic, lost ? lost : 1, seq);
    goto done;
  }
  if (named) {
    if (!(topic = strdup(v)) || !wire_topic_decode(topic))
      goto done;
  } else {
    /* Published by another NATS program: the topic is the subject. */
    const char *s = natsMsg_GetSubject(msg);
    if (strncmp(s, n->o.prefix, n->prefix_len) || s[n->prefix_len] != '.' ||
        !(topic = strdup(s + n->prefix_len + 1)))
      goto done;
  }
  unsigned flags = 0;
  if (natsMsgHeader_Get(msg, HDR_FLAGS, &v) == NATS_OK)
    flags = (unsigned)strtoul(v, NULL, 10) & (HUB_MSG_JSON | HUB_MSG_BINARY);
  int64_t rv = hub_deliver(n->hub, topic, natsMsg_GetData(msg),
                           (size_t)natsMsg_GetDataLength(msg), flags, seq);
  if (rv > 0) {
    atomic_fetch_add(&n->st.received, 1);
  } else if (rv == 0) {
    atomic_fetch_add(&n->st.duplicates, 1);
  } else if (rv == HUB_ENOMEM) {
    /* Not delivered here: its subscribers hear of it. (HUB_ETOPIC: a
     * foreign publisher's subject no client can subscribe to.) */
    atomic_fetch_add(&n->st.losses, 1);
    hub_report_loss(n->hub, topic, 1, seq);
  }
done:
  free(topic);
  natsMsg_Destroy(msg);
}

/* ---- life cycle --------------------------------------------------------- */

/* Threads made here (ours, and cnats's, which it starts when it connects
 * and subscribes, and whose children inherit the mask) take no signals:
 * those belong to the host's threads, as with the hub's shards. */
static void signals_off(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
}

static void signals_back(const sigset_t *old) {
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int status_err(natsStatus s) {
  return s == NATS_NO_MEMORY ? HUB_ENOMEM : HUB_ESYS;
}

/* The epoch every node derives from the same stream: its name and the
 * time it was created (a stream made anew numbers from 1 again). */
static void stream_epoch(const char *name, int64_t created, char out[17]) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *p = name; *p; p++)
    h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
  for (int i = 0; i < 8; i++)
    h = (h ^ ((uint64_t)created >> (8 * i) & 0xff)) * 0x100000001b3ULL;
  snprintf(out, 17, "%016" PRIx64, h);
}

static int open_stream(struct hub_nats *n) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = n->o.in_flight;
  jo.PublishAsync.AckHandler = on_ack;
  jo.PublishAsync.AckHandlerClosure = n;
  natsStatus s = natsConnection_JetStream(&n->js, n->nc, &jo);
  if (s != NATS_OK)
    return status_err(s);
  char subjects[300];
  snprintf(subjects, sizeof(subjects), "%s.>", n->o.prefix);
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  s = js_GetStreamInfo(&si, n->js, n->o.stream, NULL, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jsStreamConfig cfg;
    const char *subj[1] = {subjects};
    jsStreamConfig_Init(&cfg);
    cfg.Name = n->o.stream;
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.MaxAge = STREAM_MAX_AGE_NS;
    s = js_AddStream(&si, n->js, &cfg, NULL, &jerr);
  }
  if (s != NATS_OK)
    return status_err(s);
  bool covers = false;
  for (int i = 0; si->Config && i < si->Config->SubjectsLen; i++)
    covers |= !strcmp(si->Config->Subjects[i], subjects);
  char epoch[17];
  stream_epoch(n->o.stream, si->Created, epoch);
  n->base_seq = (int64_t)si->State.LastSeq;
  n->last_seq = n->base_seq;
  jsStreamInfo_Destroy(si);
  if (!covers) /* our publishes would go nowhere */
    return HUB_EINVAL;
  return hub_set_sequence(n->hub, epoch, n->base_seq);
}

static int open_connection(struct hub_nats *n) {
  natsStatus s = natsOptions_Create(&n->nopts);
  if (s == NATS_OK)
    s = natsOptions_SetURL(n->nopts, n->o.url);
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(n->nopts, -1);
  if (s == NATS_OK)
    s = natsOptions_SetCustomReconnectDelay(n->nopts, reconnect_delay, n);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(n->nopts, on_disconnected, n);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB(n->nopts, on_reconnected, n);
  /* JetStream: a publish while reconnecting fails at once instead of
   * waiting in cnats's buffer, so our resend keeps the window's order. */
  if (s == NATS_OK && n->o.stream)
    s = natsOptions_SetReconnectBufSize(n->nopts, 1);
  if (s == NATS_OK)
    s = natsConnection_Connect(&n->nc, n->nopts);
  if (s != NATS_OK)
    return status_err(s);
  atomic_store(&n->connected, true);
  return 0;
}

int hub_nats_attach(hub_t *hub, const hub_nats_options *o, hub_nats **out) {
  if (!hub || !o || !out)
    return HUB_EINVAL;
  struct hub_nats *n = calloc(1, sizeof(*n));
  if (!n)
    return HUB_ENOMEM;
  n->hub = hub;
  n->o = *o;
  n->o.url = n->o.stream = n->o.prefix = NULL;
  int rv = HUB_ENOMEM;
  if (set_str(&n->o.url, o->url) || set_str(&n->o.stream, o->stream) ||
      set_str(&n->o.prefix, o->prefix))
    goto fail;
  n->prefix_len = strlen(n->o.prefix);
  n->win = calloc(o->in_flight, sizeof(*n->win));
  n->state = calloc(o->in_flight, sizeof(*n->state));
  if (!n->win || !n->state || pthread_mutex_init(&n->win_lock, NULL))
    goto fail;
  n->win_lock_ready = true;
  if (outbox_init(&n->ob, o->max_msgs, o->max_bytes))
    goto fail;
  n->ob_ready = true;
  uint64_t r;
  if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
    r = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)n;
  snprintf(n->node, sizeof(n->node), "%016" PRIx64, r);
  /* Fails with HUB_ESTATE, before any connection, if the hub runs. */
  sigset_t old;
  signals_off(&old);
  if ((rv = hub_set_relay(hub, relay, n)) == 0 &&
      (rv = open_connection(n)) == 0 && n->o.stream)
    rv = open_stream(n);
  signals_back(&old);
  if (rv)
    goto fail;
  *out = n;
  return 0;
fail:
  if (rv != HUB_ESTATE)
    hub_set_relay(hub, NULL, NULL);
  hub_nats_free(n, 0);
  return rv;
}

int hub_nats_start(hub_nats *n) {
  if (!n)
    return HUB_EINVAL;
  if (n->started)
    return HUB_ESTATE;
  char subject[300];
  snprintf(subject, sizeof(subject), "%s.>", n->o.prefix);
  natsStatus s;
  sigset_t old;
  signals_off(&old);
  if (n->js) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = n->o.stream;
    so.Ordered = true; /* in order, no acks, recreated after a gap */
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = (uint64_t)n->base_seq + 1;
    jsErrCode jerr = 0;
    s = js_Subscribe(&n->sub, n->js, subject, on_msg, n, NULL, &so, &jerr);
  } else {
    s = natsConnection_Subscribe(&n->sub, n->nc, subject, on_msg, n);
  }
  int rv = s != NATS_OK ? status_err(s)
           : pthread_create(&n->publisher, NULL, publisher_main, n) ? HUB_ESYS
                                                                    : 0;
  signals_back(&old);
  if (rv) {
    if (n->sub) {
      natsSubscription_Unsubscribe(n->sub);
      natsSubscription_Destroy(n->sub);
      n->sub = NULL;
    }
    return rv;
  }
  n->started = true;
  return 0;
}

void hub_nats_free(hub_nats *n, int timeout_ms) {
  if (!n)
    return;
  if (n->sub) {
    natsSubscription_Unsubscribe(n->sub);
    natsSubscription_Destroy(n->sub);
  }
  if (n->started) {
    pthread_mutex_lock(&n->ob.lock);
    n->stopping = true;
    n->drain_deadline_ms = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pthread_cond_broadcast(&n->ob.cond);
    pthread_mutex_unlock(&n->ob.lock);
    pthread_join(n->publisher, NULL);
  }
  if (n->nc) {
    natsConnection_Close(n->nc);
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
  }
  natsOptions_Destroy(n->nopts);
  if (n->ob_ready)
    outbox_destroy(&n->ob);
  if (n->win_lock_ready)
    pthread_mutex_destroy(&n->win_lock);
  free(n->win);
  free((void *)n->state);
  free(n->o.url);
  free(n->o.stream);
  free(n->o.prefix);
  free(n);
}

/* ---- stats -------------------------------------------------------------- */

int hub_nats_stats(hub_nats *n, hub_nats_stats_t *out, size_t size) {
  if (!n || !out || size > sizeof(hub_nats_stats_t))
    return HUB_EINVAL;
  hub_nats_stats_t s;
  memset(&s, 0, sizeof(s));
  s.connected = atomic_load(&n->connected);
  s.disconnects = atomic_load(&n->st.disconnects);
  s.reconnects = atomic_load(&n->st.reconnects);
  s.outage_ms = atomic_load(&n->st.outage_ms);
  int64_t since = atomic_load(&n->down_since_ms);
  if (since)
    s.outage_ms += (uint64_t)(now_ms() - since);
  s.published = atomic_load(&n->st.published);
  s.resent = atomic_load(&n->st.resent);
  pthread_mutex_lock(&n->ob.lock);
  s.buffered = n->ob.count;
  s.dropped = n->ob.dropped;
  pthread_mutex_unlock(&n->ob.lock);
  s.received = atomic_load(&n->st.received);
  s.duplicates = atomic_load(&n->st.duplicates);
  s.gaps = atomic_load(&n->st.gaps);
  s.losses = atomic_load(&n->st.losses);
  memcpy(out, &s, size);
  return 0;
}

size_t hub_nats_metrics_text(hub_nats *n, char *buf, size_t len) {
  static const struct {
    const char *name, *type, *help;
    size_t off;
  } m[] = {
#define M(f, t, h) {"fanhub_nats_" #f, t, h, offsetof(hub_nats_stats_t, f)}
      M(connected, "gauge", "1 while connected to NATS."),
      M(disconnects, "counter", "NATS connections lost."),
      M(reconnects, "counter", "NATS connections re-established."),
      M(outage_ms, "counter", "Milliseconds spent disconnected."),
      M(published, "counter", "Broadcasts handed to NATS."),
      M(resent, "counter", "Publishes sent again after a failure."),
      M(buffered, "gauge", "Broadcasts waiting to be published."),
      M(dropped, "counter", "Broadcasts dropped before NATS had them."),
      M(received, "counter", "Messages from NATS delivered into the hub."),
      M(duplicates, "counter", "Messages from NATS seen before."),
      M(gaps, "counter", "Jumps in the stream sequence."),
      M(losses, "counter", "Losses reported to subscribers."),
#undef M
  };
  hub_nats_stats_t st;
  if (hub_nats_stats(n, &st, sizeof(st)))
    return 0;
  if (len)
    buf[0] = '\0';
  size_t need = 0;
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
    uint64_t v = *(const uint64_t *)(const void *)((const char *)&st + m[i].off);
    const char *suffix = m[i].type[0] == 'c' ? "_total" : "";
    int k = snprintf(need < len ? buf + need : NULL,
                     need < len ? len - need : 0,
                     "# HELP %s%s %s\n# TYPE %s%s %s\n%s%s %" PRIu64 "\n",
                     m[i].name, suffix, m[i].help, m[i].name, suffix,
                     m[i].type, m[i].name, suffix, v);
    if (k > 0)
      need += (size_t)k;
  }
  return need;
}
