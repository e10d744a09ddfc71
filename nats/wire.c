/* The wire format of a message on NATS; see wire.h. */
#include "wire.h"

bool wire_subject_ok(const char *s, size_t n) {
  if (!n || s[0] == '.' || s[n - 1] == '.')
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c >= 0x7f || c == '*' || c == '>' ||
        (c == '.' && i + 1 < n && s[i + 1] == '.'))
      return false;
  }
  return true;
}

size_t wire_topic_encode(char *out, const char *t, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c < ' ' || c == '%' || c == 0x7f) {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
  return o;
}

static int unhex(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : -1;
}

bool wire_topic_decode(char *s) {
  char *o = s;
  for (const char *p = s; *p; p++) {
    if (*p != '%') {
      *o++ = *p;
      continue;
    }
    int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);
    if (lo < 0 || (hi | lo) == 0)
      return false;
    *o++ = (char)(hi << 4 | lo);
    p += 2;
  }
  *o = '\0';
  return o != s;
}
