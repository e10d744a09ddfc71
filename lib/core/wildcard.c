/* Pattern matching token by token; see wildcard.h. */
#include "wildcard.h"

#include <string.h>

size_t pattern_token(const char *s, size_t len) {
  const char *dot = memchr(s, '.', len);
  return dot ? (size_t)(dot - s) : len;
}

bool pattern_is_wild(const char *pat, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t t = pattern_token(pat + i, len - i);
    if (t == 1 && (pat[i] == '*' || pat[i] == '>'))
      return true;
    i += t + 1;
  }
  return false;
}

bool pattern_match(const char *pat, size_t plen, const char *topic,
                   size_t tlen) {
  size_t p = 0, t = 0;
  for (;;) {
    size_t pl = pattern_token(pat + p, plen - p), tl = pattern_token(topic + t, tlen - t);
    bool plast = p + pl >= plen, tlast = t + tl >= tlen;
    if (pl == 1 && pat[p] == '>' && plast)
      return true; /* the rest of the topic: this token and any after */
    if (!(pl == 1 && pat[p] == '*') &&
        (pl != tl || memcmp(pat + p, topic + t, pl) != 0))
      return false;
    if (plast || tlast)
      return plast && tlast;
    p += pl + 1;
    t += tl + 1;
  }
}
