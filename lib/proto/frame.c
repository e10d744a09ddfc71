/* Encoders for the broadcast wire formats; see frame.h and
 * docs/protocol.md. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "json.h"

size_t ws_header(unsigned char *out, unsigned opcode, uint64_t len) {
  out[0] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    out[1] = (unsigned char)len;
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
  return 10;
}

/* {"type":"message","topic":"T","seq":N,"data":D} where D is the payload
 * itself when the publisher flagged it as JSON, else a JSON string. */
static int encode_ws_json(const struct msg *m, const hub_mem *mem,
                          struct iovec *out) {
  char seq[24];
  int seqlen = snprintf(seq, sizeof(seq), "%" PRId64, m->seq);
  bool raw_json = m->flags & HUB_MSG_JSON;
  size_t topic_esc = json_escaped_len(m->topic, m->topic_len);
  size_t data_len =
      raw_json ? m->len : 2 + json_escaped_len((const char *)m->data, m->len);
  static const char p1[] = "{\"type\":\"message\",\"topic\":\"";
  static const char p2[] = "\",\"seq\":";
  static const char p3[] = ",\"data\":";
  size_t body = sizeof(p1) - 1 + topic_esc + sizeof(p2) - 1 + (size_t)seqlen +
                sizeof(p3) - 1 + data_len + 1;
  unsigned char *buf = mem_malloc(mem, 10 + body);
  if (!buf)
    return HUB_ENOMEM;
  size_t n = ws_header(buf, WS_OP_TEXT, body);
  char *p = (char *)buf + n;
  memcpy(p, p1, sizeof(p1) - 1);
  p += sizeof(p1) - 1;
  p += json_escape(p, m->topic, m->topic_len);
  memcpy(p, p2, sizeof(p2) - 1);
  p += sizeof(p2) - 1;
  memcpy(p, seq, (size_t)seqlen);
  p += seqlen;
  memcpy(p, p3, sizeof(p3) - 1);
  p += sizeof(p3) - 1;
  if (raw_json) {
    memcpy(p, m->data, m->len);
    p += m->len;
  } else {
    *p++ = '"';
    p += json_escape(p, (const char *)m->data, m->len);
    *p++ = '"';
  }
  *p++ = '}';
  out->iov_base = buf;
  out->iov_len = (size_t)(p - (char *)buf);
  return 0;
}

static int encode_ws_raw(const struct msg *m, const hub_mem *mem,
                         struct iovec *out) {
  unsigned op = (m->flags & HUB_MSG_BINARY) ? WS_OP_BINARY : WS_OP_TEXT;
  unsigned char *buf = mem_malloc(mem, 10 + m->len);
  if (!buf)
    return HUB_ENOMEM;
  size_t n = ws_header(buf, op, m->len);
  if (m->len)
    memcpy(buf + n, m->data, m->len);
  out->iov_base = buf;
  out->iov_len = n + m->len;
  return 0;
}

/* An SSE field value may not hold CR or LF; topics are arbitrary bytes, so
 * those two are percent-encoded (and '%' with them, to stay reversible). */
static size_t sse_field_len(const char *s, size_t len) {
  size_t n = len;
  for (size_t i = 0; i < len; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '%')
      n += 2;
  return n;
}

static char *sse_field(char *p, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r' || c == '\n' || c == '%') {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    } else {
      *p++ = (char)c;
    }
  }
  return p;
}

/* id: <epoch>-<seq>
 * event: <topic>
 * data: <line>      one per payload line (CRLF, CR and LF all end a line)
 * <blank line> */
static int encode_sse(const struct msg *m, const char *epoch,
                      const hub_mem *mem, struct iovec *out) {
  const char *d = (const char *)m->data;
  size_t lines = 1;
  for (size_t i = 0; i < m->len; i++)
    if (d[i] == '\n' || (d[i] == '\r' && (i + 1 == m->len || d[i + 1] != '\n')))
      lines++;
  char seq[24];
  int seqlen = snprintf(seq, sizeof(seq), "%" PRId64, m->seq);
  size_t cap = 4 + strlen(epoch) + 1 + (size_t)seqlen + 1 + 7 +
               sse_field_len(m->topic, m->topic_len) + 1 + lines * 7 + m->len +
               1;
  char *buf = mem_malloc(mem, cap);
  if (!buf)
    return HUB_ENOMEM;
  char *p = buf;
  p += sprintf(p, "id: %s-%s\nevent: ", epoch, seq);
  p = sse_field(p, m->topic, m->topic_len);
  *p++ = '\n';
  size_t start = 0;
  for (size_t i = 0; i <= m->len; i++) {
    bool end = i == m->len || d[i] == '\n' || d[i] == '\r';
    if (!end)
      continue;
    memcpy(p, "data: ", 6);
    p += 6;
    memcpy(p, d + start, i - start);
    p += i - start;
    *p++ = '\n';
    if (i < m->len && d[i] == '\r' && i + 1 < m->len && d[i + 1] == '\n')
      i++;
    start = i + 1;
  }
  *p++ = '\n';
  out->iov_base = buf;
  out->iov_len = (size_t)(p - buf);
  return 0;
}

/* Presence events: the payload is the JSON notice itself. */
static int encode_presence(enum wire w, const struct msg *m,
                           const hub_mem *mem, struct iovec *out) {
  const char *ev = (m->flags & MSG_JOIN) ? "join" : "leave";
  size_t cap = 32 + m->len;
  char *buf = mem_malloc(mem, cap);
  if (!buf)
    return HUB_ENOMEM;
  size_t n;
  if (w == WIRE_SSE) {
    n = (size_t)snprintf(buf, cap, "event: hub.%s\ndata: %.*s\n\n", ev,
                         (int)m->len, (const char *)m->data);
  } else {
    n = ws_header((unsigned char *)buf, WS_OP_TEXT, m->len);
    memcpy(buf + n, m->data, m->len);
    n += m->len;
  }
  out->iov_base = buf;
  out->iov_len = n;
  return 0;
}

int frame_encode(enum wire w, const struct msg *m, const char *epoch,
                 const hub_mem *mem, struct iovec *out) {
  if ((m->flags & MSG_PRESENCE) && w != WIRE_RAW)
    return encode_presence(w, m, mem, out);
  switch (w) {
  case WIRE_RAW:
    out->iov_base = (void *)m->data;
    out->iov_len = m->len;
    return 0;
  case WIRE_WS_JSON:
    return encode_ws_json(m, mem, out);
  case WIRE_WS_RAW:
    return encode_ws_raw(m, mem, out);
  case WIRE_SSE:
    return encode_sse(m, epoch, mem, out);
  case WIRE_COUNT:
    break;
  }
  return HUB_EINVAL;
}
