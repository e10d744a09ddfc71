/* The scale-out hooks: a relay takes broadcasts, hub_deliver() brings
 * them back with an engine's seq, hub_set_sequence() continues a
 * numbering, hub_report_loss() tells subscribers about what is gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

struct relayed {
  int n, refuse_at; /* refuse_at: the relay fails the n-th call (1-based) */
  char topics[16][16];
  char data[16][16];
};

static int capture(hub_t *hub, const char *topic, size_t topic_len,
                   const void *data, size_t len, unsigned flags, void *ud) {
  (void)hub;
  (void)flags;
  struct relayed *r = ud;
  if (r->n + 1 == r->refuse_at) {
    r->refuse_at = 0;
    return HUB_ENOMEM;
  }
  if (r->n == 16 || topic_len >= 16 || len >= 16)
    return HUB_EINVAL;
  memcpy(r->topics[r->n], topic, topic_len);
  r->topics[r->n][topic_len] = '\0';
  memcpy(r->data[r->n], data, len);
  r->data[r->n][len] = '\0';
  r->n++;
  return 0;
}

static hub_t *relay_hub(struct relayed *r, const char *epoch, int64_t seq) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  hub_options_set_history(o, NULL, 100, 1 << 20, 0);
  int rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv)
    return NULL;
  if ((r && hub_set_relay(hub, capture, r)) ||
      (epoch && hub_set_sequence(hub, epoch, seq)) || hub_start(hub)) {
    hub_free(hub);
    return NULL;
  }
  return hub;
}

void test_relay_takes_broadcasts(void) {
  struct relayed r = {0};
  hub_t *hub = relay_hub(&r, NULL, 0);
  CHECK(hub);
  CHECK_EQ(hub_set_relay(hub, NULL, NULL), HUB_ESTATE);
  int fd = wsc_open(hub);
  CHECK(fd >= 0);
  char buf[512];
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  /* Handed to the relay, not delivered here: the engine does that. */
  CHECK_EQ(hub_broadcast(hub, "t", "one", 3, 0), 0);
  CHECK_EQ(hub_broadcast(hub, "t.*", "x", 1, 0), HUB_ETOPIC);
  CHECK(r.n == 1 && !strcmp(r.topics[0], "t") && !strcmp(r.data[0], "one"));
  CHECK_EQ(stats_of(hub).broadcasts, 1);
  /* A batch goes over in order; the relay's refusal keeps the rest. */
  hub_batch *b;
  CHECK(hub_batch_new(hub, &b) == 0);
  CHECK(hub_batch_add(b, "a", "1", 1, 0) == 0);
  CHECK(hub_batch_add(b, "bb", "22", 2, 0) == 0);
  CHECK(hub_batch_add(b, "ccc", "333", 3, 0) == 0);
  r.refuse_at = 3; /* the second message of the batch */
  CHECK_EQ(hub_batch_publish(b), HUB_ENOMEM);
  CHECK_EQ(hub_batch_count(b), 2);
  CHECK_EQ(hub_batch_publish(b), 0);
  CHECK_EQ(hub_batch_count(b), 0);
  hub_batch_free(b);
  CHECK_EQ(r.n, 4);
  CHECK(!strcmp(r.topics[1], "a") && !strcmp(r.data[1], "1"));
  CHECK(!strcmp(r.topics[2], "bb") && !strcmp(r.data[2], "22"));
  CHECK(!strcmp(r.topics[3], "ccc") && !strcmp(r.data[3], "333"));
  /* Nothing reached the client: the next frame is the delivered one. */
  CHECK_EQ(hub_deliver(hub, "t", "one", 3, 0, 7), 7);
  unsigned op;
  CHECK(wsc_recv(fd, &op, buf, sizeof(buf), 2000) > 0);
  CHECK(strstr(buf, "\"seq\":7,") && strstr(buf, "one"));
  close(fd);
  hub_free(hub);
}

void test_deliver_engine_seq(void) {
  hub_t *unstarted;
  CHECK(hub_new(&unstarted, NULL) == 0);
  CHECK_EQ(hub_set_sequence(unstarted, "", 0), HUB_EINVAL);
  CHECK_EQ(hub_set_sequence(unstarted, "a-b", 0), HUB_EINVAL);
  CHECK_EQ(hub_set_sequence(unstarted, "0123456789abcdef0", 0), HUB_EINVAL);
  CHECK_EQ(hub_set_sequence(unstarted, "ok", -1), HUB_EINVAL);
  CHECK_EQ(hub_deliver(unstarted, "t", "x", 1, 0, 1), HUB_ESTATE);
  hub_free(unstarted);

  hub_t *hub = relay_hub(NULL, "Stream42", 1000);
  CHECK(hub);
  CHECK(!strcmp(hub_epoch(hub), "Stream42"));
  CHECK_EQ(hub_set_sequence(hub, "x", 0), HUB_ESTATE);
  int fd = wsc_open(hub);
  CHECK(fd >= 0);
  char buf[512];
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK_EQ(hub_deliver(hub, "t", "a", 1, 0, 1005), 1005);
  CHECK_EQ(hub_deliver(hub, "t", "dup", 3, 0, 1005), 0);
  CHECK_EQ(hub_deliver(hub, "t", "old", 3, 0, 1003), 0);
  CHECK_EQ(hub_deliver(hub, "t", "x", 1, 0, 0), HUB_EINVAL);
  CHECK_EQ(hub_deliver(hub, "other", "o", 1, 0, 1007), 1007);
  CHECK_EQ(hub_deliver(hub, "t", "b", 1, 0, 1010), 1010);
  int64_t got[8];
  CHECK_EQ(wsc_read_seqs(fd, "\"seq\":1010,", got, 8, buf, sizeof(buf)), 2);
  CHECK(got[0] == 1005 && got[1] == 1010);
  /* A local broadcast would number on from the engine's seq. */
  CHECK_EQ(hub_broadcast(hub, "t", "c", 1, 0), 1011);
  CHECK_EQ(wsc_read_seqs(fd, "\"seq\":1011,", got, 8, buf, sizeof(buf)), 1);
  close(fd);
  /* Resume on the shared epoch: after 1005, 1010 and 1011 come back. */
  fd = wsc_open(hub);
  CHECK(fd >= 0);
  CHECK(wsc_send_text(
      fd, "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":\"Stream42-1005\"}"));
  CHECK_EQ(wsc_read_seqs(fd, "\"seq\":1011,", got, 8, buf, sizeof(buf)), 2);
  CHECK(got[0] == 1010 && got[1] == 1011);
  close(fd);
  /* From before the numbering was taken over: unknown here, a reset. */
  fd = wsc_open(hub);
  CHECK(fd >= 0);
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":999}"));
  CHECK(wsc_recv_until(fd, "\"type\":\"reset\"", buf, sizeof(buf), 2000));
  close(fd);
  hub_free(hub);
}

void test_report_loss(void) {
  hub_t *hub = relay_hub(NULL, "e", 0);
  CHECK(hub);
  int fd = wsc_open(hub);
  CHECK(fd >= 0);
  char buf[512];
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"u.*\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK_EQ(hub_report_loss(hub, "t.*", 1, 1), HUB_ETOPIC);
  CHECK_EQ(hub_report_loss(hub, "t", 1, 0), HUB_EINVAL);
  CHECK_EQ(hub_deliver(hub, "t", "a", 1, 0, 1), 1);
  CHECK_EQ(hub_deliver(hub, "t", "b", 1, 0, 2), 2);
  CHECK_EQ(hub_report_loss(hub, "t", 0, 3), HUB_EINVAL);
  CHECK_EQ(hub_report_loss(hub, "t", 15, 3), 0);
  CHECK_EQ(hub_deliver(hub, "t", "c", 1, 0, 4), 4);
  /* Messages 1, 2 and 4, and the notice (queued when the shard flushes:
   * it may follow 4, its "to" says where the loss was). */
  int64_t got[8];
  int n = 0, lagged = 0;
  unsigned op;
  while ((n < 3 || !lagged) && wsc_recv(fd, &op, buf, sizeof(buf), 2000) > 0) {
    if (strstr(buf, "\"type\":\"message\"") && n < 8)
      got[n++] = strtoll(strstr(buf, "\"seq\":") + 6, NULL, 10);
    if (strstr(buf, "\"type\":\"lagged\"")) {
      CHECK(strstr(buf, "\"topic\":\"t\"") && strstr(buf, "\"to\":3") &&
            strstr(buf, "\"dropped\":15,"));
      lagged++;
    }
  }
  CHECK(n == 3 && lagged == 1);
  CHECK(got[0] == 1 && got[1] == 2 && got[2] == 4);
  /* A resume across the loss cannot be gapless; one after it can. (A
   * subscription's history is replayed once, when it is made: resuming
   * is unsubscribing and subscribing again.) */
  CHECK(wsc_send_text(fd, "{\"op\":\"unsubscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":2}"));
  CHECK(wsc_recv_until(fd, "\"type\":\"reset\"", buf, sizeof(buf), 2000));
  CHECK(wsc_send_text(fd, "{\"op\":\"unsubscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":3}"));
  CHECK_EQ(wsc_read_seqs(fd, "\"seq\":4,", got, 8, buf, sizeof(buf)), 1);
  /* Lost on a topic nobody can name: every subscription hears of it,
   * patterns included, and every resume from before it resets. */
  CHECK_EQ(hub_deliver(hub, "u.x", "d", 1, 0, 5), 5);
  CHECK_EQ(hub_report_loss(hub, NULL, 2, 6), 0);
  int lagged_t = 0, lagged_u = 0;
  while ((!lagged_t || !lagged_u) &&
         wsc_recv(fd, &op, buf, sizeof(buf), 2000) > 0) {
    if (strstr(buf, "\"type\":\"lagged\"")) {
      lagged_t |= strstr(buf, "\"topic\":\"t\"") != NULL;
      lagged_u |= strstr(buf, "\"topic\":\"u.*\"") != NULL;
      CHECK(strstr(buf, "\"to\":6"));
    }
  }
  CHECK(lagged_t && lagged_u);
  CHECK(wsc_send_text(fd, "{\"op\":\"unsubscribe\",\"topic\":\"t\"}"));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"t\",\"since\":4}"));
  CHECK(wsc_recv_until(fd, "\"type\":\"reset\"", buf, sizeof(buf), 2000));
  close(fd);
  hub_free(hub);
}
