/* The auth callback (allow, deny, pending, timeout), Origin checks,
 * connection caps and per-client limits, end to end over sockets. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memtp.h"
#include "tests.h"
#include "util.h"
#include "wsclient.h"

struct authlog {
  pthread_mutex_t lock;
  char last_token[64];
  char last_addr[64];
  char header[64];
  size_t last_len;
  hub_auth_ticket pending[8];
  int npending;
};

/* Tokens: "good" allows as alice, "slow" and "never" are pending; topics
 * starting with "secret" are denied; "wait.*" topics are pending. */
static int auth_cb(hub_t *hub, const hub_auth_request *req,
                   hub_auth_result *res, void *ud) {
  (void)hub;
  struct authlog *log = ud;
  pthread_mutex_lock(&log->lock);
  int v = HUB_AUTH_ALLOW;
  if (req->kind == HUB_AUTH_CONNECT) {
    snprintf(log->last_token, sizeof(log->last_token), "%.*s",
             (int)req->token_len, req->token ? req->token : "");
    log->last_len = req->token_len;
    snprintf(log->last_addr, sizeof(log->last_addr), "%s", req->remote_addr);
    size_t hl;
    const char *h = hub_auth_header(req, "X-Test", &hl);
    snprintf(log->header, sizeof(log->header), "%.*s", h ? (int)hl : 0,
             h ? h : "");
    if (!req->token) {
      res->status = 401;
      res->reason = "no token";
      v = HUB_AUTH_DENY;
    } else if (req->token_len == 4 && !memcmp(req->token, "good", 4)) {
      res->principal = "alice";
    } else if (req->token_len >= 4 && (!memcmp(req->token, "slow", 4) ||
                                       !memcmp(req->token, "neve", 4))) {
      v = HUB_AUTH_PENDING;
    } else {
      v = HUB_AUTH_DENY;
    }
  } else if (req->topic_len >= 6 && !memcmp(req->topic, "secret", 6)) {
    res->reason = "not \"yours\"";
    v = HUB_AUTH_DENY;
  } else if (req->topic_len >= 5 && !memcmp(req->topic, "wait.", 5)) {
    v = HUB_AUTH_PENDING;
  } else if (req->kind == HUB_AUTH_SUBSCRIBE &&
             strcmp(req->principal, "alice") != 0) {
    v = HUB_AUTH_DENY; /* the principal from CONNECT is handed back */
  }
  if (v == HUB_AUTH_PENDING &&
      !(req->kind == HUB_AUTH_CONNECT && !memcmp(req->token, "neve", 4)) &&
      log->npending < 8)
    log->pending[log->npending++] = req->ticket;
  pthread_mutex_unlock(&log->lock);
  return v;
}

/* Answers every pending ticket from another thread after a delay. */
static void *answerer(void *p) {
  struct { hub_t *hub; struct authlog *log; } *a = p;
  test_sleep_ms(50);
  pthread_mutex_lock(&a->log->lock);
  for (int i = 0; i < a->log->npending; i++) {
    hub_auth_result r = {sizeof(r), HUB_AUTH_ALLOW, "bob-the-slow", 0, NULL};
    hub_auth_complete(a->hub, a->log->pending[i], &r);
  }
  a->log->npending = 0;
  pthread_mutex_unlock(&a->log->lock);
  return NULL;
}

static hub_t *auth_hub(struct authlog *log, struct closelog *cl) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 2);
  hub_options_set_auth_timeout(o, 300);
  hub_options_set_client_publish(o, 1);
  if (cl)
    hub_options_set_close_callback(o, closelog_cb, cl);
  hub_options_set_auth_callback(o, auth_cb, log);
  if (hub_new(&hub, o) == 0 && hub_start(hub)) {
    hub_free(hub);
    hub = NULL;
  }
  hub_options_free(o);
  return hub;
}

static int upgrade(hub_t *hub, const char *path, const char *hdrs,
                   char *head, size_t cap, int *fd_out) {
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  int st = wsc_upgrade(fd, path, hdrs, head, cap);
  *fd_out = fd;
  return st;
}

void test_auth_connect(void) {
  struct authlog log = {PTHREAD_MUTEX_INITIALIZER};
  struct closelog cl;
  closelog_init(&cl);
  hub_t *hub = auth_hub(&log, &cl);
  CHECK(hub);
  char head[1024], buf[512];
  int fd;
  CHECK_EQ(upgrade(hub, "/ws", NULL, head, sizeof(head), &fd), 401);
  CHECK(strstr(head, "Connection: close"));
  CHECK(strstr(head, "WWW-Authenticate: Bearer\r\n"));
  close(fd);
  CHECK_EQ(upgrade(hub, "/ws", "Authorization: Bearer bad\r\n", head,
                   sizeof(head), &fd), 403);
  close(fd);
  /* The three ways a token can come. */
  CHECK_EQ(upgrade(hub, "/ws", "Authorization: Bearer good\r\nX-Test: 7\r\n",
                   head, sizeof(head), &fd), 101);
  CHECK(strcmp(log.last_token, "good") == 0 && strcmp(log.header, "7") == 0);
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"open\"}"));
  CHECK(wsc_recv_until(fd, "subscribed", buf, sizeof(buf), 2000));
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"secret.x\",\"id\":9}"));
  CHECK(wsc_recv_until(fd, "error", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "\"code\":\"forbidden\"") && strstr(buf, "\"id\":9"));
  CHECK(strstr(buf, "\"reason\":\"not \\\"yours\\\"\""));
  CHECK(wsc_send_text(fd, "{\"op\":\"publish\",\"topic\":\"secret\",\"data\":1}"));
  CHECK(wsc_recv_until(fd, "forbidden", buf, sizeof(buf), 2000));
  close(fd);
  CHECK_EQ(upgrade(hub, "/ws?x=1&token=go%6Fd", NULL, head, sizeof(head), &fd),
           101);
  CHECK(strcmp(log.last_token, "good") == 0);
  close(fd);
  CHECK_EQ(upgrade(hub, "/ws", "Sec-WebSocket-Protocol: bearer.g%6Fod\r\n",
                   head, sizeof(head), &fd), 101);
  CHECK(strcmp(log.last_token, "good") == 0);
  CHECK(strstr(head, "Sec-WebSocket-Protocol: bearer.g%6Fod\r\n"));
  close(fd);
  /* A JWT-sized token as the only subprotocol: decoded whole, echoed. */
  static char hdr[3000];
  int n = snprintf(hdr, sizeof(hdr), "Sec-WebSocket-Protocol: bearer.");
  memset(hdr + n, 'x', 2000);
  memcpy(hdr + n + 2000, "\r\n", 3);
  CHECK_EQ(upgrade(hub, "/ws", hdr, head, sizeof(head), &fd), 403);
  CHECK_EQ(log.last_len, 2000);
  close(fd);
  CHECK(WAIT_STAT(hub, clients, 0, 2000));
  /* The principal is stamped on the client: the three that got in. */
  int alices = 0;
  pthread_mutex_lock(&cl.lock);
  for (int i = 0; i < cl.n; i++)
    alices += strcmp(cl.info[i].principal, "alice") == 0;
  pthread_mutex_unlock(&cl.lock);
  CHECK_EQ(alices, 3);
  CHECK(WAIT_STAT(hub, auth_denied, 5, 2000));
  hub_free(hub);
}

void test_auth_pending(void) {
  struct authlog log = {PTHREAD_MUTEX_INITIALIZER};
  hub_t *hub = auth_hub(&log, NULL);
  CHECK(hub);
  struct { hub_t *hub; struct authlog *log; } arg = {hub, &log};
  pthread_t th;
  /* CONNECT answered later from another thread. */
  hub_client_id id;
  int fd = wsc_attach(hub, &id);
  pthread_create(&th, NULL, answerer, &arg);
  char head[1024], buf[512];
  CHECK_EQ(wsc_upgrade(fd, "/ws", "Authorization: Bearer slow\r\n", head,
                       sizeof(head)), 101);
  pthread_join(th, NULL);
  /* A subscribe answered later, in order with the others around it. */
  pthread_create(&th, NULL, answerer, &arg);
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"wait.a\"}"));
  CHECK(wsc_recv_until(fd, "\"topic\":\"wait.a\"", buf, sizeof(buf), 2000));
  CHECK(strstr(buf, "subscribed"));
  pthread_join(th, NULL);
  /* Never answered: denied at the auth timeout. */
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"wait.b\"}"));
  CHECK(wsc_recv_until(fd, "auth-timeout", buf, sizeof(buf), 2000));
  close(fd);
  fd = wsc_attach(hub, &id);
  int64_t t0 = test_now_us();
  CHECK_EQ(wsc_upgrade(fd, "/ws", "Authorization: Bearer never\r\n", head,
                       sizeof(head)), 503);
  CHECK(test_now_us() - t0 >= 250000);
  close(fd);
  CHECK(WAIT_STAT(hub, auth_timeouts, 2, 2000));
  /* A stale ticket is ignored. */
  hub_auth_ticket stale = {id, 12345};
  hub_auth_result r = {sizeof(r), HUB_AUTH_ALLOW, NULL, 0, NULL};
  CHECK(hub_auth_complete(hub, stale, &r) == 0);
  r.verdict = 7;
  CHECK(hub_auth_complete(hub, stale, &r) == HUB_EINVAL);
  hub_auth_result unsized = {.verdict = HUB_AUTH_ALLOW}; /* no .size */
  CHECK(hub_auth_complete(hub, stale, &unsized) == HUB_EINVAL);
  CHECK(hub_options_set_auth_callback(NULL, auth_cb, &log) == HUB_EINVAL);
  hub_free(hub);
}

void test_origin_check(void) {
  hub_t *hub = hub_make(1, 1, NULL);
  CHECK(hub);
  char head[1024];
  int fd;
  CHECK_EQ(upgrade(hub, "/ws", "Origin: http://evil.example\r\n", head,
                   sizeof(head), &fd), 403);
  close(fd);
  CHECK_EQ(upgrade(hub, "/ws", "Origin: https://test\r\n", head, sizeof(head),
                   &fd), 101); /* same host as "Host: test" */
  close(fd);
  CHECK_EQ(stats_of(hub).origin_refused, 1);
  hub_free(hub);
  hub_options *o;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  CHECK(hub_options_add_origin(o, "https://app.example") == 0);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  CHECK_EQ(upgrade(hub, "/ws", "Origin: https://test\r\n", head, sizeof(head),
                   &fd), 403);
  close(fd);
  CHECK_EQ(upgrade(hub, "/ws", "Origin: https://app.example\r\n", head,
                   sizeof(head), &fd), 101);
  close(fd);
  hub_free(hub);
}

/* A TCP connection on loopback, its server end attached to the hub. */
static int tcp_client(hub_t *hub, int lfd) {
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  getsockname(lfd, (struct sockaddr *)&sa, &sl);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
    return -1;
  int sfd = accept(lfd, NULL, NULL);
  hub_client_id id;
  hub_attach_fd(hub, sfd, NULL, 0, NULL, &id);
  return fd;
}

void test_connection_caps(void) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1); /* attaches are handled in order */
  hub_options_set_max_connections(o, 3);
  hub_options_set_max_connections_per_ip(o, 2);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        listen(lfd, 16) == 0);
  char head[1024];
  int a = tcp_client(hub, lfd), b = tcp_client(hub, lfd);
  int c = tcp_client(hub, lfd); /* a third from 127.0.0.1: over per-IP */
  CHECK_EQ(wsc_upgrade(a, "/ws", NULL, head, sizeof(head)), 101);
  CHECK_EQ(wsc_upgrade(b, "/ws", NULL, head, sizeof(head)), 101);
  CHECK_EQ(wsc_read_head(c, head, sizeof(head), 2000), 503);
  CHECK(strstr(head, "Retry-After: 5\r\n"));
  close(c);
  /* A socketpair has no IP: only the total cap counts (3 with a and b). */
  hub_client_id id;
  int d = wsc_attach(hub, &id);
  CHECK_EQ(wsc_upgrade(d, "/ws", NULL, head, sizeof(head)), 101);
  int e = wsc_attach(hub, &id);
  CHECK_EQ(wsc_read_head(e, head, sizeof(head), 2000), 503);
  close(e);
  /* Room again once one leaves. */
  close(a);
  CHECK(WAIT_STAT(hub, clients, 2, 2000));
  a = tcp_client(hub, lfd);
  CHECK_EQ(wsc_upgrade(a, "/ws", NULL, head, sizeof(head)), 101);
  CHECK(WAIT_STAT(hub, capacity_refused, 2, 2000));
  close(a);
  close(b);
  close(d);
  close(lfd);
  hub_free(hub);
}

void test_client_limits(void) {
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_max_subscriptions(o, 3);
  hub_options_set_message_rate(o, 20, 10);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  char head[1024], buf[512];
  int fd;
  CHECK_EQ(upgrade(hub, "/ws", NULL, head, sizeof(head), &fd), 101);
  const char *subs[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    char req[64];
    snprintf(req, sizeof(req), "{\"op\":\"subscribe\",\"topic\":\"%s\"}",
             subs[i]);
    CHECK(wsc_send_text(fd, req));
    CHECK(wsc_recv_until(fd, i < 3 ? "subscribed" : "too-many-subscriptions",
                         buf, sizeof(buf), 2000));
  }
  CHECK(wsc_send_text(fd, "{\"op\":\"subscribe\",\"topic\":\"a b\"}"));
  CHECK(wsc_recv_until(fd, "bad-topic", buf, sizeof(buf), 2000));
  /* 5 messages so far of a burst of 10: 12 more overflow it, not yet by
   * twice (that closes). */
  for (int i = 0; i < 12; i++)
    CHECK(wsc_send_text(fd, "{\"op\":\"ping\"}"));
  CHECK(wsc_recv_until(fd, "rate-limited", buf, sizeof(buf), 2000));
  int64_t end = test_now_us() + 2000000; /* stats lag by one loop turn */
  while (!stats_of(hub).rate_limited && test_now_us() < end)
    test_sleep_ms(1);
  CHECK(stats_of(hub).rate_limited > 0);
  /* Twice the burst past the limit, in one write: closed with 1008. A
   * WebSocket ping in the same write gets no pong after the close. */
  static unsigned char flood[40 * 32 + 8];
  size_t fl = 0;
  for (int i = 0; i < 40; i++)
    fl += wsc_encode(flood + fl, true, 0, 0x1, "{\"op\":\"ping\"}", 13, true);
  fl += wsc_encode(flood + fl, true, 0, 0x9, "p", 1, true);
  wsc_write(fd, flood, fl);
  unsigned op;
  long n;
  do
    n = wsc_recv(fd, &op, buf, sizeof(buf), 2000);
  while (n >= 0 && op != 0x8);
  CHECK(n >= 2 && (((unsigned char)buf[0] << 8) | (unsigned char)buf[1]) ==
                      1008);
  /* Nothing after the close frame, however much was still in flight. */
  CHECK(wsc_recv(fd, &op, buf, sizeof(buf), 2000) < 0);
  close(fd);
  hub_free(hub);
}

void test_write_and_idle_timeouts(void) {
  struct closelog cl;
  closelog_init(&cl);
  hub_options *o;
  hub_t *hub = NULL;
  hub_options_new(&o);
  hub_options_set_shards(o, 1);
  hub_options_set_write_timeout(o, 200);
  hub_options_set_idle_timeout(o, 200);
  hub_options_set_ping_interval(o, 0);
  hub_options_set_close_callback(o, closelog_cb, &cl);
  CHECK(hub_new(&hub, o) == 0 && hub_start(hub) == 0);
  hub_options_free(o);
  struct memtp *stuck = memtp_attach(hub, NULL);
  memtp_set_accept(stuck, 0);
  CHECK(hub_subscribe(hub, stuck->id, "t") == 0);
  char head[1024];
  int fd;
  CHECK_EQ(upgrade(hub, "/ws", NULL, head, sizeof(head), &fd), 101);
  CHECK(WAIT_STAT(hub, subscriptions, 1, 2000));
  CHECK(hub_broadcast(hub, "t", "x", 1, 0) > 0);
  CHECK(WAIT_STAT(hub, clients_closed, 2, 4000));
  hub_close_info info;
  CHECK(closelog_find(&cl, stuck->id, &info));
  CHECK_EQ(info.code, HUB_CLOSE_POLICY);
  hub_stats_t s = stats_of(hub);
  CHECK_EQ(s.write_timeouts, 1);
  CHECK_EQ(s.idle_timeouts, 1);
  close(fd);
  hub_free(hub);
  memtp_free(stuck);
}
