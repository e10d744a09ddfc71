/* The HTTP side of a socket client: collecting the request head, then
 * answering it with a WebSocket upgrade (RFC 6455 section 4), an SSE
 * stream, or an HTTP error. Shard thread only, except handshake_new(). */
#ifndef HUB_HANDSHAKE_H
#define HUB_HANDSHAKE_H

#include <stdbool.h>

#include "client.h"

struct shard;
struct http_request;

/* The request bytes of a client. Most requests arrive whole in one read
 * and are answered from the shard's read buffer where they lie (a
 * borrowed view, never allocated); a request that has to wait (its head or
 * body still coming, an auth decision) is copied into a buffer of its own,
 * sized to what arrived. A connect storm then leaves no head buffers
 * behind to fragment the heap. */
struct handshake {
  char *buf;     /* the bytes: after this struct, or the read buffer's */
  uint32_t len, cap;
  uint32_t need; /* head + body length once the head is parsed, else 0 */
  bool overflow; /* bytes past the limits were cut off */
  bool borrowed; /* a view of bytes this struct does not own */
};

/* A buffer holding a copy of head[0..len), at most `limit` bytes of it
 * (more sets overflow); NULL on ENOMEM. */
struct handshake *handshake_new(const hub_mem *mem, uint32_t limit,
                                const void *head, size_t len);
/* Admits a client that was just attached (the connection caps: else 503,
 * or a close for a client that streams already) and starts it: returns
 * true if its HTTP request is to be read next (the handshake timer runs),
 * false if it was refused or, its request answered by the host's server
 * (HUB_PROTO_WEBSOCKET, HUB_PROTO_SSE), it streams now. */
bool handshake_attach(struct shard *s, struct client *c);
/* Appends bytes read from the socket and tries to finish. */
void handshake_input(struct shard *s, struct client *c,
                     const unsigned char *buf, size_t n);
/* Answers the request if the head is complete (or hopeless), and the
 * requests pipelined after it while the host answers them and the
 * connection stays (HTTP keep-alive), until one is incomplete or the
 * answers not written yet reach handshake_paused(): then session.paused
 * is set and the client is read again (shard_reread()) after this
 * round's writes. */
void handshake_step(struct shard *s, struct client *c);
/* True while a socket client's next request must wait: its answers not
 * written yet hold 64 KiB (its queue's byte cap, if lower), or it closes
 * once they are out. */
bool handshake_paused(const struct client *c);
void handshake_free(struct shard *s, struct client *c);

/* The WebSocket subprotocols a request offers, one per call across every
 * Sec-WebSocket-Protocol header; *pos starts at 0. False at the end. */
bool ws_next_protocol(const struct http_request *req, size_t *pos,
                      const char **tok, size_t *len);
/* Answers the request with an HTTP error and closes once it is written. */
void handshake_refuse(struct shard *s, struct client *c, int status,
                      const char *why, const char *extra_headers);

/* The Sec-WebSocket-Accept value for `key` (RFC 6455 4.2.2): base64 of
 * SHA-1(key + GUID), 28 characters plus NUL into out[29]. Returns 0, or -1
 * if key is not the base64 of 16 bytes. */
int ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
