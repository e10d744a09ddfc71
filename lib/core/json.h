/* The strict JSON the WebSocket control protocol needs (RFC 8259, every
 * byte hostile): a validator, the control-message parser, string escaping
 * for server envelopes and a UTF-8 check. Nothing allocates and nothing
 * recurses: nesting costs one bit of a fixed stack per level. */
#ifndef HUB_JSON_H
#define HUB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The nesting limit callers pass unless they have a reason not to;
 * max_depth is clamped to JSON_DEPTH_CAP whatever they pass. */
#define JSON_MAX_DEPTH 32
#define JSON_DEPTH_CAP 256

enum {
  JSON_ESYNTAX = -1, /* not JSON (also: truncated) */
  JSON_EDEPTH = -2,  /* more than max_depth nested arrays/objects */
  JSON_ESTRING = -3  /* a string holds a raw control character, a bad
                        escape, a lone surrogate or invalid UTF-8 */
};

/* Validates one JSON value at the start of buf[0..len): optional
 * whitespace, the value, optional whitespace. Returns the bytes consumed
 * (> 0), which may be fewer than len: "1 x" returns 2. A whole buffer is
 * one JSON text only if the result equals len. Or returns JSON_ESYNTAX,
 * JSON_EDEPTH or JSON_ESTRING. A scalar has depth 0, "[]" depth 1;
 * max_depth < 0 counts as 0. len must not exceed LONG_MAX (else
 * JSON_ESYNTAX). Stops at the first bad byte: 100000 '[' cost max_depth
 * steps. */
long json_skip_value(const char *buf, size_t len, int max_depth);

enum ctl_op { CTL_SUBSCRIBE = 1, CTL_UNSUBSCRIBE, CTL_PUBLISH, CTL_PING };

/* ctl_parse() errors; ctl_strerror() gives the code a client sees in
 * {"type":"error","code":...}. */
#define CTL_ERRORS(X)                                                          \
  X(ESYNTAX, -1, "bad-json")                                                   \
  X(EOP, -2, "bad-op")                                                         \
  X(ETOPIC, -3, "bad-topic")                                                   \
  X(EFIELD, -4, "bad-field")                                                   \
  X(ETOOBIG, -5, "too-big")

enum {
#define X(name, code, str) CTL_##name = code,
  CTL_ERRORS(X)
#undef X
};

struct ctl_msg {
  enum ctl_op op;
  /* Decoded into scratch and NUL-terminated there; NULL if absent. */
  const char *topic;
  size_t topic_len;
  /* "since": a non-negative integer N (since = N, since_epoch NULL) or a
   * string "<epoch>-<seq>" split at its last '-' (since = seq, the epoch
   * decoded into scratch and NUL-terminated). */
  bool has_since;
  int64_t since;
  const char *since_epoch;
  size_t since_epoch_len;
  /* The raw JSON text of "data" inside buf, without surrounding
   * whitespace, validated; NULL if absent. */
  const char *data;
  size_t data_len;
  bool data_is_string; /* data is a JSON string, quotes included */
  /* The raw JSON text of "id" inside buf (a string with its quotes, or an
   * integer), to echo verbatim in replies; NULL if absent. */
  const char *id;
  size_t id_len;
};

/* Parses one control message, the whole of buf[0..len): a JSON object
 * with "op" one of "subscribe", "unsubscribe", "publish", "ping", and
 * optionally "topic", "since", "data", "id". Keys match after unescaping.
 * Unknown keys are validated and skipped; fields an op does not use are
 * checked and ignored. Nesting is limited to JSON_MAX_DEPTH, the message
 * object included. Returns 0 or:
 *   CTL_ESYNTAX  not one JSON object (checked first, over the whole input)
 *   CTL_EOP      "op" missing, not a string, or unknown
 *   CTL_ETOPIC   "topic" not a string, empty, longer than topic_max bytes
 *                decoded, or holding a NUL; or missing for subscribe,
 *                unsubscribe, publish
 *   CTL_EFIELD   a known key twice; "since" negative, too big for int64_t,
 *                fractional or not "<epoch>-<seq>" with a non-empty,
 *                NUL-free epoch; "id" neither a string nor an integer;
 *                publish without "data"
 *   CTL_ETOOBIG  scratch_cap is less than the decoded topic plus the
 *                decoded since string, each plus one byte
 * Otherwise the first problem in document order wins, then a missing op,
 * then a missing topic. On error only out->id is meaningful: the
 * message's valid "id", for the error reply, or NULL (always NULL after
 * CTL_ESYNTAX). scratch may be NULL when scratch_cap is 0. Pointers in
 * *out point into buf or scratch. */
int ctl_parse(const char *buf, size_t len, size_t topic_max, char *scratch,
              size_t scratch_cap, struct ctl_msg *out);
/* "bad-json", "bad-op", ... for a CTL_E* code; "error" for anything else. */
const char *ctl_strerror(int err);

/* The length json_escape() writes for in[0..len). */
size_t json_escaped_len(const char *in, size_t len);
/* Writes in[0..len) as the inside of a JSON string (no quotes) to out,
 * which has room for json_escaped_len(in, len) bytes; returns that many.
 * '"' and '\\' are escaped, control characters become \b \f \n \r \t or
 * \u00XX, DEL \u007f, and each byte that does not start a valid UTF-8
 * sequence becomes \ufffd, so any input yields valid JSON. */
size_t json_escape(char *out, const char *in, size_t len);

/* True if buf[0..len) is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool utf8_valid(const char *buf, size_t len);

#endif
