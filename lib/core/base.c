/* The stateless corner: version, error strings, default allocator,
 * clock. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

unsigned hub_version(const char **str) {
  if (str)
    *str = HUB_VERSION_STRING;
  return HUB_VERSION_NUM;
}

const char *hub_strerror(int err) {
  switch (err) {
#define HUB__ERR_STR(name, code, msg)                                          \
  case code:                                                                   \
    return msg;
    HUB_ERRNO_MAP(HUB__ERR_STR)
#undef HUB__ERR_STR
  }
  return "unknown error";
}

const char *hub_err_name(int err) {
  switch (err) {
#define HUB__ERR_NAME(name, code, msg)                                         \
  case code:                                                                   \
    return "HUB_" #name;
    HUB_ERRNO_MAP(HUB__ERR_NAME)
#undef HUB__ERR_NAME
  }
  return "HUB_UNKNOWN";
}

static void *libc_malloc(size_t n, void *u) {
  (void)u;
  return malloc(n);
}
static void libc_free(void *p, void *u) {
  (void)u;
  free(p);
}
static void *libc_calloc(size_t k, size_t n, void *u) {
  (void)u;
  return calloc(k, n);
}
static void *libc_realloc(void *p, size_t n, void *u) {
  (void)u;
  return realloc(p, n);
}

const hub_mem hub__mem_default = {sizeof(hub_mem), NULL, libc_malloc,
                                  libc_free, libc_calloc, libc_realloc};

int hub__copy_sized(void *dst, size_t ours, const void *src, size_t min) {
  size_t theirs;
  memcpy(&theirs, src, sizeof(theirs));
  if (theirs < min)
    return HUB_EINVAL;
  if (theirs > ours) {
    const unsigned char *extra = (const unsigned char *)src + ours;
    for (size_t i = 0; i < theirs - ours; i++)
      if (extra[i])
        return HUB_EINVAL;
    theirs = ours;
  }
  memcpy(dst, src, theirs);
  memset((char *)dst + theirs, 0, ours - theirs);
  *(size_t *)dst = ours;
  return 0;
}

int64_t hub__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
