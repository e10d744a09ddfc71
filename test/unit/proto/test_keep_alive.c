/* HTTP keep-alive for the requests the host answers (hub_respond()): the
 * connection reads the next request after an answer, pipelined requests
 * are answered in order, "Connection: close" and HTTP/1.0 end it, the
 * handshake timeout bounds the wait for the next request; a client that
 * pipelines without reading the answers stops being read, and the hub
 * holds a bounded amount for it. Real sockets (socketpairs), a counting
 * allocator for the hub's heap. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"
#include "util.h"
#include "wsclient.h"

/* GET /n?K answers "K"; POST /echo answers its body; /ws and /sse stream;
 * anything else 404. */
static int route(hub_t *hub, const hub_request_info *r, void *ud) {
  (void)ud;
  if (r->path_len == 3 && memcmp(r->path, "/ws", 3) == 0)
    return HUB_ROUTE_STREAM;
  if (r->path_len == 2 && memcmp(r->path, "/n", 2) == 0)
    hub_respond(hub, r, 200, NULL, r->query, r->query_len);
  else if (r->path_len == 5 && memcmp(r->path, "/echo", 5) == 0)
    hub_respond(hub, r, 200, "application/octet-stream", r->body, r->body_len);
  else
    hub_respond(hub, r, 404, NULL, "not found\n", 10);
  return HUB_ROUTE_DONE;
}

static hub_t *ka_hub(struct closelog *log, uint32_t handshake_ms) {
  hub_options *o;
  hub_t *hub = NULL;
    hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_mem(o, &counting_mem);
  hub_options_set_request_callback(o, route, NULL);
  hub_options_set_handshake_timeout(o, handshake_ms);
  if (log)
    hub_options_set_close_callback(o, closelog_cb, log);
  if (hub_new(&hub, o) || hub_start(hub)) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(o);
  return hub;
}

/* Reads responses one at a time off a socket. */
struct reader {
  int fd;
  size_t len;
  char buf[1 << 16];
};

struct response {
  int status;
  bool close; /* "Connection: close" */
  bool keep;  /* "Connection: keep-alive" */
  size_t body_len;
  char body[512];
};

/* Reads until buf holds `want` bytes; false on EOF or timeout. */
static bool fill(struct reader *rd, size_t want, int timeout_ms) {
  while (rd->len < want) {
    struct pollfd pfd = {rd->fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) != 1)
      return false;
    ssize_t n = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
    if (n <= 0)
      return false;
    rd->len += (size_t)n;
  }
  return true;
}

/* The next response (head and Content-Length body); false if none came
 * whole within timeout_ms. */
static bool next_response(struct reader *rd, struct response *out,
                          int timeout_ms) {
  char *end;
  while (!(end = memmem(rd->buf, rd->len, "\r\n\r\n", 4)))
    if (rd->len == sizeof(rd->buf) || !fill(rd, rd->len + 1, timeout_ms))
      return false;
  size_t head = (size_t)(end + 4 - rd->buf);
  char h[1024];
  snprintf(h, sizeof(h), "%.*s", (int)head, rd->buf);
  const char *cl = strstr(h, "Content-Length: ");
  if (sscanf(h, "HTTP/1.1 %d", &out->status) != 1 || !cl)
    return false;
  out->body_len = strtoul(cl + 16, NULL, 10);
  out->close = strstr(h, "Connection: close\r\n") != NULL;
  out->keep = strstr(h, "Connection: keep-alive\r\n") != NULL;
  if (out->body_len >= sizeof(out->body) ||
      !fill(rd, head + out->body_len, timeout_ms))
    return false;
  memcpy(out->body, rd->buf + head, out->body_len);
  out->body[out->body_len] = '\0';
  rd->len -= head + out->body_len;
  memmove(rd->buf, rd->buf + head + out->body_len, rd->len);
  return true;
}

static bool body_is(const struct response *r, const char *s) {
  return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

/* Request k of a pipelined mix: a GET, or a POST whose body says k. */
static int mixed_request(char *out, size_t cap, int k) {
  if (k % 3 == 2)
    return snprintf(out, cap,
                    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                    "\r\nbody-%05d",
                    10, k);
  return snprintf(out, cap, "GET /n?%d HTTP/1.1\r\nHost: t\r\n\r\n", k);
}

static bool mixed_answer(const struct response *r, int k) {
  char want[32];
  snprintf(want, sizeof(want), k % 3 == 2 ? "body-%05d" : "%d", k);
  return r->status == 200 && r->keep && !r->close && body_is(r, want);
}

#define PIPELINED 300

void test_keep_alive_pipelined(void) {
  struct closelog log;
  closelog_init(&log);
  hub_t *hub = ka_hub(&log, 300);
  CHECK(hub);
  static struct reader rd;
  struct response r;
  static char req[PIPELINED * 64];
  hub_client_id id;

  /* Many requests in one write, answered in order on one connection. */
  int fd = wsc_attach(hub, &id);
  CHECK(fd >= 0);
  rd.fd = fd;
  rd.len = 0;
  size_t n = 0;
  for (int k = 0; k < PIPELINED; k++)
    n += (size_t)mixed_request(req + n, sizeof(req) - n, k);
  CHECK(wsc_write(fd, req, n));
  for (int k = 0; k < PIPELINED; k++) {
    CHECK(next_response(&rd, &r, 2000));
    if (!mixed_answer(&r, k))
      fprintf(stderr, "  answer %d: %d \"%s\"\n", k, r.status, r.body);
    CHECK(mixed_answer(&r, k));
  }
  /* Byte by byte, a body split from its head: the same connection. */
  n = (size_t)mixed_request(req, sizeof(req), 5);
  for (size_t i = 0; i < n; i++) {
    CHECK(wsc_write(fd, req + i, 1));
    if (i % 16 == 0)
      test_sleep_ms(1);
  }
  CHECK(next_response(&rd, &r, 2000) && mixed_answer(&r, 5));
  /* HEAD: the head alone, whose Content-Length is the body's. */
  static const char head_req[] = "HEAD /n?headless HTTP/1.1\r\n\r\n"
                                 "GET /n?7 HTTP/1.1\r\n\r\n";
  CHECK(wsc_write(fd, head_req, sizeof(head_req) - 1));
  while (!memmem(rd.buf, rd.len, "\r\n\r\n", 4))
    CHECK(fill(&rd, rd.len + 1, 2000));
  CHECK(memcmp(rd.buf, "HTTP/1.1 200 ", 13) == 0 &&
        memmem(rd.buf, rd.len, "Content-Length: 8\r\n", 19));
  size_t head_len =
      (size_t)((char *)memmem(rd.buf, rd.len, "\r\n\r\n", 4) + 4 - rd.buf);
  rd.len -= head_len;
  memmove(rd.buf, rd.buf + head_len, rd.len);
  CHECK(next_response(&rd, &r, 2000) && body_is(&r, "7"));
  /* A 404 keeps it too; then a pipelined WebSocket upgrade takes it over. */
  static const char tail[] =
      "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  CHECK(wsc_write(fd, tail, sizeof(tail) - 1));
  CHECK(next_response(&rd, &r, 2000));
  CHECK(r.status == 404 && r.keep);
  while (!memmem(rd.buf, rd.len, "\"hello\"", 7))
    CHECK(fill(&rd, rd.len + 1, 2000));
  CHECK(memcmp(rd.buf, "HTTP/1.1 101 ", 13) == 0);
  close(fd);

  /* "Connection: close" is honoured: answered, then the end. HTTP/1.0
   * keeps the connection only when it asks to. */
  fd = wsc_attach(hub, &id);
  rd.fd = fd;
  rd.len = 0;
  static const char ten[] =
      "GET /n?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /n?b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
      "GET /n?c HTTP/1.1\r\nHost: t\r\n\r\n";
  CHECK(wsc_write(fd, ten, sizeof(ten) - 1));
  CHECK(next_response(&rd, &r, 2000) && body_is(&r, "a") && r.keep);
  CHECK(next_response(&rd, &r, 2000) && body_is(&r, "b") && r.close);
  CHECK(rd.len == 0 && wsc_eof(fd, 2000)); /* c is never answered */
  close(fd);
  fd = wsc_attach(hub, &id);
  rd.fd = fd;
  rd.len = 0;
  static const char old[] = "GET /n?d HTTP/1.0\r\n\r\n";
  CHECK(wsc_write(fd, old, sizeof(old) - 1));
  CHECK(next_response(&rd, &r, 2000) && body_is(&r, "d") && r.close);
  CHECK(wsc_eof(fd, 2000));
  close(fd);

  /* Requests, then the client shuts its side: every one is answered. */
  fd = wsc_attach(hub, &id);
  rd.fd = fd;
  rd.len = 0;
  n = 0;
  for (int k = 0; k < 50; k++)
    n += (size_t)mixed_request(req + n, sizeof(req) - n, k);
  CHECK(wsc_write(fd, req, n));
  CHECK(shutdown(fd, SHUT_WR) == 0);
  for (int k = 0; k < 50; k++)
    CHECK(next_response(&rd, &r, 2000) && mixed_answer(&r, k));
  CHECK(wsc_eof(fd, 2000));
  close(fd);

  /* An error ends a kept connection: fanhub cannot trust what follows. */
  fd = wsc_attach(hub, &id);
  rd.fd = fd;
  rd.len = 0;
  static const char bad[] = "GET /n?e HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /n?f HTTP/1.1\r\nHost: t\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  CHECK(wsc_write(fd, bad, sizeof(bad) - 1));
  CHECK(next_response(&rd, &r, 2000) && body_is(&r, "e") && r.keep);
  CHECK(next_response(&rd, &r, 2000) && r.status == 501 && r.close);
  CHECK(wsc_eof(fd, 2000));
  close(fd);

  /* Idle between requests: closed at the handshake timeout (300 ms). */
  fd = wsc_attach(hub, &id);
  rd.fd = fd;
  rd.len = 0;
  CHECK(wsc_write(fd, "GET /n?g HTTP/1.1\r\n\r\n", 21));
  CHECK(next_response(&rd, &r, 2000) && body_is(&r, "g"));
  int64_t t0 = test_now_us();
  CHECK(wsc_eof(fd, 2000));
  int64_t idle_ms = (test_now_us() - t0) / 1000;
  CHECK(idle_ms >= 200 && idle_ms < 1500);
  close(fd);
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  hub_close_info info;
  CHECK(closelog_find(&log, id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_TIMEOUT);
  hub_free(hub);
}

static int64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

void test_keep_alive_flood_bounded(void) {
  /* A client pipelining without reading the answers: the hub answers
   * until 64 KiB of them wait unwritten, then stops reading it, so the
   * client's writes stall in the socket's buffers; the hub's heap grows
   * by a bounded amount and its shard sleeps meanwhile. Once the client
   * reads, every request it wrote is answered, in order. */
  hub_t *hub = ka_hub(NULL, 0);
  CHECK(hub);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
  int small = 4096;
  setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  test_sleep_ms(50);
  long long live0 = counted_bytes();
  hub_client_id id;
  CHECK(hub_attach_fd(hub, sp[0], NULL, 0, NULL, &id) == 0);
  int fd = sp[1];
  CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
  char one[64];
  int len = snprintf(one, sizeof(one), "GET /n?%08d HTTP/1.1\r\n\r\n", 0);
  static char chunk[64 * 1024];
  size_t per_chunk = (sizeof(chunk) - 1) / (size_t)len, sent = 0, off = 0;
  long long peak = 0;
  /* Writes until the socket has taken nothing for 300 ms (or 64 MB went,
   * which only a hub that reads without bound would take). */
  for (;;) {
    if (off == 0) {
      for (size_t i = 0; i < per_chunk; i++)
        snprintf(chunk + i * (size_t)len, (size_t)len + 1,
                 "GET /n?%08zu HTTP/1.1\r\n\r\n", sent / (size_t)len + i);
    }
    ssize_t w =
        send(fd, chunk + off, per_chunk * (size_t)len - off, MSG_NOSIGNAL);
    if (w > 0) {
      sent += (size_t)w;
      off = (off + (size_t)w) % (per_chunk * (size_t)len);
      if (counted_bytes() - live0 > peak)
        peak = counted_bytes() - live0;
      if (sent > (size_t)64 << 20)
        break;
      continue;
    }
    CHECK(w < 0 && errno == EAGAIN);
    struct pollfd pfd = {fd, POLLOUT, 0};
    if (poll(&pfd, 1, 300) == 0)
      break;
  }
  fprintf(stderr,
          "  pipelined %zu bytes (%zu requests) before the socket "
          "stalled; hub heap +%lld KiB\n",
          sent, sent / (size_t)len, (counted_bytes() - live0) / 1024);
  CHECK(sent < (size_t)64 << 20);
  /* Stalled: the shard sleeps instead of polling a socket it does not
   * read. */
  int64_t c0 = cpu_us();
  test_sleep_ms(300);
  int64_t spent = cpu_us() - c0;
  if (counted_bytes() - live0 > peak)
    peak = counted_bytes() - live0;
  fprintf(stderr, "  stalled 300 ms: %lld us of CPU; peak heap +%lld KiB\n",
          (long long)spent, peak / 1024);
  CHECK(spent < 60000);
  CHECK(peak < 512 * 1024);
  CHECK_EQ(stats_of(hub).clients, 1);
  /* The client reads: every whole request it wrote is answered, in
   * order, while it goes on. */
  CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0);
  static struct reader rd;
  rd.fd = fd;
  rd.len = 0;
  size_t whole = sent / (size_t)len;
  struct response r;
  for (size_t k = 0; k < whole; k++) {
    char want[32];
    snprintf(want, sizeof(want), "%08zu", k);
    CHECK(next_response(&rd, &r, 3000));
    if (!body_is(&r, want))
      fprintf(stderr, "  answer %zu: \"%s\"\n", k, r.body);
    CHECK(body_is(&r, want));
  }
  CHECK(!next_response(&rd, &r, 100)); /* the partial one waits */
  close(fd);
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  hub_free(hub);
}
