/* Runs every test of the binary's list (test_list, from its TEST_LIST), or
 * those named on the command line, and prints "N passed, N failed"; a
 * name that is no test is an error (exit 2, nothing run). */
#include <string.h>
#include <time.h>

#include "test.h"

static int failed_now;

void test_fail(const char *file, int line, const char *expr) {
  fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, expr);
  failed_now = 1;
}

int64_t test_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void test_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int known(const char *name) {
  for (size_t i = 0; i < test_count; i++)
    if (strcmp(test_list[i].name, name) == 0)
      return 1;
  return 0;
}

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2)
    return 1;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0)
      return 1;
  return 0;
}

int main(int argc, char **argv) {
  /* A misspelt or renamed test must not pass by running nothing (or only
   * the other names): `make valgrind` names its tests. Every name known
   * also means a run never selects zero tests. */
  int unknown = 0;
  for (int i = 1; i < argc; i++)
    if (!known(argv[i])) {
      fprintf(stderr, "%s: no test named '%s'\n", argv[0], argv[i]);
      unknown = 1;
    }
  if (unknown)
    return 2;
  int passed = 0, failed = 0;
  for (size_t i = 0; i < test_count; i++) {
    if (!selected(test_list[i].name, argc, argv))
      continue;
    failed_now = 0;
    int64_t t0 = test_now_us();
    test_list[i].fn();
    int64_t us = test_now_us() - t0;
    printf("%s %s (%.1f ms)\n", failed_now ? "FAIL" : "ok  ", test_list[i].name,
           us / 1000.0);
    fflush(stdout);
    if (failed_now)
      failed++;
    else
      passed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
