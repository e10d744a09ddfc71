/* Streams the host owns: the host keeps the I/O (here a socketpair end it
 * writes through its transport callbacks, and bytes it feeds with
 * hub_client_input()) and fanhub still speaks HTTP, WebSocket or SSE on
 * it, from the request, or from the frames when the host's server already
 * answered; the same "already upgraded" start on hub_attach_fd(). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

/* Attaches a host stream speaking `proto`; returns the client's end. */
static int host_stream(hub_t *hub, hub_client_options *copt,
                       hub_protocol proto, hub_client_id *id) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
    return -1;
  fcntl(sp[0], F_SETFL, O_NONBLOCK);
  hub_client_options_set_protocol(copt, proto);
  if (hub_attach_transport(hub, &fd_transport, (void *)(intptr_t)sp[0], copt,
                           id)) {
    close(sp[0]);
    close(sp[1]);
    return -1;
  }
  return sp[1];
}

/* A masked client frame, fed as if the host had read it. */
static int feed_frame(hub_t *hub, hub_client_id id, unsigned op,
                      const char *text) {
  unsigned char f[256];
  size_t n = wsc_encode(f, true, 0, op, text, strlen(text), true);
  return hub_client_input(hub, id, f, n);
}

void test_stream_websocket(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = hub_make(1, 1, &log);
  CHECK(hub);
  hub_client_options *copt;
  hub_client_options_new(&copt);
  CHECK(hub_client_options_add_topic(copt, "t") == 0);
  CHECK(hub_client_options_add_topic(copt, "t") == 0); /* one subscription */
  CHECK(hub_client_options_set_principal(copt, "alice") == 0);
  hub_client_id id;
  int fd = host_stream(hub, copt, HUB_PROTO_WEBSOCKET, &id);
  hub_client_options_free(copt);
  CHECK(fd >= 0);
  char buf[512];
  unsigned op;
  /* No 101 from fanhub: the host sent it. The hello is the first frame. */
  CHECK(wsc_recv(fd, &op, buf, sizeof(buf), 2000) > 0 && op == 0x1 &&
        strstr(buf, "\"type\":\"hello\""));
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  int64_t seq = hub_broadcast(hub, "t", "live", 4, 0);
  char want[64];
  snprintf(want, sizeof(want), "\"seq\":%lld,", (long long)seq);
  CHECK(wsc_recv_until(fd, want, buf, sizeof(buf), 2000));
  /* What the client sends reaches fanhub through the host. */
  CHECK(feed_frame(hub, id, 0x1, "{\"op\":\"subscribe\",\"topic\":\"u\"}") ==
        0);
  CHECK(wsc_recv_until(fd, "\"type\":\"subscribed\"", buf, sizeof(buf),
                       2000));
  CHECK(feed_frame(hub, id, 0x9, "hi") == 0);
  long n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
  CHECK(n == 2 && op == 0xA && memcmp(buf, "hi", 2) == 0);
  /* The end of the host's input: the client is gone. */
  CHECK(hub_client_input(hub, id, NULL, 0) == 0);
  CHECK(wsc_eof(fd, 2000));
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  hub_close_info info;
  CHECK(closelog_find(&log, id, &info) && info.code == HUB_CLOSE_ABNORMAL &&
        strcmp(info.principal, "alice") == 0);
  close(fd);
  hub_free(hub);
}

void test_stream_sse_resume(void) {
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  int64_t s1 = hub_broadcast(hub, "n", "one", 3, 0);
  int64_t s2 = hub_broadcast(hub, "n", "two", 3, 0);
  int64_t s3 = hub_broadcast(hub, "n", "three", 5, 0);
  CHECK(s1 > 0 && s2 > s1 && s3 > s2);
  hub_client_options *copt;
  hub_client_options_new(&copt);
  CHECK(hub_client_options_add_topic(copt, "n") == 0);
  CHECK(hub_client_options_set_since(copt, hub_epoch(hub), s1) == 0);
  hub_client_id id;
  int fd = host_stream(hub, copt, HUB_PROTO_SSE, &id);
  hub_client_options_free(copt);
  CHECK(fd >= 0);
  /* The body of the stream from its first byte: the host sent the head. */
  char buf[1024];
  size_t len = 0;
  char want[64];
  snprintf(want, sizeof(want), "id: %s-%lld\n", hub_epoch(hub), (long long)s3);
  int64_t end = test_now_us() + 2000000;
  while (test_now_us() < end && len + 1 < sizeof(buf) && !strstr(buf, want)) {
    ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
    if (r > 0) {
      len += (size_t)r;
      buf[len] = '\0';
    } else {
      test_sleep_ms(5);
    }
  }
  CHECK(strncmp(buf, ": connected\n\nretry: 2000\n\n", 26) == 0);
  char e2[96];
  snprintf(e2, sizeof(e2), "id: %s-%lld\nevent: n\ndata: two\n\n",
           hub_epoch(hub), (long long)s2);
  CHECK(strstr(buf, e2) && strstr(buf, "data: three\n"));
  CHECK(!strstr(buf, "data: one\n")); /* from its starting point on */
  close(fd);
  CHECK(WAIT_STAT(hub, sse_accepted, 1, 2000));
  hub_free(hub);
}

void test_stream_http_request(void) {
  /* fanhub answers the request the host feeds, with the frames that
   * came with it, and an SSE request fed in two pieces. */
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  hub_client_options *copt;
  hub_client_options_new(&copt);
  hub_client_id id;
  int fd = host_stream(hub, copt, HUB_PROTO_HTTP, &id);
  CHECK(fd >= 0);
  static const char up[] =
      "GET /ws?topic=q HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  unsigned char req[512];
  memcpy(req, up, sizeof(up) - 1);
  size_t n = sizeof(up) - 1 + wsc_encode(req + sizeof(up) - 1, true, 0, 0x9,
                                         "p", 1, true);
  CHECK(hub_client_input(hub, id, req, n) == 0);
  char head[1024], buf[256];
  unsigned op;
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 101);
  CHECK(wsc_recv_until(fd, "hello", buf, sizeof(buf), 2000));
  CHECK(wsc_recv(fd, &op, buf, sizeof(buf), 2000) == 1 && op == 0xA);
  close(fd);
  static const char sse[] = "GET /sse?topic=q HTTP/1.1\r\nHost: h\r\n\r\n";
  fd = host_stream(hub, copt, HUB_PROTO_HTTP, &id);
  CHECK(fd >= 0);
  CHECK(hub_client_input(hub, id, sse, 10) == 0);
  CHECK(hub_client_input(hub, id, sse + 10, sizeof(sse) - 11) == 0);
  CHECK_EQ(wsc_read_head(fd, head, sizeof(head), 2000), 200);
  CHECK(strstr(head, "text/event-stream"));
  close(fd);
  hub_client_options_free(copt);
  hub_free(hub);
}

void test_fd_already_upgraded(void) {
  /* The host's server answered the upgrade on this socket and read a
   * ping past the request: fanhub starts at the frames. */
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  hub_client_options *copt;
  hub_client_options_new(&copt);
  CHECK(hub_client_options_set_protocol(copt, HUB_PROTO_WEBSOCKET) == 0);
  CHECK(hub_client_options_add_topic(copt, "f") == 0);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  unsigned char ping[16];
  size_t n = wsc_encode(ping, true, 0, 0x9, "early", 5, true);
  hub_client_id id;
  CHECK(hub_attach_fd(hub, sp[0], ping, n, copt, &id) == 0);
  char buf[256];
  unsigned op;
  CHECK(wsc_recv(sp[1], &op, buf, sizeof(buf), 2000) > 0 && op == 0x1 &&
        strstr(buf, "hello"));
  CHECK(wsc_recv(sp[1], &op, buf, sizeof(buf), 2000) == 5 && op == 0xA);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  CHECK(wsc_send_text(sp[1], "{\"op\":\"ping\"}"));
  CHECK(wsc_recv_until(sp[1], "pong", buf, sizeof(buf), 2000));
  /* Wrong uses: raw on a socket, TLS on a socket the host answered on, a
   * topic over the length limit. */
  CHECK(hub_client_options_set_protocol(copt, HUB_PROTO_RAW) == 0);
  CHECK_EQ(hub_attach_fd(hub, sp[1], NULL, 0, copt, &id), HUB_EINVAL);
  CHECK(hub_client_options_set_protocol(copt, HUB_PROTO_SSE) == 0);
  CHECK(hub_client_options_set_tls(copt, 1) == 0);
  CHECK_EQ(hub_attach_fd(hub, sp[1], NULL, 0, copt, &id), HUB_EINVAL);
  CHECK(hub_client_options_set_tls(copt, 0) == 0);
  CHECK_EQ(hub_client_options_set_protocol(copt, (hub_protocol)9),
           HUB_EINVAL);
  hub_client_options_free(copt);
  close(sp[1]);
  hub_free(hub);
}

void test_stream_bad_topics_and_resume_id(void) {
  /* A topic the hub refuses, given at attach, is refused like one the
   * client sends: a "bad-topic" notice, the others subscribed (the host
   * may have sent its 101 already). Last-Event-ID is read as fanhub
   * reads it. */
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  int64_t s1 = hub_broadcast(hub, "ok", "one", 3, 0);
  int64_t s2 = hub_broadcast(hub, "ok", "two", 3, 0);
  hub_client_options *copt;
  hub_client_options_new(&copt);
  char longtopic[300];
  memset(longtopic, 'x', sizeof(longtopic) - 1);
  longtopic[sizeof(longtopic) - 1] = '\0';
  CHECK(hub_client_options_add_topic(copt, longtopic) == 0);
  CHECK(hub_client_options_add_topic(copt, "") == 0);
  CHECK(hub_client_options_add_topic(copt, "a.>.b") == 0);
  CHECK(hub_client_options_add_topic(copt, "ok") == 0);
  char id[64];
  snprintf(id, sizeof(id), "%s-%lld", hub_epoch(hub), (long long)s1);
  CHECK(hub_client_options_set_last_event_id(copt, id) == 0);
  CHECK_EQ(hub_client_options_set_last_event_id(copt, "e-x1"), HUB_EINVAL);
  CHECK_EQ(hub_client_options_set_last_event_id(copt, ""), HUB_EINVAL);
  hub_client_id cid;
  int fd = host_stream(hub, copt, HUB_PROTO_WEBSOCKET, &cid);
  hub_client_options_free(copt);
  CHECK(fd >= 0);
  char buf[512];
  unsigned op;
  int bad = 0;
  int64_t got = 0;
  for (int i = 0; i < 8 && !got; i++) {
    if (wsc_recv(fd, &op, buf, sizeof(buf), 2000) < 0)
      break;
    if (strstr(buf, "\"code\":\"bad-topic\""))
      bad++;
    char *seq = strstr(buf, "\"type\":\"message\"") ? strstr(buf, "\"seq\":")
                                                     : NULL;
    if (seq)
      got = strtoll(seq + 6, NULL, 10);
  }
  CHECK_EQ(bad, 3);
  CHECK_EQ(got, s2); /* resumed after s1 */
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  /* EOF on a raw stream closes it too. */
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  hub_client_id rid;
  CHECK(hub_attach_transport(hub, &fd_transport, (void *)(intptr_t)sp[0], NULL,
                             &rid) == 0);
  CHECK(WAIT_STAT(hub, clients, 2, 2000));
  CHECK(hub_client_input(hub, rid, NULL, 0) == 0);
  CHECK(wsc_eof(sp[1], 2000));
  close(sp[1]);
  close(fd);
  hub_free(hub);
}

void test_ws_accept_key_public(void) {
  /* RFC 6455's sample key and answer. */
  char out[29];
  CHECK(hub_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out) == 0);
  CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
  CHECK_EQ(hub_ws_accept_key("short", out), HUB_EINVAL);
  CHECK_EQ(hub_ws_accept_key(NULL, out), HUB_EINVAL);
}
