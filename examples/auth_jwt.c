/* auth_jwt: HS256 JSON Web Tokens for fanhub's auth callback. See
 * auth_jwt.h for what is accepted. Every byte of a token is hostile: the
 * readers below are iterative, bounded and never read past `end`. */
#include "auth_jwt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#define SIG_B64_LEN 43 /* 32 bytes of HMAC-SHA256, base64url, no padding */
#define HEADER_MAX 256 /* decoded header bytes */
#define PAYLOAD_MAX (AUTH_JWT_MAX_TOKEN / 4 * 3)
#define MAX_TOKENS 32 /* '.'-separated tokens in a pattern (as fanhub) */
#define NBUCKETS 4096 /* client table buckets, a power of two */
#define LEEWAY_MAX 86400
#define NUM_DIGITS_MAX 18 /* integer digits of a number we keep */

const char *auth_jwt_strerror(int err) {
  switch (err) {
  case AUTH_JWT_OK:
    return "ok";
  case AUTH_JWT_EINVAL:
    return "invalid argument";
  case AUTH_JWT_EMALFORMED:
    return "malformed token";
  case AUTH_JWT_EALG:
    return "unsupported token header or algorithm";
  case AUTH_JWT_ESIG:
    return "bad token signature";
  case AUTH_JWT_ECLAIMS:
    return "invalid token claims";
  case AUTH_JWT_EEXPIRED:
    return "token expired";
  case AUTH_JWT_ENOTYET:
    return "token not yet valid";
  case AUTH_JWT_ETOOBIG:
    return "token too large";
  case AUTH_JWT_ENOMEM:
    return "out of memory";
  case AUTH_JWT_EFULL:
    return "too many authenticated clients";
  default:
    return "unknown error";
  }
}

/* ------------------------------------------------------------------------
 * base64url (RFC 4648 section 5), no padding, canonical only
 * ------------------------------------------------------------------------ */

static int b64url_val(unsigned char ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  return -1;
}

/* Decodes n characters into out (cap bytes). Returns the number of bytes,
 * or -1 for a bad character, an impossible length (n % 4 == 1), non-zero
 * leftover bits (a second spelling of the same bytes) or too little room. */
static long b64url_decode(const char *in, size_t n, unsigned char *out,
                          size_t cap) {
  if (n % 4 == 1)
    return -1;
  size_t olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
  if (olen > cap)
    return -1;
  unsigned acc = 0, bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_val((unsigned char)in[i]);
    if (v < 0)
      return -1;
    acc = ((acc << 6) | (unsigned)v) & 0xffffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  if (acc & ((1u << bits) - 1))
    return -1;
  return (long)o;
}

/* ------------------------------------------------------------------------
 * A minimal strict JSON reader for one flat object
 * ------------------------------------------------------------------------ */

struct cur {
  const unsigned char *p, *end;
};

static void skip_ws(struct cur *c) {
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

/* The next non-blank byte, not consumed, or -1 at the end. */
static int peek(struct cur *c) {
  skip_ws(c);
  return c->p < c->end ? *c->p : -1;
}

static bool eat(struct cur *c, int ch) {
  if (peek(c) != ch)
    return false;
  c->p++;
  return true;
}

static int hex4(const unsigned char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned ch = p[i], d;
    if (ch >= '0' && ch <= '9')
      d = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
      d = ch - 'a' + 10;
    else if (ch >= 'A' && ch <= 'F')
      d = ch - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

/* Length of the valid UTF-8 sequence at p (non-ASCII lead), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0], cp, min;
  size_t k;
  if ((c & 0xe0) == 0xc0)
    k = 2, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    k = 3, cp = c & 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    k = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if ((size_t)(end - p) < k)
    return 0;
  for (size_t j = 1; j < k; j++) {
    if ((p[j] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[j] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return k;
}

/* Appends byte b to out if it fits; counts it in *len either way. */
static void put(char *out, size_t cap, size_t *len, unsigned char b) {
  if (out && *len < cap)
    out[*len] = (char)b;
  (*len)++;
}

/* Reads a string at c (after blanks). Its decoded bytes go to out, up to
 * cap of them (out may be NULL); *len receives the full decoded length, so
 * *len > cap means it did not fit. No NUL is added. Returns 0 or
 * AUTH_JWT_EMALFORMED. */
static int read_string(struct cur *c, char *out, size_t cap, size_t *len) {
  *len = 0;
  if (!eat(c, '"'))
    return AUTH_JWT_EMALFORMED;
  while (c->p < c->end) {
    unsigned ch = *c->p;
    if (ch == '"') {
      c->p++;
      return 0;
    }
    if (ch < 0x20)
      return AUTH_JWT_EMALFORMED;
    if (ch >= 0x80) {
      size_t k = utf8_seq(c->p, c->end);
      if (!k)
        return AUTH_JWT_EMALFORMED;
      for (size_t j = 0; j < k; j++)
        put(out, cap, len, c->p[j]);
      c->p += k;
      continue;
    }
    if (ch != '\\') {
      put(out, cap, len, (unsigned char)ch);
      c->p++;
      continue;
    }
    if (c->end - c->p < 2)
      return AUTH_JWT_EMALFORMED;
    unsigned e = c->p[1];
    c->p += 2;
    unsigned cp;
    switch (e) {
    case '"':
    case '\\':
    case '/':
      put(out, cap, len, (unsigned char)e);
      continue;
    case 'b':
      put(out, cap, len, '\b');
      continue;
    case 'f':
      put(out, cap, len, '\f');
      continue;
    case 'n':
      put(out, cap, len, '\n');
      continue;
    case 'r':
      put(out, cap, len, '\r');
      continue;
    case 't':
      put(out, cap, len, '\t');
      continue;
    case 'u':
      if (c->end - c->p < 4 || hex4(c->p, &cp))
        return AUTH_JWT_EMALFORMED;
      c->p += 4;
      if (cp >= 0xdc00 && cp <= 0xdfff)
        return AUTH_JWT_EMALFORMED; /* a lone low surrogate */
      if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
            hex4(c->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
          return AUTH_JWT_EMALFORMED;
        c->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      if (cp < 0x80) {
        put(out, cap, len, (unsigned char)cp);
      } else if (cp < 0x800) {
        put(out, cap, len, (unsigned char)(0xc0 | cp >> 6));
        put(out, cap, len, (unsigned char)(0x80 | (cp & 0x3f)));
      } else if (cp < 0x10000) {
        put(out, cap, len, (unsigned char)(0xe0 | cp >> 12));
        put(out, cap, len, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        put(out, cap, len, (unsigned char)(0x80 | (cp & 0x3f)));
      } else {
        put(out, cap, len, (unsigned char)(0xf0 | cp >> 18));
        put(out, cap, len, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        put(out, cap, len, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        put(out, cap, len, (unsigned char)(0x80 | (cp & 0x3f)));
      }
      continue;
    default:
      return AUTH_JWT_EMALFORMED;
    }
  }
  return AUTH_JWT_EMALFORMED; /* unterminated */
}

struct number {
  int64_t ipart; /* the integer part, with its sign */
  bool neg;      /* a leading '-' (also for -0.5) */
  bool frac;     /* a non-zero fraction follows */
  bool exponent; /* an exponent was given */
  bool big;      /* more than NUM_DIGITS_MAX integer digits */
};

/* Reads a JSON number (RFC 8259 grammar) at c. Returns 0 or
 * AUTH_JWT_EMALFORMED. */
static int read_number(struct cur *c, struct number *n) {
  memset(n, 0, sizeof(*n));
  skip_ws(c);
  if (c->p < c->end && *c->p == '-') {
    n->neg = true;
    c->p++;
  }
  if (c->p >= c->end || *c->p < '0' || *c->p > '9')
    return AUTH_JWT_EMALFORMED;
  int digits = 0;
  if (*c->p == '0') {
    c->p++;
  } else {
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (++digits > NUM_DIGITS_MAX)
        n->big = true;
      else
        n->ipart = n->ipart * 10 + (*c->p - '0');
      c->p++;
    }
  }
  if (n->neg)
    n->ipart = -n->ipart;
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
      return AUTH_JWT_EMALFORMED;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (*c->p != '0')
        n->frac = true;
      c->p++;
    }
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    n->exponent = true;
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
      c->p++;
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
      return AUTH_JWT_EMALFORMED;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
      c->p++;
  }
  return 0;
}

static int read_literal(struct cur *c) {
  static const char *const lits[] = {"true", "false", "null"};
  skip_ws(c);
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(lits[i]);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, lits[i], n) == 0) {
      c->p += n;
      return 0;
    }
  }
  return AUTH_JWT_EMALFORMED;
}

/* A string, number or literal; anything else is not a scalar. */
static int skip_scalar(struct cur *c) {
  int ch = peek(c);
  size_t len;
  if (ch == '"')
    return read_string(c, NULL, 0, &len);
  if (ch == '-' || (ch >= '0' && ch <= '9')) {
    struct number n;
    return read_number(c, &n);
  }
  if (ch == 't' || ch == 'f' || ch == 'n')
    return read_literal(c);
  if (ch == '[' || ch == '{')
    return AUTH_JWT_ECLAIMS; /* nesting where we take none */
  return AUTH_JWT_EMALFORMED;
}

/* The value of a claim we do not read: a scalar or a flat array of them. */
static int skip_value(struct cur *c) {
  if (peek(c) != '[')
    return skip_scalar(c);
  c->p++;
  if (eat(c, ']'))
    return 0;
  for (unsigned n = 1;; n++) {
    if (n > AUTH_JWT_MAX_ARRAY)
      return AUTH_JWT_ETOOBIG;
    int rv = skip_scalar(c);
    if (rv)
      return rv;
    if (eat(c, ']'))
      return 0;
    if (!eat(c, ','))
      return AUTH_JWT_EMALFORMED;
  }
}

/* ------------------------------------------------------------------------
 * Patterns
 * ------------------------------------------------------------------------ */

/* A grant we can use: non-empty tokens of visible ASCII or UTF-8, ">" only
 * as the last token, at most MAX_TOKENS of them. */
static bool pattern_valid(const char *s, size_t n) {
  if (n == 0)
    return false;
  size_t tokens = 1, tok_start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      size_t tl = i - tok_start;
      if (tl == 0)
        return false;
      if (tl == 1 && s[tok_start] == '>' && i != n)
        return false;
      if (i < n && ++tokens > MAX_TOKENS)
        return false;
      tok_start = i + 1;
      continue;
    }
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 0x20 || ch == 0x7f)
      return false;
  }
  return true;
}

/* ------------------------------------------------------------------------
 * Header and claims
 * ------------------------------------------------------------------------ */

/* The header: exactly {"alg":"HS256"} plus optionally "typ":"JWT". */
static int parse_header(const unsigned char *s, size_t n) {
  struct cur c = {s, s + n};
  bool alg = false, typ = false;
  char key[8], val[8];
  size_t kl, vl;
  if (!eat(&c, '{'))
    return AUTH_JWT_EMALFORMED;
  if (eat(&c, '}'))
    return AUTH_JWT_EALG;
  for (;;) {
    if (read_string(&c, key, sizeof(key), &kl) || !eat(&c, ':'))
      return AUTH_JWT_EMALFORMED;
    if (peek(&c) != '"')
      return AUTH_JWT_EALG;
    if (read_string(&c, val, sizeof(val), &vl))
      return AUTH_JWT_EMALFORMED;
    if (kl == 3 && memcmp(key, "alg", 3) == 0 && !alg) {
      alg = true;
      if (vl != 5 || memcmp(val, "HS256", 5) != 0)
        return AUTH_JWT_EALG;
    } else if (kl == 3 && memcmp(key, "typ", 3) == 0 && !typ) {
      typ = true;
      if (vl != 3 || (val[0] | 0x20) != 'j' || (val[1] | 0x20) != 'w' ||
          (val[2] | 0x20) != 't')
        return AUTH_JWT_EALG;
    } else {
      return AUTH_JWT_EALG; /* crit, jku, kid, a duplicate, ... */
    }
    if (eat(&c, '}'))
      break;
    if (!eat(&c, ','))
      return AUTH_JWT_EMALFORMED;
  }
  skip_ws(&c);
  if (c.p != c.end)
    return AUTH_JWT_EMALFORMED;
  return alg ? 0 : AUTH_JWT_EALG;
}

/* A string claim kept as a NUL-terminated string: 1..max bytes, no
 * control characters. */
static int read_text_claim(struct cur *c, char *out, size_t max) {
  size_t len;
  if (peek(c) != '"')
    return AUTH_JWT_ECLAIMS;
  int rv = read_string(c, out, max, &len);
  if (rv)
    return rv;
  if (len > max)
    return AUTH_JWT_ETOOBIG;
  out[len] = '\0';
  if (len == 0)
    return AUTH_JWT_ECLAIMS;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
      return AUTH_JWT_ECLAIMS;
  return 0;
}

/* A NumericDate: integer seconds, a fraction rounded by `up` (nbf) or
 * down (exp); no exponent, at most NUM_DIGITS_MAX digits. */
static int read_time_claim(struct cur *c, bool up, int64_t *out) {
  int ch = peek(c);
  if (ch != '-' && (ch < '0' || ch > '9'))
    return AUTH_JWT_ECLAIMS;
  struct number n;
  int rv = read_number(c, &n);
  if (rv)
    return rv;
  if (n.exponent || n.big)
    return AUTH_JWT_ECLAIMS;
  *out = n.ipart; /* truncated toward zero */
  if (n.frac && up && !n.neg)
    *out += 1; /* ceiling */
  else if (n.frac && !up && n.neg)
    *out -= 1; /* floor */
  return 0;
}

static int read_patterns(struct cur *c, char (*out)[AUTH_JWT_MAX_PATTERN + 1],
                         unsigned *count) {
  *count = 0;
  if (!eat(c, '['))
    return AUTH_JWT_ECLAIMS;
  if (eat(c, ']'))
    return 0;
  for (;;) {
    if (*count == AUTH_JWT_MAX_PATTERNS)
      return AUTH_JWT_ETOOBIG;
    char *p = out[*count];
    int rv = read_text_claim(c, p, AUTH_JWT_MAX_PATTERN);
    if (rv)
      return rv;
    if (!pattern_valid(p, strlen(p)))
      return AUTH_JWT_ECLAIMS;
    (*count)++;
    if (eat(c, ']'))
      return 0;
    if (!eat(c, ','))
      return AUTH_JWT_EMALFORMED;
  }
}

enum { K_OTHER, K_SUB, K_EXP, K_NBF, K_SUBT, K_PUBT, K_COUNT };

static int claim_key(const char *k, size_t kl) {
  static const char *const names[K_COUNT] = {NULL,  "sub",        "exp",
                                             "nbf", "sub_topics", "pub_topics"};
  for (int i = 1; i < K_COUNT; i++)
    if (kl == strlen(names[i]) && memcmp(k, names[i], kl) == 0)
      return i;
  return K_OTHER;
}

static int parse_claims(const unsigned char *s, size_t n,
                        struct auth_jwt_claims *cl) {
  struct cur c = {s, s + n};
  bool seen[K_COUNT] = {false};
  char key[16];
  size_t kl;
  memset(cl, 0, sizeof(*cl));
  cl->nbf = INT64_MIN;
  if (!eat(&c, '{'))
    return AUTH_JWT_EMALFORMED;
  if (!eat(&c, '}')) {
    for (unsigned members = 1;; members++) {
      if (members > AUTH_JWT_MAX_CLAIMS)
        return AUTH_JWT_ETOOBIG;
      /* Names are compared decoded, so "\u0065xp" is "exp" too and cannot
       * sneak in a second one. */
      int rv = read_string(&c, key, sizeof(key), &kl);
      if (rv || !eat(&c, ':'))
        return AUTH_JWT_EMALFORMED;
      int k = kl <= sizeof(key) ? claim_key(key, kl) : K_OTHER;
      if (k != K_OTHER) {
        if (seen[k])
          return AUTH_JWT_ECLAIMS; /* a duplicate claim */
        seen[k] = true;
      }
      switch (k) {
      case K_SUB:
        rv = read_text_claim(&c, cl->sub, AUTH_JWT_MAX_SUB);
        break;
      case K_EXP:
        rv = read_time_claim(&c, false, &cl->exp);
        break;
      case K_NBF:
        rv = read_time_claim(&c, true, &cl->nbf);
        break;
      case K_SUBT:
        rv = read_patterns(&c, cl->sub_topics, &cl->nsub);
        break;
      case K_PUBT:
        rv = read_patterns(&c, cl->pub_topics, &cl->npub);
        break;
      default:
        rv = skip_value(&c);
      }
      if (rv)
        return rv;
      if (eat(&c, '}'))
        break;
      if (!eat(&c, ','))
        return AUTH_JWT_EMALFORMED;
    }
  }
  skip_ws(&c);
  if (c.p != c.end)
    return AUTH_JWT_EMALFORMED;
  if (!seen[K_SUB] || !seen[K_EXP])
    return AUTH_JWT_ECLAIMS;
  return 0;
}

/* ------------------------------------------------------------------------
 * Verification
 * ------------------------------------------------------------------------ */

static bool ct_equal(const unsigned char *x, const unsigned char *y, size_t n) {
  volatile unsigned char d = 0;
  for (size_t i = 0; i < n; i++)
    d |= (unsigned char)(x[i] ^ y[i]);
  return d == 0;
}

static int64_t leeway_of(const struct auth_jwt *a) {
  return a->leeway < 0 ? 0 : a->leeway > LEEWAY_MAX ? LEEWAY_MAX : a->leeway;
}

int auth_jwt_verify(const struct auth_jwt *a, const char *token, size_t len,
                    int64_t now, struct auth_jwt_claims *out) {
  if (!a || !token || a->secret_len < AUTH_JWT_MIN_SECRET ||
      a->secret_len > AUTH_JWT_MAX_SECRET)
    return AUTH_JWT_EINVAL;
  if (len == 0)
    return AUTH_JWT_EMALFORMED;
  if (len > AUTH_JWT_MAX_TOKEN)
    return AUTH_JWT_ETOOBIG;

  /* header.payload.signature, nothing but base64url between the dots */
  size_t dots[2], nd = 0;
  for (size_t i = 0; i < len; i++) {
    if (token[i] == '.') {
      if (nd == 2)
        return AUTH_JWT_EMALFORMED;
      dots[nd++] = i;
    } else if (b64url_val((unsigned char)token[i]) < 0) {
      return AUTH_JWT_EMALFORMED;
    }
  }
  if (nd != 2)
    return AUTH_JWT_EMALFORMED;
  size_t hlen = dots[0], plen = dots[1] - dots[0] - 1, slen = len - dots[1] - 1;
  if (hlen == 0 || plen == 0)
    return AUTH_JWT_EMALFORMED;

  /* The header first: an unsigned ("alg":"none") or otherwise signed
   * token is told apart from a damaged one. */
  unsigned char header[HEADER_MAX];
  if (hlen > (HEADER_MAX / 3) * 4)
    return AUTH_JWT_EALG;
  long hn = b64url_decode(token, hlen, header, sizeof(header));
  if (hn < 0)
    return AUTH_JWT_EMALFORMED;
  int rv = parse_header(header, (size_t)hn);
  if (rv)
    return rv;
  if (slen != SIG_B64_LEN)
    return AUTH_JWT_EMALFORMED;

  unsigned char sig[32], mac[32];
  if (b64url_decode(token + dots[1] + 1, slen, sig, sizeof(sig)) != 32)
    return AUTH_JWT_EMALFORMED;
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (!md || mbedtls_md_hmac(md, a->secret, a->secret_len,
                             (const unsigned char *)token, dots[1], mac))
    return AUTH_JWT_EINVAL;
  bool good = ct_equal(sig, mac, sizeof(mac));
  mbedtls_platform_zeroize(mac, sizeof(mac));
  if (!good)
    return AUTH_JWT_ESIG;

  /* Only now, with the bytes known to come from the key's holder, read
   * the claims; they are still parsed as strictly as anything else. */
  unsigned char payload[PAYLOAD_MAX];
  long pn = b64url_decode(token + dots[0] + 1, plen, payload, sizeof(payload));
  if (pn < 0)
    return AUTH_JWT_EMALFORMED;
  struct auth_jwt_claims local, *cl = out ? out : &local;
  rv = parse_claims(payload, (size_t)pn, cl);
  if (rv)
    return rv;

  int64_t leeway = leeway_of(a);
  /* exp and nbf have at most 18 digits, so these cannot overflow. */
  if (now >= cl->exp + leeway)
    return AUTH_JWT_EEXPIRED;
  if (cl->nbf != INT64_MIN && now < cl->nbf - leeway)
    return AUTH_JWT_ENOTYET;
  return 0;
}

/* ------------------------------------------------------------------------
 * The client table and the callback
 * ------------------------------------------------------------------------ */

struct auth_jwt_grant {
  struct auth_jwt_grant *next;
  hub_client_id id;
  int64_t exp;
  unsigned nsub, npub;
  char data[]; /* nsub then npub NUL-terminated patterns */
};

int auth_jwt_init(struct auth_jwt *a, const unsigned char *secret, size_t len) {
  if (!a || !secret || len < AUTH_JWT_MIN_SECRET || len > AUTH_JWT_MAX_SECRET)
    return AUTH_JWT_EINVAL;
  memset(a, 0, sizeof(*a));
  memcpy(a->secret, secret, len);
  a->secret_len = len;
  a->leeway = 30;
  a->max_clients = 65536;
  a->enforce_exp_after_connect = 1;
  a->nbuckets = NBUCKETS;
  a->buckets = calloc(NBUCKETS, sizeof(*a->buckets));
  if (!a->buckets || pthread_mutex_init(&a->lock, NULL)) {
    free(a->buckets);
    mbedtls_platform_zeroize(a, sizeof(*a));
    return AUTH_JWT_ENOMEM;
  }
  return 0;
}

void auth_jwt_free(struct auth_jwt *a) {
  if (!a || !a->buckets)
    return;
  for (size_t i = 0; i < a->nbuckets; i++) {
    struct auth_jwt_grant *g = a->buckets[i], *next;
    for (; g; g = next) {
      next = g->next;
      free(g);
    }
  }
  free(a->buckets);
  pthread_mutex_destroy(&a->lock);
  mbedtls_platform_zeroize(a, sizeof(*a));
}

static struct auth_jwt_grant **slot(struct auth_jwt *a, hub_client_id id) {
  uint64_t h = id * 0x9e3779b97f4a7c15ull;
  struct auth_jwt_grant **pp = &a->buckets[(h >> 32) & (a->nbuckets - 1)];
  while (*pp && (*pp)->id != id)
    pp = &(*pp)->next;
  return pp;
}

static int grant_put(struct auth_jwt *a, hub_client_id id,
                     const struct auth_jwt_claims *cl) {
  size_t size = 0;
  for (unsigned i = 0; i < cl->nsub; i++)
    size += strlen(cl->sub_topics[i]) + 1;
  for (unsigned i = 0; i < cl->npub; i++)
    size += strlen(cl->pub_topics[i]) + 1;
  struct auth_jwt_grant *g = malloc(sizeof(*g) + size);
  if (!g)
    return AUTH_JWT_ENOMEM;
  g->next = NULL;
  g->id = id;
  g->exp = cl->exp;
  g->nsub = cl->nsub;
  g->npub = cl->npub;
  char *p = g->data;
  for (unsigned i = 0; i < cl->nsub; i++)
    p = stpcpy(p, cl->sub_topics[i]) + 1;
  for (unsigned i = 0; i < cl->npub; i++)
    p = stpcpy(p, cl->pub_topics[i]) + 1;

  pthread_mutex_lock(&a->lock);
  struct auth_jwt_grant **pp = slot(a, id), *old = *pp;
  if (!old && a->count >= a->max_clients) {
    pthread_mutex_unlock(&a->lock);
    free(g);
    return AUTH_JWT_EFULL;
  }
  if (old) { /* ids are never reused; replace, to be safe */
    g->next = old->next;
    free(old);
  } else {
    a->count++;
  }
  *pp = g;
  pthread_mutex_unlock(&a->lock);
  return 0;
}

void auth_jwt_forget(struct auth_jwt *a, hub_client_id id) {
  if (!a || !a->buckets)
    return;
  pthread_mutex_lock(&a->lock);
  struct auth_jwt_grant **pp = slot(a, id), *g = *pp;
  if (g) {
    *pp = g->next;
    a->count--;
  }
  pthread_mutex_unlock(&a->lock);
  free(g);
}

size_t auth_jwt_count(struct auth_jwt *a) {
  pthread_mutex_lock(&a->lock);
  size_t n = a->count;
  pthread_mutex_unlock(&a->lock);
  return n;
}

static int deny(hub_auth_result *res, int status, const char *reason) {
  res->verdict = HUB_AUTH_DENY;
  res->principal = NULL;
  res->status = status;
  res->reason = reason;
  return HUB_AUTH_DENY;
}

/* The hub copies the principal when the callback returns, on this thread. */
static _Thread_local char principal[AUTH_JWT_MAX_SUB + 1];

static int connect_cb(struct auth_jwt *a, const hub_auth_request *req,
                      hub_auth_result *res, int64_t now) {
  if (!req->token || req->token_len == 0)
    return deny(res, 401, "missing token");
  struct auth_jwt_claims *cl = malloc(sizeof(*cl));
  if (!cl)
    return deny(res, 503, auth_jwt_strerror(AUTH_JWT_ENOMEM));
  int rv = auth_jwt_verify(a, req->token, req->token_len, now, cl);
  if (rv == 0 && (rv = grant_put(a, req->id, cl)) != 0) {
    free(cl);
    return deny(res, 503, auth_jwt_strerror(rv));
  }
  if (rv) {
    free(cl);
    return deny(res, 401, auth_jwt_strerror(rv));
  }
  memcpy(principal, cl->sub, sizeof(principal));
  free(cl);
  res->verdict = HUB_AUTH_ALLOW;
  res->principal = principal;
  res->status = 0;
  res->reason = NULL;
  return HUB_AUTH_ALLOW;
}

static int topic_cb(struct auth_jwt *a, const hub_auth_request *req,
                    hub_auth_result *res, int64_t now) {
  const char *reason = "topic not granted";
  int verdict = HUB_AUTH_DENY;
  if (!req->topic || req->topic_len == 0)
    return deny(res, 403, reason);
  pthread_mutex_lock(&a->lock);
  struct auth_jwt_grant *g = *slot(a, req->id);
  if (!g) {
    reason = "not authenticated";
  } else if (a->enforce_exp_after_connect && now >= g->exp + leeway_of(a)) {
    reason = "token expired";
  } else {
    const char *p = g->data;
    unsigned skip = req->kind == HUB_AUTH_PUBLISH ? g->nsub : 0;
    unsigned n = req->kind == HUB_AUTH_PUBLISH ? g->npub : g->nsub;
    for (unsigned i = 0; i < skip; i++)
      p += strlen(p) + 1;
    for (unsigned i = 0; i < n && verdict != HUB_AUTH_ALLOW; i++) {
      size_t pl = strlen(p);
      if (hub_pattern_covers(p, pl, req->topic, req->topic_len))
        verdict = HUB_AUTH_ALLOW;
      p += pl + 1;
    }
  }
  pthread_mutex_unlock(&a->lock);
  if (verdict != HUB_AUTH_ALLOW)
    return deny(res, 403, reason);
  res->verdict = HUB_AUTH_ALLOW;
  res->principal = NULL;
  res->status = 0;
  res->reason = NULL;
  return HUB_AUTH_ALLOW;
}

int auth_jwt_callback(hub_t *hub, const hub_auth_request *req,
                      hub_auth_result *res, void *user_data) {
  (void)hub;
  struct auth_jwt *a = user_data;
  if (!a || !req || !res)
    return res ? deny(res, 500, "auth not configured") : HUB_AUTH_DENY;
  int64_t now = a->now ? a->now() : (int64_t)time(NULL);
  switch (req->kind) {
  case HUB_AUTH_CONNECT:
    return connect_cb(a, req, res, now);
  case HUB_AUTH_SUBSCRIBE:
  case HUB_AUTH_PUBLISH:
    return topic_cb(a, req, res, now);
  default:
    return deny(res, 403, "unknown request");
  }
}
