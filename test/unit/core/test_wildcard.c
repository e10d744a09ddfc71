/* NATS-style patterns: the matcher against a reference, subscriptions to
 * patterns through the public API, and matching against 10,000 of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "memtp.h"
#include "tests.h"
#include "util.h"
#include "wildcard.h"

/* The reference: split both on '.', compare token by token. */
static bool ref_match(const char *pat, const char *topic) {
  char p[64], t[64];
  snprintf(p, sizeof(p), "%s", pat);
  snprintf(t, sizeof(t), "%s", topic);
  const char *pt[32], *tt[32];
  int np = 0, nt = 0;
  for (char *s = p, *e;; s = e + 1) {
    pt[np++] = s;
    if (!(e = strchr(s, '.')))
      break;
    *e = 0;
  }
  for (char *s = t, *e;; s = e + 1) {
    tt[nt++] = s;
    if (!(e = strchr(s, '.')))
      break;
    *e = 0;
  }
  for (int i = 0; i < np; i++) {
    if (!strcmp(pt[i], ">") && i == np - 1)
      return nt > i;
    if (i >= nt || (strcmp(pt[i], "*") && strcmp(pt[i], tt[i])))
      return false;
  }
  return np == nt;
}

void test_wildcard_match(void) {
  CHECK(pattern_match("news.*", 6, "news.sport", 10));
  CHECK(!pattern_match("news.*", 6, "news.sport.x", 12));
  CHECK(pattern_match("news.>", 6, "news.sport.x", 12));
  CHECK(!pattern_match("news.>", 6, "news", 4));
  CHECK(pattern_match(">", 1, "a", 1));
  CHECK(pattern_is_wild("a.*.b", 5) && !pattern_is_wild("a.b*", 4));
  unsigned seed = 42;
  static const char *tok[] = {"a", "b", "cc", "*", ">", ""};
  char pat[64], topic[64];
  for (int iter = 0; iter < 200000; iter++) {
    int np = 1 + rand_r(&seed) % 4, nt = 1 + rand_r(&seed) % 4;
    pat[0] = topic[0] = 0;
    for (int i = 0; i < np; i++) {
      strcat(pat, tok[rand_r(&seed) % 6]);
      if (i + 1 < np)
        strcat(pat, ".");
    }
    for (int i = 0; i < nt; i++) {
      strcat(topic, tok[rand_r(&seed) % 3 + (rand_r(&seed) % 8 == 0 ? 3 : 0)]);
      if (i + 1 < nt)
        strcat(topic, ".");
    }
    if (pattern_match(pat, strlen(pat), topic, strlen(topic)) !=
        ref_match(pat, topic)) {
      fprintf(stderr, "  pattern '%s' topic '%s'\n", pat, topic);
      CHECK(0);
    }
  }
}

void test_wildcard_subscribe(void) {
  hub_t *hub = hub_make(2, 1, NULL);
  CHECK(hub);
  struct memtp *a = memtp_attach(hub, NULL), *b = memtp_attach(hub, NULL),
               *c = memtp_attach(hub, NULL), *d = memtp_attach(hub, NULL);
  CHECK(hub_subscribe(hub, a->id, "news.*") == 0);
  CHECK(hub_subscribe(hub, b->id, "news.>") == 0);
  CHECK(hub_subscribe(hub, c->id, "news.sport") == 0);
  CHECK(hub_subscribe(hub, c->id, "news.*") == 0); /* overlaps: one copy */
  CHECK(hub_subscribe(hub, d->id, "*.weather") == 0);
  CHECK(hub_subscribe(hub, d->id, "a.>.b") == HUB_ETOPIC);
  CHECK(hub_broadcast(hub, "news.*", "x", 1, 0) == HUB_ETOPIC);
  CHECK(WAIT_STAT(hub, subscriptions, 5, 2000));
  CHECK_EQ(stats_of(hub).patterns, 3);
  CHECK(hub_broadcast(hub, "news.sport", "1", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news.sport.live", "2", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news", "3", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "news.weather", "4", 1, 0) > 0);
  CHECK(hub_broadcast(hub, "sea.weather", "5", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, deliveries, 3 + 1 + 0 + 4 + 1, 2000));
  test_sleep_ms(20);
  char *s;
  CHECK(strcmp(s = memtp_take_copy(a, NULL), "14") == 0);
  free(s);
  CHECK(strcmp(s = memtp_take_copy(b, NULL), "124") == 0);
  free(s);
  CHECK(strcmp(s = memtp_take_copy(c, NULL), "14") == 0);
  free(s);
  CHECK(strcmp(s = memtp_take_copy(d, NULL), "45") == 0);
  free(s);
  /* Patterns leave the index with their last subscriber. */
  CHECK(hub_unsubscribe(hub, a->id, "news.*") == 0);
  CHECK(hub_client_close(hub, c->id, 0) == 0);
  CHECK(WAIT_STAT(hub, patterns, 2, 2000));
  CHECK(hub_client_close(hub, b->id, 0) == 0);
  CHECK(hub_client_close(hub, d->id, 0) == 0);
  CHECK(WAIT_STAT(hub, patterns, 0, 2000));
  hub_free(hub);
  memtp_free(a);
  memtp_free(b);
  memtp_free(c);
  memtp_free(d);
}

void test_wildcard_10k(void) {
  /* 10,000 patterns in the hub's index: matching a topic costs a walk
   * down its tokens, not a scan. Prints the figure; asserts only that
   * the matches are right. */
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  struct memtp *t = memtp_attach(hub, NULL);
  char pat[64];
  for (int i = 0; i < 10000; i++) {
    snprintf(pat, sizeof(pat), i % 2 ? "dev.%d.*" : "dev.%d.>", i);
    CHECK(hub_subscribe(hub, t->id, pat) == 0);
  }
  CHECK(WAIT_STAT(hub, patterns, 10000, 5000));
  enum { N = 200000 };
  int64_t t0 = test_now_us();
  uint64_t hits = 0;
  for (int i = 0; i < N; i++) {
    snprintf(pat, sizeof(pat), "dev.%d.temp", (i * 7919) % 20000);
    hits += ti_pat_mask(&((struct hub *)hub)->index, pat, strlen(pat)) != 0;
  }
  int64_t us = test_now_us() - t0;
  printf("     wildcard: %d matches against 10,000 patterns: %.0f ns each\n",
         N, us * 1000.0 / N);
  CHECK_EQ(hits, N / 2); /* dev.0..9999 match, 10000..19999 do not */
  hub_free(hub);
  memtp_free(t);
}

void test_pattern_covers(void) {
  static const struct {
    const char *grant, *req;
    int want;
  } cases[] = {
      {"news", "news", 1},
      {"news", "news2", 0},
      {"news", "new", 0},
      {"news", "news.a", 0},
      {"news.a", "news", 0},
      {"news.*", "news.a", 1},
      {"news.*", "news.*", 1},
      {"news.*", "news.>", 0},
      {"news.*", "news", 0},
      {"news.*", "news.a.b", 0},
      {"news.*", "sport.a", 0},
      {"news.>", "news.a", 1},
      {"news.>", "news.a.b.c", 1},
      {"news.>", "news.*", 1},
      {"news.>", "news.>", 1},
      {"news.>", "news.*.x", 1},
      {"news.>", "news", 0},
      {"news.>", "sport.a", 0},
      {">", "a", 1},
      {">", "a.b", 1},
      {">", ">", 1},
      {">", "*", 1},
      {"*", "a", 1},
      {"*", "*", 1},
      {"*", ">", 0},
      {"*", "a.b", 0},
      {"*.x", "a.x", 1},
      {"*.x", "*.x", 1},
      {"*.x", "a.y", 0},
      {"*.x", ">", 0},
      {"a.*.c", "a.b.c", 1},
      {"a.*.c", "a.*.c", 1},
      {"a.*.c", "a.>", 0},
      {"a.*.>", "a.b.c.d", 1},
      {"a.*.>", "a.b", 0},
      {"a.b", "a.*", 0}, /* a literal grant does not cover a wildcard */
      {"a.b", "a.>", 0},
      {"a.b", ">", 0},
      {"a.b", "*.b", 0},
      {"a*", "ab", 0}, /* '*' inside a token is a literal */
      {"a*", "a*", 1},
      {"news.*", "news.", 0},
      {"news.>", "news.", 0},
      {"news.>", "news..a", 0},
      {"news.>", "news.a.", 0},
      {">", ".a", 0},
      {"a.>", "a.>.b", 0}, /* ">" not last is no topic or pattern */
      {">", "a.>.b", 0},
      {"a.>.b", "a.x.b", 0}, /* nor a grant */
      {"news", "", 0},
      {"", "news", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int got = hub_pattern_covers(cases[i].grant, strlen(cases[i].grant),
                                 cases[i].req, strlen(cases[i].req));
    if (got != cases[i].want)
      fprintf(stderr, "  grant %s, request %s: %d\n", cases[i].grant,
              cases[i].req, got);
    CHECK_EQ(got, cases[i].want);
  }
  CHECK_EQ(hub_pattern_covers(NULL, 0, "a", 1), 0);
  /* lengths, not NULs, bound the strings */
  CHECK_EQ(hub_pattern_covers("news.>xyz", 6, "news.a", 6), 1);
  CHECK_EQ(hub_pattern_covers("news", 4, "news.a", 4), 1);
}
