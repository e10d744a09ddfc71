/* libFuzzer target for the WebSocket control protocol (lib/core/json.c): each
 * input goes through ctl_parse() with a scratch too small and one always
 * big enough, json_skip_value(), utf8_valid() and json_escape(). Besides
 * the sanitizers it aborts when the functions disagree with each other or
 * with a byte-by-byte UTF-8 reference.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib/core -Ilib/proto \
 *     test/fuzz/fuzz_control.c lib/core/json.c -o fuzz_control
 *   ./fuzz_control -max_total_time=60 corpus-copy/ test/fuzz/corpus/control
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "../utf8_ref.h"

#define TOPIC_MAX 64

#define ASSERT(c)                                                             \
  do {                                                                        \
    if (!(c))                                                                 \
      abort();                                                                \
  } while (0)

static bool same(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && (!an || memcmp(a, b, an) == 0);
}

/* A raw JSON span inside the input that is exactly one value. */
static void check_raw(const char *in, size_t size, const char *p, size_t n) {
  ASSERT(p >= in && n <= size && p + n <= in + size);
  ASSERT(json_skip_value(p, n, JSON_MAX_DEPTH) == (long)n);
}

static void check_msg(const char *in, size_t size, const struct ctl_msg *m,
                      const char *scratch, size_t cap) {
  ASSERT(m->op >= CTL_SUBSCRIBE && m->op <= CTL_PING);
  ASSERT(m->topic || m->op == CTL_PING);
  if (m->topic) {
    ASSERT(m->topic >= scratch && m->topic + m->topic_len < scratch + cap);
    ASSERT(m->topic_len >= 1 && m->topic_len <= TOPIC_MAX);
    ASSERT(m->topic[m->topic_len] == '\0');
    ASSERT(!memchr(m->topic, 0, m->topic_len));
    ASSERT(utf8_valid(m->topic, m->topic_len));
  }
  if (m->has_since)
    ASSERT(m->since >= 0);
  if (m->since_epoch) {
    ASSERT(m->has_since && m->since_epoch_len > 0);
    ASSERT(m->since_epoch >= scratch &&
           m->since_epoch + m->since_epoch_len < scratch + cap);
    ASSERT(m->since_epoch[m->since_epoch_len] == '\0');
    ASSERT(!memchr(m->since_epoch, 0, m->since_epoch_len));
  }
  ASSERT(m->data || m->op != CTL_PUBLISH);
  if (m->data) {
    check_raw(in, size, m->data, m->data_len);
    ASSERT(m->data_is_string == (m->data[0] == '"'));
  }
  if (m->id)
    check_raw(in, size, m->id, m->id_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;

  /* Decoded strings are never longer than the input, so size + 2 always
   * holds topic and since with their NULs. Heap, so ASan sees overflows. */
  size_t big_cap = size + 2, small_cap = 8;
  char *big = malloc(big_cap), *small = malloc(small_cap);
  ASSERT(big && small);
  struct ctl_msg mb, ms;
  int rb = ctl_parse(in, size, TOPIC_MAX, big, big_cap, &mb);
  int rs = ctl_parse(in, size, TOPIC_MAX, small, small_cap, &ms);
  ASSERT(rb <= 0 && rb >= CTL_ETOOBIG && rb != CTL_ETOOBIG);
  ASSERT(strcmp(ctl_strerror(rb), "error") != 0 || rb == 0);
  ASSERT((rs == CTL_ESYNTAX) == (rb == CTL_ESYNTAX));
  if (rb == 0)
    check_msg(in, size, &mb, big, big_cap);
  if (rs == 0) {
    check_msg(in, size, &ms, small, small_cap);
    ASSERT(rb == 0 && ms.op == mb.op && ms.since == mb.since &&
           ms.has_since == mb.has_since && ms.data == mb.data &&
           ms.data_len == mb.data_len && ms.id == mb.id);
    ASSERT(same(ms.topic, ms.topic_len, mb.topic, mb.topic_len));
    ASSERT(same(ms.since_epoch, ms.since_epoch_len, mb.since_epoch,
                mb.since_epoch_len));
  } else {
    ASSERT(rs == rb || rs == CTL_ETOOBIG);
  }
  if (rb) {
    /* the id an error reply echoes */
    ASSERT(!mb.id || rb != CTL_ESYNTAX);
    if (mb.id)
      check_raw(in, size, mb.id, mb.id_len);
  }
  free(big);
  free(small);

  /* ctl_parse's syntax verdict is the validator's, plus "an object". */
  long r = json_skip_value(in, size, JSON_MAX_DEPTH);
  ASSERT(r <= (long)size && (r > 0 || r == JSON_ESYNTAX ||
                             r == JSON_EDEPTH || r == JSON_ESTRING));
  size_t lead = 0;
  while (lead < size && (in[lead] == ' ' || in[lead] == '\t' ||
                         in[lead] == '\n' || in[lead] == '\r'))
    lead++;
  bool object = r == (long)size && in[lead] == '{';
  ASSERT(object == (rb != CTL_ESYNTAX));
  /* A deeper limit never rejects what a shallower one accepted. */
  if (r > 0)
    ASSERT(json_skip_value(in, size, JSON_DEPTH_CAP) == r);

  ASSERT(utf8_valid(in, size) == ref_utf8(data, size));

  /* Escaping anything yields a valid JSON string. */
  size_t elen = json_escaped_len(in, size);
  char *esc = malloc(elen + 2);
  ASSERT(esc);
  esc[0] = '"';
  ASSERT(json_escape(esc + 1, in, size) == elen);
  esc[elen + 1] = '"';
  ASSERT(json_skip_value(esc, elen + 2, 0) == (long)(elen + 2));
  ASSERT(utf8_valid(esc, elen + 2));
  free(esc);
  return 0;
}
