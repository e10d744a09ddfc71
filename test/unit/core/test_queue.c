/* queue.c: the client ring. */
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "tests.h"

static struct smsg *mk(const char *payload) {
  size_t len = strlen(payload);
  struct msg *m = msg_new(&hub__mem_default, "t", 1, 0, payload, len, 0);
  struct smsg *sm = calloc(1, sizeof(*sm));
  sm->msg = m;
  sm->frame[WIRE_RAW].iov_base = m->data;
  sm->frame[WIRE_RAW].iov_len = m->len;
  sm->encoded = 1u << WIRE_RAW;
  return sm;
}

static void rm(struct smsg *sm) {
  msg_unref(&hub__mem_default, sm->msg);
  free(sm);
}

void test_cqueue_drop_oldest(void) {
  struct cqueue q;
  const hub_mem *mem = &hub__mem_default;
  cqueue_init(&q, WIRE_RAW);
  struct smsg *s[10];
  char buf[8];
  for (int i = 0; i < 10; i++) {
    snprintf(buf, sizeof(buf), "m%d", i);
    s[i] = mk(buf);
  }
  for (int i = 0; i < 8; i++)
    CHECK(cqueue_push(&q, mem, s[i], 8) == 0);
  CHECK_EQ(q.count, 8);
  CHECK_EQ(q.cap, 8);
  CHECK_EQ(q.bytes, 16);
  CHECK(cqueue_push(&q, mem, s[8], 8) != 0); /* never grows past the limit */
  /* Drop without a partial head: the oldest goes. */
  CHECK(cqueue_drop_oldest(&q) == s[0]);
  /* With the head partly written it stays, the next oldest goes. */
  q.head_off = 1;
  CHECK(cqueue_drop_oldest(&q) == s[2]);
  CHECK(cqueue_at(&q, 0) == s[1]);
  CHECK_EQ(q.head_off, 1);
  CHECK(cqueue_at(&q, 1) == s[3]);
  CHECK_EQ(q.count, 6);
  CHECK_EQ(q.bytes, 12);
  CHECK(cqueue_pop(&q) == s[1]);
  CHECK_EQ(q.head_off, 0);
  for (int i = 3; i < 8; i++)
    CHECK(cqueue_pop(&q) == s[i]);
  CHECK_EQ(q.count, 0);
  CHECK(cqueue_drop_oldest(&q) == NULL);
  /* Pinned entries (notices) are skipped over, order kept. */
  s[4]->flags = SMSG_PINNED;
  for (int i = 3; i < 7; i++)
    CHECK(cqueue_push(&q, mem, s[i], 8) == 0);
  CHECK(cqueue_drop_oldest(&q) == s[3]);
  CHECK(cqueue_drop_oldest(&q) == s[5]);
  CHECK(cqueue_at(&q, 0) == s[4] && cqueue_at(&q, 1) == s[6]);
  CHECK(cqueue_drop_oldest(&q) == s[6]);
  CHECK(cqueue_drop_oldest(&q) == NULL);
  CHECK(cqueue_pop(&q) == s[4]);
  s[4]->flags = 0;
  /* A lone partly written head is never dropped. */
  CHECK(cqueue_push(&q, mem, s[9], 8) == 0);
  q.head_off = 1;
  CHECK(cqueue_drop_oldest(&q) == NULL);
  CHECK(cqueue_pop(&q) == s[9]);
  cqueue_free(&q, mem);
  CHECK(q.items == q.inline_items);
  for (int i = 0; i < 10; i++)
    rm(s[i]);
}

void test_cqueue_growth(void) {
  /* Past the inline slots one heap ring of CQ_FIRST_HEAP, then doubling;
   * never beyond what covers the limit; inline again once empty, but for
   * a ring of up to CQ_KEEP_MAX of a busy queue. */
  struct cqueue q;
  const hub_mem *mem = &hub__mem_default;
  cqueue_init(&q, WIRE_RAW);
  struct smsg *sm = mk("x");
  for (int i = 0; i < CQ_INLINE; i++)
    CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
  CHECK(q.items == q.inline_items);
  CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
  CHECK_EQ(q.cap, CQ_FIRST_HEAP);
  for (int i = CQ_INLINE + 1; i < CQ_FIRST_HEAP; i++)
    CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
  CHECK_EQ(q.cap, CQ_FIRST_HEAP);
  CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
  CHECK_EQ(q.cap, 2 * CQ_FIRST_HEAP);
  CHECK_EQ(q.count, CQ_FIRST_HEAP + 1);
  for (int i = 0; i < CQ_FIRST_HEAP + 1; i++)
    CHECK(cqueue_pop(&q) == sm);
  /* A busy queue keeps a ring up to CQ_KEEP_MAX, a larger one goes back as
   * soon as the queue is empty. */
  cqueue_shrink(&q, mem);
  CHECK_EQ(q.cap, 2 * CQ_FIRST_HEAP);
  for (int i = 0; i < CQ_KEEP_MAX + 1; i++)
    CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
  CHECK_EQ(q.cap, 2 * CQ_KEEP_MAX);
  while (q.count)
    cqueue_pop(&q);
  cqueue_shrink(&q, mem);
  CHECK(q.items == q.inline_items && q.cap == CQ_INLINE);
  /* The first heap ring stays while the queue keeps outgrowing the inline
   * slots between two emptyings, and goes back after a stretch in which
   * they would have done. */
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < CQ_INLINE + 1; i++)
      CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
    while (q.count)
      cqueue_pop(&q);
    cqueue_shrink(&q, mem);
    CHECK_EQ(q.cap, CQ_FIRST_HEAP);
  }
  CHECK(cqueue_push(&q, mem, sm, 1024) == 0);
  cqueue_shrink(&q, mem); /* not empty: nothing happens */
  CHECK_EQ(q.cap, CQ_FIRST_HEAP);
  cqueue_pop(&q);
  cqueue_shrink(&q, mem);
  CHECK(q.items == q.inline_items && q.cap == CQ_INLINE);
  /* A small limit: the first heap ring only covers it. */
  for (int i = 0; i < 3; i++)
    CHECK(cqueue_push(&q, mem, sm, 3) == 0);
  CHECK_EQ(q.cap, 4);
  CHECK(cqueue_push(&q, mem, sm, 3) == 0); /* room left in the ring */
  CHECK(cqueue_push(&q, mem, sm, 3) != 0); /* full, covers the limit */
  while (q.count)
    cqueue_pop(&q);
  cqueue_shrink(&q, mem); /* busy: kept */
  CHECK_EQ(q.cap, 4);
  cqueue_free(&q, mem);
  CHECK(q.items == q.inline_items);
  rm(sm);
}
