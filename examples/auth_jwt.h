/* auth_jwt: an example fanhub auth callback that accepts HS256 JSON Web
 * Tokens (RFC 7519), built only on fanhub's public API and mbedTLS.
 *
 * A token is accepted when all of this holds:
 *  - it is three base64url parts (no padding, canonical) of at most
 *    AUTH_JWT_MAX_TOKEN bytes in all;
 *  - its header is exactly {"alg":"HS256"}, optionally with "typ":"JWT";
 *    "none", any other algorithm and any other header member are refused;
 *  - its signature is the HMAC-SHA256 of "header.payload" under the
 *    secret, compared in constant time;
 *  - its claims are one flat JSON object (no nested objects, no duplicate
 *    claim names we read) with
 *      "sub"        a non-empty string: the principal (at most 255 bytes),
 *      "exp"        a number, required: now < exp + leeway,
 *      "nbf"        a number, optional: now >= nbf - leeway,
 *      "sub_topics" optional array of topic patterns it may subscribe to,
 *      "pub_topics" optional array of topics/patterns it may publish to;
 *    other claims may be strings, numbers, true/false/null or flat arrays
 *    of those, and are ignored.
 *
 * Patterns are NATS-style, like fanhub's own: tokens separated by '.',
 * "*" one token, a last ">" one or more. A request for topic or pattern R
 * is allowed when some granted pattern G covers it (hub_pattern_covers()):
 * token by token, a literal in G must equal R's token, "*" in G covers
 * any one token of R except ">", and a last ">" in G covers one or more
 * remaining tokens of anything. Wildcards in R are taken as literal tokens, so "news.*" may
 * subscribe to "news.*" and "news.sport" but not to "news.>". Neither
 * may have an empty token, nor a ">" that is not the last token.
 *
 * auth_jwt_callback() is a hub_auth_fn: CONNECT verifies the token and
 * records the client's grants in a table keyed by client id; SUBSCRIBE and
 * PUBLISH look them up. The host must call auth_jwt_forget() from its
 * hub_close_fn so the table does not fill up (it is bounded: a CONNECT
 * that finds it full is refused with 503). */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <fanhub.h>

#define AUTH_JWT_MAX_TOKEN 8192 /* bytes of the whole compact token */
#define AUTH_JWT_MIN_SECRET 32  /* RFC 7518 3.2: at least the hash size */
#define AUTH_JWT_MAX_SECRET 1024
#define AUTH_JWT_MAX_SUB 255     /* bytes of "sub" (fanhub's principal) */
#define AUTH_JWT_MAX_PATTERNS 16 /* per list (sub_topics, pub_topics) */
#define AUTH_JWT_MAX_PATTERN 255 /* bytes of one pattern */
#define AUTH_JWT_MAX_CLAIMS 64   /* members of the claims object */
#define AUTH_JWT_MAX_ARRAY 64    /* elements of an ignored array claim */

/* Results of auth_jwt_*: 0 or one of these. */
enum {
  AUTH_JWT_OK = 0,
  AUTH_JWT_EINVAL = -1,     /* bad argument (NULL, secret size) */
  AUTH_JWT_EMALFORMED = -2, /* not three canonical base64url parts of JSON */
  AUTH_JWT_EALG = -3,       /* header is not {"alg":"HS256"[,"typ":"JWT"]} */
  AUTH_JWT_ESIG = -4,       /* signature does not match */
  AUTH_JWT_ECLAIMS = -5,    /* a claim missing, of the wrong type, invalid */
  AUTH_JWT_EEXPIRED = -6,   /* now > exp + leeway */
  AUTH_JWT_ENOTYET = -7,    /* now < nbf - leeway */
  AUTH_JWT_ETOOBIG = -8,    /* token, a string or a list over the limits */
  AUTH_JWT_ENOMEM = -9,
  AUTH_JWT_EFULL = -10 /* the client table is full */
};

/* A short static text for an AUTH_JWT_* code. */
const char *auth_jwt_strerror(int err);

/* What a valid token says. Plain data: copyable. */
struct auth_jwt_claims {
  char sub[AUTH_JWT_MAX_SUB + 1];
  int64_t exp;
  int64_t nbf; /* INT64_MIN when absent */
  unsigned nsub, npub;
  char sub_topics[AUTH_JWT_MAX_PATTERNS][AUTH_JWT_MAX_PATTERN + 1];
  char pub_topics[AUTH_JWT_MAX_PATTERNS][AUTH_JWT_MAX_PATTERN + 1];
};

struct auth_jwt_grant; /* one client's patterns, in the table */

struct auth_jwt {
  unsigned char secret[AUTH_JWT_MAX_SECRET];
  size_t secret_len;
  /* Seconds of clock skew allowed on exp and nbf (default 30). */
  int64_t leeway;
  /* Most clients the table holds (default 65536); set before use. */
  size_t max_clients;
  /* The clock, in Unix seconds, for the callback (NULL: time(NULL)). */
  int64_t (*now)(void);
  /* 1: SUBSCRIBE and PUBLISH are also refused once the token that the
   * client connected with has expired (default 1). */
  int enforce_exp_after_connect;

  pthread_mutex_t lock;
  struct auth_jwt_grant **buckets;
  size_t nbuckets, count;
};

/* Copies the secret (AUTH_JWT_MIN_SECRET..AUTH_JWT_MAX_SECRET bytes) and
 * sets the defaults. Returns 0, AUTH_JWT_EINVAL or AUTH_JWT_ENOMEM. */
int auth_jwt_init(struct auth_jwt *a, const unsigned char *secret, size_t len);
/* Frees the table and wipes the secret. */
void auth_jwt_free(struct auth_jwt *a);

/* Verifies a compact token at time `now` (Unix seconds). On success fills
 * *out (may be NULL) and returns 0; otherwise an AUTH_JWT_E* code, and
 * *out holds nothing useful. Thread-safe; reads only the secret and the
 * leeway. */
int auth_jwt_verify(const struct auth_jwt *a, const char *token, size_t len,
                    int64_t now, struct auth_jwt_claims *out);

/* The hub_auth_fn; user_data is the struct auth_jwt. */
int auth_jwt_callback(hub_t *hub, const hub_auth_request *req,
                      hub_auth_result *res, void *user_data);

/* Drops what the table holds for client `id` (a no-op for an unknown id).
 * Call it from the hub's close callback. Any thread. */
void auth_jwt_forget(struct auth_jwt *a, hub_client_id id);

/* Clients in the table. Any thread. */
size_t auth_jwt_count(struct auth_jwt *a);

#endif
