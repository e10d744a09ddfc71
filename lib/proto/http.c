/* HTTP/1.1 request heads; see http.h. */
#include <limits.h>
#include <string.h>

#include "http.h"

#include "fanhub.h"

void http_limits_default(struct http_limits *lim) {
  lim->max_head = 8192;
  lim->max_line = 4096;
  lim->max_headers = 64;
}

/* RFC 9110 tchar: what a method or a header name may be made of. */
static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A byte of a field value: field-vchar, obs-text, SP or HTAB. Every other
 * control byte (NUL, DEL, a lone CR or LF) is refused because parsers
 * downstream disagree about what it means. */
static bool is_field_byte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

enum pstate {
  P_METHOD,
  P_TARGET,
  P_VERSION,
  P_LINE_LF,     /* the LF after a request or header line's CR */
  P_FIELD_START, /* a header name, or the CR of the blank line */
  P_NAME,
  P_VALUE,
  P_END_LF /* the LF of the blank line */
};

int http_parse_request(const char *buf, size_t len,
                       const struct http_limits *lim,
                       struct http_request *req) {
  struct http_limits def;
  if (!lim) {
    http_limits_default(&def);
    lim = &def;
  }
  /* The head length is returned as an int. */
  size_t max_head = lim->max_head < INT_MAX ? lim->max_head : INT_MAX;
  size_t max_headers =
      lim->max_headers < HTTP_MAX_HEADERS ? lim->max_headers : HTTP_MAX_HEADERS;
  size_t scan = len < max_head ? len : max_head;
  const unsigned char *s = (const unsigned char *)buf;
  enum pstate st = P_METHOD;
  size_t line = 0;  /* start of the current line */
  size_t tok = 0;   /* start of the current target, version or name */
  size_t qmark = 0; /* the target's first '?'; 0 (the method) if none */
  size_t vstart = 0, vend = 0; /* the value without its OWS so far */
  struct http_header *h = NULL;

  req->nheaders = 0;
  for (size_t i = 0; i < scan; i++) {
    unsigned char c = s[i];
    /* CR and LF are never line content: they end the line or are
     * refused below. Checking each byte makes an endless line fail as
     * soon as it passes the limit, not when its CRLF arrives. */
    if (c != '\r' && c != '\n' && i - line >= lim->max_line)
      return HTTP_ETOOLARGE;
    switch (st) {
    case P_METHOD:
      if (is_tchar(c))
        break;
      if (c != ' ' || i == 0)
        return HTTP_EBAD;
      req->method = buf;
      req->method_len = i;
      tok = i + 1;
      st = P_TARGET;
      break;
    case P_TARGET:
      if (i == tok) {
        if (c != '/')
          return HTTP_EBAD;
        break;
      }
      if (c == ' ') {
        req->target = buf + tok;
        req->target_len = i - tok;
        req->path = req->target;
        if (qmark) {
          req->path_len = qmark - tok;
          req->query = buf + qmark + 1;
          req->query_len = i - qmark - 1;
        } else {
          req->path_len = req->target_len;
          req->query = buf + i;
          req->query_len = 0;
        }
        tok = i + 1;
        st = P_VERSION;
        break;
      }
      if (c < 0x21 || c > 0x7e || c == '#')
        return HTTP_EBAD;
      if (c == '?' && !qmark)
        qmark = i;
      break;
    case P_VERSION: {
      /* HTTP-version = "HTTP/" DIGIT "." DIGIT; '#' stands for a digit. */
      static const char pattern[] = "HTTP/#.#";
      size_t k = i - tok;
      if (k < sizeof(pattern) - 1) {
        if (pattern[k] == '#' ? !(c >= '0' && c <= '9') : c != pattern[k])
          return HTTP_EBAD;
        break;
      }
      if (c != '\r')
        return HTTP_EBAD;
      if (s[tok + 5] != '1')
        return HTTP_EVERSION;
      req->minor_version = s[tok + 7] - '0';
      st = P_LINE_LF;
      break;
    }
    case P_LINE_LF:
      if (c != '\n')
        return HTTP_EBAD;
      line = i + 1;
      st = P_FIELD_START;
      break;
    case P_FIELD_START:
      if (c == '\r') {
        st = P_END_LF;
        break;
      }
      /* Refuses obs-fold (SP, HTAB) and an empty name (':') too. */
      if (!is_tchar(c))
        return HTTP_EBAD;
      if (req->nheaders == max_headers)
        return HTTP_ETOOLARGE;
      tok = i;
      st = P_NAME;
      break;
    case P_NAME:
      if (is_tchar(c))
        break;
      /* Whitespace before the colon is refused, not trimmed (RFC 9112
       * 5.1): proxies that trim it see another header name. */
      if (c != ':')
        return HTTP_EBAD;
      h = &req->headers[req->nheaders];
      h->name = buf + tok;
      h->name_len = i - tok;
      vstart = vend = i + 1;
      st = P_VALUE;
      break;
    case P_VALUE:
      if (c == '\r') {
        h->value = buf + vstart;
        h->value_len = vend - vstart;
        req->nheaders++;
        st = P_LINE_LF;
        break;
      }
      if (!is_field_byte(c))
        return HTTP_EBAD;
      if (!is_ows(c))
        vend = i + 1;
      else if (vend == vstart) /* still leading OWS */
        vstart = vend = i + 1;
      break;
    case P_END_LF:
      if (c != '\n')
        return HTTP_EBAD;
      return (int)(i + 1);
    }
  }
  /* Having seen max_head bytes without the end proves the head longer. */
  return len >= max_head ? HTTP_ETOOLARGE : HTTP_INCOMPLETE;
}

static unsigned char ascii_lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

static bool ascii_ieq(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen)
    return false;
  for (size_t i = 0; i < alen; i++)
    if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
      return false;
  return true;
}

const struct http_header *http_find_header(const struct http_request *req,
                                           const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->nheaders; i++)
    if (ascii_ieq(req->headers[i].name, req->headers[i].name_len, name, n))
      return &req->headers[i];
  return NULL;
}

size_t http_count_header(const struct http_request *req, const char *name) {
  size_t n = strlen(name), count = 0;
  for (size_t i = 0; i < req->nheaders; i++)
    if (ascii_ieq(req->headers[i].name, req->headers[i].name_len, name, n))
      count++;
  return count;
}

bool http_has_token(const char *value, size_t len, const char *token) {
  size_t tlen = strlen(token);
  const char *p = value, *end = value + len;
  for (;;) {
    const char *comma = p;
    while (comma < end && *comma != ',')
      comma++;
    const char *a = p, *b = comma;
    while (a < b && is_ows((unsigned char)*a))
      a++;
    while (b > a && is_ows((unsigned char)b[-1]))
      b--;
    if (ascii_ieq(a, (size_t)(b - a), token, tlen))
      return true;
    if (comma == end)
      return false;
    p = comma + 1;
  }
}

static int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes s[0..end) into out[0..cap) with a terminating NUL. */
static int query_decode(const char *s, const char *end, char *out, size_t cap,
                        size_t *out_len) {
  size_t n = 0;
  while (s < end) {
    unsigned char c = (unsigned char)*s++;
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (end - s < 2)
        return HTTP_EBAD;
      int hi = hex_digit((unsigned char)s[0]);
      int lo = hex_digit((unsigned char)s[1]);
      if (hi < 0 || lo < 0)
        return HTTP_EBAD;
      c = (unsigned char)(hi << 4 | lo);
      s += 2;
    }
    /* A NUL would cut the C string callers make of it (a topic name). */
    if (c == 0 || n + 1 >= cap)
      return HTTP_EBAD;
    out[n++] = (char)c;
  }
  if (n >= cap)
    return HTTP_EBAD;
  out[n] = '\0';
  *out_len = n;
  return 0;
}

int http_query_next(const char **q, size_t *qlen, char *key, size_t key_cap,
                    size_t *key_len, char *val, size_t val_cap,
                    size_t *val_len) {
  const char *p = *q, *end = *q + *qlen;
  while (p < end && *p == '&')
    p++;
  if (p == end) {
    *q = p;
    *qlen = 0;
    return 0;
  }
  const char *amp = p;
  while (amp < end && *amp != '&')
    amp++;
  const char *eq = p;
  while (eq < amp && *eq != '=')
    eq++;
  if (query_decode(p, eq, key, key_cap, key_len) < 0 ||
      query_decode(eq < amp ? eq + 1 : amp, amp, val, val_cap, val_len) < 0)
    return HTTP_EBAD;
  *q = amp;
  *qlen = (size_t)(end - amp);
  return 1;
}

int hub_query_next(const char **query, size_t *len, char *key, size_t key_cap,
                   size_t *key_len, char *value, size_t value_cap,
                   size_t *value_len) {
  size_t kl, vl;
  if (!query || !len || (!*query && *len) || !key || !key_cap || !value ||
      !value_cap)
    return HUB_EINVAL;
  int rv = *len ? http_query_next(query, len, key, key_cap, &kl, value,
                                  value_cap, &vl)
                : 0;
  if (rv < 0)
    return HUB_EINVAL;
  if (key_len)
    *key_len = rv ? kl : 0;
  if (value_len)
    *value_len = rv ? vl : 0;
  return rv;
}
