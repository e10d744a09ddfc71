/* libFuzzer target for a socket client's whole inbound path: the request
 * head, the WebSocket upgrade, wslay's frame reader, the frame-boundary
 * tracker that frees wslay's context, and the JSON control protocol.
 *
 * A host-loop hub (no threads) lives for the whole run. Each input is one
 * client on a socketpair. Byte 0 picks the mode: odd, the input is the
 * request head itself; even, a valid upgrade is sent first and the input
 * follows as frames (masked or not, as the bytes say). The shard runs
 * until idle; the server's answer is read and dropped. Any crash, leak or
 * sanitizer report is a failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanhub.h"

static hub_t *hub;

static void setup(void) {
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_threads(o, 0);
  hub_options_set_client_publish(o, 1);
  hub_options_set_max_message_size(o, 1024);
  hub_options_set_max_request_head(o, 1024);
  if (hub_new(&hub, o) || hub_start(hub))
    abort();
  hub_options_free(o);
}

static void drain(int fd) {
  char buf[4096];
  while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
    ;
}

static void run(int fd) {
  for (int i = 0; i < 8; i++) {
    hub_shard_run(hub, 0, 0);
    drain(fd);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!hub)
    setup();
  if (size < 1 || size > 65536)
    return 0;
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
    abort();
  hub_client_id id;
  if (hub_attach_fd(hub, sp[0], NULL, 0, NULL, &id))
    abort();
  if (!(data[0] & 1)) {
    static const char up[] =
        "GET /ws?topic=t HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    if (send(sp[1], up, sizeof(up) - 1, MSG_NOSIGNAL) < 0)
      abort();
    run(sp[1]);
    hub_broadcast(hub, "t", "x", 1, 0);
  }
  /* Feed in pieces so partial headers and frames are exercised. */
  size_t off = 1, piece = (data[0] >> 1) % 7 + 1;
  while (off < size) {
    size_t n = size - off < piece * 37 ? size - off : piece * 37;
    if (send(sp[1], data + off, n, MSG_NOSIGNAL) < 0)
      break; /* the server hung up: fine */
    off += n;
    run(sp[1]);
  }
  close(sp[1]);
  run(-1);
  hub_client_close(hub, id, 0);
  run(-1);
  return 0;
}
