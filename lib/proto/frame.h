/* Wire frames, encoded once per message and wire format and shared by
 * every client of that format on a shard. Also the one-off frames a single
 * client gets (handshake replies, notices) and the WebSocket frame header
 * both use. */
#ifndef HUB_FRAME_H
#define HUB_FRAME_H

#include <sys/uio.h>

#include "msg.h"

#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

/* Writes an unmasked, final RFC 6455 frame header for `len` payload bytes
 * into out[0..10); returns its length (2, 4 or 10). */
size_t ws_header(unsigned char *out, unsigned opcode, uint64_t len);

/* Builds the frame of `m` for wire `w` into memory from `mem`; `epoch` is
 * the hub's epoch string (SSE ids). WIRE_RAW frames point at the payload
 * and allocate nothing. Returns 0 or HUB_ENOMEM. */
int frame_encode(enum wire w, const struct msg *m, const char *epoch,
                 const hub_mem *mem, struct iovec *out);

#endif
