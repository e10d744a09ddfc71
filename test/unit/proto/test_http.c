/* http.c: the request-head parser, its lookups and the query iterator.
 *
 * As in picohttpparser's tests, every input is parsed from right before a
 * PROT_NONE page, so reading one byte too far faults, and fed as every
 * prefix, the way bytes trickle in from a socket. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fanhub.h"
#include "http.h"
#include "tests.h"

#define LIT(s) s, sizeof(s) - 1

/* GUARD_ROOM bytes of read-write memory followed by a PROT_NONE page,
 * mapped on first use and kept for the whole run. */
#define GUARD_ROOM 32768

/* Copies s[0..n) so that its last byte is the last readable one. */
static const char *guard_put(const char *s, size_t n) {
  static char *room;
  if (!room) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, GUARD_ROOM + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + GUARD_ROOM, page, PROT_NONE)) {
      perror("guard page");
      abort();
    }
    room = map;
  }
  if (n > GUARD_ROOM)
    abort();
  return memcpy(room + GUARD_ROOM - n, s, n);
}

static struct http_request req; /* big: keep it off the stack */

/* Parses every prefix of s[0..n) and s itself from the guard: each must be
 * HTTP_INCOMPLETE until the outcome is decided, and `want` from then on.
 * `req` is left holding the parse of all n bytes, from the guard. */
static bool feed(const char *s, size_t n, const struct http_limits *lim,
                 int want) {
  bool decided = false;
  for (size_t k = 0; k <= n; k++) {
    int r = http_parse_request(guard_put(s, k), k, lim, &req);
    if (r == HTTP_INCOMPLETE ? decided : r != want) {
      fprintf(stderr, "  prefix %zu/%zu of \"%.*s\": got %d, want %d\n", k, n,
              (int)n, s, r, decided ? want : HTTP_INCOMPLETE);
      return false;
    }
    decided = r != HTTP_INCOMPLETE;
  }
  CHECK_B(decided == (want != HTTP_INCOMPLETE));
  return true;
}

static bool is(const char *p, size_t n, const char *lit) {
  return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static bool header_is(const struct http_header *h, const char *name,
                      const char *value) {
  return is(h->name, h->name_len, name) && is(h->value, h->value_len, value);
}

void test_http_ws_upgrade(void) {
  static const char in[] = "GET /ws/v1?token=abc%20d&x HTTP/1.1\r\n"
                           "Host: example.com:8080\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: keep-alive, Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: bearer.abc, fanhub.v1\r\n"
                           "Origin: http://example.com\r\n"
                           "\r\n";
  CHECK(feed(LIT(in), NULL, sizeof(in) - 1));
  /* Zero-copy: the fields point into the buffer, at the guard page. */
  const char *base = guard_put(in, 0) - (sizeof(in) - 1);
  CHECK(req.method == base);
  CHECK(is(req.method, req.method_len, "GET"));
  CHECK(is(req.target, req.target_len, "/ws/v1?token=abc%20d&x"));
  CHECK(req.target == base + 4);
  CHECK(is(req.path, req.path_len, "/ws/v1"));
  CHECK(is(req.query, req.query_len, "token=abc%20d&x"));
  CHECK_EQ(req.minor_version, 1);
  CHECK_EQ(req.nheaders, 7);
  CHECK(header_is(&req.headers[0], "Host", "example.com:8080"));
  CHECK(header_is(&req.headers[1], "Upgrade", "websocket"));
  CHECK(header_is(&req.headers[2], "Connection", "keep-alive, Upgrade"));
  CHECK(header_is(&req.headers[3], "Sec-WebSocket-Key",
                  "dGhlIHNhbXBsZSBub25jZQ=="));
  CHECK(header_is(&req.headers[4], "Sec-WebSocket-Version", "13"));
  CHECK(header_is(&req.headers[5], "Sec-WebSocket-Protocol",
                  "bearer.abc, fanhub.v1"));
  CHECK(header_is(&req.headers[6], "Origin", "http://example.com"));
}

void test_http_sse_get(void) {
  /* HTTP/1.0, a body after the head (not ours), a target without query. */
  static const char in[] = "GET /sse?topic=news&topic=chat%2Fa&since=41 "
                           "HTTP/1.0\r\n"
                           "Host: h\r\n"
                           "Accept: text/event-stream\r\n"
                           "Last-Event-ID: 9f3a-41\r\n"
                           "\r\n"
                           "BODY\r\n\r\n";
  size_t head = sizeof(in) - 1 - 8;
  CHECK(feed(LIT(in), NULL, (int)head));
  CHECK(is(req.method, req.method_len, "GET"));
  CHECK(is(req.path, req.path_len, "/sse"));
  CHECK(is(req.query, req.query_len, "topic=news&topic=chat%2Fa&since=41"));
  CHECK_EQ(req.minor_version, 0);
  CHECK_EQ(req.nheaders, 3);
  CHECK(header_is(&req.headers[1], "Accept", "text/event-stream"));
  CHECK(header_is(&req.headers[2], "Last-Event-ID", "9f3a-41"));

  static const char bare[] = "POST /events HTTP/1.1\r\n\r\n";
  CHECK_EQ(http_parse_request(LIT(bare), NULL, &req), sizeof(bare) - 1);
  CHECK(is(req.method, req.method_len, "POST"));
  CHECK(is(req.path, req.path_len, "/events"));
  CHECK(req.query == req.target + req.target_len);
  CHECK_EQ(req.query_len, 0);
  CHECK_EQ(req.nheaders, 0);

  /* Only the first '?' splits; an empty query is still a query. */
  static const char q2[] = "GET /a?b?c HTTP/1.1\r\n\r\n";
  CHECK(http_parse_request(LIT(q2), NULL, &req) > 0);
  CHECK(is(req.path, req.path_len, "/a"));
  CHECK(is(req.query, req.query_len, "b?c"));
  static const char q3[] = "GET /? HTTP/1.1\r\n\r\n";
  CHECK(http_parse_request(LIT(q3), NULL, &req) > 0);
  CHECK(is(req.path, req.path_len, "/"));
  CHECK_EQ(req.query_len, 0);
}

void test_http_header_values(void) {
  static const char in[] = "GET / HTTP/1.1\r\n"
                           "A: \t v a l \t \r\n"
                           "B:\r\n"
                           "C: \t \r\n"
                           "D:x\r\n"
                           "E: caf\xc3\xa9 \x80\xff\r\n"
                           "F: a:b, \"c\" ;d\r\n"
                           "!#$%&'*+-.^_`|~09azAZ: t\r\n"
                           "\r\n";
  CHECK(feed(LIT(in), NULL, sizeof(in) - 1));
  CHECK_EQ(req.nheaders, 7);
  CHECK(header_is(&req.headers[0], "A", "v a l"));
  CHECK(header_is(&req.headers[1], "B", ""));
  CHECK(header_is(&req.headers[2], "C", ""));
  CHECK(header_is(&req.headers[3], "D", "x"));
  CHECK(header_is(&req.headers[4], "E", "caf\xc3\xa9 \x80\xff"));
  CHECK(header_is(&req.headers[5], "F", "a:b, \"c\" ;d"));
  CHECK(header_is(&req.headers[6], "!#$%&'*+-.^_`|~09azAZ", "t"));
}

void test_http_header_lookup(void) {
  static const char in[] = "GET / HTTP/1.1\r\n"
                           "Sec-WebSocket-Key: one\r\n"
                           "Host: h\r\n"
                           "sec-websocket-KEY: two\r\n"
                           "\r\n";
  CHECK_EQ(http_parse_request(LIT(in), NULL, &req), sizeof(in) - 1);
  const struct http_header *h = http_find_header(&req, "SEC-WEBSOCKET-KEY");
  CHECK(h == &req.headers[0]); /* the first one */
  CHECK_EQ(http_count_header(&req, "sec-websocket-key"), 2);
  CHECK(http_find_header(&req, "host") == &req.headers[1]);
  CHECK_EQ(http_count_header(&req, "HOST"), 1);
  /* Prefixes and extensions of a name are other names. */
  CHECK(http_find_header(&req, "Sec-WebSocket") == NULL);
  CHECK(http_find_header(&req, "Hostx") == NULL);
  CHECK(http_find_header(&req, "Origin") == NULL);
  CHECK_EQ(http_count_header(&req, "Origin"), 0);
  CHECK_EQ(http_count_header(&req, ""), 0);
}

void test_http_has_token(void) {
  static const struct {
    const char *value, *token;
    bool want;
  } cases[] = {
      {"keep-alive, Upgrade", "upgrade", true},
      {"keep-alive, Upgrade", "keep-alive", true},
      {"keep-alive, Upgrade", "keep", false},
      {"Upgrade", "upgrade", true},
      {"UPGRADE", "Upgrade", true},
      {"", "upgrade", false},
      {" , ,\tupgrade\t", "upgrade", true},
      {",,,", "upgrade", false},
      {"upgrade-x", "upgrade", false},
      {"upgrades, x", "upgrade", false},
      {"x upgrade", "upgrade", false},
      {"up grade", "upgrade", false},
      {"close,upgrade", "upgrade", true},
      {"websocket", "WebSocket", true},
      {"fanhub.v1 , bearer.abc", "bearer.abc", true},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    bool got =
        http_has_token(cases[i].value, strlen(cases[i].value), cases[i].token);
    if (got != cases[i].want)
      fprintf(stderr, "  \"%s\" has \"%s\"\n", cases[i].value, cases[i].token);
    CHECK(got == cases[i].want);
  }
  /* Only value[0..len) counts. */
  CHECK(http_has_token("upgradeX", 7, "upgrade"));
  CHECK(!http_has_token("upgrade", 6, "upgrade"));
}

/* Runs the iterator over `q` and compares with want[] ("key", "value",
 * ..., NULL). */
static bool query_is(const char *q, const char *const *want) {
  char key[32], val[32];
  size_t klen, vlen, qlen = strlen(q);
  for (; *want; want += 2) {
    CHECK_B(http_query_next(&q, &qlen, key, sizeof(key), &klen, val,
                            sizeof(val), &vlen) == 1);
    CHECK_B(klen == strlen(want[0]) && memcmp(key, want[0], klen) == 0);
    CHECK_B(vlen == strlen(want[1]) && memcmp(val, want[1], vlen) == 0);
    CHECK_B(key[klen] == '\0' && val[vlen] == '\0');
  }
  CHECK_B(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                          &vlen) == 0);
  CHECK_B(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                          &vlen) == 0);
  return true;
}

void test_http_query(void) {
  CHECK(query_is("topic=news&topic=chat%2Fa&since=41",
                 (const char *const[]){"topic", "news", "topic", "chat/a",
                                       "since", "41", NULL}));
  CHECK(query_is("a+b=c+d&&&=x&flag&%41%6a=%7e%7E&",
                 (const char *const[]){"a b", "c d", "", "x", "flag", "", "Aj",
                                       "~~", NULL}));
  CHECK(query_is("k=a=b&t=%C3%A9",
                 (const char *const[]){"k", "a=b", "t", "\xc3\xa9", NULL}));
  CHECK(query_is("", (const char *const[]){NULL}));
  CHECK(query_is("&&", (const char *const[]){NULL}));
}

void test_http_query_errors(void) {
  static const char *const bad[] = {
      "a=%",   "a=%4",  "a=%G0", "a=%0g",        "a=%%41",
      "%00=1", "a=%00", "%=1",   "x=1&a=%4&b=2",
  };
  char key[8], val[8];
  size_t klen, vlen;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *q = bad[i];
    size_t qlen = strlen(q);
    int r;
    while ((r = http_query_next(&q, &qlen, key, sizeof(key), &klen, val,
                                sizeof(val), &vlen)) == 1)
      ;
    if (r != HTTP_EBAD)
      fprintf(stderr, "  query \"%s\"\n", bad[i]);
    CHECK_EQ(r, HTTP_EBAD);
    /* Stuck at the bad parameter, not past it. */
    const char *again = q;
    CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val,
                             sizeof(val), &vlen),
             HTTP_EBAD);
    CHECK(q == again);
  }
  /* A raw NUL is refused like an encoded one. */
  const char *q = "a=b\0c";
  size_t qlen = 5;
  CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                           &vlen),
           HTTP_EBAD);

  /* Capacities count the NUL: 7 bytes fit in 8, 8 do not. */
  q = "1234567=abcdefg";
  qlen = strlen(q);
  CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                           &vlen),
           1);
  CHECK_EQ(klen, 7);
  CHECK_EQ(vlen, 7);
  q = "12345678=a";
  qlen = strlen(q);
  CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                           &vlen),
           HTTP_EBAD);
  q = "a=%41%41%41%41%41%41%41%41";
  qlen = strlen(q);
  CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                           &vlen),
           HTTP_EBAD);
  q = "a=%41%41%41%41%41%41%41";
  qlen = strlen(q);
  CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, sizeof(val),
                           &vlen),
           1);
  CHECK(is(val, vlen, "AAAAAAA"));
  /* An empty value still needs room for its NUL. */
  q = "a";
  qlen = 1;
  CHECK_EQ(http_query_next(&q, &qlen, key, sizeof(key), &klen, val, 0, &vlen),
           HTTP_EBAD);
}

struct bad_case {
  const char *s;
  size_t len;
  int want;
};

#define BAD(lit, code)                                                         \
  { lit, sizeof(lit) - 1, code }

static const struct bad_case bad_cases[] = {
    /* request line */
    BAD("\r\nGET / HTTP/1.1\r\n\r\n", HTTP_EBAD), /* leading empty line */
    BAD("\nGET / HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD(" GET / HTTP/1.1\r\n\r\n", HTTP_EBAD), /* empty method */
    BAD(" / HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("G(T / HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("G\0T / HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET\t/ HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET  / HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET * HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET http://a/ HTTP/1.1\r\n\r\n", HTTP_EBAD), /* absolute-form */
    BAD("GET /a#b HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET /a\x7f HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET /\x80 HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET /\0 HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET /a\tb HTTP/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET /\r\n\r\n", HTTP_EBAD), /* HTTP/0.9 */
    BAD("GET / \r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1 \r\n\r\n", HTTP_EBAD),
    BAD("GET / http/1.1\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.x\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.10\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/11.1\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/2\r\n\r\n", HTTP_EBAD),
    /* line ends */
    BAD("GET / HTTP/1.1\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\rX\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\rX", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", HTTP_EBAD),
    /* header names */
    BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\n: a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost a\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost\r\n\r\n", HTTP_EBAD),
    /* obs-fold and whitespace before the first header */
    BAD("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", HTTP_EBAD),
    /* control bytes in values */
    BAD("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nX: \0\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nX: \x1b[0m\r\n\r\n", HTTP_EBAD),
    BAD("GET / HTTP/1.1\r\nX: a\x0b\r\n\r\n", HTTP_EBAD),
    /* versions: well-formed, not 1.x */
    BAD("GET / HTTP/2.0\r\n\r\n", HTTP_EVERSION),
    BAD("GET / HTTP/0.9\r\n\r\n", HTTP_EVERSION),
    BAD("GET / HTTP/3.1\r\nHost: a\r\n\r\n", HTTP_EVERSION),
    /* ... decided at the version's CR, whatever follows */
    BAD("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_EBAD), /* '*' first */
    BAD("GET / HTTP/9.9\r\x00", HTTP_EVERSION),
};

void test_http_reject(void) {
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    const struct bad_case *c = &bad_cases[i];
    CHECK(feed(c->s, c->len, NULL, c->want));
  }
}

void test_http_version(void) {
  static const char v0[] = "GET / HTTP/1.0\r\n\r\n";
  static const char v9[] = "GET / HTTP/1.9\r\n\r\n";
  CHECK_EQ(http_parse_request(LIT(v0), NULL, &req), sizeof(v0) - 1);
  CHECK_EQ(req.minor_version, 0);
  /* RFC 9112 2.3: a higher minor version is served as 1.1. */
  CHECK_EQ(http_parse_request(LIT(v9), NULL, &req), sizeof(v9) - 1);
  CHECK_EQ(req.minor_version, 9);
}

/* Writes a valid head of exactly `total` bytes (18, or 22 or more) into
 * out: the request line, padding headers of up to 1000 bytes a line (so
 * any max_line >= 998 allows them), the blank line. */
static size_t make_head(char *out, size_t total) {
  static const char start[] = "GET / HTTP/1.1\r\n";
  size_t n = sizeof(start) - 1;
  memcpy(out, start, n);
  while (total - n > 2) {
    size_t left = total - n - 2, line = left;
    if (left > 1000) /* leave a remainder that makes a line ("X:\r\n") */
      line = left - 1000 >= 4 ? 1000 : 996;
    memcpy(out + n, "X:", 2);
    memset(out + n + 2, 'a', line - 4);
    memcpy(out + n + line - 2, "\r\n", 2);
    n += line;
  }
  memcpy(out + n, "\r\n", 2);
  return n + 2;
}

static char big[16384];

void test_http_limit_head(void) {
  struct http_limits lim;
  http_limits_default(&lim);
  CHECK_EQ(lim.max_head, 8192);
  CHECK_EQ(lim.max_line, 4096);
  CHECK_EQ(lim.max_headers, 64);
  /* Default limits, at completion: 8192 bytes pass, 8193 do not. */
  size_t n = make_head(big, 8192);
  CHECK_EQ(http_parse_request(guard_put(big, n), n, NULL, &req), 8192);
  n = make_head(big, 8193);
  CHECK_EQ(http_parse_request(guard_put(big, n), n, NULL, &req),
           HTTP_ETOOLARGE);
  /* ... and early: 8192 bytes of an unfinished head are already too many,
   * 8191 are not yet. */
  CHECK_EQ(http_parse_request(guard_put(big, 8192), 8192, &lim, &req),
           HTTP_ETOOLARGE);
  CHECK_EQ(http_parse_request(guard_put(big, 8191), 8191, &lim, &req),
           HTTP_INCOMPLETE);
  /* A head within the limit followed by more bytes than the limit. */
  n = make_head(big, 100);
  memset(big + n, 'z', 9000);
  CHECK_EQ(http_parse_request(guard_put(big, n + 9000), n + 9000, NULL, &req),
           n);
  /* Every prefix, against a small limit. */
  lim.max_head = 1500;
  n = make_head(big, 1500);
  CHECK(feed(big, n, &lim, 1500));
  n = make_head(big, 1501);
  CHECK(feed(big, n, &lim, HTTP_ETOOLARGE));
  /* A limit above INT_MAX is no limit rather than an overflow. */
  lim.max_head = (size_t)-1;
  CHECK_EQ(http_parse_request(guard_put(big, n), n, &lim, &req), 1501);
}

void test_http_limit_line(void) {
  static const char start[] = "GET / HTTP/1.1\r\n";
  size_t s = sizeof(start) - 1;
  /* A header line of exactly 4096 bytes before its CRLF passes, 4097 do
   * not; without the CRLF, 4097 bytes already prove it, 4096 do not. */
  for (size_t line = 4096; line <= 4097; line++) {
    memcpy(big, start, s);
    memcpy(big + s, "X: ", 3);
    memset(big + s + 3, 'v', line - 3);
    memcpy(big + s + line, "\r\n\r\n", 4);
    size_t n = s + line + 4;
    CHECK_EQ(http_parse_request(guard_put(big, n), n, NULL, &req),
             line == 4096 ? (int)n : HTTP_ETOOLARGE);
    n = s + line;
    CHECK_EQ(http_parse_request(guard_put(big, n), n, NULL, &req),
             line == 4096 ? HTTP_INCOMPLETE : HTTP_ETOOLARGE);
  }
  /* Each kind of line, every prefix, against a small limit. */
  struct http_limits lim;
  http_limits_default(&lim);
  lim.max_line = 16;
  static const char at[] = "GET /ab HTTP/1.1\r\nHost: 0123456789\r\n\r\n";
  static const char over[] = "GET /abc HTTP/1.1\r\n\r\n";
  static const char hover[] = "GET /ab HTTP/1.1\r\nHost: 0123456789a\r\n\r\n";
  static const char name[] = "GET /ab HTTP/1.1\r\nHost-Host-Host-X: 1\r\n\r\n";
  static const char ows[] = "GET /ab HTTP/1.1\r\nHost: 0123456789 \r\n\r\n";
  CHECK(feed(LIT(at), &lim, sizeof(at) - 1));
  CHECK(feed(LIT(over), &lim, HTTP_ETOOLARGE));
  CHECK(feed(LIT(hover), &lim, HTTP_ETOOLARGE));
  CHECK(feed(LIT(name), &lim, HTTP_ETOOLARGE));
  CHECK(feed(LIT(ows), &lim, HTTP_ETOOLARGE)); /* OWS counts too */
  /* A slowloris line is refused once it passes the limit. */
  CHECK_EQ(http_parse_request(LIT("GET /abcdefghijkl"), &lim, &req),
           HTTP_ETOOLARGE);
}

void test_http_limit_headers(void) {
  struct http_limits lim;
  http_limits_default(&lim);
  lim.max_headers = 3;
  static const char three[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  static const char four[] =
      "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
  CHECK(feed(LIT(three), &lim, sizeof(three) - 1));
  CHECK_EQ(req.nheaders, 3);
  CHECK(feed(LIT(four), &lim, HTTP_ETOOLARGE));
  /* Refused at the first byte of the fourth name, not before. */
  CHECK_EQ(http_parse_request(four, sizeof(three) - 3, &lim, &req),
           HTTP_INCOMPLETE);
  CHECK_EQ(http_parse_request(four, sizeof(three) - 2, &lim, &req),
           HTTP_ETOOLARGE);
  /* The default allows 64; a limit above HTTP_MAX_HEADERS is clamped. */
  static const char start[] = "GET / HTTP/1.1\r\n";
  size_t n = sizeof(start) - 1;
  memcpy(big, start, n);
  lim.max_headers = 1000;
  for (int i = 1; i <= HTTP_MAX_HEADERS + 1; i++) {
    memcpy(big + n, "H: v\r\n", 6);
    n += 6;
    memcpy(big + n, "\r\n", 2);
    CHECK_EQ(http_parse_request(guard_put(big, n + 2), n + 2, NULL, &req),
             i <= 64 ? (int)n + 2 : HTTP_ETOOLARGE);
    CHECK_EQ(http_parse_request(guard_put(big, n + 2), n + 2, &lim, &req),
             i <= HTTP_MAX_HEADERS ? (int)n + 2 : HTTP_ETOOLARGE);
  }
}

/* Valid heads of every shape, each whole and as every prefix. */
void test_http_prefixes(void) {
  static const struct {
    const char *s;
    size_t len;
    int head; /* 0: all of it */
  } good[] = {
#define GOOD(lit, head) {lit, sizeof(lit) - 1, head}
      GOOD("GET / HTTP/1.1\r\n\r\n", 0),
      GOOD("GET / HTTP/1.0\r\n\r\n", 0),
      GOOD("M-!#$%&'*+.^_`|~9 /~!$&'()*+,;=:@%20-._?/? HTTP/1.1\r\n\r\n", 0),
      GOOD("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: "
           "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
           "dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: "
           "http://example.com\r\nSec-WebSocket-Protocol: chat, "
           "superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
           0),
      GOOD("GET /sse?topic=a&topic=b&since=7 HTTP/1.1\r\nAccept: "
           "text/event-stream\r\nLast-Event-ID: e-7\r\n\r\n",
           0),
      GOOD("GET / HTTP/1.1\r\nA:\r\nB: \r\nC:\t\r\nD: \t x \t \r\n\r\n", 0),
      GOOD("GET / HTTP/1.1\r\nX: \x80\xff\xc3\xa9 ~\r\n\r\n", 0),
      /* pipelined or garbage bytes after the head are not looked at */
      GOOD("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n", 27),
      GOOD("GET / HTTP/1.1\r\nHost: a\r\n\r\n\x00\xff garbage", 27),
#undef GOOD
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    CHECK(feed(good[i].s, good[i].len, NULL,
               good[i].head ? good[i].head : (int)good[i].len));
}

void test_query_next_public(void) {
  /* hub_query_next(): the parser above, for hosts, with HUB_EINVAL. */
  const char *q = "topic=news%2Esport&&flag&topic=a+b";
  size_t len = strlen(q), kl, vl;
  char key[16], val[16];
  CHECK_EQ(hub_query_next(&q, &len, key, sizeof(key), &kl, val, sizeof(val),
                          &vl),
           1);
  CHECK(strcmp(key, "topic") == 0 && kl == 5 &&
        strcmp(val, "news.sport") == 0 && vl == 10);
  CHECK_EQ(hub_query_next(&q, &len, key, sizeof(key), NULL, val, sizeof(val),
                          &vl),
           1);
  CHECK(strcmp(key, "flag") == 0 && vl == 0 && val[0] == '\0');
  CHECK_EQ(hub_query_next(&q, &len, key, sizeof(key), &kl, val, sizeof(val),
                          NULL),
           1);
  CHECK(strcmp(val, "a b") == 0);
  CHECK_EQ(hub_query_next(&q, &len, key, sizeof(key), &kl, val, sizeof(val),
                          &vl),
           0);
  CHECK(kl == 0 && vl == 0);
  /* A bad escape: HUB_EINVAL, and the caller stays at it. */
  q = "a=%4";
  len = 4;
  CHECK_EQ(hub_query_next(&q, &len, key, sizeof(key), &kl, val, sizeof(val),
                          &vl),
           HUB_EINVAL);
  CHECK(len == 4 && strcmp(q, "a=%4") == 0);
  /* A value that does not fit, and arguments that make no sense. */
  q = "a=0123456789abcdef";
  len = strlen(q);
  CHECK_EQ(hub_query_next(&q, &len, key, sizeof(key), &kl, val, sizeof(val),
                          &vl),
           HUB_EINVAL);
  CHECK_EQ(hub_query_next(NULL, &len, key, sizeof(key), &kl, val, sizeof(val),
                          &vl),
           HUB_EINVAL);
  CHECK_EQ(hub_query_next(&q, &len, key, 0, &kl, val, sizeof(val), &vl),
           HUB_EINVAL);
  const char *none = NULL;
  size_t zero = 0;
  CHECK_EQ(hub_query_next(&none, &zero, key, sizeof(key), &kl, val,
                          sizeof(val), &vl),
           0);
}
