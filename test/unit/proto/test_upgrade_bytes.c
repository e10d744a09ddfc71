/* Bytes that come with a request, past its head: a WebSocket client's
 * first frames are read as frames however the request arrives (in the
 * same write, after a head split across reads, or in the head the host
 * handed over); an SSE request followed by anything gets 400. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

#define PINGS 150

static const char upgrade[] =
    "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

/* A ping's payload: "p<i>" padded to 100 bytes, so the pings (~16 KB)
 * outgrow a head buffer and a read. */
static void ping_payload(char *p, int i) {
  memset(p, 'x', 100);
  p[100] = '\0';
  memcpy(p, "p", 1);
  char num[8];
  int k = snprintf(num, sizeof(num), "%d", i);
  memcpy(p + 1, num, (size_t)k);
}

/* The upgrade request followed by PINGS masked pings. */
static size_t request_and_pings(unsigned char *out) {
  size_t n = strlen(upgrade);
  memcpy(out, upgrade, n);
  for (int i = 0; i < PINGS; i++) {
    char p[101];
    ping_payload(p, i);
    n += wsc_encode(out + n, true, 0, 0x9, p, 100, true);
  }
  return n;
}

/* 101, hello, then one pong per ping, in order, echoing its payload. */
static void expect_pongs(int fd) {
  char head[1024], buf[256];
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 101);
  CHECK(wsc_recv_until(fd, "hello", buf, sizeof(buf), 2000));
  int pongs = 0;
  unsigned op;
  for (int i = 0; i < PINGS; i++) {
    long n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
    char want[101];
    ping_payload(want, i);
    if (n < 0 || op != 0xA || strcmp(buf, want) != 0)
      break;
    pongs++;
  }
  CHECK_EQ(pongs, PINGS);
  /* And the stream is in step: a subscribe is answered. */
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"x\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
}

void test_frames_with_upgrade(void) {
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  unsigned char req[32768];
  size_t n = request_and_pings(req);
  hub_client_id id;
  /* One write. */
  int fd = wsc_attach(hub, &id);
  CHECK(fd >= 0 && wsc_write(fd, req, n));
  expect_pongs(fd);
  close(fd);
  /* The head split across two reads, the pings with its second half. */
  fd = wsc_attach(hub, &id);
  CHECK(fd >= 0 && wsc_write(fd, req, 40));
  test_sleep_ms(30);
  CHECK(wsc_write(fd, req + 40, n - 40));
  expect_pongs(fd);
  close(fd);
  /* Read by the host with the head and handed over. */
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  CHECK(hub_attach_fd(hub, sp[0], req, n, NULL, &id) == 0);
  expect_pongs(sp[1]);
  close(sp[1]);
  hub_free(hub);
}

void test_sse_bytes_after_request(void) {
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  static const char req[] = "GET /sse?topic=a HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /sse?topic=b HTTP/1.1\r\nHost: t\r\n\r\n";
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  CHECK(fd >= 0 && wsc_write(fd, req, sizeof(req) - 1));
  char head[1024], body[256] = "";
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 400);
  ssize_t r = read(fd, body, sizeof(body) - 1);
  CHECK(r > 0 && strstr(body, "no bytes after its request"));
  CHECK(wsc_eof(fd, 2000));
  close(fd);
  /* The same request alone is a stream. */
  fd = wsc_attach(hub, &id);
  CHECK(fd >= 0 && wsc_write(fd, req, sizeof(req) / 2));
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 200);
  close(fd);
  hub_free(hub);
}

/* What the request callback read after answering. */
static char seen_path[64], seen_host[64];

static int respond_then_read(hub_t *hub, const hub_request_info *req,
                             void *ud) {
  (void)ud;
  hub_respond(hub, req, 200, NULL, "ok", 2);
  /* The request stays valid for the whole call, answered or not. */
  snprintf(seen_path, sizeof(seen_path), "%.*s", (int)req->path_len,
           req->path);
  size_t hl = 0;
  const char *h = hub_request_header(req, "Host", &hl);
  snprintf(seen_host, sizeof(seen_host), "%.*s", h ? (int)hl : 0,
           h ? h : "");
  return HUB_ROUTE_DONE;
}

void test_request_valid_after_respond(void) {
  /* The head handed over at attach sits in a buffer of the client's own,
   * which hub_respond() used to free under the callback (ASan: a
   * use-after-free). */
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_request_callback(o, respond_then_read, NULL);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  static const char req[] = "GET /respond HTTP/1.1\r\nHost: here\r\n"
                            "Connection: close\r\n\r\n";
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  hub_client_id id;
  CHECK(hub_attach_fd(hub, sp[0], req, sizeof(req) - 1, NULL, &id) == 0);
  char head[1024];
  CHECK_EQ(wsc_read_head(sp[1], head, sizeof(head), 2000), 200);
  CHECK(wsc_eof(sp[1], 2000));
  CHECK(strcmp(seen_path, "/respond") == 0);
  CHECK(strcmp(seen_host, "here") == 0);
  close(sp[1]);
  hub_free(hub);
}

void test_frame_to_closing_client(void) {
  /* A 32-byte queue cap: the 101 answer alone overflows it twice over,
   * which closes the client; the hello queued next must be freed, not
   * leaked (ASan's leak check, valgrind). */
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_queue_limits(o, 1, 32);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  CHECK(fd >= 0);
  char head[1024];
  wsc_upgrade(fd, "/ws", NULL, head, sizeof(head));
  CHECK(wsc_eof(fd, 2000));
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  close(fd);
  hub_free(hub);
}

void test_ws_pinged_after_upgrade(void) {
  /* The ping timer starts with the stream: a WebSocket client gets pings,
   * and one that answers nothing for a whole period after a ping is
   * closed (the upgrade used to take the timer off again). */
  struct closelog log;
  closelog_init(&log);
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_ping_interval(o, 100);
  hub_options_set_close_callback(o, closelog_cb, &log);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  char head[1024], buf[256];
  CHECK_EQ(wsc_upgrade(fd, "/ws", NULL, head, sizeof(head)), 101);
  unsigned op = 0;
  long n = 0;
  for (int i = 0; i < 4 && op != 0x9; i++)
    n = wsc_recv(fd, &op, buf, sizeof(buf), 1000);
  CHECK(n >= 0 && op == 0x9);
  CHECK(wsc_eof(fd, 2000)); /* no pong, nothing: closed */
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  hub_close_info info;
  CHECK(closelog_find(&log, id, &info) &&
        info.code == HUB_CLOSE_ABNORMAL);
  close(fd);
  hub_free(hub);
}
