/* Input a host feeds for a stream it owns (hub_client_input()) is bounded
 * per shard: past it the host is told to pause. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"

void test_stream_input_backpressure(void) {
  /* A host that reads faster than the shard handles its input is told to
   * pause (HUB_EAGAIN, nothing taken) once 16 MiB wait, and is taken
   * again once the shard has caught up. Host-loop mode: the shard runs
   * only when this test says so. */
  hub_t *hub = hub_make(1, 0, NULL);
  CHECK(hub);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  hub_client_id id;
  CHECK(hub_attach_transport(hub, &fd_transport, (void *)(intptr_t)sp[0], NULL,
                             &id) == 0);
  char *mib = calloc(1, 1 << 20);
  CHECK(mib);
  int taken = 0, rv = 0;
  while (taken < 32 && (rv = hub_client_input(hub, id, mib, 1 << 20)) == 0)
    taken++;
  CHECK_EQ(taken, 16);
  CHECK_EQ(rv, HUB_EAGAIN);
  CHECK_EQ(hub_client_input(hub, id, mib, (1 << 20) + 1), HUB_EINVAL);
  for (int i = 0; i < 8; i++)
    hub_shard_run(hub, 0, 0);
  CHECK_EQ(hub_client_input(hub, id, mib, 1 << 20), 0);
  free(mib);
  close(sp[1]);
  hub_free(hub);
}
