/* A minimal test runner, shared by build/test_core (test/unit/core/) and
 * build/test_unit (test/unit/proto/): each test is a void function; CHECK
 * records a failure and returns from the function it is in. */
#ifndef TEST_H
#define TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void test_fail(const char *file, int line, const char *expr);

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      test_fail(__FILE__, __LINE__, #cond);                                   \
      return;                                                                 \
    }                                                                         \
  } while (0)

/* For helpers that return bool. */
#define CHECK_B(cond)                                                         \
  do {                                                                        \
    if (!(cond)) {                                                            \
      test_fail(__FILE__, __LINE__, #cond);                                   \
      return false;                                                           \
    }                                                                         \
  } while (0)

#define CHECK_EQ(a, b)                                                        \
  do {                                                                        \
    long long a__ = (long long)(a), b__ = (long long)(b);                     \
    if (a__ != b__) {                                                         \
      fprintf(stderr, "  %s = %lld, %s = %lld\n", #a, a__, #b, b__);          \
      test_fail(__FILE__, __LINE__, #a " == " #b);                            \
      return;                                                                 \
    }                                                                         \
  } while (0)


int64_t test_now_us(void);
void test_sleep_ms(int ms);

/* A binary's tests, in the order they run: its tests.c makes the table
 * from its TEST_LIST (tests.h), main.c runs it. */
struct test_entry {
  const char *name;
  void (*fn)(void);
};
extern const struct test_entry test_list[];
extern const size_t test_count;

#endif
