/* The byte-by-byte UTF-8 reference (RFC 3629) that lib/core/json.c's
 * utf8_valid() is checked against, by test_json and fuzz_control. */
#ifndef TEST_UTF8_REF_H
#define TEST_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The byte-by-byte reference: decode, then check the code point. */
static inline bool ref_utf8(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    uint32_t cp, min;
    size_t k;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      k = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      k = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < k)
      return false;
    for (size_t j = 1; j < k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += k;
  }
  return true;
}

#endif
