/* libFuzzer target for examples/auth_jwt.c. The first byte picks a mode:
 *   0: the rest is a token: auth_jwt_verify() with a fixed secret;
 *   1: the rest is a claims payload, signed here under a fixed HS256
 *      header, so the claim reader sees hostile JSON that passed the
 *      signature check; an accepted token also goes through the callback
 *      (CONNECT, then SUBSCRIBE/PUBLISH on each grant, then forget);
 *   2: the rest is "grant\0request\0third": hub_pattern_covers() must be
 *      transitive and agree with fanhub's own pattern_match() on plain
 *      topics.
 * Besides the sanitizers it aborts on any broken invariant.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib/core -Ilib/proto \
 *     test/fuzz/fuzz_jwt.c examples/auth_jwt.c lib/core/\*.c lib/proto/\*.c -o fuzz_jwt \
 *     -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lpthread
 *   ./fuzz_jwt -max_total_time=60 corpus-copy/ test/fuzz/corpus/jwt
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "../../examples/auth_jwt.h"
#include "wildcard.h"

#define NOW 1700000000LL

#define ASSERT(c)                                                             \
  do {                                                                        \
    if (!(c))                                                                 \
      abort();                                                                \
  } while (0)

static const unsigned char KEY[32] = "fuzz-secret-fuzz-secret-fuzz-sec";
static struct auth_jwt jwt;

static int64_t fixed_now(void) { return NOW; }

static size_t b64url(const unsigned char *s, size_t n, char *out) {
  static const char al[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
    out[o++] = al[v >> 18];
    out[o++] = al[(v >> 12) & 63];
    out[o++] = al[(v >> 6) & 63];
    out[o++] = al[v & 63];
  }
  if (n - i >= 1) {
    unsigned v = (unsigned)s[i] << 16 | (n - i == 2 ? s[i + 1] << 8 : 0);
    out[o++] = al[v >> 18];
    out[o++] = al[(v >> 12) & 63];
    if (n - i == 2)
      out[o++] = al[(v >> 6) & 63];
  }
  return o;
}

static bool valid_code(int rv) {
  return rv <= 0 && rv >= AUTH_JWT_EFULL && rv != AUTH_JWT_EINVAL &&
         rv != AUTH_JWT_ENOMEM && rv != AUTH_JWT_EFULL;
}

static bool plain(const char *s) {
  size_t n = strlen(s);
  return !pattern_is_wild(s, n);
}

static void check_claims(const struct auth_jwt_claims *c) {
  size_t sl = strnlen(c->sub, sizeof(c->sub));
  ASSERT(sl >= 1 && sl <= AUTH_JWT_MAX_SUB);
  for (size_t i = 0; i < sl; i++)
    ASSERT((unsigned char)c->sub[i] >= 0x20 && c->sub[i] != 0x7f);
  ASSERT(NOW < c->exp + jwt.leeway);
  ASSERT(c->nbf == INT64_MIN || NOW >= c->nbf - jwt.leeway);
  ASSERT(c->nsub <= AUTH_JWT_MAX_PATTERNS && c->npub <= AUTH_JWT_MAX_PATTERNS);
  for (unsigned k = 0; k < 2; k++) {
    unsigned n = k ? c->npub : c->nsub;
    for (unsigned i = 0; i < n; i++) {
      const char *p = k ? c->pub_topics[i] : c->sub_topics[i];
      size_t pl = strnlen(p, AUTH_JWT_MAX_PATTERN + 1);
      ASSERT(pl >= 1 && pl <= AUTH_JWT_MAX_PATTERN);
      /* a granted pattern covers itself, and matches itself when plain */
      ASSERT(hub_pattern_covers(p, pl, p, pl));
      if (plain(p))
        ASSERT(pattern_match(p, pl, p, pl));
    }
  }
}

static int call(hub_auth_kind kind, hub_client_id id, const char *s,
                size_t n, hub_auth_result *res) {
  hub_auth_request req;
  memset(&req, 0, sizeof(req));
  memset(res, 0, sizeof(*res));
  req.kind = kind;
  req.id = id;
  req.remote_addr = "";
  if (kind == HUB_AUTH_CONNECT) {
    req.token = s;
    req.token_len = n;
  } else {
    req.principal = "";
    req.topic = s;
    req.topic_len = n;
  }
  int v = auth_jwt_callback(NULL, &req, res, &jwt);
  ASSERT(v == res->verdict);
  ASSERT(v == HUB_AUTH_ALLOW || v == HUB_AUTH_DENY);
  if (v == HUB_AUTH_DENY)
    ASSERT(res->reason && *res->reason);
  return v;
}

static void mode_token(const char *in, size_t n) {
  struct auth_jwt_claims c;
  int rv = auth_jwt_verify(&jwt, in, n, NOW, &c);
  ASSERT(valid_code(rv));
  if (rv == 0)
    check_claims(&c);
}

static char tok[2 * AUTH_JWT_MAX_TOKEN + 128];

static void mode_payload(const unsigned char *in, size_t n) {
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  if (n > AUTH_JWT_MAX_TOKEN)
    return;
  size_t t = b64url((const unsigned char *)header, sizeof(header) - 1, tok);
  tok[t++] = '.';
  t += b64url(in, n, tok + t);
  unsigned char mac[32];
  ASSERT(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), KEY,
                         sizeof(KEY), (const unsigned char *)tok, t,
                         mac) == 0);
  tok[t++] = '.';
  t += b64url(mac, sizeof(mac), tok + t);

  struct auth_jwt_claims c;
  int rv = auth_jwt_verify(&jwt, tok, t, NOW, &c);
  ASSERT(valid_code(rv));
  ASSERT(rv != AUTH_JWT_ESIG && rv != AUTH_JWT_EALG);
  ASSERT((rv == AUTH_JWT_ETOOBIG) >= (t > AUTH_JWT_MAX_TOKEN));
  if (n == 0)
    ASSERT(rv == AUTH_JWT_EMALFORMED);
  if (rv)
    return;
  check_claims(&c);

  /* the callback agrees, and each grant lets its own pattern through */
  hub_auth_result res;
  ASSERT(call(HUB_AUTH_CONNECT, 42, tok, t, &res) == HUB_AUTH_ALLOW);
  ASSERT(res.principal && strcmp(res.principal, c.sub) == 0);
  ASSERT(auth_jwt_count(&jwt) == 1);
  for (unsigned i = 0; i < c.nsub; i++)
    ASSERT(call(HUB_AUTH_SUBSCRIBE, 42, c.sub_topics[i],
                strlen(c.sub_topics[i]), &res) == HUB_AUTH_ALLOW);
  for (unsigned i = 0; i < c.npub; i++)
    ASSERT(call(HUB_AUTH_PUBLISH, 42, c.pub_topics[i],
                strlen(c.pub_topics[i]), &res) == HUB_AUTH_ALLOW);
  ASSERT(call(HUB_AUTH_SUBSCRIBE, 43, "a", 1, &res) == HUB_AUTH_DENY);
  auth_jwt_forget(&jwt, 42);
  ASSERT(auth_jwt_count(&jwt) == 0);
  if (c.nsub)
    ASSERT(call(HUB_AUTH_SUBSCRIBE, 42, c.sub_topics[0],
                strlen(c.sub_topics[0]), &res) == HUB_AUTH_DENY);
}

/* What auth_jwt.c calls a usable pattern: non-empty tokens without
 * blanks or controls, ">" only last. */
static bool well_formed(const char *s, size_t n) {
  if (n == 0)
    return false;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.') {
      if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
        return false;
      continue;
    }
    if (i == start || (i - start == 1 && s[start] == '>' && i != n))
      return false;
    start = i + 1;
  }
  return true;
}

static void mode_covers(const char *in, size_t n) {
  const char *s[3] = {"", "", ""};
  size_t l[3] = {0, 0, 0};
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= n && k < 3; i++) {
    if (i == n || in[i] == '\0') {
      s[k] = in + start;
      l[k++] = i - start;
      start = i + 1;
    }
  }
  int ab = hub_pattern_covers(s[0], l[0], s[1], l[1]);
  int bc = hub_pattern_covers(s[1], l[1], s[2], l[2]);
  int ac = hub_pattern_covers(s[0], l[0], s[2], l[2]);
  ASSERT(ab == 0 || ab == 1);
  if (ab && bc)
    ASSERT(ac);
  if (ab) /* anything covered is covered by itself */
    ASSERT(hub_pattern_covers(s[1], l[1], s[1], l[1]));
  for (int i = 0; i < 2; i++) {
    const char *g = s[0], *r = s[i + 1];
    size_t gl = l[0], rl = l[i + 1];
    if (well_formed(g, gl) && well_formed(r, rl) && !pattern_is_wild(r, rl))
      ASSERT(hub_pattern_covers(g, gl, r, rl) == pattern_match(g, gl, r, rl));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!jwt.buckets) {
    ASSERT(auth_jwt_init(&jwt, KEY, sizeof(KEY)) == 0);
    jwt.now = fixed_now;
  }
  if (size == 0)
    return 0;
  const char *in = (const char *)data + 1;
  /* heap copies, so ASan sees a read past the end */
  char *copy = malloc(size - 1 ? size - 1 : 1);
  ASSERT(copy);
  memcpy(copy, in, size - 1);
  switch (data[0] % 3) {
  case 0:
    mode_token(copy, size - 1);
    break;
  case 1:
    mode_payload((const unsigned char *)copy, size - 1);
    break;
  default:
    mode_covers(copy, size - 1);
  }
  free(copy);
  return 0;
}
