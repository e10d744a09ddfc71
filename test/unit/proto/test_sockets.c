/* Socket clients end to end over socketpairs: WebSocket upgrade, the
 * control protocol, wslay's inbound checks, SSE framing, handshake errors,
 * shutdown. The far end is wsclient.c. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "handshake.h"
#include "tests.h"
#include "util.h"
#include "wsclient.h"

static hub_t *sock_hub(struct closelog *log, uint32_t max_msg,
                       uint32_t keepalive_ms, uint32_t handshake_ms) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  if (log)
    hub_options_set_close_callback(o, closelog_cb, log);
  if (max_msg)
    hub_options_set_max_message_size(o, max_msg);
  hub_options_set_sse_keepalive(o, keepalive_ms);
  hub_options_set_handshake_timeout(o, handshake_ms);
  hub_options_set_client_publish(o, 1);
  if (hub_new(&hub, o) || hub_start(hub)) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(o);
  return hub;
}

void test_ws_accept_key(void) {
  char out[29];
  /* RFC 6455 section 1.3's example. */
  CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out) == 0);
  CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
  CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", 23, out) == -1);
  CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", 24, out) == -1);
  CHECK(ws_accept_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAA", 24, out) == -1);
}

void test_frame_encoding(void) {
  unsigned char h[10];
  CHECK_EQ(ws_header(h, WS_OP_TEXT, 0), 2);
  CHECK(h[0] == 0x81 && h[1] == 0);
  CHECK_EQ(ws_header(h, WS_OP_TEXT, 125), 2);
  CHECK_EQ(ws_header(h, WS_OP_BINARY, 126), 4);
  CHECK(h[0] == 0x82 && h[1] == 126 && h[2] == 0 && h[3] == 126);
  CHECK_EQ(ws_header(h, WS_OP_TEXT, 65535), 4);
  CHECK_EQ(ws_header(h, WS_OP_TEXT, 65536), 10);
  CHECK(h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);

  const hub_mem *mem = &hub__mem_default;
  const char *payload = "a\r\nb\rc\n\nd";
  struct msg *m = msg_new(mem, "t\nx%", 4, 0, payload, strlen(payload), 0);
  m->seq = 42;
  struct iovec f;
  CHECK(frame_encode(WIRE_SSE, m, "ep", mem, &f) == 0);
  const char *want = "id: ep-42\nevent: t%0Ax%25\ndata: a\ndata: b\n"
                     "data: c\ndata: \ndata: d\n\n";
  CHECK(f.iov_len == strlen(want) && memcmp(f.iov_base, want, f.iov_len) == 0);
  mem_free(mem, f.iov_base);
  CHECK(frame_encode(WIRE_WS_JSON, m, "ep", mem, &f) == 0);
  const char *json = "{\"type\":\"message\",\"topic\":\"t\\nx%\",\"seq\":42,"
                     "\"data\":\"a\\r\\nb\\rc\\n\\nd\"}";
  const unsigned char *b = f.iov_base;
  CHECK(b[0] == 0x81 && b[1] == strlen(json));
  CHECK(f.iov_len == 2 + strlen(json) && memcmp(b + 2, json, strlen(json)) == 0);
  mem_free(mem, f.iov_base);
  msg_unref(mem, m);

  m = msg_new(mem, "t", 1, 0, "[1,2]", 5, HUB_MSG_JSON);
  m->seq = 7;
  CHECK(frame_encode(WIRE_WS_JSON, m, "ep", mem, &f) == 0);
  json = "{\"type\":\"message\",\"topic\":\"t\",\"seq\":7,\"data\":[1,2]}";
  CHECK(f.iov_len == 2 + strlen(json) &&
        memcmp((char *)f.iov_base + 2, json, strlen(json)) == 0);
  mem_free(mem, f.iov_base);
  CHECK(frame_encode(WIRE_WS_RAW, m, "ep", mem, &f) == 0);
  CHECK(f.iov_len == 7 && memcmp((char *)f.iov_base + 2, "[1,2]", 5) == 0);
  mem_free(mem, f.iov_base);
  msg_unref(mem, m);
}

void test_ws_session(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = sock_hub(&log, 0, 0, 0);
  CHECK(hub);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  CHECK(fd >= 0);
  char head[1024], buf[4096];
  CHECK_EQ(wsc_upgrade(fd, "/ws", NULL, head, sizeof(head)), 101);
  CHECK(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  CHECK(wsc_recv_until(fd, "\"type\":\"hello\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, hub_epoch(hub)));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"news\",\"id\":\"r1\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK(strcmp(buf, "{\"type\":\"subscribed\",\"topic\":\"news\",\"seq\":0,"
                    "\"id\":\"r1\"}") == 0);
  CHECK(hub_broadcast(hub, "news", "hi", 2, 0) == 1);
  CHECK(wsc_recv_until(fd, "message", buf, sizeof(buf), 2000));
  CHECK(strcmp(buf, "{\"type\":\"message\",\"topic\":\"news\",\"seq\":1,"
                    "\"data\":\"hi\"}") == 0);
  /* A fragmented text message is reassembled by wslay. */
  CHECK(wsc_send(fd, false, 0, 0x1, "{\"op\":", 6, true));
  CHECK(wsc_send(fd, false, 0, 0x0, "\"pi", 3, true));
  CHECK(wsc_send(fd, true, 0, 0x0, "ng\"}", 4, true));
  CHECK(wsc_recv_until(fd, "pong", buf, sizeof(buf), 2000));
  /* Malformed control messages get an error notice and nothing else. */
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\"}"));
  CHECK(wsc_recv_until(fd, "error", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "bad-topic"));
  CHECK(wsc_send_text(fd, "not json"));
  CHECK(wsc_recv_until(fd, "bad-json", buf, sizeof(buf), 2000));
  /* Client publish (allowed here) reaches subscribers, self included. */
  CHECK(wsc_send_text(fd, "{\"op\":\"publish\",\"topic\":\"news\",\"data\":{\"k\":1}}"));
  CHECK(wsc_recv_until(fd, "\"data\":{\"k\":1}", buf, sizeof(buf), 2000));
  CHECK(wsc_send_text(fd, "{\"op\":\"publish\",\"topic\":\"n.*\",\"data\":1}"));
  CHECK(wsc_recv_until(fd, "bad-topic", buf, sizeof(buf), 2000));
  /* Ping: wslay answers with a pong carrying the same payload. */
  unsigned op;
  CHECK(wsc_send(fd, true, 0, 0x9, "abc", 3, true));
  long n;
  do
    n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
  while (n >= 0 && op != 0xa);
  CHECK(n == 3 && memcmp(buf, "abc", 3) == 0);
  /* Close handshake: our 1000 is echoed, then the server hangs up. */
  CHECK(wsc_send(fd, true, 0, 0x8, "\x03\xe8", 2, true));
  do
    n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
  while (n >= 0 && op != 0x8);
  CHECK(n >= 2 && (unsigned char)buf[0] == 0x03 &&
        (unsigned char)buf[1] == 0xe8);
  CHECK(wsc_eof(fd, 2000));
  CHECK(WAIT_STAT(hub, clients_closed, 1, 2000));
  hub_close_info info;
  CHECK(closelog_find(&log, id, &info));
  CHECK_EQ(info.code, 1000);
  CHECK_EQ(info.deliveries, 2);
  close(fd);
  hub_free(hub);
}

void test_ws_raw_and_query(void) {
  hub_t *hub = sock_hub(NULL, 0, 0, 0);
  CHECK(hub);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  char head[1024], buf[256];
  CHECK_EQ(wsc_upgrade(fd, "/ws?topic=a&topic=b%2Fc", 
                       "Sec-WebSocket-Protocol: bearer.xyz, fanhub.raw\r\n",
                       head, sizeof(head)),
           101);
  CHECK(strstr(head, "Sec-WebSocket-Protocol: fanhub.raw\r\n"));
  CHECK(WAIT_STAT(hub, subscriptions, 2, 2000));
  CHECK(hub_broadcast(hub, "b/c", "plain", 5, 0) > 0);
  CHECK(hub_broadcast(hub, "a", "\x01\x02", 2, HUB_MSG_BINARY) > 0);
  unsigned op;
  CHECK_EQ(wsc_recv(fd, &op, buf, sizeof(buf), 2000), 5);
  CHECK(op == 0x1 && strcmp(buf, "plain") == 0); /* no hello, no envelope */
  CHECK_EQ(wsc_recv(fd, &op, buf, sizeof(buf), 2000), 2);
  CHECK(op == 0x2);
  close(fd);
  /* A lone bearer token is echoed so browsers accept the handshake. */
  fd = wsc_attach(hub, &id);
  CHECK_EQ(wsc_upgrade(fd, "/ws", "Sec-WebSocket-Protocol: bearer.tok\r\n",
                       head, sizeof(head)),
           101);
  CHECK(strstr(head, "Sec-WebSocket-Protocol: bearer.tok\r\n"));
  close(fd);
  hub_free(hub);
}

/* Runs `send` on a fresh WebSocket and expects a close frame with `code`
 * and, unless `why` is NULL, that reason; then EOF. Text frames before it
 * must be `before` (NULL: none), one each, in order. */
static bool expect_close_after(hub_t *hub, int code, const char *why,
                               const char *const *before,
                               bool (*send)(int fd)) {
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  char head[1024], buf[256];
  CHECK_B(wsc_upgrade(fd, "/ws", NULL, head, sizeof(head)) == 101);
  CHECK_B(wsc_recv_until(fd, "hello", buf, sizeof(buf), 2000));
  CHECK_B(send(fd));
  unsigned op;
  long n;
  for (;;) {
    n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
    CHECK_B(n >= 0);
    if (op == 0x8)
      break;
    CHECK_B(op == 0x1 && before && *before);
    if (strcmp(buf, *before) != 0)
      fprintf(stderr, "  got %s, want %s\n", buf, *before);
    CHECK_B(strcmp(buf, *before++) == 0);
  }
  CHECK_B(!before || !*before);
  int got = n >= 2 ? ((unsigned char)buf[0] << 8) | (unsigned char)buf[1] : 0;
  if (got != code || (why && strcmp(buf + 2, why) != 0))
    fprintf(stderr, "  close %d \"%s\", want %d \"%s\"\n", got,
            n >= 2 ? buf + 2 : "", code, why ? why : "");
  CHECK_B(got == code);
  CHECK_B(!why || strcmp(buf + 2, why) == 0);
  CHECK_B(wsc_eof(fd, 2000));
  close(fd);
  return true;
}

static bool expect_close(hub_t *hub, int code, const char *why,
                         bool (*send)(int fd)) {
  return expect_close_after(hub, code, why, NULL, send);
}

static bool send_unmasked(int fd) {
  return wsc_send(fd, true, 0, 0x1, "{}", 2, false);
}
static bool send_rsv(int fd) {
  return wsc_send(fd, true, 4, 0x1, "{}", 2, true);
}
static bool send_reserved_opcode(int fd) {
  return wsc_send(fd, true, 0, 0x3, "x", 1, true);
}
static bool send_big(int fd) {
  static char big[5000];
  memset(big, 'a', sizeof(big));
  return wsc_send(fd, true, 0, 0x1, big, sizeof(big), true);
}
static bool send_bad_utf8(int fd) {
  return wsc_send(fd, true, 0, 0x1, "\xc3\x28", 2, true);
}
static bool send_fragmented_ping(int fd) {
  return wsc_send(fd, false, 0, 0x9, "x", 1, true);
}
static bool send_fragmented_pong(int fd) {
  return wsc_send(fd, false, 0, 0xa, "x", 1, true);
}
static bool send_huge_ping(int fd) {
  static char big[126];
  return wsc_send(fd, true, 0, 0x9, big, sizeof(big), true);
}
static bool send_close_1_byte(int fd) {
  return wsc_send(fd, true, 0, 0x8, "\x03", 1, true);
}
static bool send_close_long_reason(int fd) {
  char p[2 + 124];
  p[0] = 0x03;
  p[1] = (char)0xe8;
  memset(p + 2, 'r', 124);
  return wsc_send(fd, true, 0, 0x8, p, sizeof(p), true);
}
/* Header bytes one per write, so one per read: what was refused is
 * remembered across reads. The server may hang up after the deciding
 * byte, so later writes may fail. */
static bool send_split(int fd, const unsigned char *h, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (!wsc_write(fd, h + i, 1))
      return i > 0;
    test_sleep_ms(5);
  }
  return true;
}
static bool send_huge_ping_split(int fd) {
  unsigned char h[] = {0x89, 0xfe, 0, 126, 1, 2, 3, 4};
  return send_split(fd, h, sizeof(h));
}
static bool send_long_form_length_split(int fd) {
  unsigned char h[] = {0x81, 0xfe, 0, 2, 1, 2, 3, 4};
  return send_split(fd, h, sizeof(h));
}
/* A 2-byte text frame with its length in the 16-bit form. */
static bool send_long_form_length(int fd) {
  unsigned char f[] = {0x81, 0xfe, 0, 2, 0, 0, 0, 0, '{', '}'};
  return wsc_write(fd, f, sizeof(f));
}
static bool send_length_bit_63(int fd) {
  unsigned char h[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
  return wsc_write(fd, h, sizeof(h));
}
static bool send_100mib_header(int fd) {
  /* Only the header of a 100 MiB frame: refused on its length alone. */
  unsigned char h[] = {0x81, 0xff, 0, 0, 0, 0, 0x06, 0x40, 0, 0,
                       1,    2,    3, 4};
  return wsc_write(fd, h, sizeof(h));
}
/* A request and a refused header in one write: the request is answered
 * before the close. */
static bool send_ping_then(int fd, const unsigned char *bad, size_t bad_len) {
  unsigned char f[64];
  size_t l =
      wsc_encode(f, true, 0, 0x1, "{\"op\":\"ping\",\"id\":1}", 20, true);
  memcpy(f + l, bad, bad_len);
  return wsc_write(fd, f, l + bad_len);
}
static bool send_ping_then_huge_ping(int fd) {
  unsigned char h[] = {0x89, 0xfe, 0, 126, 1, 2, 3, 4};
  return send_ping_then(fd, h, sizeof(h));
}
static bool send_ping_then_100mib(int fd) {
  unsigned char h[] = {0x81, 0xff, 0, 0, 0, 0, 0x06, 0x40, 0, 0,
                       1,    2,    3, 4};
  return send_ping_then(fd, h, sizeof(h));
}

void test_ws_protocol_errors(void) {
  hub_t *hub = sock_hub(NULL, 4096, 0, 0);
  CHECK(hub);
  CHECK(expect_close(hub, 1002, NULL, send_unmasked));
  CHECK(expect_close(hub, 1002, NULL, send_rsv));
  CHECK(expect_close(hub, 1002, NULL, send_reserved_opcode));
  CHECK(expect_close(hub, 1009, NULL, send_big));
  CHECK(expect_close(hub, 1007, NULL, send_bad_utf8));
  CHECK(expect_close(hub, 1009, "message too big", send_100mib_header));
  /* Broken control frames and lengths: wslay would answer these with a
   * close frame without a code; RFC 6455 (5.2, 5.5, 7.4.1) wants 1002. */
  CHECK(expect_close(hub, 1002, "fragmented control frame",
                     send_fragmented_ping));
  CHECK(expect_close(hub, 1002, "fragmented control frame",
                     send_fragmented_pong));
  CHECK(expect_close(hub, 1002, "control frame over 125 bytes",
                     send_huge_ping));
  CHECK(expect_close(hub, 1002, "control frame over 125 bytes",
                     send_huge_ping_split));
  CHECK(expect_close(hub, 1002, "close frame with a 1-byte payload",
                     send_close_1_byte));
  CHECK(expect_close(hub, 1002, "control frame over 125 bytes",
                     send_close_long_reason));
  CHECK(expect_close(hub, 1002, "bad payload length", send_long_form_length));
  CHECK(expect_close(hub, 1002, "bad payload length",
                     send_long_form_length_split));
  CHECK(expect_close(hub, 1002, "bad payload length", send_length_bit_63));
  static const char *const pong1[] = {"{\"type\":\"pong\",\"id\":1}", NULL};
  CHECK(expect_close_after(hub, 1002, "control frame over 125 bytes", pong1,
                           send_ping_then_huge_ping));
  CHECK(expect_close_after(hub, 1009, "message too big", pong1,
                           send_ping_then_100mib));
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  hub_free(hub);
}

/* Reads the next frame; true if it is `op` with payload `want`. */
static bool next_is(int fd, unsigned op, const char *want) {
  char buf[256];
  unsigned got;
  long n = wsc_recv(fd, &got, buf, sizeof(buf), 2000);
  if (n < 0 || got != op || strcmp(buf, want) != 0) {
    fprintf(stderr, "  got op %u \"%s\", want op %u \"%s\"\n", got,
            n < 0 ? "(none)" : buf, op, want);
    return false;
  }
  return true;
}

void test_ws_ping_order(void) {
  hub_t *hub = sock_hub(NULL, 0, 0, 0);
  CHECK(hub);
  int fd = wsc_open(hub);
  CHECK(fd >= 0);
  /* Pings between the fragments of a message, and one after it, all in
   * one write, so one read: each pong goes out in the order the pings
   * came, the pongs of pings before the message's last fragment ahead of
   * its reply (RFC 6455 5.4 allows them there; 5.5.2: answered as soon
   * as practical), none lost or doubled. */
  unsigned char f[256];
  size_t l = 0;
  l += wsc_encode(f + l, false, 0, 0x1, "{\"op\":", 6, true);
  l += wsc_encode(f + l, true, 0, 0x9, "A", 1, true);
  l += wsc_encode(f + l, false, 0, 0x0, "\"ping\",", 7, true);
  l += wsc_encode(f + l, true, 0, 0x9, "B", 1, true);
  l += wsc_encode(f + l, true, 0, 0x0, "\"id\":1}", 7, true);
  l += wsc_encode(f + l, true, 0, 0x9, "C", 1, true);
  l += wsc_encode(f + l, true, 0, 0x9, "D", 1, true);
  l += wsc_encode(f + l, true, 0, 0x1, "{\"op\":\"ping\",\"id\":2}", 20, true);
  CHECK(wsc_write(fd, f, l));
  CHECK(next_is(fd, 0xa, "A"));
  CHECK(next_is(fd, 0xa, "B"));
  CHECK(next_is(fd, 0x1, "{\"type\":\"pong\",\"id\":1}"));
  CHECK(next_is(fd, 0xa, "C"));
  CHECK(next_is(fd, 0xa, "D"));
  CHECK(next_is(fd, 0x1, "{\"type\":\"pong\",\"id\":2}"));
  /* And across reads: a ping between fragments is answered before the
   * message is complete. */
  CHECK(wsc_send(fd, false, 0, 0x1, "{\"op\":", 6, true));
  CHECK(wsc_send(fd, true, 0, 0x9, "E", 1, true));
  CHECK(next_is(fd, 0xa, "E"));
  CHECK(wsc_send(fd, true, 0, 0x0, "\"ping\",\"id\":3}", 14, true));
  CHECK(next_is(fd, 0x1, "{\"type\":\"pong\",\"id\":3}"));
  close(fd);
  hub_free(hub);
}

void test_sse_session(void) {
  hub_t *hub = sock_hub(NULL, 0, 50, 0);
  CHECK(hub);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  const char *req = "GET /sse?topic=a&topic=b HTTP/1.1\r\nHost: x\r\n"
                    "Accept: text/event-stream\r\n\r\n";
  CHECK(wsc_write(fd, req, strlen(req)));
  char head[1024], buf[4096];
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 200);
  CHECK(strstr(head, "Content-Type: text/event-stream\r\n"));
  CHECK(strstr(head, "Cache-Control: no-cache\r\n"));
  CHECK(strstr(head, "X-Accel-Buffering: no\r\n"));
  CHECK(WAIT_STAT(hub, subscriptions, 2, 2000));
  CHECK(hub_broadcast(hub, "b", "one\ntwo", 7, 0) > 0);
  /* Read until the event block and at least one keepalive are in. */
  size_t len = 0;
  int64_t end = test_now_us() + 3000000;
  while (test_now_us() < end && len + 1 < sizeof(buf)) {
    ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (r <= 0)
      break;
    len += (size_t)r;
    buf[len] = '\0';
    if (strstr(buf, "data: two\n\n") && strstr(buf, ": keepalive\n\n"))
      break;
  }
  CHECK(strncmp(buf, ": connected\n\nretry: 2000\n\n", 26) == 0);
  char want[128];
  snprintf(want, sizeof(want), "id: %s-1\nevent: b\ndata: one\ndata: two\n\n",
           hub_epoch(hub));
  CHECK(strstr(buf, want));
  CHECK(strstr(buf, ": keepalive\n\n"));
  close(fd);
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  hub_free(hub);
}

static int refused(hub_t *hub, const char *req, size_t len, char *head,
                   size_t cap) {
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  if (!wsc_write(fd, req, len)) {
    close(fd);
    return -1;
  }
  int status = wsc_read_head(fd, head, cap, 2000);
  if (!wsc_eof(fd, 2000))
    status = -2; /* an error response must end the connection */
  close(fd);
  return status;
}

void test_handshake_errors(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = sock_hub(&log, 0, 0, 200);
  CHECK(hub);
  char head[1024];
#define REQ(s) s, sizeof(s) - 1
  CHECK_EQ(refused(hub, REQ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                   head, sizeof(head)), 400);
  CHECK_EQ(refused(hub, REQ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 8\r\n\r\n"),
                   head, sizeof(head)), 426);
  CHECK(strstr(head, "Sec-WebSocket-Version: 13\r\n"));
  CHECK_EQ(refused(hub, REQ("POST /sse HTTP/1.1\r\nHost: x\r\n\r\n"), head,
                   sizeof(head)), 405);
  CHECK_EQ(refused(hub, REQ("\x16\x03\x01\x02\x00garbage\r\n\r\n"), head,
                   sizeof(head)), 400);
  CHECK_EQ(refused(hub, REQ("GET /sse?topic= HTTP/1.1\r\nHost: x\r\n\r\n"), head,
                   sizeof(head)), 400);
  static char flood[10000];
  memcpy(flood, "GET /sse HTTP/1.1\r\nX: ", 22);
  memset(flood + 22, 'a', sizeof(flood) - 22);
  CHECK_EQ(refused(hub, flood, sizeof(flood), head, sizeof(head)), 431);
  /* Half a request, then silence: closed at the handshake timeout. */
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  CHECK(wsc_write(fd, "GET /sse HTTP/1.1\r\nHo", 21));
  CHECK(wsc_eof(fd, 3000));
  close(fd);
  hub_close_info info;
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  CHECK(closelog_find(&log, id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_TIMEOUT);
  CHECK_EQ(stats_of(hub).http_refused, 6);
  hub_free(hub);
}

void test_stop_sends_going_away(void) {
  hub_t *hub = sock_hub(NULL, 0, 0, 0);
  CHECK(hub);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  char head[1024], buf[256];
  CHECK_EQ(wsc_upgrade(fd, "/ws", NULL, head, sizeof(head)), 101);
  CHECK(WAIT_STAT(hub, ws_accepted, 1, 2000));
  CHECK(hub_stop(hub, 1000) == 0);
  unsigned op;
  long n;
  do
    n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
  while (n >= 0 && op != 0x8);
  CHECK(n >= 2 && (((unsigned char)buf[0] << 8) | (unsigned char)buf[1]) == 1001);
  CHECK(wsc_eof(fd, 2000));
  close(fd);
  hub_free(hub);
}

void test_attach_fd_request(void) {
  hub_t *hub = sock_hub(NULL, 0, 0, 0);
  CHECK(hub);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  hub_header hdrs[] = {{"Host", "x"}, {"Accept", "text/event-stream"}};
  hub_request req = {sizeof(req), "GET", "/sse?topic=t", hdrs, 2, NULL, 0};
  hub_client_id id;
  hub_header bad[] = {{"Host", "x\r\nEvil: 1"}};
  hub_request evil = {sizeof(evil), "GET", "/sse", bad, 1, NULL, 0};
  CHECK(hub_attach_fd_request(hub, sp[0], &evil, NULL, &id) == HUB_EINVAL);
  /* No size (a struct the library cannot know the layout of): refused. */
  hub_request unsized = req;
  unsized.size = 0;
  CHECK(hub_attach_fd_request(hub, sp[0], &unsized, NULL, &id) == HUB_EINVAL);
  CHECK(hub_attach_fd_request(hub, sp[0], &req, NULL, &id) == 0);
  char head[1024];
  CHECK_EQ(wsc_read_head(sp[1], head, sizeof(head), 2000), 200);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  close(sp[1]);
  hub_free(hub);
}

void test_attach_fd_request_extra(void) {
  /* A WebSocket client's first frame, read by the host past the head, goes
   * to the session: its ping is answered right after the 101. */
  hub_t *hub = sock_hub(NULL, 0, 0, 0);
  CHECK(hub);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  hub_header hdrs[] = {{"Host", "x"},
                       {"Upgrade", "websocket"},
                       {"Connection", "Upgrade"},
                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                       {"Sec-WebSocket-Version", "13"}};
  unsigned char ping[32];
  size_t n = wsc_encode(ping, true, 0, 0x9, "early", 5, true);
  hub_request req = {.size = sizeof(req), .method = "GET", .target = "/ws",
                     .headers = hdrs, .nheaders = 5, .extra = ping,
                     .extra_len = n};
  hub_client_id id;
  /* Extra bytes beyond what a head and a body may hold are refused. */
  req.extra_len = (size_t)1 << 30;
  CHECK(hub_attach_fd_request(hub, sp[0], &req, NULL, &id) == HUB_EINVAL);
  req.extra_len = n;
  CHECK(hub_attach_fd_request(hub, sp[0], &req, NULL, &id) == 0);
  char head[1024], buf[256];
  CHECK_EQ(wsc_read_head(sp[1], head, sizeof(head), 2000), 101);
  unsigned op = 0;
  long got;
  do
    got = wsc_recv(sp[1], &op, buf, sizeof(buf), 2000);
  while (got >= 0 && op != 0xA);
  CHECK(got == 5 && op == 0xA && memcmp(buf, "early", 5) == 0);
  close(sp[1]);
  hub_free(hub);
}

void test_unread_replies_close(void) {
  /* A client that makes the server answer (control pings) but never reads
   * the answers is closed once its queue holds twice its caps (1008),
   * instead of growing it without bound. */
  struct closelog log;
  closelog_init(&log);
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_queue_limits(o, 16, 4096);
  hub_options_set_close_callback(o, closelog_cb, &log);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  int small = 4096;
  setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  hub_client_id id;
  CHECK(hub_attach_fd(hub, sp[0], NULL, 0, NULL, &id) == 0);
  char head[1024];
  CHECK_EQ(wsc_upgrade(sp[1], "/ws", NULL, head, sizeof(head)), 101);
  for (int i = 0; i < 20000 && !closelog_find(&log, id, &(hub_close_info){0});
       i++)
    if (!wsc_send_text(sp[1], "{\"op\":\"ping\"}"))
      break;
  CHECK(WAIT_STAT(hub, clients_closed, 1, 5000));
  hub_close_info info;
  CHECK(closelog_find(&log, id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_POLICY);
  close(sp[1]);
  hub_free(hub);
}
