/* Pattern matching token by token; see wildcard.h. */
#include "wildcard.h"

#include <string.h>

#include "common.h"

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

/* No empty token, and ">" only as the last one. */
static bool tokens_ok(const char *s, size_t n) {
  for (size_t i = 0;; ) {
    size_t t = pattern_token(s + i, n - i);
    if (t == 0)
      return false;
    if (i + t >= n)
      return true;
    if (t == 1 && s[i] == '>')
      return false;
    i += t + 1;
  }
}

bool pattern_covers(const char *pat, size_t plen, const char *sub,
                    size_t slen) {
  if (!pat || !sub || plen == 0 || slen == 0 || !tokens_ok(pat, plen) ||
      !tokens_ok(sub, slen))
    return false;
  size_t p = 0, q = 0;
  for (;;) {
    size_t pl = pattern_token(pat + p, plen - p);
    size_t sl = pattern_token(sub + q, slen - q);
    if (pl == 1 && pat[p] == '>')
      return true; /* the last token: covers what is left (at least one) */
    if (pl == 1 && pat[p] == '*') {
      if (sl == 1 && sub[q] == '>')
        return false; /* one token cannot cover one-or-more */
    } else if (pl != sl || memcmp(pat + p, sub + q, pl) != 0) {
      return false;
    }
    bool plast = p + pl >= plen, slast = q + sl >= slen;
    if (plast || slast)
      return plast && slast;
    p += pl + 1;
    q += sl + 1;
  }
}

int hub_pattern_covers(const char *pattern, size_t pattern_len,
                       const char *subject, size_t subject_len) {
  return pattern_covers(pattern, pattern_len, subject, subject_len);
}
