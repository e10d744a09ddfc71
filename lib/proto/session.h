/* The protocol layer of a client that speaks more than raw payloads: the
 * HTTP request, WebSocket, SSE, TLS and auth state above the core's queue.
 * The core reaches it only through the client's ops table (struct
 * client_ops in client.h); this is the table of fanhub's own protocols,
 * for socket clients and host streams alike. */
#ifndef HUB_SESSION_H
#define HUB_SESSION_H

#include "client.h"
#include "hub.h"

extern const struct client_ops session_ops;
/* Its hub-wide side for hub_new(): the per-IP connection counts, the frame
 * encoders, and per shard the TLS configuration, the static ping and
 * keepalive frames, auth deadlines, write and idle timeouts. */
extern const struct hub_protocols hub__protocols;

#endif
