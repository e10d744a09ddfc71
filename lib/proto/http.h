/* A strict, bounded, zero-copy parser for the HTTP/1.1 request head of a
 * WebSocket upgrade or an SSE GET, in the spirit of picohttpparser.
 *
 * Every byte comes from the peer, so the grammar is the narrow one a
 * browser or a well-behaved client sends and nothing more: origin-form
 * targets only, CRLF line ends only, no obs-fold, no whitespace before a
 * header's colon, no leading empty lines. Anything else is rejected rather
 * than guessed at, so fanhub never reads a head differently from a proxy in
 * front of it (request smuggling lives in such differences).
 *
 * No allocation, no recursion, one pass over at most max_head bytes. The
 * parser keeps no state between calls: a caller reading from a socket
 * re-parses the grown buffer from its start (heads are small). Every
 * pointer it returns points into the caller's buffer. */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* http_parse_request() results besides a head length (> 0). The HTTP
 * status a server answers each error with is in its comment. */
enum {
  HTTP_INCOMPLETE = 0, /* a valid prefix; the limits allow more bytes */
  HTTP_EBAD = -1,      /* malformed: 400 */
  HTTP_ETOOLARGE = -2, /* head, a line or the header count over a limit: 431 */
  HTTP_EVERSION = -3   /* well-formed, but not HTTP/1.x: 505 */
};

/* The most headers a request can hold, whatever the limits say. */
#define HTTP_MAX_HEADERS 100

struct http_limits {
  size_t max_head;    /* bytes through the blank line; default 8192 */
  size_t max_line;    /* bytes of any line before its CRLF; default 4096 */
  size_t max_headers; /* default 64; above HTTP_MAX_HEADERS counts as it */
};

struct http_header {
  const char *name;  /* a token, case as sent */
  size_t name_len;   /* >= 1 */
  const char *value; /* without leading and trailing SP / HTAB */
  size_t value_len;  /* may be 0; bytes are SP, HTAB, 0x21-0x7E, 0x80-0xFF */
};

struct http_request {
  const char *method; /* a token, case-sensitive ("GET") */
  size_t method_len;
  const char *target; /* origin-form: path [ "?" query ], 0x21-0x7E, no '#' */
  size_t target_len;
  const char *path; /* starts with '/', still percent-encoded */
  size_t path_len;
  const char *query; /* after the first '?'; empty (not NULL) without one */
  size_t query_len;
  int minor_version; /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
  size_t nheaders;
  struct http_header headers[HTTP_MAX_HEADERS]; /* in the order sent */
};

void http_limits_default(struct http_limits *lim);

/* Parses the request head at buf[0..len); `lim` NULL means the defaults.
 * Returns the length of the head through its terminating CRLFCRLF when it
 * is complete and valid (bytes after it are the caller's and are not
 * looked at), HTTP_INCOMPLETE when buf holds a valid prefix of a head that
 * fits the limits, or a negative HTTP_E* as soon as the bytes so far prove
 * the head malformed or over a limit; an error never turns into success
 * when more bytes arrive. `req` is written as the parse goes: its contents
 * mean something only after a success. Never reads outside buf[0..len). */
int http_parse_request(const char *buf, size_t len,
                       const struct http_limits *lim, struct http_request *req);

/* The first header called `name` (ASCII case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req,
                                           const char *name);
/* How many headers are called `name`. Headers that must appear once
 * (Host, Sec-WebSocket-Key, ...) need this: http_find_header() alone would
 * let a duplicate through. */
size_t http_count_header(const struct http_request *req, const char *name);

/* True if the comma-separated list value[0..len) has an element equal to
 * `token` (ASCII case-insensitive) once the SP / HTAB around it is
 * trimmed: "keep-alive, Upgrade" has "upgrade". */
bool http_has_token(const char *value, size_t len, const char *token);

/* Iterates the parameters of a query string ("a=1&b=2"), skipping empty
 * ones; a parameter without '=' has an empty value. Each call consumes one
 * parameter from *q / *qlen and decodes its key and value ('+' is a space,
 * %XX a byte) into key[0..key_cap) and val[0..val_cap), each terminated by
 * a NUL that *key_len / *val_len leave out. Returns 1 for a parameter, 0
 * at the end, HTTP_EBAD for a bad %-escape, a decoded NUL, or a key or
 * value that does not fit; after HTTP_EBAD *q and *qlen are unchanged.
 * Decoded bytes are otherwise arbitrary (CR, LF, non-UTF-8): callers
 * validate what they use. */
int http_query_next(const char **q, size_t *qlen, char *key, size_t key_cap,
                    size_t *key_len, char *val, size_t val_cap,
                    size_t *val_len);

#endif
