/* Strict RFC 8259 scanning over [p, end) byte pointers. A scanner returns
 * the byte after what it scanned, or NULL with the reason in *err. The
 * only state that grows with the input is one bit per nesting level. */
#include <limits.h>
#include <string.h>

#include "json.h"

typedef const unsigned char *cur;

static cur skip_ws(cur p, cur end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* The length (2..4) of the valid UTF-8 sequence at p, whose first byte is
 * >= 0x80, or 0. RFC 3629's table: the range of the second byte depends on
 * the first, which rules out overlongs (C0, C1, E0 80..9F, F0 80..8F),
 * surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..). */
static size_t utf8_seq(cur p, size_t avail) {
  unsigned c = p[0], lo = 0x80, hi = 0xbf;
  size_t n;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 0;
  }
  if (avail < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

bool utf8_valid(const char *buf, size_t len) {
  if (len == 0)
    return true;
  cur p = (cur)buf, end = p + len;
  while (p < end) {
    /* Payloads are mostly ASCII: take 8 bytes per step while they are. */
    if (end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, 8);
      if (!(w & 0x8080808080808080ull)) {
        p += 8;
        continue;
      }
    }
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t n = utf8_seq(p, (size_t)(end - p));
    if (!n)
      return false;
    p += n;
  }
  return true;
}

/* Where a string scan puts the unescaped bytes. It counts every byte in n
 * but stores only those that fit in out[0..cap), so a caller learns the
 * full length of a string that did not fit. */
struct sbuf {
  char *out;
  size_t cap, n;
};

static void put(struct sbuf *b, const void *src, size_t k) {
  if (!b)
    return;
  if (b->out && k && b->n <= b->cap && k <= b->cap - b->n)
    memcpy(b->out + b->n, src, k);
  b->n += k;
}

static bool is_digit(unsigned c) { return c - '0' < 10u; }

static long hex4(cur p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if (is_digit(c))
      d = c - '0';
    else if ((c | 0x20) - 'a' < 6u)
      d = (c | 0x20) - 'a' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  return v;
}

static size_t utf8_encode(unsigned char *u, long cp) {
  if (cp < 0x80) {
    u[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    u[0] = (unsigned char)(0xc0 | cp >> 6);
    u[1] = (unsigned char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    u[0] = (unsigned char)(0xe0 | cp >> 12);
    u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    u[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
  }
  u[0] = (unsigned char)(0xf0 | cp >> 18);
  u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
  u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
  u[3] = (unsigned char)(0x80 | (cp & 0x3f));
  return 4;
}

/* The \u escape (four hex digits) at p (p[0] == '\\', p[1] == 'u'), joined with a
 * following low surrogate escape when it is a high one; returns the code
 * point and sets *after, or -1: a code point is never a lone surrogate. */
static long unicode_escape(cur p, cur end, cur *after) {
  long cp = end - p >= 6 ? hex4(p + 2) : -1;
  if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
    return -1;
  p += 6;
  if (cp >= 0xd800 && cp <= 0xdbff) {
    long lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
    if (lo < 0xdc00 || lo > 0xdfff)
      return -1;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    p += 6;
  }
  *after = p;
  return cp;
}

/* The string whose opening quote is at p; unescapes into b unless it is
 * NULL. */
static cur scan_string(cur p, cur end, struct sbuf *b, int *err) {
  p++;
  for (;;) {
    cur run = p;
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    put(b, run, (size_t)(p - run));
    if (p == end) {
      *err = JSON_ESYNTAX;
      return NULL;
    }
    unsigned c = *p;
    if (c == '"')
      return p + 1;
    if (c >= 0x80) {
      size_t k = utf8_seq(p, (size_t)(end - p));
      if (!k)
        goto bad;
      put(b, p, k);
      p += k;
      continue;
    }
    if (c != '\\' || end - p < 2)
      goto bad;
    char ch;
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
      ch = (char)p[1];
      break;
    case 'b':
      ch = '\b';
      break;
    case 'f':
      ch = '\f';
      break;
    case 'n':
      ch = '\n';
      break;
    case 'r':
      ch = '\r';
      break;
    case 't':
      ch = '\t';
      break;
    case 'u': {
      long cp = unicode_escape(p, end, &p);
      if (cp < 0)
        goto bad;
      unsigned char u[4];
      put(b, u, utf8_encode(u, cp));
      continue;
    }
    default:
      goto bad;
    }
    put(b, &ch, 1);
    p += 2;
  }
bad:
  *err = JSON_ESTRING;
  return NULL;
}

static cur digits(cur p, cur end) {
  while (p < end && is_digit(*p))
    p++;
  return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static cur scan_number(cur p, cur end, int *err) {
  cur q;
  if (p < end && *p == '-')
    p++;
  if (p < end && *p == '0')
    p++;
  else if ((q = digits(p, end)) != p)
    p = q;
  else
    goto bad;
  if (p < end && *p == '.') {
    if ((q = digits(p + 1, end)) == p + 1)
      goto bad;
    p = q;
  }
  if (p < end && (*p | 0x20) == 'e') {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if ((q = digits(p, end)) == p)
      goto bad;
    p = q;
  }
  return p;
bad:
  *err = JSON_ESYNTAX;
  return NULL;
}

static cur scan_literal(cur p, cur end, const char *word, size_t n, int *err) {
  if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) {
    *err = JSON_ESYNTAX;
    return NULL;
  }
  return p + n;
}

static cur scan_scalar(cur p, cur end, int *err) {
  switch (*p) {
  case '"':
    return scan_string(p, end, NULL, err);
  case 't':
    return scan_literal(p, end, "true", 4, err);
  case 'f':
    return scan_literal(p, end, "false", 5, err);
  case 'n':
    return scan_literal(p, end, "null", 4, err);
  default:
    return scan_number(p, end, err);
  }
}

/* An object key and its colon; p is at the key's opening quote. */
static cur scan_key(cur p, cur end, int *err) {
  if (p == end || *p != '"') {
    *err = JSON_ESYNTAX;
    return NULL;
  }
  if (!(p = scan_string(p, end, NULL, err)))
    return NULL;
  p = skip_ws(p, end);
  if (p == end || *p != ':') {
    *err = JSON_ESYNTAX;
    return NULL;
  }
  return p + 1;
}

/* One value after optional whitespace, without the whitespace after it.
 * Iterative: bit d of objs says whether the container at depth d is an
 * object, which is all a closing bracket or a comma needs to know. */
_Static_assert(JSON_DEPTH_CAP % 64 == 0, "objs below holds whole words");

static cur skip_value(cur p, cur end, int max_depth, int *err) {
  uint64_t objs[JSON_DEPTH_CAP / 64] = {0};
  int depth = 0;
  if (max_depth > JSON_DEPTH_CAP)
    max_depth = JSON_DEPTH_CAP;
  for (;;) {
    p = skip_ws(p, end);
    if (p == end)
      goto syntax;
    unsigned c = *p;
    if (c == '{' || c == '[') {
      if (depth >= max_depth) {
        *err = JSON_EDEPTH;
        return NULL;
      }
      uint64_t bit = 1ull << (depth & 63);
      if (c == '{')
        objs[depth >> 6] |= bit;
      else
        objs[depth >> 6] &= ~bit;
      depth++;
      p = skip_ws(p + 1, end);
      if (p < end && *p == c + 2) { /* "{}" or "[]": '}' - '{' == 2 */
        p++;
        depth--;
      } else {
        if (c == '{' && !(p = scan_key(p, end, err)))
          return NULL;
        continue;
      }
    } else if (!(p = scan_scalar(p, end, err))) {
      return NULL;
    }
    /* A value ended: close containers until one wants another member. */
    for (;;) {
      if (depth == 0)
        return p;
      bool obj = objs[(depth - 1) >> 6] >> ((depth - 1) & 63) & 1;
      p = skip_ws(p, end);
      if (p == end)
        goto syntax;
      if (*p == ',') {
        p = skip_ws(p + 1, end);
        if (obj && !(p = scan_key(p, end, err)))
          return NULL;
        break;
      }
      if (*p != (obj ? '}' : ']'))
        goto syntax;
      p++;
      depth--;
    }
  }
syntax:
  *err = JSON_ESYNTAX;
  return NULL;
}

long json_skip_value(const char *buf, size_t len, int max_depth) {
  if (len == 0 || len > LONG_MAX)
    return JSON_ESYNTAX;
  cur p = (cur)buf, end = p + len;
  int err;
  cur q = skip_value(p, end, max_depth, &err);
  if (!q)
    return err;
  return (long)(skip_ws(q, end) - p);
}

/* ---- control messages ---- */

enum field { F_OP = 1, F_TOPIC, F_SINCE, F_DATA, F_ID };

static enum field field_of(const char *k, size_t n) {
  static const char *const names[] = {[F_OP] = "op",
                                      [F_TOPIC] = "topic",
                                      [F_SINCE] = "since",
                                      [F_DATA] = "data",
                                      [F_ID] = "id"};
  for (int f = F_OP; f <= F_ID; f++)
    if (strlen(names[f]) == n && memcmp(names[f], k, n) == 0)
      return (enum field)f;
  return 0;
}

struct ctl_state {
  struct ctl_msg *out;
  char *scratch;
  size_t cap, used, topic_max;
  unsigned seen; /* bit f: field f was present */
};

/* Unescapes the string value at v into the free part of scratch without
 * claiming it; commit() does that. */
static struct sbuf decode(struct ctl_state *st, cur v, cur vend) {
  struct sbuf b = {st->scratch ? st->scratch + st->used : NULL,
                   st->cap - st->used, 0};
  int err;
  scan_string(v, vend, &b, &err); /* already validated */
  return b;
}

/* Keeps the first n decoded bytes, NUL-terminated. */
static int commit(struct ctl_state *st, const struct sbuf *b, size_t n,
                  const char **s, size_t *len) {
  if (b->n >= b->cap)
    return CTL_ETOOBIG;
  b->out[n] = '\0';
  *s = b->out;
  *len = n;
  st->used += n + 1;
  return 0;
}

/* A decimal seq: 1..19 digits, no sign, no leading zero, <= INT64_MAX. */
static bool parse_seq(cur s, size_t n, int64_t *out) {
  if (n == 0 || (s[0] == '0' && n > 1))
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = s[i] - '0';
    if (d > 9 || v > ((uint64_t)INT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = (int64_t)v;
  return true;
}

static int take_op(struct ctl_state *st, cur v, cur vend) {
  static const char *const ops[] = {[CTL_SUBSCRIBE] = "subscribe",
                                    [CTL_UNSUBSCRIBE] = "unsubscribe",
                                    [CTL_PUBLISH] = "publish",
                                    [CTL_PING] = "ping"};
  if (*v != '"')
    return CTL_EOP;
  char name[12];
  struct sbuf b = {name, sizeof(name), 0};
  int err;
  scan_string(v, vend, &b, &err);
  for (int op = CTL_SUBSCRIBE; op <= CTL_PING; op++)
    if (strlen(ops[op]) == b.n && memcmp(ops[op], name, b.n) == 0) {
      st->out->op = (enum ctl_op)op;
      return 0;
    }
  return CTL_EOP;
}

static int take_topic(struct ctl_state *st, cur v, cur vend) {
  if (*v != '"')
    return CTL_ETOPIC;
  struct sbuf b = decode(st, v, vend);
  if (b.n == 0 || b.n > st->topic_max)
    return CTL_ETOPIC;
  /* Topics are C strings in the hub API. */
  if (b.n < b.cap && memchr(b.out, 0, b.n))
    return CTL_ETOPIC;
  return commit(st, &b, b.n, &st->out->topic, &st->out->topic_len);
}

static int take_since(struct ctl_state *st, cur v, cur vend) {
  struct ctl_msg *o = st->out;
  o->has_since = true;
  if (*v != '"') /* a number: only bare digits are a non-negative integer */
    return parse_seq(v, (size_t)(vend - v), &o->since) ? 0 : CTL_EFIELD;
  struct sbuf b = decode(st, v, vend);
  if (b.n >= b.cap)
    return CTL_ETOOBIG;
  size_t dash = b.n;
  while (dash > 0 && b.out[dash - 1] != '-')
    dash--;
  /* dash is one past the last '-', so the epoch is out[0..dash - 1). */
  if (dash < 2 || memchr(b.out, 0, dash - 1) ||
      !parse_seq((cur)b.out + dash, b.n - dash, &o->since))
    return CTL_EFIELD;
  return commit(st, &b, dash - 1, &o->since_epoch, &o->since_epoch_len);
}

/* A string, or a number without fraction or exponent. */
static bool is_id(cur v, cur vend) {
  if (*v == '"')
    return true;
  for (cur q = v; q < vend; q++)
    if (*q == '.' || (*q | 0x20) == 'e')
      return false;
  return *v == '-' || is_digit(*v);
}

static int take_field(struct ctl_state *st, enum field f, cur v, cur vend) {
  struct ctl_msg *o = st->out;
  if (st->seen & 1u << f)
    return CTL_EFIELD;
  st->seen |= 1u << f;
  switch (f) {
  case F_OP:
    return take_op(st, v, vend);
  case F_TOPIC:
    return take_topic(st, v, vend);
  case F_SINCE:
    return take_since(st, v, vend);
  case F_DATA:
    o->data = (const char *)v;
    o->data_len = (size_t)(vend - v);
    o->data_is_string = *v == '"';
    return 0;
  default: /* F_ID */
    if (!is_id(v, vend))
      return CTL_EFIELD;
    o->id = (const char *)v;
    o->id_len = (size_t)(vend - v);
    return 0;
  }
}

static int parse_object(struct ctl_state *st, cur p, cur end) {
  struct ctl_msg *out = st->out;
  int first = 0, err;
  p = skip_ws(p, end);
  if (p == end || *p != '{')
    return CTL_ESYNTAX;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}') {
    p++;
  } else {
    for (;;) {
      if (p == end || *p != '"')
        return CTL_ESYNTAX;
      /* Known keys are at most 5 bytes: a longer one is unknown whatever
       * did not fit. */
      char key[8];
      struct sbuf kb = {key, sizeof(key), 0};
      if (!(p = scan_string(p, end, &kb, &err)))
        return CTL_ESYNTAX;
      p = skip_ws(p, end);
      if (p == end || *p != ':')
        return CTL_ESYNTAX;
      cur v = skip_ws(p + 1, end);
      if (!(p = skip_value(v, end, JSON_MAX_DEPTH - 1, &err)))
        return CTL_ESYNTAX;
      enum field f = kb.n <= sizeof(key) ? field_of(key, kb.n) : 0;
      /* After a first error only "id" still counts: the error reply
       * carries it. */
      if (f && (!first || f == F_ID)) {
        int e = take_field(st, f, v, p);
        if (!first)
          first = e;
      }
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p == end || *p != '}')
        return CTL_ESYNTAX;
      p++;
      break;
    }
  }
  if (skip_ws(p, end) != end)
    return CTL_ESYNTAX;
  if (first)
    return first;
  if (!out->op)
    return CTL_EOP;
  if (out->op != CTL_PING && !out->topic)
    return CTL_ETOPIC;
  if (out->op == CTL_PUBLISH && !out->data)
    return CTL_EFIELD;
  return 0;
}

int ctl_parse(const char *buf, size_t len, size_t topic_max, char *scratch,
              size_t scratch_cap, struct ctl_msg *out) {
  memset(out, 0, sizeof(*out));
  if (len == 0)
    return CTL_ESYNTAX;
  struct ctl_state st = {out, scratch,   scratch ? scratch_cap : 0,
                         0,   topic_max, 0};
  int rv = parse_object(&st, (cur)buf, (cur)buf + len);
  if (rv == CTL_ESYNTAX) {
    out->id = NULL;
    out->id_len = 0;
  }
  return rv;
}

const char *ctl_strerror(int err) {
  switch (err) {
#define X(name, code, str)                                                     \
  case CTL_##name:                                                             \
    return str;
    CTL_ERRORS(X)
#undef X
  }
  return "error";
}

/* ---- escaping ---- */

static char short_escape(unsigned c) {
  switch (c) {
  case '"':
    return '"';
  case '\\':
    return '\\';
  case '\b':
    return 'b';
  case '\f':
    return 'f';
  case '\n':
    return 'n';
  case '\r':
    return 'r';
  case '\t':
    return 't';
  }
  return 0;
}

/* Both json_escaped_len() (out == NULL) and json_escape(), so the two
 * cannot disagree. */
static size_t escape(char *out, cur s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0, i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' &&
           s[j] != '\\')
      j++;
    if (out && j > i)
      memcpy(out + n, s + i, j - i);
    n += j - i;
    if (j == len)
      break;
    i = j;
    unsigned c = s[i];
    const char *e;
    char buf[6];
    size_t elen, used = 1;
    if (c >= 0x80) {
      size_t k = utf8_seq(s + i, len - i);
      e = k ? (const char *)s + i : "\\ufffd";
      elen = k ? k : 6;
      used = k ? k : 1;
    } else if ((buf[1] = short_escape(c))) {
      buf[0] = '\\';
      e = buf;
      elen = 2;
    } else {
      memcpy(buf, "\\u00", 4);
      buf[4] = hex[c >> 4];
      buf[5] = hex[c & 15];
      e = buf;
      elen = 6;
    }
    if (out)
      memcpy(out + n, e, elen);
    n += elen;
    i += used;
  }
  return n;
}

size_t json_escaped_len(const char *in, size_t len) {
  return len ? escape(NULL, (cur)in, len) : 0;
}

size_t json_escape(char *out, const char *in, size_t len) {
  return len ? escape(out, (cur)in, len) : 0;
}
