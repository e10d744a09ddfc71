/* mpsc.h: the bounded message ring and the command stack. */
#include <pthread.h>
#include <stdlib.h>

#include "mpsc.h"
#include "tests.h"

void test_mpsc_ring_order_and_full(void) {
  struct mpsc_ring r;
  CHECK(mpsc_ring_init(&r, &hub__mem_default, 16) == 0);
  CHECK(mpsc_ring_pop(&r) == NULL);
  for (uintptr_t round = 0; round < 3; round++) {
    for (uintptr_t i = 1; i <= 16; i++)
      CHECK(mpsc_ring_push(&r, (void *)(i + round * 100)));
    CHECK(!mpsc_ring_push(&r, (void *)99)); /* full: fails at once */
    for (uintptr_t i = 1; i <= 16; i++)
      CHECK(mpsc_ring_pop(&r) == (void *)(i + round * 100));
    CHECK(mpsc_ring_pop(&r) == NULL);
  }
  mpsc_ring_destroy(&r, &hub__mem_default);
}

#define PRODUCERS 4
#define PER_PRODUCER 100000

struct prod_arg {
  struct mpsc_ring *r;
  uintptr_t id;
};

static void *producer(void *arg) {
  struct prod_arg *a = arg;
  for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
    void *v = (void *)((a->id << 32) | (i + 1));
    while (!mpsc_ring_push(a->r, v))
      ;
  }
  return NULL;
}

void test_mpsc_ring_producers(void) {
  struct mpsc_ring r;
  CHECK(mpsc_ring_init(&r, &hub__mem_default, 1024) == 0);
  pthread_t th[PRODUCERS];
  struct prod_arg args[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) {
    args[i] = (struct prod_arg){&r, (uintptr_t)i};
    pthread_create(&th[i], NULL, producer, &args[i]);
  }
  uintptr_t next[PRODUCERS] = {0};
  long got = 0;
  int ok = 1;
  while (got < (long)PRODUCERS * PER_PRODUCER) {
    void *v = mpsc_ring_pop(&r);
    if (!v)
      continue;
    uintptr_t p = (uintptr_t)v >> 32, i = (uintptr_t)v & 0xffffffffu;
    if (p >= PRODUCERS || i != next[p] + 1)
      ok = 0; /* each producer's items arrive once, in order */
    else
      next[p] = i;
    got++;
  }
  for (int i = 0; i < PRODUCERS; i++)
    pthread_join(th[i], NULL);
  CHECK(ok);
  CHECK(mpsc_ring_pop(&r) == NULL);
  mpsc_ring_destroy(&r, &hub__mem_default);
}

struct snode {
  struct cmd_node node;
  int v;
};

void test_cmd_stack_fifo(void) {
  struct cmd_stack st = {NULL};
  struct snode n[5];
  CHECK(cmd_stack_empty(&st));
  for (int i = 0; i < 5; i++) {
    n[i].v = i;
    cmd_stack_push(&st, &n[i].node);
  }
  CHECK(!cmd_stack_empty(&st));
  struct cmd_node *c = cmd_stack_take(&st);
  CHECK(cmd_stack_empty(&st));
  for (int i = 0; i < 5; i++, c = c->next)
    CHECK(container_of(c, struct snode, node)->v == i);
  CHECK(c == NULL);
}
