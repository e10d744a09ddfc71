/* libfanhub-nats's outbox (nats/outbox.c): bounded by count and bytes,
 * in order, drops noted per topic and turned into loss markers once the
 * backlog is out. */
#include <stdio.h>
#include <string.h>

#include "outbox.h"
#include "tests.h"

static void free_all(struct ob_item **it, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    ob_item_free(it[i]);
}

void test_outbox_bounds_and_order(void) {
  struct outbox ob;
  CHECK(outbox_init(&ob, 3, 10) == 0);
  CHECK(!outbox_has_work_locked(&ob));
  CHECK_EQ(outbox_push(&ob, "a", 1, "1234", 4, 0), 0);
  CHECK_EQ(outbox_push(&ob, "b", 1, "56", 2, 1), 0);
  CHECK_EQ(outbox_push(&ob, "a", 1, "78901", 5, 0), 1); /* 11 bytes > 10 */
  CHECK_EQ(outbox_push(&ob, "c", 1, "x", 1, 2), 0);
  CHECK_EQ(outbox_push(&ob, "a", 1, "y", 1, 0), 1); /* 4 messages > 3 */
  CHECK_EQ(outbox_push(&ob, "d", 1, "z", 1, 0), 1);
  CHECK_EQ(ob.count, 3);
  CHECK_EQ(ob.bytes, 7);
  CHECK_EQ(ob.dropped, 3);
  /* Broadcasts first, in order; no marker while any waits. */
  struct ob_item *it[8];
  CHECK_EQ(outbox_take_locked(&ob, it, 2), 2);
  CHECK(!strcmp(it[0]->topic, "a") && it[0]->len == 4 && !it[0]->lost);
  CHECK(!strcmp(it[1]->topic, "b") && it[1]->flags == 1 &&
        !memcmp(it[1]->data, "56", 2));
  free_all(it, 2);
  CHECK_EQ(outbox_take_locked(&ob, it, 1), 1);
  CHECK(!strcmp(it[0]->topic, "c") && !it[0]->lost);
  free_all(it, 1);
  /* Then one marker per topic, counting its drops. */
  CHECK(outbox_has_work_locked(&ob));
  unsigned n = outbox_take_locked(&ob, it, 8);
  CHECK_EQ(n, 2);
  uint64_t a = 0, d = 0;
  for (unsigned i = 0; i < n; i++) {
    CHECK(it[i]->len == 0);
    if (!strcmp(it[i]->topic, "a"))
      a = it[i]->lost;
    if (!strcmp(it[i]->topic, "d"))
      d = it[i]->lost;
  }
  CHECK(a == 2 && d == 1);
  /* A marker that could not go out is noted again, not counted twice. */
  outbox_note_loss(&ob, it[0]);
  CHECK_EQ(ob.dropped, 3);
  free_all(it, n);
  CHECK_EQ(outbox_take_locked(&ob, it, 8), 1);
  CHECK(it[0]->lost == (uint64_t)(it[0]->topic[0] == 'a' ? 2 : 1));
  free_all(it, 1);
  CHECK(!outbox_has_work_locked(&ob));
  /* A refused broadcast becomes a loss of one. */
  CHECK_EQ(outbox_push(&ob, "e", 1, "q", 1, 0), 0);
  CHECK_EQ(outbox_take_locked(&ob, it, 1), 1);
  outbox_note_loss(&ob, it[0]);
  ob_item_free(it[0]);
  CHECK_EQ(ob.dropped, 4);
  CHECK_EQ(outbox_take_locked(&ob, it, 8), 1);
  CHECK(!strcmp(it[0]->topic, "e") && it[0]->lost == 1);
  free_all(it, 1);
  outbox_destroy(&ob);
}

void test_outbox_many_lost_topics(void) {
  /* Past OB_LOSS_TOPICS distinct topics, one marker for any topic stands
   * in for the rest. */
  struct outbox ob;
  CHECK(outbox_init(&ob, 1, 1 << 20) == 0);
  CHECK_EQ(outbox_push(&ob, "keep", 4, "x", 1, 0), 0);
  char t[16];
  for (int i = 0; i < OB_LOSS_TOPICS + 10; i++) {
    int n = snprintf(t, sizeof(t), "t%d", i);
    CHECK_EQ(outbox_push(&ob, t, (size_t)n, "x", 1, 0), 1);
  }
  CHECK_EQ(ob.nlosses, OB_LOSS_TOPICS);
  CHECK_EQ(ob.lost_any, 10);
  struct ob_item *it[OB_LOSS_TOPICS + 4];
  unsigned n = outbox_take_locked(&ob, it, OB_LOSS_TOPICS + 4);
  CHECK_EQ(n, OB_LOSS_TOPICS + 2); /* keep, the named markers, any */
  CHECK(!strcmp(it[0]->topic, "keep") && !it[0]->lost);
  CHECK(it[n - 1]->topic_len == 0 && it[n - 1]->lost == 10);
  free_all(it, n);
  CHECK(!outbox_has_work_locked(&ob));
  outbox_destroy(&ob);
}
