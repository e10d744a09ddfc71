/* Socket clients (hub_attach_fd): the fd transport, epoll registration and
 * the read path that hands bytes to the handshake or the WebSocket
 * reader. Shard thread only, except conn_fd_transport's use in hub.c. */
#ifndef HUB_CONN_H
#define HUB_CONN_H

#include <stdint.h>

#include "client.h"

struct shard;

/* writev/close on a non-blocking fd stored in io_user. */
extern const hub_transport conn_fd_transport;

/* Registers the client's fd with the shard and starts its handshake. */
void conn_attach(struct shard *s, struct client *c);
/* Bytes the client sent, read by the shard or fed by the host
 * (hub_client_input()); and the end of them. */
void conn_input(struct shard *s, struct client *c, const unsigned char *buf,
                size_t n);
void conn_eof(struct shard *s, struct client *c);
/* Handles epoll `events` for a socket client. */
void conn_event(struct shard *s, struct client *c, uint32_t events);

#endif
