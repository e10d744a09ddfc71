/* libFuzzer target for http.c: the request-head parser, and on success the
 * lookups and the query iterator over what it returned.
 *
 * Beyond the sanitizers it checks the contract: a success is a head that
 * obeys the grammar, and the outcome over growing prefixes never goes back
 * (INCOMPLETE until decided, then always the same answer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define REQUIRE(c)                                                             \
  do {                                                                         \
    if (!(c))                                                                  \
      abort();                                                                 \
  } while (0)

static struct http_request req;

static bool within(const uint8_t *buf, size_t len, const char *p, size_t n) {
  return (const uint8_t *)p >= buf && n <= len &&
         (size_t)((const uint8_t *)p - buf) <= len - n;
}

static void check_success(const uint8_t *data, size_t len, int r,
                          const struct http_limits *lim) {
  size_t n = (size_t)r;
  REQUIRE(n <= len && n <= lim->max_head);
  REQUIRE(memcmp(data + n - 4, "\r\n\r\n", 4) == 0);
  REQUIRE(req.nheaders <= lim->max_headers);
  REQUIRE((const uint8_t *)req.method == data && req.method_len > 0);
  REQUIRE(within(data, n, req.target, req.target_len));
  REQUIRE(req.target[0] == '/' && req.path == req.target);
  REQUIRE(req.path_len + (req.query_len ? req.query_len + 1 : 0) <=
          req.target_len);
  REQUIRE(req.minor_version >= 0 && req.minor_version <= 9);
  for (size_t i = 0; i < req.target_len; i++)
    REQUIRE(req.target[i] > 0x20 && req.target[i] < 0x7f &&
            req.target[i] != '#');
  for (size_t i = 0; i < req.nheaders; i++) {
    const struct http_header *h = &req.headers[i];
    REQUIRE(h->name_len > 0 && within(data, n, h->name, h->name_len));
    REQUIRE(within(data, n, h->value, h->value_len));
    for (size_t k = 0; k < h->value_len; k++) {
      unsigned char c = (unsigned char)h->value[k];
      REQUIRE(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    if (h->value_len) {
      REQUIRE(h->value[0] != ' ' && h->value[0] != '\t');
      REQUIRE(h->value[h->value_len - 1] != ' ' &&
              h->value[h->value_len - 1] != '\t');
    }
    (void)http_has_token(h->value, h->value_len, "upgrade");
    (void)http_has_token(h->value, h->value_len, "keep-alive");
  }
  REQUIRE(http_find_header(&req, "") == NULL);
  const struct http_header *host = http_find_header(&req, "host");
  REQUIRE((host != NULL) == (http_count_header(&req, "HOST") > 0));

  /* Each call consumes at least one byte, so this ends; small buffers
   * reach the "does not fit" paths. */
  static const size_t caps[] = {1, 4, 256};
  for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
    char key[256], val[256];
    size_t klen, vlen;
    const char *q = req.query;
    size_t qlen = req.query_len;
    int rv;
    while ((rv = http_query_next(&q, &qlen, key, caps[c], &klen, val, caps[c],
                                 &vlen)) == 1) {
      REQUIRE(klen < caps[c] && vlen < caps[c]);
      REQUIRE(key[klen] == '\0' && val[vlen] == '\0');
      REQUIRE(strlen(key) == klen && strlen(val) == vlen);
    }
    REQUIRE(rv == 0 || rv == HTTP_EBAD);
  }
}

/* Parses data[0..len) and checks the result's shape. */
static int parse(const uint8_t *data, size_t len,
                 const struct http_limits *lim) {
  int r = http_parse_request((const char *)data, len, lim, &req);
  REQUIRE(r > 0 || r == HTTP_INCOMPLETE || r == HTTP_EBAD ||
          r == HTTP_ETOOLARGE || r == HTTP_EVERSION);
  if (r > 0)
    check_success(data, len, r, lim);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct http_limits def;
  http_limits_default(&def);
  int r = parse(data, size, &def);
  /* The decision is made at byte r: one byte less is not enough. */
  if (r > 0) {
    REQUIRE(http_parse_request((const char *)data, (size_t)r - 1, &def, &req) ==
            HTTP_INCOMPLETE);
  }

  /* Tiny limits reach every limit path on small inputs, and make checking
   * every prefix cheap: each parse looks at no more than max_head bytes. */
  const struct http_limits tiny = {
      .max_head = 96, .max_line = 40, .max_headers = 3};
  r = parse(data, size, &tiny);
  int seen = HTTP_INCOMPLETE;
  for (size_t k = 0; k <= size && k <= tiny.max_head + 1; k++) {
    int rk = http_parse_request((const char *)data, k, &tiny, &req);
    REQUIRE(rk == HTTP_INCOMPLETE ? seen == HTTP_INCOMPLETE
                                  : seen == HTTP_INCOMPLETE || rk == seen);
    seen = rk;
  }
  REQUIRE(seen == r);
  return 0;
}
