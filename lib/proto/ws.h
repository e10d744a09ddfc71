/* The WebSocket side of a socket client, on wslay's event API.
 *
 * Broadcast frames never pass through wslay (see docs/design.md, "Binding
 * wslay without paying per subscriber"): they are encoded once per message
 * in frame.c. wslay only reads what the client sends (framing, masking,
 * fragmentation, UTF-8, control frames) and writes pongs and the close
 * handshake, which are queued as the client's own frames. ws_input()
 * reads each frame header first and refuses, before wslay sees it whole,
 * what wslay would close without a status code (broken control frames,
 * lengths not in their shortest form) and messages over the size limit,
 * so those closes carry 1002 or 1009. wslay's context, ~9 KB, exists
 * only while the client is inside a frame or message: ws_input() frees it
 * again whenever the bytes end on a frame boundary with no fragmented
 * message open. Shard thread only. */
#ifndef HUB_WS_H
#define HUB_WS_H

#include <stddef.h>

struct shard;
struct client;

/* After the 101 response: the hello notice and the ping timer. */
void ws_start(struct shard *s, struct client *c);
/* Bytes read from the client. */
void ws_input(struct shard *s, struct client *c, const unsigned char *buf,
              size_t n);
/* Queues a text frame of the client's own (a notice or reply). */
void ws_send_text(struct shard *s, struct client *c, const char *text,
                  size_t len);
/* Starts the close handshake from our side: a close frame with `code`,
 * then the connection ends once it is written. */
void ws_close(struct shard *s, struct client *c, int code, const char *why);
void ws_free(struct shard *s, struct client *c);

#endif
