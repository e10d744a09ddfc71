/* The host's auth callback (fanhub.h, "Security"): CONNECT decisions for
 * requests, SUBSCRIBE and PUBLISH decisions for clients' own requests,
 * and the pending ones the host answers later with hub_auth_complete().
 * Shard thread only. */
#ifndef HUB_AUTH_H
#define HUB_AUTH_H

#include <stdbool.h>
#include <stdint.h>

struct shard;
struct client;
struct client_req;
struct cmd;
struct http_request;

enum { AUTH_NONE, AUTH_PENDING, AUTH_ALLOWED };

/* A pending decision, parked on its shard (FIFO by deadline) and on its
 * client. */
struct auth_op;

/* Asks about a CONNECT once the request is complete. Returns true when the
 * request may go on now; false when it was refused or is pending (the
 * handshake is run again once allowed). */
bool auth_connect(struct shard *s, struct client *c,
                  const struct http_request *req);
/* Authorizes a client's own request and carries it out, refuses it, or
 * parks it until the host answers. */
void auth_request(struct shard *s, struct client *c,
                  const struct client_req *r);
/* CMD_AUTH: the host's answer to a pending decision. */
void auth_answer(struct shard *s, struct cmd *cmd);
/* Denies the pending decisions past their deadline. */
void auth_expire(struct shard *s, int64_t now_ms);
/* The earliest pending deadline, or -1. */
int64_t auth_next_deadline(const struct shard *s);
/* The client goes: its pending decisions are dropped. */
void auth_forget(struct shard *s, struct client *c);

#endif
