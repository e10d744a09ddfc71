/* A message that arrives on a socket during a flush round (a WebSocket
 * client's publish) reaches the clients the round has not written yet. */
#include <unistd.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"
#include "wsclient.h"

static int mid_round_publisher = -1;

static void publish_on_socket_once(struct memtp *t) {
  t->on_write = NULL;
  CHECK(wsc_send_text(mid_round_publisher,
                      "{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"b\"}"));
}

/* The same with the message arriving on a socket, as a WebSocket client's
 * publish: the first client's write sends it (on the shard thread, so it
 * is in the socket before the round looks), and the round reads it at its
 * first look at the sockets, after 64 clients. */
void test_socket_publish_mid_round(void) {
  enum { N = 200 };
  hub_options *o;
  hub_t *hub = NULL;
  CHECK(hub_options_new(&o) == 0);
  hub_options_set_shards(o, 1);
  hub_options_set_client_publish(o, 1);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  mid_round_publisher = wsc_open(hub);
  CHECK(mid_round_publisher >= 0);
  struct memtp *t[N];
  for (int i = 0; i < N; i++) {
    t[i] = memtp_attach(hub, NULL);
    CHECK(t[i]);
    CHECK(hub_subscribe(hub, t[i]->id, "t") == 0);
    CHECK(WAIT_STAT(hub, subscriptions, i + 1, 2000)); /* in this order */
  }
  t[0]->on_write = publish_on_socket_once;
  CHECK(hub_broadcast(hub, "t", "a", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, 2 * N, 5000));
  int one_write = 0;
  for (int i = 0; i < N; i++) {
    CHECK(memtp_got(t[i], "a\"b\""));
    one_write += t[i]->writes == 1;
  }
  CHECK_EQ(one_write, N - 64);
  hub_free(hub);
  close(mid_round_publisher);
  for (int i = 0; i < N; i++)
    memtp_free(t[i]);
}
