/* libFuzzer target for the encode-once frames: arbitrary topic, payload
 * and flags through every wire format. The SSE block must keep CR and LF
 * out of its id and event fields and carry the payload back exactly
 * through its data lines; the WebSocket envelope must be one valid JSON
 * object behind a correct frame header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "json.h"

#define REQUIRE(c)                                                            \
  do {                                                                        \
    if (!(c))                                                                 \
      abort();                                                                \
  } while (0)

/* Rebuilds the payload from an SSE block per the EventSource rules. */
static void check_sse(const struct msg *m, const struct iovec *f) {
  const char *p = f->iov_base, *end = p + f->iov_len;
  REQUIRE(f->iov_len >= 2 && end[-1] == '\n' && end[-2] == '\n');
  char *rebuilt = malloc(m->len + 1);
  size_t rl = 0;
  int lines = 0;
  while (p < end - 1) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    REQUIRE(nl);
    REQUIRE(!memchr(p, '\r', (size_t)(nl - p)));
    if (lines == 0) {
      REQUIRE(nl - p > 4 && memcmp(p, "id: ", 4) == 0);
    } else if (lines == 1) {
      REQUIRE(nl - p >= 7 && memcmp(p, "event: ", 7) == 0);
    } else {
      REQUIRE(nl - p >= 6 && memcmp(p, "data: ", 6) == 0);
      if (lines > 2)
        rebuilt[rl++] = '\n';
      memcpy(rebuilt + rl, p + 6, (size_t)(nl - p - 6));
      rl += (size_t)(nl - p - 6);
    }
    lines++;
    p = nl + 1;
  }
  REQUIRE(lines >= 3);
  /* Line ends come back as LF; compare with the payload normalized so. */
  char *norm = malloc(m->len + 1);
  size_t nlen = 0;
  const char *d = (const char *)m->data;
  for (size_t i = 0; i < m->len; i++) {
    if (d[i] == '\r') {
      norm[nlen++] = '\n';
      if (i + 1 < m->len && d[i + 1] == '\n')
        i++;
    } else {
      norm[nlen++] = d[i];
    }
  }
  REQUIRE(rl == nlen && memcmp(rebuilt, norm, nlen) == 0);
  free(rebuilt);
  free(norm);
}

static void check_ws_json(const struct iovec *f) {
  const unsigned char *b = f->iov_base;
  REQUIRE(f->iov_len >= 2 && b[0] == 0x81);
  size_t h = 2, len = b[1] & 0x7f;
  if (len == 126) {
    len = (size_t)b[2] << 8 | b[3];
    h = 4;
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | b[2 + i];
    h = 10;
  }
  REQUIRE(h + len == f->iov_len);
  REQUIRE(utf8_valid((const char *)b + h, len));
  REQUIRE(json_skip_value((const char *)b + h, len, 64) == (long)len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  unsigned flags = data[0] & (HUB_MSG_JSON | HUB_MSG_BINARY);
  size_t tlen = data[1] % 32;
  if (tlen == 0 || size - 2 < tlen)
    return 0;
  const char *topic = (const char *)data + 2;
  if (memchr(topic, 0, tlen))
    return 0;
  const uint8_t *payload = data + 2 + tlen;
  size_t plen = size - 2 - tlen;
  /* A JSON-flagged payload is the publisher's promise; keep it true. */
  if ((flags & HUB_MSG_JSON) &&
      (!utf8_valid((const char *)payload, plen) ||
       json_skip_value((const char *)payload, plen, 32) != (long)plen))
    flags &= ~HUB_MSG_JSON;
  const hub_mem *mem = &hub__mem_default;
  struct msg *m = msg_new(mem, topic, tlen, 0, payload, plen, flags);
  REQUIRE(m);
  m->seq = 1234567;
  for (int w = 0; w < WIRE_COUNT; w++) {
    struct iovec f;
    REQUIRE(frame_encode((enum wire)w, m, "0123456789abcdef", mem, &f) == 0);
    if (w == WIRE_SSE)
      check_sse(m, &f);
    if (w == WIRE_WS_JSON)
      check_ws_json(&f);
    if (w == WIRE_WS_RAW)
      REQUIRE(f.iov_len >= plen + 2);
    if (w != WIRE_RAW)
      mem_free(mem, f.iov_base);
  }
  msg_unref(mem, m);
  return 0;
}
