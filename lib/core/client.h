/* A client: one transport, one bounded queue, its subscriptions. Owned by
 * one shard and touched only by that shard's thread once attached. */
#ifndef HUB_CLIENT_H
#define HUB_CLIENT_H

#include <stdbool.h>

#include "queue.h"
#include "registry.h"

struct shard;

/* What the layer above a client does for the core, which calls it only
 * through this table (lib/proto/session.c is fanhub's own protocols). A client
 * of raw payloads on a host transport has none. Shard thread. */
struct client_ops {
  /* The client was added to its shard: set up, start the handshake. */
  void (*attach)(struct shard *s, struct client *c);
  /* Its socket is ready (epoll events). */
  void (*event)(struct shard *s, struct client *c, uint32_t events);
  /* Bytes it sent, fed by the host (hub_client_input()), and their end. */
  void (*input)(struct shard *s, struct client *c, const unsigned char *buf,
                size_t n);
  void (*eof)(struct shard *s, struct client *c);
  /* A timer of list `list` (timer.h) is due; re-arm it if it repeats. */
  void (*tick)(struct shard *s, struct client *c, int list);
  /* Tell the client that `dropped` messages of its subscription to
   * `topic` (seqs `from` to `to`) were lost, and that what it asked to be
   * replayed cannot be (`reason`: RESET_* of topic_index.h). */
  void (*lagged)(struct shard *s, struct client *c, const char *topic,
                 size_t len, uint32_t dropped, int64_t from, int64_t to);
  void (*reset)(struct shard *s, struct client *c, const char *topic,
                size_t len, int reason);
  /* hub_stop() began: close the client, gracefully. */
  void (*stop)(struct shard *s, struct client *c);
  /* The client is being freed: release the layer's state. */
  void (*release)(struct shard *s, struct client *c);
};

enum client_state {
  CLIENT_OPEN,
  CLIENT_DOOMED /* closing: no more writes; freed when the shard reaps */
};

enum client_kind {
  CLIENT_HOST, /* a host transport (hub_attach_transport) */
  CLIENT_HTTP, /* a socket whose request head is still being read */
  CLIENT_WS,
  CLIENT_SSE
};

/* A client with ops is allocated as hub_protocols.client_size bytes
 * (hub.h): this struct first, the protocols' state of it after, so they
 * reach that state without a pointer to follow. */
struct client {
  /* Hot: what every fanout and flush round reads or writes, first, so a
   * delivery touches two cache lines of the client and a write three. */
  struct cqueue q;
  uint32_t max_msgs;
  uint8_t policy;
  uint8_t state;
  uint8_t kind;
  bool dirty;             /* on shard->dirty */
  bool blocked;           /* the transport took less than offered */
  bool epollout;          /* EPOLLOUT armed on fd */
  bool close_after_flush; /* doom with close_code once the queue is out */
  bool lag_pending;       /* some subscription has drops to report */
  int fd;                 /* -1 unless a socket client */
  uint64_t max_bytes;
  int64_t stamp; /* seq of the newest broadcast queued: one copy a client */
  struct client *dirty_next;
  hub_transport tp;
  void *io_user;
  const struct client_ops *ops; /* NULL: raw payloads on a host transport */
  uint64_t deliveries;
  int64_t stuck_ms; /* since when writes make no progress, or 0 */
  /* The transport took bytes it could not send yet (a TLS record the
   * socket refused): set and cleared by the layer that holds them, so the
   * flush waits for EPOLLOUT without asking the layer after every write. */
  bool held;
  /* Three cold fields in what would be padding: a session (struct client
   * and its protocol state) stays within 376 bytes, 384 with malloc's
   * header, as before the protocol fields moved out. */
  bool on_reread; /* on shard->reread */
  uint8_t tlist;  /* TL_* or TL_NONE: see tnext below */
  int close_code;
  uint64_t drops;
  /* Cold: lookup, lifecycle, timers. */
  struct hnode node; /* in shard->clients, keyed by id */
  hub_client_id id;
  void *user_data;
  struct sub_list subs;
  char *principal; /* from the attach or the auth callback, or NULL */
  struct client *doomed_next;
  struct client *reread_next;
  /* The shard's timer list for this client's kind (ping, keepalive,
   * handshake timeout): every member has the same period, so the list is
   * ordered by due time and a tick only looks at its head. */
  struct client *tnext, *tprev;
  int64_t due_ms;
};

/* Queues one message for the client, applying its limits and policy. */
void client_enqueue(struct shard *s, struct client *c, struct smsg *sm);
/* Queues a replayed message within the client's caps (the history
 * replayed on a subscribe counts like live messages, so no request can
 * make the server hold more for a client than its caps). Returns false,
 * the message noted as lost, if it does not fit. */
bool client_enqueue_replay(struct shard *s, struct client *c, struct smsg *sm);
/* Queues a message past the caps: hub_send_to(), whose caller is the host
 * and not the client. */
void client_enqueue_past_caps(struct shard *s, struct client *c,
                              struct smsg *sm);
/* Queues a frame of this client's own (reply, notice): not subject to the
 * limits, never dropped. Takes over `sm`. */
void client_enqueue_pinned(struct shard *s, struct client *c, struct smsg *sm);
/* Queues a copy of bytes of the client's own (a handshake answer, a
 * reply), already framed for its wire; closes it when out of memory. */
void client_send_own(struct shard *s, struct client *c, const void *data,
                     size_t len);
/* Counts message `m` (NULL: a private frame) as lost to the client and
 * schedules the "lagged" notice for the subscription it came through. */
void client_note_drop(struct shard *s, struct client *c, const struct msg *m);
/* Remembers that message `seq` of sub's topic was lost to the client, for
 * a "lagged" notice once it takes bytes again. */
void client_note_lag(struct client *c, struct sub *sub, int64_t seq,
                     uint32_t n);
/* Writes what is queued, as few writev calls as the transport allows. */
void client_flush(struct shard *s, struct client *c);
/* Marks the client for closing; the shard frees it when it reaps. */
void client_doom(struct shard *s, struct client *c, int code);
/* Closes the client once everything queued (a close frame, an HTTP error
 * response) is written. */
void client_close_after_flush(struct shard *s, struct client *c, int code);
void client_mark_dirty(struct shard *s, struct client *c);
/* Removes subscriptions and queue, releases the transport, tells the host
 * and frees the client. `in_map`: the client is in shard->clients. */
void client_destroy(struct shard *s, struct client *c, bool in_map);

#endif
