/* A shard: one event loop (one thread, or the host's loop in host-loop
 * mode) owning a set of clients. Other threads reach it only through its
 * message ring and command stack, and wake it through one eventfd. */
#ifndef HUB_SHARD_H
#define HUB_SHARD_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "client.h"
#include "mpsc.h"
#include "smsg.h"
#include "timer.h"
#include "topic_index.h"

struct hub;

enum cmd_type {
  CMD_ATTACH,
  CMD_SUBSCRIBE,
  CMD_UNSUBSCRIBE,
  CMD_CLOSE,
  CMD_WRITABLE,
  CMD_SEND,
  CMD_AUTH,
  CMD_LOST, /* a broadcast this shard's full queue could not take */
  CMD_INPUT /* bytes a host read from a stream it owns (topic[], len) */
};

struct cmd {
  struct cmd_node node;
  uint8_t type;
  int code;       /* CMD_CLOSE; CMD_AUTH: the verdict */
  int status;     /* CMD_AUTH */
  uint64_t serial; /* CMD_AUTH: the ticket's; CMD_LOST: the seq */
  uint32_t lost;   /* CMD_LOST: how many messages */
  hub_client_id id;
  struct client *client; /* CMD_ATTACH */
  struct msg *msg;       /* CMD_SEND (a ref) */
  struct replay replay;  /* CMD_SUBSCRIBE: what the subscription is owed */
  uint64_t hash;         /* CMD_(UN)SUBSCRIBE: the topic */
  size_t len;
  char topic[];
};

/* Counters the shard thread keeps in plain memory and publishes with
 * relaxed stores once per loop iteration, for hub_stats(). */
#define SHARD_STATS(X)                                                         \
  X(clients) X(subscriptions) X(deliveries) X(drops) X(evictions)              \
  X(bytes_queued) X(clients_closed) X(ws_accepted) X(sse_accepted)             \
  X(http_refused) X(auth_denied) X(auth_timeouts) X(origin_refused)            \
  X(capacity_refused) X(rate_limited) X(write_timeouts) X(idle_timeouts)

struct shard_stats {
#define X(f) uint64_t f;
  SHARD_STATS(X)
#undef X
};

struct shard_stats_pub {
#define X(f) _Atomic uint64_t f;
  SHARD_STATS(X)
#undef X
};

struct shard {
  struct hub *hub;
  const hub_mem *mem;
  unsigned idx;
  int epfd, evfd, tfd; /* tfd: a timerfd for everything timed */
  pthread_t thread;
  bool thread_started;
  struct mpsc_ring ring;

  /* Written by other threads. */
  alignas(HUB_CACHELINE) struct cmd_stack cmds;
  _Atomic unsigned wake; /* WAKE_* bits, see shard_wake() */
  _Atomic uint64_t overflows;
  /* Messages the ring had no room for: CMD_LOST commands not yet run, and
   * past SHARD_LOST_CMDS of them (a shard stuck for long), the newest
   * such seq and their count, for a notice to every subscriber. */
  _Atomic uint32_t lost_cmds;
  _Atomic int64_t lost_upto;
  _Atomic uint32_t lost_more;
  _Atomic int64_t stop_deadline_ms; /* set once by hub_stop(); 0 = running */
  /* Bytes of CMD_INPUT commands not handled yet (hub_client_input()). */
  _Atomic uint64_t input_pending;

  /* The shard thread's own. */
  alignas(HUB_CACHELINE) struct htable clients;
  struct registry reg;
  struct client *dirty, *dirty_tail; /* FIFO of clients with bytes to write */
  struct client *doomed;
  struct client *reread; /* TLS clients with input mbedTLS holds */
  struct msg *pending; /* popped, held while the commands before it run */
  struct smsg *free_smsgs;
  uint32_t nfree;
  /* smsgs of replayed history, by msg: every client replayed the same
   * message shares one smsg and its frames, as a live fanout does. */
  struct htable replayed;
  struct tlist timers[TL_COUNT];
  unsigned char *rbuf; /* one read buffer for all of the shard's sockets */
  void *proto; /* the protocols' state of the shard (shard_ops), or NULL */
  bool stopping, exited;
  int64_t deadline_ms;
  int64_t armed_ms;      /* what tfd is set to, -1: off */
  int64_t next_sweep_ms; /* 0: no history ages, no sweeps */
  int64_t last_woken_ms; /* when a producer last queued work (threads) */
  bool nap_ok;           /* epoll_pwait2() works here (threads) */
  struct shard_stats st;

  alignas(HUB_CACHELINE) struct shard_stats_pub pub;
};

/* What the protocol layer keeps and does per shard (session.c); the core
 * calls it only through these, on the shard's thread. */
struct shard_ops {
  /* After the core's own init, making s->proto; `opt` carries the TLS
   * certificate. Returns 0 or HUB_E*; destroy() runs either way. */
  int (*init)(struct shard *s, const struct hub_options *opt);
  void (*destroy)(struct shard *s);
  /* The layer's earliest deadline (ms, CLOCK_MONOTONIC), or -1. */
  int64_t (*next_due)(const struct shard *s);
  /* Every loop pass: what is due by now (auth decisions timing out). */
  void (*tick)(struct shard *s, int64_t now_ms);
  /* Once a second: slow checks (write and idle timeouts). */
  void (*sweep)(struct shard *s, int64_t now_ms);
  /* A command of the layer's own (CMD_AUTH). */
  void (*command)(struct shard *s, struct cmd *cmd);
};

/* `opt` carries the TLS certificate and key, if any. */
int shard_init(struct shard *s, struct hub *hub, unsigned idx,
               const struct hub_options *opt);
/* On a thread that is not (or no longer) running the shard: handles what
 * is left in its queues, closes every client and frees everything. */
void shard_destroy(struct shard *s);
/* The shard's wait state, one word producers and the shard both change
 * with read-modify-writes (so every pair of them is ordered):
 * WAKE_PENDING: work was queued since the shard last looked;
 * WAKE_ASLEEP:  the shard waits in epoll_wait and only the eventfd, a
 *               socket or its timer wakes it (host-loop mode: the host is
 *               outside hub_shard_run());
 * WAKE_NAPPING: the shard waits at most SHARD_NAP_US and then looks, so
 *               nobody needs to wake it.
 * Neither mode bit: the shard is running and looks again before waiting. */
enum { WAKE_PENDING = 1, WAKE_ASLEEP = 2, WAKE_NAPPING = 4 };

/* CMD_LOST commands a shard may have outstanding: what a stuck shard
 * costs in memory stays bounded. */
#define SHARD_LOST_CMDS 1024
/* Input hosts may have queued for a shard (hub_client_input()), and the
 * most one call takes. */
#define SHARD_INPUT_MAX (16u << 20)
#define INPUT_CALL_MAX (1u << 20)

/* Tells the shard that work was queued for it (a message in its ring, a
 * command, the stop request), after that work is visible. Writes the
 * eventfd only when the shard is asleep, once per sleep. */
void shard_wake(struct shard *s);
void shard_push_cmd(struct shard *s, struct cmd *c);
/* One loop iteration; see hub_shard_run(). */
int shard_run_once(struct shard *s, int timeout_ms);
void *shard_main(void *arg);

/* The open client `id` of this shard, or NULL. */
struct client *shard_find_client(struct shard *s, hub_client_id id);
/* Reads the client again on the shard's next pass, before it waits: its
 * TLS layer holds input its socket will not signal. */
void shard_reread(struct shard *s, struct client *c);
/* Takes the client off that list (it is being freed). */
void shard_reread_cancel(struct shard *s, struct client *c);
/* Arms or disarms EPOLLOUT for a socket client. */
void shard_want_write(struct shard *s, struct client *c, bool on);

#define SHARD_RBUF 16384

#endif
