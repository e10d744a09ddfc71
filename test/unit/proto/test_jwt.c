/* examples/auth_jwt.c: HS256 verification, the claim reader, the pattern
 * cover rule and the hub_auth_fn, with tokens made here with mbedTLS; and
 * the callback installed on a real hub, over sockets. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "../../../examples/auth_jwt.h"
#include "tests.h"
#include "wsclient.h"

#define NOW 1700000000LL

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef";
#define KEY_LEN 32

static size_t b64url(const void *in, size_t n, char *out) {
  static const char al[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char *s = in;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
    out[o++] = al[v >> 18];
    out[o++] = al[(v >> 12) & 63];
    out[o++] = al[(v >> 6) & 63];
    out[o++] = al[v & 63];
  }
  if (n - i == 1) {
    unsigned v = (unsigned)s[i] << 16;
    out[o++] = al[v >> 18];
    out[o++] = al[(v >> 12) & 63];
  } else if (n - i == 2) {
    unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
    out[o++] = al[v >> 18];
    out[o++] = al[(v >> 12) & 63];
    out[o++] = al[(v >> 6) & 63];
  }
  out[o] = '\0';
  return o;
}

static char tok[3 * AUTH_JWT_MAX_TOKEN];

/* header.payload.HMAC-SHA256(key) in tok; the raw JSON is encoded here. */
static const char *sign_with(const char *header, const char *payload,
                             const unsigned char *key, size_t klen) {
  size_t n = b64url(header, strlen(header), tok);
  tok[n++] = '.';
  n += b64url(payload, strlen(payload), tok + n);
  unsigned char mac[32];
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen,
                  (const unsigned char *)tok, n, mac);
  tok[n++] = '.';
  b64url(mac, sizeof(mac), tok + n);
  return tok;
}

static const char *sign(const char *payload) {
  return sign_with("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, KEY,
                   KEY_LEN);
}

static struct auth_jwt jwt;
static struct auth_jwt_claims claims;

static bool setup(void) {
  CHECK_B(auth_jwt_init(&jwt, KEY, KEY_LEN) == 0);
  return true;
}

static int verify(const char *t) {
  return auth_jwt_verify(&jwt, t, strlen(t), NOW, &claims);
}

/* A payload with `claims_json` spliced in front of a valid exp, and of a
 * valid sub unless it has one. */
static int verify_claims(const char *claims_json) {
  char p[4096];
  bool has_sub = strstr(claims_json, "\"sub\"") != NULL;
  snprintf(p, sizeof(p), "{%s%s%s\"exp\":%lld}", claims_json,
           *claims_json ? "," : "", has_sub ? "" : "\"sub\":\"u\",", NOW + 60);
  return verify(sign(p));
}

void test_jwt_valid(void) {
  CHECK(setup());
  CHECK_EQ(auth_jwt_init(NULL, KEY, KEY_LEN), AUTH_JWT_EINVAL);
  struct auth_jwt shortkey;
  CHECK_EQ(auth_jwt_init(&shortkey, KEY, 31), AUTH_JWT_EINVAL);

  const char *t = sign("{\"sub\":\"alice\",\"exp\":1700000600,"
                       "\"nbf\":1699999990,\"iat\":1699999990,"
                       "\"iss\":\"me\",\"aud\":[\"a\",\"b\"],\"admin\":false,"
                       "\"x\":null,\"n\":-1.5e3,"
                       "\"sub_topics\":[\"news.*\",\"chat.>\",\"t\\u00e9\"],"
                       "\"pub_topics\":[\"chat.alice\"]}");
  CHECK_EQ(verify(t), 0);
  CHECK(strcmp(claims.sub, "alice") == 0);
  CHECK_EQ(claims.exp, 1700000600);
  CHECK_EQ(claims.nbf, 1699999990);
  CHECK_EQ(claims.nsub, 3);
  CHECK(strcmp(claims.sub_topics[0], "news.*") == 0);
  CHECK(strcmp(claims.sub_topics[1], "chat.>") == 0);
  CHECK(strcmp(claims.sub_topics[2], "t\xc3\xa9") == 0);
  CHECK_EQ(claims.npub, 1);
  CHECK(strcmp(claims.pub_topics[0], "chat.alice") == 0);
  /* NULL out is fine; so is the header without typ, and with blanks */
  CHECK_EQ(auth_jwt_verify(&jwt, t, strlen(t), NOW, NULL), 0);
  CHECK_EQ(
      verify(sign_with("{\"alg\":\"HS256\"}",
                       "{\"sub\":\"a\",\"exp\":1700000600}", KEY, KEY_LEN)),
      0);
  CHECK_EQ(verify(sign_with(" {\"typ\" : \"jwt\" , \"alg\":\"HS256\"}\n",
                            " { \"exp\" : 1700000600 , \"sub\" : \"a\" } ", KEY,
                            KEY_LEN)),
           0);
  CHECK_EQ(claims.nsub, 0);
  CHECK_EQ(claims.nbf, INT64_MIN);
  /* a long secret (hashed by HMAC first) */
  unsigned char big[AUTH_JWT_MAX_SECRET];
  memset(big, 'k', sizeof(big));
  struct auth_jwt b;
  CHECK_EQ(auth_jwt_init(&b, big, sizeof(big)), 0);
  t = sign_with("{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":1700000600}",
                big, sizeof(big));
  CHECK_EQ(auth_jwt_verify(&b, t, strlen(t), NOW, NULL), 0);
  CHECK_EQ(auth_jwt_verify(&jwt, t, strlen(t), NOW, NULL), AUTH_JWT_ESIG);
  auth_jwt_free(&b);
  auth_jwt_free(&jwt);
}

void test_jwt_signature(void) {
  CHECK(setup());
  const char *t = sign("{\"sub\":\"a\",\"exp\":1700000600}");
  char copy[1024];
  strcpy(copy, t);
  size_t n = strlen(copy);
  char *sig = strrchr(copy, '.') + 1;
  /* every changed signature character (the last one carries 4 bits and
   * its low 2 must stay zero: others are non-canonical, hence malformed) */
  for (char *p = sig; *p; p++) {
    char was = *p;
    *p = was == 'A' ? 'Q' : 'A';
    int rv = auth_jwt_verify(&jwt, copy, n, NOW, NULL);
    CHECK(rv == AUTH_JWT_ESIG || (p[1] == '\0' && rv == AUTH_JWT_EMALFORMED));
    *p = was;
  }
  CHECK_EQ(auth_jwt_verify(&jwt, copy, n, NOW, NULL), 0);
  /* a changed payload character */
  char *pc = strchr(copy, '.') + 2;
  *pc = *pc == 'A' ? 'B' : 'A';
  CHECK_EQ(auth_jwt_verify(&jwt, copy, n, NOW, NULL), AUTH_JWT_ESIG);
  /* another key */
  const unsigned char other[] = "0123456789abcdef0123456789abcdeF";
  CHECK_EQ(verify(sign_with("{\"alg\":\"HS256\"}",
                            "{\"sub\":\"a\",\"exp\":1700000600}", other, 32)),
           AUTH_JWT_ESIG);
  /* a 31-byte prefix of the key signs something else */
  CHECK_EQ(verify(sign_with("{\"alg\":\"HS256\"}",
                            "{\"sub\":\"a\",\"exp\":1700000600}", KEY, 31)),
           AUTH_JWT_ESIG);
  auth_jwt_free(&jwt);
}

void test_jwt_alg(void) {
  CHECK(setup());
  const char *p = "{\"sub\":\"a\",\"exp\":1700000600}";
  static const char *const bad[] = {
      "{\"alg\":\"none\"}",
      "{\"alg\":\"None\",\"typ\":\"JWT\"}",
      "{\"alg\":\"HS512\"}",
      "{\"alg\":\"HS384\"}",
      "{\"alg\":\"RS256\"}",
      "{\"alg\":\"hs256\"}",
      "{\"alg\":\"HS256 \"}",
      "{\"alg\":\"HS256\\u0000\"}",
      "{\"alg\":[\"HS256\"]}",
      "{\"alg\":null}",
      "{\"typ\":\"JWT\"}",
      "{}",
      "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
      "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
      "{\"alg\":\"HS256\",\"kid\":\"1\"}",
      "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
      "{\"alg\":\"HS256\",\"jku\":\"http://x\"}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rv = verify(sign_with(bad[i], p, KEY, KEY_LEN));
    if (rv != AUTH_JWT_EALG)
      fprintf(stderr, "  header %s: %d\n", bad[i], rv);
    CHECK_EQ(rv, AUTH_JWT_EALG);
  }
  /* headers that are not JSON objects at all */
  static const char *const junk[] = {"",
                                     "[]",
                                     "\"HS256\"",
                                     "{",
                                     "{\"alg\":\"HS256\"}x",
                                     "{\"alg\":\"HS256\",}"};
  for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
    int rv = verify(sign_with(junk[i], p, KEY, KEY_LEN));
    CHECK(rv == AUTH_JWT_EMALFORMED || rv == AUTH_JWT_EALG);
  }
  /* the classic unsigned token: "alg":"none" and an empty signature */
  char t[512];
  size_t n = b64url("{\"alg\":\"none\"}", 15, t);
  t[n++] = '.';
  n += b64url(p, strlen(p), t + n);
  t[n++] = '.';
  t[n] = '\0';
  CHECK_EQ(verify(t), AUTH_JWT_EALG);
  /* ... and a correct HS256 header with no signature */
  n = b64url("{\"alg\":\"HS256\"}", 15, t);
  t[n++] = '.';
  n += b64url(p, strlen(p), t + n);
  t[n++] = '.';
  t[n] = '\0';
  CHECK_EQ(verify(t), AUTH_JWT_EMALFORMED);
  /* an HS512-sized signature under an HS256 header */
  const char *good = sign_with("{\"alg\":\"HS256\"}", p, KEY, KEY_LEN);
  snprintf(t, sizeof(t), "%sAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", good);
  CHECK_EQ(verify(t), AUTH_JWT_EMALFORMED);
  auth_jwt_free(&jwt);
}

void test_jwt_times(void) {
  CHECK(setup());
  char p[256];
  jwt.leeway = 0;
#define AT(json) (snprintf(p, sizeof(p), "%s", json), verify(sign(p)))
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000001}"), 0);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000000}"), AUTH_JWT_EEXPIRED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1600000000}"), AUTH_JWT_EEXPIRED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":-1700000000}"), AUTH_JWT_EEXPIRED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000000.9}"), AUTH_JWT_EEXPIRED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000001.0}"), 0);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000001,\"nbf\":1700000000}"), 0);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000100,\"nbf\":1700000001}"),
           AUTH_JWT_ENOTYET);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000100,\"nbf\":1699999999.5}"), 0);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000100,\"nbf\":1700000000.5}"),
           AUTH_JWT_ENOTYET);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":9999999999999999}"), 0);
  /* the leeway, both ways */
  jwt.leeway = 30;
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1699999971}"), 0);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1699999970}"), AUTH_JWT_EEXPIRED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000100,\"nbf\":1700000030}"), 0);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000100,\"nbf\":1700000031}"),
           AUTH_JWT_ENOTYET);
  jwt.leeway = -5; /* treated as 0 */
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000000}"), AUTH_JWT_EEXPIRED);
  jwt.leeway = INT64_MAX; /* capped: no overflow */
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1}"), AUTH_JWT_EEXPIRED);
  jwt.leeway = 30;
  /* exp required; times must be plain numbers */
  CHECK_EQ(AT("{\"sub\":\"a\"}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"nbf\":1}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":\"1700000600\"}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1.7e9}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":null}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":true}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":[1700000600]}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":99999999999999999999}"),
           AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":01700000600}"), AUTH_JWT_EMALFORMED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":+1700000600}"), AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000600.}"), AUTH_JWT_EMALFORMED);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000600,\"exp\":1800000000}"),
           AUTH_JWT_ECLAIMS);
  CHECK_EQ(AT("{\"sub\":\"a\",\"exp\":1700000600,\"nbf\":\"x\"}"),
           AUTH_JWT_ECLAIMS);
#undef AT
  auth_jwt_free(&jwt);
}

void test_jwt_malformed(void) {
  CHECK(setup());
  const char *good = sign("{\"sub\":\"a\",\"exp\":1700000600}");
  char t[AUTH_JWT_MAX_TOKEN + 64];
  strcpy(t, good);
  size_t n = strlen(t);
  CHECK_EQ(verify(t), 0);
  /* every proper prefix (a truncated token) fails, none crashes */
  for (size_t k = 0; k < n; k++)
    CHECK(auth_jwt_verify(&jwt, t, k, NOW, NULL) < 0);
  CHECK_EQ(auth_jwt_verify(&jwt, t, 0, NOW, NULL), AUTH_JWT_EMALFORMED);
  CHECK_EQ(auth_jwt_verify(&jwt, NULL, 3, NOW, NULL), AUTH_JWT_EINVAL);
  CHECK_EQ(auth_jwt_verify(NULL, t, n, NOW, NULL), AUTH_JWT_EINVAL);
  /* bytes outside base64url, padding, an extra part, empty parts */
  static const char *const edits[] = {"+",  "/", "=",    " ",
                                      "\n", "%", "\x80", "."};
  for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
    char c[sizeof(t) + 16];
    snprintf(c, sizeof(c), "%.10s%s%s", t, edits[i], t + 10);
    CHECK_EQ(verify(c), AUTH_JWT_EMALFORMED);
    snprintf(c, sizeof(c), "%s%s", t, edits[i]);
    CHECK_EQ(verify(c), AUTH_JWT_EMALFORMED);
  }
  char c[sizeof(t) + 16];
  const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
  snprintf(c, sizeof(c), ".%s", d1 + 1); /* no header */
  CHECK_EQ(verify(c), AUTH_JWT_EMALFORMED);
  snprintf(c, sizeof(c), "%.*s.%s", (int)(d1 - t), t, d2); /* no payload */
  CHECK_EQ(verify(c), AUTH_JWT_EMALFORMED);
  snprintf(c, sizeof(c), "%.*s", (int)(d2 - t), t); /* two parts */
  CHECK_EQ(verify(c), AUTH_JWT_EMALFORMED);
  CHECK_EQ(verify(".."), AUTH_JWT_EMALFORMED);
  CHECK_EQ(verify("a.b.c"), AUTH_JWT_EMALFORMED);
  /* a part of length 1 mod 4 */
  CHECK_EQ(verify("eyJhbGciOiJIUzI1NiJ9x.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                  "AAAAAAAAAAAAA"),
           AUTH_JWT_EMALFORMED);
  {
    /* non-zero unused bits: the same header bytes spelled another way,
     * correctly signed, still refused (one spelling per token) */
    char h[1024];
    size_t hn = b64url(" {\"alg\":\"HS256\"}", 16, h); /* 22 chars */
    CHECK_EQ(hn, 22);
    CHECK(h[hn - 1] == 'Q'); /* 16: its low 4 bits are unused, zero */
    h[hn - 1] = 'R';         /* 17: one of them set */
    hn += (size_t)snprintf(h + hn, sizeof(h) - hn, "%.*s", (int)(d2 - d1), d1);
    unsigned char mac[32];
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), KEY, KEY_LEN,
                    (const unsigned char *)h, hn, mac);
    h[hn++] = '.';
    b64url(mac, sizeof(mac), h + hn);
    CHECK_EQ(verify(h), AUTH_JWT_EMALFORMED);
  }
  /* the signature part with standard base64 padding */
  snprintf(c, sizeof(c), "%s=", t);
  CHECK_EQ(verify(c), AUTH_JWT_EMALFORMED);
  /* a payload that is not JSON, correctly signed */
  static const char *const notjson[] = {"",
                                        "[]",
                                        "\"x\"",
                                        "1",
                                        "{",
                                        "{\"sub\":\"a\",\"exp\":1700000600}x",
                                        "{\"sub\":\"a\",\"exp\":1700000600,}",
                                        "{\"sub\" \"a\"}",
                                        "{sub:1}",
                                        "{\"sub\":\"a\"\"exp\":1}",
                                        "\xef\xbb\xbf{}"};
  for (size_t i = 0; i < sizeof(notjson) / sizeof(notjson[0]); i++)
    CHECK_EQ(verify(sign(notjson[i])), AUTH_JWT_EMALFORMED);
  /* oversized: one byte over the limit, then a signed token at the limit
   * whose claims are too many */
  memset(t, 'A', AUTH_JWT_MAX_TOKEN + 1);
  t[10] = t[20] = '.';
  CHECK_EQ(auth_jwt_verify(&jwt, t, AUTH_JWT_MAX_TOKEN + 1, NOW, NULL),
           AUTH_JWT_ETOOBIG);
  static char p[AUTH_JWT_MAX_TOKEN];
  size_t o =
      (size_t)snprintf(p, sizeof(p), "{\"sub\":\"a\",\"exp\":1700000600");
  for (int i = 0; i < AUTH_JWT_MAX_CLAIMS; i++)
    o += (size_t)snprintf(p + o, sizeof(p) - o, ",\"c%d\":%d", i, i);
  snprintf(p + o, sizeof(p) - o, "}");
  CHECK_EQ(verify(sign(p)), AUTH_JWT_ETOOBIG);
  /* a payload so big its token is over the limit */
  o = (size_t)snprintf(p, sizeof(p),
                       "{\"sub\":\"a\",\"exp\":1700000600,\"x\":\"");
  memset(p + o, 'x', 6100 - o);
  snprintf(p + 6100, sizeof(p) - 6100, "\"}");
  CHECK_EQ(verify(sign(p)), AUTH_JWT_ETOOBIG);
  /* ... and just under it, fine */
  memset(p + o, 'x', 6000 - o);
  snprintf(p + 6000, sizeof(p) - 6000, "\"}");
  CHECK(strlen(sign(p)) <= AUTH_JWT_MAX_TOKEN);
  CHECK_EQ(verify(tok), 0);
  auth_jwt_free(&jwt);
}

void test_jwt_claim_types(void) {
  CHECK(setup());
  static const struct {
    const char *json;
    int want;
  } cases[] = {
      {"", 0},
      /* sub */
      {"\"sub\":1", AUTH_JWT_ECLAIMS},
      {"\"sub\":\"\"", AUTH_JWT_ECLAIMS},
      {"\"sub\":null", AUTH_JWT_ECLAIMS},
      {"\"sub\":[\"a\"]", AUTH_JWT_ECLAIMS},
      {"\"sub\":\"a\\u0000b\"", AUTH_JWT_ECLAIMS},
      {"\"sub\":\"a\\nb\"", AUTH_JWT_ECLAIMS},
      {"\"sub\":\"a\x01\"", AUTH_JWT_EMALFORMED},
      {"\"sub\":\"\xff\"", AUTH_JWT_EMALFORMED},
      {"\"sub\":\"\xc0\xaf\"", AUTH_JWT_EMALFORMED},     /* overlong */
      {"\"sub\":\"\xed\xa0\x80\"", AUTH_JWT_EMALFORMED}, /* surrogate */
      {"\"sub\":\"\\ud800\"", AUTH_JWT_EMALFORMED},
      {"\"sub\":\"\\udc00\"", AUTH_JWT_EMALFORMED},
      {"\"sub\":\"\\ud83d\\ude00\"", 0},
      {"\"sub\":\"\\x41\"", AUTH_JWT_EMALFORMED},
      {"\"sub\":\"\\u00zz\"", AUTH_JWT_EMALFORMED},
      {"\"\\u0073ub\":\"b\"", AUTH_JWT_ECLAIMS}, /* a second "sub" */
      /* topic lists */
      {"\"sub_topics\":\"news\"", AUTH_JWT_ECLAIMS},
      {"\"sub_topics\":[1]", AUTH_JWT_ECLAIMS},
      {"\"sub_topics\":[\"a\",null]", AUTH_JWT_ECLAIMS},
      {"\"sub_topics\":[[\"a\"]]", AUTH_JWT_ECLAIMS},
      {"\"sub_topics\":{\"a\":1}", AUTH_JWT_ECLAIMS},
      {"\"sub_topics\":[]", 0},
      {"\"sub_topics\":[\"a\"],\"sub_topics\":[\"b\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"a..b\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\".a\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"a.\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"a.>.b\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"a b\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"a\\tb\"]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\">\",\"*\",\"a.*.>\",\"a*b\"]", 0},
      {"\"pub_topics\":[\"a\",]", AUTH_JWT_ECLAIMS},
      {"\"pub_topics\":[\"a\"", AUTH_JWT_EMALFORMED},
      /* claims we ignore: scalars and flat arrays only */
      {"\"x\":{}", AUTH_JWT_ECLAIMS},
      {"\"x\":{\"y\":1}", AUTH_JWT_ECLAIMS},
      {"\"x\":[[]]", AUTH_JWT_ECLAIMS},
      {"\"x\":[{}]", AUTH_JWT_ECLAIMS},
      {"\"x\":[1,\"a\",true,false,null,-0.5e-3]", 0},
      {"\"x\":[1,]", AUTH_JWT_EMALFORMED},
      {"\"x\":tru", AUTH_JWT_EMALFORMED},
      {"\"x\":nul", AUTH_JWT_EMALFORMED},
      {"\"x\":-", AUTH_JWT_EMALFORMED},
      {"\"x\":1e", AUTH_JWT_EMALFORMED},
      {"\"x\":.5", AUTH_JWT_EMALFORMED},
      {"\"x\":'a'", AUTH_JWT_EMALFORMED},
      {"\"x\":\"a", AUTH_JWT_EMALFORMED},
      {"\"x\"", AUTH_JWT_EMALFORMED},
      {"\"x\":1,\"x\":2", 0}, /* duplicates of ignored claims are harmless */
      {"\"a_very_long_claim_name_that_we_do_not_know\":1", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rv = verify_claims(cases[i].json);
    if (rv != cases[i].want)
      fprintf(stderr, "  claims {%s}: %d, want %d\n", cases[i].json, rv,
              cases[i].want);
    CHECK_EQ(rv, cases[i].want);
  }
  /* sizes: sub of 255 bytes fits, 256 does not; 16 patterns fit, 17 do
   * not; a pattern of 255 bytes fits, 256 does not */
  char p[8192], s[300];
  memset(s, 's', 256);
  s[255] = '\0';
  snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"exp\":1700000600}", s);
  CHECK_EQ(verify(sign(p)), 0);
  CHECK_EQ(strlen(claims.sub), 255);
  s[255] = 's';
  s[256] = '\0';
  snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"exp\":1700000600}", s);
  CHECK_EQ(verify(sign(p)), AUTH_JWT_ETOOBIG);
  /* escapes count decoded: 255 "\u0041"s are 255 bytes */
  size_t o = (size_t)snprintf(p, sizeof(p), "{\"sub\":\"");
  for (int i = 0; i < 255; i++)
    o += (size_t)snprintf(p + o, sizeof(p) - o, "\\u0041");
  snprintf(p + o, sizeof(p) - o, "\",\"exp\":1700000600}");
  CHECK_EQ(verify(sign(p)), 0);
  for (int want = 16; want <= 17; want++) {
    o = (size_t)snprintf(p, sizeof(p), "\"sub_topics\":[");
    for (int i = 0; i < want; i++)
      o += (size_t)snprintf(p + o, sizeof(p) - o, "%s\"t%d\"", i ? "," : "", i);
    snprintf(p + o, sizeof(p) - o, "]");
    CHECK_EQ(verify_claims(p), want == 16 ? 0 : AUTH_JWT_ETOOBIG);
  }
  CHECK_EQ(claims.nsub, 16);
  s[255] = '\0';
  snprintf(p, sizeof(p), "\"sub_topics\":[\"%s\"]", s);
  CHECK_EQ(verify_claims(p), 0);
  s[255] = 's';
  snprintf(p, sizeof(p), "\"sub_topics\":[\"%s\"]", s);
  CHECK_EQ(verify_claims(p), AUTH_JWT_ETOOBIG);
  /* 33 tokens in a pattern are too many, 32 are fine */
  o = (size_t)snprintf(p, sizeof(p), "\"sub_topics\":[\"a");
  for (int i = 1; i < 32; i++)
    o += (size_t)snprintf(p + o, sizeof(p) - o, ".a");
  snprintf(p + o, sizeof(p) - o, "\"]");
  CHECK_EQ(verify_claims(p), 0);
  snprintf(p + o, sizeof(p) - o, ".a\"]");
  CHECK_EQ(verify_claims(p), AUTH_JWT_ECLAIMS);
  /* an ignored array of 64 elements is fine, 65 too many */
  for (int want = 64; want <= 65; want++) {
    o = (size_t)snprintf(p, sizeof(p), "\"x\":[");
    for (int i = 0; i < want; i++)
      o += (size_t)snprintf(p + o, sizeof(p) - o, "%s%d", i ? "," : "", i);
    snprintf(p + o, sizeof(p) - o, "]");
    CHECK_EQ(verify_claims(p), want == 64 ? 0 : AUTH_JWT_ETOOBIG);
  }
  auth_jwt_free(&jwt);
}

static int64_t fake_now = NOW;
static int64_t fake_clock(void) { return fake_now; }

static int call(hub_auth_kind kind, hub_client_id id, const char *what,
                hub_auth_result *res) {
  hub_auth_request req;
  memset(&req, 0, sizeof(req));
  memset(res, 0, sizeof(*res));
  req.kind = kind;
  req.id = id;
  req.remote_addr = "127.0.0.1:1";
  if (kind == HUB_AUTH_CONNECT) {
    req.path = "/ws";
    req.path_len = 3;
    req.query = "";
    req.token = what;
    req.token_len = what ? strlen(what) : 0;
  } else {
    req.principal = "alice";
    req.topic = what;
    req.topic_len = strlen(what);
  }
  int v = auth_jwt_callback(NULL, &req, res, &jwt);
  if (v != res->verdict)
    return -1;
  return v;
}

void test_jwt_callback(void) {
  CHECK(setup());
  jwt.now = fake_clock;
  fake_now = NOW;
  hub_auth_result res;
  char t[2048];
  strcpy(t, sign("{\"sub\":\"alice\",\"exp\":1700000600,"
                 "\"sub_topics\":[\"news.*\",\"chat.>\"],"
                 "\"pub_topics\":[\"chat.alice\"]}"));

  CHECK_EQ(call(HUB_AUTH_CONNECT, 1, NULL, &res), HUB_AUTH_DENY);
  CHECK_EQ(res.status, 401);
  CHECK(res.reason && strstr(res.reason, "missing"));
  CHECK_EQ(call(HUB_AUTH_CONNECT, 1, "garbage", &res), HUB_AUTH_DENY);
  CHECK_EQ(res.status, 401);
  CHECK_EQ(auth_jwt_count(&jwt), 0);

  CHECK_EQ(call(HUB_AUTH_CONNECT, 7, t, &res), HUB_AUTH_ALLOW);
  CHECK(res.principal && strcmp(res.principal, "alice") == 0);
  CHECK_EQ(auth_jwt_count(&jwt), 1);

  static const struct {
    hub_auth_kind kind;
    const char *topic;
    int want;
  } table[] = {
      {HUB_AUTH_SUBSCRIBE, "news.sport", HUB_AUTH_ALLOW},
      {HUB_AUTH_SUBSCRIBE, "news.*", HUB_AUTH_ALLOW},
      {HUB_AUTH_SUBSCRIBE, "news.>", HUB_AUTH_DENY},
      {HUB_AUTH_SUBSCRIBE, "news", HUB_AUTH_DENY},
      {HUB_AUTH_SUBSCRIBE, "chat.room.1", HUB_AUTH_ALLOW},
      {HUB_AUTH_SUBSCRIBE, "chat.>", HUB_AUTH_ALLOW},
      {HUB_AUTH_SUBSCRIBE, ">", HUB_AUTH_DENY},
      {HUB_AUTH_SUBSCRIBE, "secret", HUB_AUTH_DENY},
      {HUB_AUTH_PUBLISH, "chat.alice", HUB_AUTH_ALLOW},
      {HUB_AUTH_PUBLISH, "chat.bob", HUB_AUTH_DENY},
      {HUB_AUTH_PUBLISH, "news.sport", HUB_AUTH_DENY},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    int v = call(table[i].kind, 7, table[i].topic, &res);
    if (v != table[i].want)
      fprintf(stderr, "  %s %s: %d\n",
              table[i].kind == HUB_AUTH_PUBLISH ? "publish" : "subscribe",
              table[i].topic, v);
    CHECK_EQ(v, table[i].want);
    if (v == HUB_AUTH_DENY)
      CHECK(res.reason && strcmp(res.reason, "topic not granted") == 0);
  }
  /* a client the table does not know (another id) */
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 8, "news.sport", &res), HUB_AUTH_DENY);
  CHECK(strcmp(res.reason, "not authenticated") == 0);

  /* the token expires while connected */
  fake_now = 1700000600 + 29;
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 7, "news.sport", &res), HUB_AUTH_ALLOW);
  fake_now = 1700000600 + 30;
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 7, "news.sport", &res), HUB_AUTH_DENY);
  CHECK(strcmp(res.reason, "token expired") == 0);
  CHECK_EQ(call(HUB_AUTH_CONNECT, 9, t, &res), HUB_AUTH_DENY);
  CHECK_EQ(res.status, 401);
  CHECK(strcmp(res.reason, "token expired") == 0);
  jwt.enforce_exp_after_connect = 0;
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 7, "news.sport", &res), HUB_AUTH_ALLOW);
  fake_now = NOW;

  /* forget drops the grants */
  auth_jwt_forget(&jwt, 7);
  auth_jwt_forget(&jwt, 7);
  auth_jwt_forget(&jwt, 12345);
  CHECK_EQ(auth_jwt_count(&jwt), 0);
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 7, "news.sport", &res), HUB_AUTH_DENY);

  /* a bounded table: the one over the cap gets 503 */
  jwt.max_clients = 100;
  for (hub_client_id id = 1000; id < 1100; id++)
    CHECK_EQ(call(HUB_AUTH_CONNECT, id, t, &res), HUB_AUTH_ALLOW);
  CHECK_EQ(auth_jwt_count(&jwt), 100);
  CHECK_EQ(call(HUB_AUTH_CONNECT, 2000, t, &res), HUB_AUTH_DENY);
  CHECK_EQ(res.status, 503);
  auth_jwt_forget(&jwt, 1050);
  CHECK_EQ(call(HUB_AUTH_CONNECT, 2000, t, &res), HUB_AUTH_ALLOW);
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 2000, "news.x", &res), HUB_AUTH_ALLOW);
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 1050, "news.x", &res), HUB_AUTH_DENY);
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 1099, "news.x", &res), HUB_AUTH_ALLOW);

  /* a token with no topic claims connects and may use nothing */
  jwt.max_clients = 1000;
  CHECK_EQ(call(HUB_AUTH_CONNECT, 3000,
                sign("{\"sub\":\"bob\",\"exp\":1700000600}"), &res),
           HUB_AUTH_ALLOW);
  CHECK(strcmp(res.principal, "bob") == 0);
  CHECK_EQ(call(HUB_AUTH_SUBSCRIBE, 3000, "news.x", &res), HUB_AUTH_DENY);
  CHECK_EQ(call(HUB_AUTH_PUBLISH, 3000, "chat.alice", &res), HUB_AUTH_DENY);
  auth_jwt_free(&jwt); /* frees what is left in the table */
}

static void forget_cb(hub_t *hub, const hub_close_info *info, void *ud) {
  (void)hub;
  auth_jwt_forget(ud, info->id);
}

static bool wait_count(size_t want, int ms) {
  for (int i = 0; i < ms && auth_jwt_count(&jwt) != want; i++)
    test_sleep_ms(1);
  return auth_jwt_count(&jwt) == want;
}

/* The body of a refusal, up to EOF (at most cap - 1 bytes, 2 s). */
static const char *body_of(int fd, char *buf, size_t cap) {
  size_t n = 0;
  struct pollfd pfd = {fd, POLLIN, 0};
  while (n + 1 < cap && poll(&pfd, 1, 2000) == 1) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  return buf;
}

static int ws_open(hub_t *hub, const char *path, const char *hdrs, char *head,
                   size_t cap, int *fd) {
  hub_client_id id;
  *fd = wsc_attach(hub, &id);
  return *fd < 0 ? -1 : wsc_upgrade(*fd, path, hdrs, head, cap);
}

void test_jwt_hub(void) {
  CHECK(setup());
  hub_options *o;
  hub_t *hub = NULL;
  CHECK(hub_options_new(&o) == 0);
  hub_options_set_shards(o, 2);
  hub_options_set_client_publish(o, 1);
  hub_options_set_close_callback(o, forget_cb, &jwt);
  CHECK(hub_options_set_auth_callback(o, auth_jwt_callback, &jwt) == 0);
  CHECK(hub_new(&hub, o) == 0);
  hub_options_free(o);
  CHECK(hub_start(hub) == 0);

  long long now = (long long)time(NULL);
  char good[512], expired[512], p[256], hdr[600], head[1024], buf[512];
  snprintf(p, sizeof(p),
           "{\"sub\":\"bob\",\"exp\":%lld,\"sub_topics\":[\"news.*\"],"
           "\"pub_topics\":[\"news.bob\"]}",
           now + 600);
  snprintf(good, sizeof(good), "%s", sign(p));
  snprintf(p, sizeof(p), "{\"sub\":\"bob\",\"exp\":%lld}", now - 3600);
  snprintf(expired, sizeof(expired), "%s", sign(p));
  int fd;

  CHECK_EQ(ws_open(hub, "/ws", NULL, head, sizeof(head), &fd), 401);
  CHECK(strstr(body_of(fd, buf, sizeof(buf)), "missing token"));
  close(fd);
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", expired);
  CHECK_EQ(ws_open(hub, "/ws", hdr, head, sizeof(head), &fd), 401);
  CHECK(strstr(body_of(fd, buf, sizeof(buf)), "token expired"));
  close(fd);
  char *sc = good + strlen(good) - 2, was = *sc;
  *sc = was == 'A' ? 'B' : 'A'; /* a forged signature */
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", good);
  *sc = was;
  CHECK_EQ(ws_open(hub, "/ws", hdr, head, sizeof(head), &fd), 401);
  CHECK(strstr(body_of(fd, buf, sizeof(buf)), "bad token signature"));
  close(fd);
  CHECK_EQ(auth_jwt_count(&jwt), 0);

  /* in: the grants apply to its subscribes and publishes */
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", good);
  CHECK_EQ(ws_open(hub, "/ws", hdr, head, sizeof(head), &fd), 101);
  CHECK_EQ(auth_jwt_count(&jwt), 1);
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"news.a\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"news.>\","
                          "\"id\":2}"));
  CHECK(wsc_recv_until(fd, "error", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "\"code\":\"forbidden\"") && strstr(buf, "\"id\":2"));
  CHECK(wsc_send_text(fd, "{\"op\":\"publish\",\"topic\":\"chat.eve\","
                          "\"data\":1,\"id\":3}"));
  CHECK(wsc_recv_until(fd, "error", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "forbidden") && strstr(buf, "\"id\":3"));
  /* a publish it may make reaches its own subscription */
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"news.*\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK(wsc_send_text(fd, "{\"op\":\"publish\",\"topic\":\"news.bob\","
                          "\"data\":\"x\",\"id\":4}"));
  CHECK(wsc_recv_until(fd, "{\"type\":\"message\",\"topic\":\"news.bob\"", buf,
                       sizeof(buf), 2000));
  CHECK(hub_broadcast(hub, "news.a", "hi", 2, 0) > 0);
  CHECK(wsc_recv_until(fd, "\"hi\"", buf, sizeof(buf), 2000));
  close(fd);
  CHECK(wait_count(0, 2000)); /* the close callback forgot it */

  /* ?token= with ?topic=: a granted topic subscribes, a forbidden one
   * gets an error notice and the client stays */
  char path[700];
  snprintf(path, sizeof(path), "/ws?topic=news.b&topic=secret&token=%s", good);
  CHECK_EQ(ws_open(hub, path, NULL, head, sizeof(head), &fd), 101);
  CHECK(wsc_recv_until(fd, "forbidden", buf, sizeof(buf), 2000));
  CHECK(hub_broadcast(hub, "news.b", "yo", 2, 0) > 0);
  CHECK(wsc_recv_until(fd, "\"yo\"", buf, sizeof(buf), 2000));
  close(fd);
  CHECK(wait_count(0, 2000));

  /* allowed, then refused by the hub for a bad ?topic=: still forgotten */
  snprintf(path, sizeof(path), "/ws?topic=a%%20b&token=%s", good);
  CHECK_EQ(ws_open(hub, path, NULL, head, sizeof(head), &fd), 400);
  close(fd);
  CHECK(wait_count(0, 2000));

  /* stopping the hub closes, and so forgets, everyone */
  snprintf(hdr, sizeof(hdr),
           "Sec-WebSocket-Protocol: fanhub.json, bearer.%s\r\n", good);
  CHECK_EQ(ws_open(hub, "/ws", hdr, head, sizeof(head), &fd), 101);
  CHECK(strstr(head, "Sec-WebSocket-Protocol: fanhub.json\r\n"));
  CHECK_EQ(auth_jwt_count(&jwt), 1);
  hub_free(hub);
  close(fd);
  CHECK_EQ(auth_jwt_count(&jwt), 0);
  auth_jwt_free(&jwt);
}
