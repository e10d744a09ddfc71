/* registry.c: both reverse maps, idempotence, cleanup. */
#include <string.h>

#include "registry.h"
#include "tests.h"

static uint64_t h(const char *s) {
  static const hash_key k = {7, 9};
  return hash_bytes(&k, s, strlen(s));
}

#define ADD(reg, c, list, name)                                              \
  registry_add(reg, c, list, name, strlen(name), h(name), NULL)
#define DEL(reg, c, list, name)                                              \
  registry_del(reg, c, list, name, strlen(name), h(name))

void test_registry_idempotent(void) {
  struct registry reg;
  registry_init(&reg, &hub__mem_default, &(hash_key){1, 2});
  struct sub_list a = {0}, b = {0};
  struct client *ca = (struct client *)&a, *cb = (struct client *)&b;
  CHECK_EQ(ADD(&reg, ca, &a, "news"), 1);
  CHECK_EQ(ADD(&reg, ca, &a, "news"), 0);
  CHECK_EQ(ADD(&reg, cb, &b, "news"), 1);
  CHECK_EQ(ADD(&reg, cb, &b, "news"), 0);
  CHECK_EQ(reg.nsubs, 2);
  struct ltopic *t = registry_find(&reg, "news", 4, h("news"));
  CHECK(t && t->nsubs == 2);
  CHECK_EQ(DEL(&reg, ca, &a, "news"), 1);
  CHECK_EQ(DEL(&reg, ca, &a, "news"), 0);
  CHECK_EQ(DEL(&reg, ca, &a, "other"), 0);
  CHECK(t->nsubs == 1 && t->subs[0]->client == cb);
  CHECK_EQ(DEL(&reg, cb, &b, "news"), 1);
  CHECK_EQ(reg.nsubs, 0);
  registry_destroy(&reg);
}

void test_registry_cleanup(void) {
  struct registry reg;
  registry_init(&reg, &hub__mem_default, &(hash_key){1, 2});
  struct sub_list a = {0};
  struct client *ca = (struct client *)&a;
  CHECK_EQ(ADD(&reg, ca, &a, "x"), 1);
  CHECK_EQ(ADD(&reg, ca, &a, "y"), 1);
  CHECK_EQ(a.count, 2);
  CHECK_EQ(DEL(&reg, ca, &a, "x"), 1);
  /* The empty topic set is gone from the map. */
  CHECK(registry_find(&reg, "x", 1, h("x")) == NULL);
  CHECK(registry_find(&reg, "y", 1, h("y")) != NULL);
  /* Unsubscribe-all through the client's list, as a close does. */
  while (a.head)
    registry_del_sub(&reg, &a, a.head);
  CHECK_EQ(a.count, 0);
  CHECK(registry_find(&reg, "y", 1, h("y")) == NULL);
  CHECK_EQ(reg.topics.count, 0);
  CHECK(reg.topics.buckets == NULL);
  registry_destroy(&reg);
}

void test_registry_many_topics(void) {
  struct registry reg;
  registry_init(&reg, &hub__mem_default, &(hash_key){1, 2});
  enum { CLIENTS = 50, TOPICS = 2000 };
  struct sub_list lists[CLIENTS];
  memset(lists, 0, sizeof(lists));
  char name[32];
  for (int c = 0; c < CLIENTS; c++)
    for (int t = 0; t < TOPICS; t += 1 + c % 3) {
      snprintf(name, sizeof(name), "topic.%d", t);
      CHECK_EQ(ADD(&reg, (struct client *)&lists[c], &lists[c], name), 1);
    }
  uint64_t expect = 0;
  for (int c = 0; c < CLIENTS; c++)
    expect += lists[c].count;
  CHECK_EQ(reg.nsubs, expect);
  /* topic.0 has every client; topic.1 only those with c % 3 == 0. */
  struct ltopic *t0 = registry_find(&reg, "topic.0", 7, h("topic.0"));
  struct ltopic *t1 = registry_find(&reg, "topic.1", 7, h("topic.1"));
  CHECK(t0 && t0->nsubs == CLIENTS);
  CHECK(t1 && t1->nsubs == (CLIENTS + 2) / 3);
  /* Re-adding everything is a no-op. */
  for (int c = 0; c < CLIENTS; c++)
    for (int t = 0; t < TOPICS; t += 1 + c % 3) {
      snprintf(name, sizeof(name), "topic.%d", t);
      CHECK_EQ(ADD(&reg, (struct client *)&lists[c], &lists[c], name), 0);
    }
  CHECK_EQ(reg.nsubs, expect);
  for (int c = 0; c < CLIENTS; c++)
    while (lists[c].head)
      registry_del_sub(&reg, &lists[c], lists[c].head);
  CHECK_EQ(reg.nsubs, 0);
  CHECK_EQ(reg.topics.count, 0);
  registry_destroy(&reg);
}
