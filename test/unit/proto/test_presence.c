/* Presence as WebSocket clients see it: join and leave notices on the
 * topics that have it, and hub_presence() listing the members. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

static void count_member(hub_t *hub, hub_client_id id, const char *principal,
                         void *ud) {
  (void)hub;
  (void)id;
  (void)principal;
  (*(int *)ud)++;
}

void test_presence(void) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  CHECK(hub_options_set_presence(o, "room.*") == 0);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  char head[1024], buf[512];
  hub_client_id ida, idb;
  int a = wsc_attach(hub, &ida), b = wsc_attach(hub, &idb);
  CHECK_EQ(wsc_upgrade(a, "/ws?topic=room.1", NULL, head, sizeof(head)), 101);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  CHECK_EQ(wsc_upgrade(b, "/ws?topic=room.1&topic=lobby", NULL, head,
                       sizeof(head)), 101);
  /* a sees b join; b gets no join for "lobby" (no presence there). */
  char want[64];
  snprintf(want, sizeof(want), "\"client\":\"%llu\"", (unsigned long long)idb);
  CHECK(wsc_recv_until(a, "\"type\":\"join\"", buf, sizeof(buf), 2000));
  if (!strstr(buf, want)) /* a's own join came first */
    CHECK(wsc_recv_until(a, "\"type\":\"join\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, want) && strstr(buf, "\"topic\":\"room.1\""));
  CHECK(WAIT_STAT(hub, subscriptions, 3, 2000));
  int n = 0;
  CHECK_EQ(hub_presence(hub, "room.1", count_member, &n), 2);
  CHECK_EQ(n, 2);
  CHECK_EQ(hub_presence(hub, "lobby", count_member, &n), 0);
  close(b);
  CHECK(wsc_recv_until(a, "\"type\":\"leave\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, want));
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  n = 0;
  CHECK_EQ(hub_presence(hub, "room.1", count_member, &n), 1);
  close(a);
  hub_free(hub);
}
