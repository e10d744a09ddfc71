/* The protocol layer of a client that speaks more than raw payloads: the
 * HTTP request, WebSocket, SSE, TLS and auth state above the core's queue.
 * The core reaches it only through the client's ops table (struct
 * client_ops in client.h); this is the table of fanhub's own protocols,
 * for socket clients and host streams alike. */
#ifndef HUB_SESSION_H
#define HUB_SESSION_H

#include "client.h"
#include "hub.h"

struct tls_conn;
struct tls_shard;
struct handshake;
struct ws_in;
struct auth_op;
struct replay_batch;

/* The subscriptions a client was attached with
 * (hub_client_options_add_topic), made once it streams. */
struct stream_init {
  int64_t since; /* -1: live */
  bool epoch_ok;
  uint32_t ntopics;
  char topics[]; /* ntopics NUL-terminated names */
};

/* A client of the protocols and their state of it, one allocation
 * (hub_protocols.client_size): the core's struct client first, so
 * session_of() is an offset, not a pointer to follow, and a client costs
 * one malloc. */
struct session {
  struct client c;
  /* What reads and inbound messages touch. */
  struct tls_conn *tls;         /* TLS clients: also the transport's io_user */
  struct ws_in *ws;             /* while a WebSocket client is inside a frame */
  int64_t input_ms;             /* last bytes from the client */
  int64_t rate_tokens, rate_ms; /* inbound message budget */
  bool got_input;               /* bytes arrived since the last timer tick */
  bool ping_due;  /* a ping went out and no byte came back since */
  bool tls_ready; /* the TLS handshake is done */
  /* Its start: the request, the attach's topics and their replay. */
  bool want_tls;            /* hub_attach_fd() with TLS; tls from conn_attach */
  bool routed;              /* the request callback said "stream" */
  bool paused;              /* HTTP: not read until its answers are out */
  bool raw;                 /* WebSocket frames without the JSON envelope */
  struct handshake *hs;     /* while kind == CLIENT_HTTP */
  struct stream_init *init; /* until it streams */
  struct replay_batch *batch; /* while its request's topics subscribe */
  /* Security (auth.c, admission.c). */
  struct auth_op *auth_ops; /* decisions waiting for the host */
  uint64_t auth_serial;
  uint8_t auth_state; /* AUTH_* */
  uint8_t auth_npending;
  bool counted, ip_counted; /* in the connection caps */
  uint8_t family;           /* AF_INET, AF_INET6, or 0: unknown */
  uint16_t port;
  uint8_t addr[16];
};

/* Only for a client with ops: one of raw payloads is a struct client
 * alone. */
static inline struct session *session_of(struct client *c) {
  return container_of(c, struct session, c);
}

/* The protocols' state of a shard (its `proto`), made by their shard
 * init: a pointer away, which costs nothing per client. */
struct proto_shard {
  struct tls_shard *tls;                 /* NULL without a certificate */
  struct auth_op *auth_head, *auth_tail; /* pending decisions, by deadline */
  struct smsg ping_frame, keepalive_frame;
};

extern const struct client_ops session_ops;
/* Its hub-wide side for hub_new(): the per-IP connection counts, the frame
 * encoders, and per shard the TLS configuration, the static ping and
 * keepalive frames, auth deadlines, write and idle timeouts. */
extern const struct hub_protocols hub__protocols;

#endif
