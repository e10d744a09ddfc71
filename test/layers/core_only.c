/* The core alone: linked from lib/core/'s objects with no protocol layer,
 * no wslay and no mbedTLS, a hub fans out raw payloads to host transports
 * and refuses what needs the protocols. Built and run by
 * test/layers/run.sh. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fanhub.h"

static char got[64];
static size_t got_len;

static int64_t take(void *io, const struct iovec *iov, int n) {
  (void)io;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    if (got_len + iov[i].iov_len < sizeof(got)) {
      memcpy(got + got_len, iov[i].iov_base, iov[i].iov_len);
      got_len += iov[i].iov_len;
    }
    total += iov[i].iov_len;
  }
  return (int64_t)total;
}

#define FAIL(what)                                                             \
  do {                                                                         \
    fprintf(stderr, "core_only: %s\n", what);                                  \
    return 1;                                                                  \
  } while (0)

int main(void) {
  hub_options *o;
  hub_t *hub;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_threads(o, 0);
  if (hub_new(&hub, o) || hub_start(hub))
    FAIL("hub_new/hub_start");
  hub_options_free(o);
  hub_transport tp = {.size = sizeof(tp), .writev = take};
  hub_client_id id;
  if (hub_attach_transport(hub, &tp, NULL, NULL, &id))
    FAIL("a raw host transport");
  if (hub_subscribe(hub, id, "t") || hub_broadcast(hub, "t", "raw", 3, 0) <= 0)
    FAIL("subscribe/broadcast");
  for (int i = 0; i < 16 && got_len < 3; i++)
    hub_shard_run(hub, 0, 0);
  if (got_len != 3 || memcmp(got, "raw", 3) != 0)
    FAIL("the payload did not arrive raw");
  hub_client_options *copt;
  hub_client_options_new(&copt);
  hub_client_options_set_protocol(copt, HUB_PROTO_WEBSOCKET);
  if (hub_attach_transport(hub, &tp, NULL, copt, &id) != HUB_EINVAL)
    FAIL("a WebSocket client without the protocols was taken");
  hub_client_options_free(copt);
  hub_free(hub);
  puts("core_only: ok");
  return 0;
}
