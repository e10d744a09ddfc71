/* Thousands of WebSocket and SSE clients on socketpairs come and go while
 * broadcasts run; `make valgrind` runs this one under valgrind and
 * requires zero leaks and zero errors. */
#include <string.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

void churn_sockets(void) {
  enum { CYCLES = 600 };
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  char head[1024], buf[512];
  for (int i = 0; i < CYCLES; i++) {
    hub_client_id id;
    int fd = wsc_attach(hub, &id);
    CHECK(fd >= 0);
    if (i % 2) {
      CHECK_EQ(wsc_upgrade(fd, "/ws?topic=c", NULL, head, sizeof(head)), 101);
      CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"d\"}"));
      CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
      if (i % 3 == 0) /* leave mid-frame: wslay's context is alive */
        CHECK(wsc_send(fd, false, 0, 0x1, "{\"op\"", 5, true));
    } else {
      const char *req = "GET /sse?topic=c HTTP/1.1\r\nHost: x\r\n\r\n";
      CHECK(wsc_write(fd, req, strlen(req)));
      CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 200);
    }
    CHECK(hub_broadcast(hub, "c", "churn", 5, 0) > 0);
    close(fd);
  }
  CHECK(WAIT_STAT(hub, clients_closed, CYCLES, 30000));
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.clients, 0);
  CHECK_EQ(s.subscriptions, 0);
  CHECK_EQ(s.topics, 0);
  hub_free(hub);
}
