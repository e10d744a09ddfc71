/* hash.c: the seeded hash and the intrusive table. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "tests.h"

struct item {
  struct hnode node;
  int key;
};

static int item_eq(const struct hnode *n, const void *key) {
  return container_of(n, struct item, node)->key == *(const int *)key;
}

void test_hash_table(void) {
  struct htable t;
  htable_init(&t, &hub__mem_default);
  CHECK(htable_find(&t, 1, item_eq, &(int){1}) == NULL);
  enum { N = 5000 };
  struct item *items = calloc(N, sizeof(*items));
  for (int i = 0; i < N; i++) {
    items[i].key = i;
    items[i].node.hash = hash_u64((uint64_t)i);
    CHECK(htable_insert(&t, &items[i].node) == 0);
  }
  CHECK_EQ(t.count, N);
  for (int i = 0; i < N; i++) {
    struct hnode *n = htable_find(&t, hash_u64((uint64_t)i), item_eq, &i);
    CHECK(n == &items[i].node);
  }
  size_t seen = 0;
  struct hnode *n, *tmp;
  HTABLE_FOREACH(&t, n, tmp) seen++;
  CHECK_EQ(seen, N);
  /* Remove the odd ones (the table shrinks as it goes), then the rest. */
  for (int i = 1; i < N; i += 2)
    htable_remove(&t, &items[i].node);
  CHECK_EQ(t.count, N / 2);
  for (int i = 1; i < N; i += 2)
    CHECK(htable_find(&t, hash_u64((uint64_t)i), item_eq, &i) == NULL);
  for (int i = 0; i < N; i += 2)
    htable_remove(&t, &items[i].node);
  CHECK_EQ(t.count, 0);
  CHECK(t.buckets == NULL); /* an empty table holds no memory */
  free(items);
  htable_destroy(&t);
}

void test_hash_seeded(void) {
  hash_key a = {1, 2}, b = {1, 3};
  const char *s = "news.sport.football";
  CHECK(hash_bytes(&a, s, strlen(s)) == hash_bytes(&a, s, strlen(s)));
  CHECK(hash_bytes(&a, s, strlen(s)) != hash_bytes(&b, s, strlen(s)));
  /* Every length from 0 to 40 (tail handling) gives distinct values. */
  char buf[41];
  memset(buf, 'x', sizeof(buf));
  uint64_t h[41];
  for (int i = 0; i <= 40; i++) {
    h[i] = hash_bytes(&a, buf, (size_t)i);
    for (int j = 0; j < i; j++)
      CHECK(h[i] != h[j]);
  }
}
