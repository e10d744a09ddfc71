/* libuv_host: fanhub driven by a libuv loop (host-loop mode, no threads).
 *
 *   libuv_host [--listen 127.0.0.1:0] [--shards N] [--tick MS]
 *
 * One thread runs everything: a libuv loop with
 *   - one uv_poll per shard on hub_shard_fd() (an epoll fd; the shard's
 *     timers live in it too), calling hub_shard_run(hub, i, 0) when it is
 *     readable: level-triggered, so work left over fires again;
 *   - the host's TCP listener: each accepted uv_tcp_t gives its fd to the
 *     hub (hub_attach_fd wants to own a plain fd, libuv owns the handle's:
 *     dup it, close the handle);
 *   - the request callback, run from hub_shard_run() on this same thread:
 *     GET /ws and /sse stream (?topic=T), POST /publish?topic=T
 *     broadcasts the body and answers {"seq":N};
 *   - with --tick MS, a uv_timer broadcasting {"n":1}, {"n":2}, ... on
 *     topic "tick";
 *   - SIGINT/SIGTERM: hub_stop() (which, with no threads, runs the shards
 *     itself while it drains), then every handle is closed and the loop
 *     ends.
 * Any hub_* call is fine from libuv callbacks; other threads may call
 * hub_broadcast() too, it wakes the shard's fd. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fanhub.h>
#include <uv.h>

static hub_t *hub;
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_timer_t ticker;
static uv_signal_t sigs[2];
static uv_poll_t *polls;
static int nshards;
static int64_t ticks;

static void on_shard(uv_poll_t *p, int status, int events) {
  (void)events;
  int i = (int)(p - polls), rv = status < 0 ? 0 : hub_shard_run(hub, i, 0);
  if (status < 0 || rv < 0)
    fprintf(stderr, "libuv_host: shard %d: %s\n", i,
            status < 0 ? uv_strerror(status) : hub_strerror(rv));
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  char data[32];
  int n = snprintf(data, sizeof(data), "{\"n\":%lld}", (long long)++ticks);
  hub_broadcast(hub, "tick", data, (size_t)n, HUB_MSG_JSON);
}

static void free_handle(uv_handle_t *h) { free(h); }

/* Out of descriptors, libuv turns queued clients away itself: before it
 * would pass EMFILE or ENFILE (status < 0) here, it closes a spare
 * descriptor it keeps, accepts and closes every queued connection and
 * opens the spare again, so the listener stops being readable. A dup that
 * fails for want of a descriptor turns its client away the same way. */
static void on_connection(uv_stream_t *srv, int status) {
  uv_tcp_t *c = malloc(sizeof(*c));
  if (status < 0 || !c || uv_tcp_init(loop, c)) {
    free(c);
    return;
  }
  uv_os_fd_t fd;
  hub_client_id id;
  if (uv_accept(srv, (uv_stream_t *)c) == 0 &&
      uv_fileno((uv_handle_t *)c, &fd) == 0) {
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own >= 0 && hub_attach_fd(hub, own, NULL, 0, NULL, &id) == HUB_EINVAL)
      close(own); /* any other failure: the hub has closed it */
  }
  uv_close((uv_handle_t *)c, free_handle); /* closes libuv's copy */
}

static int is(const hub_request_info *r, const char *method, const char *path) {
  return r->method_len == strlen(method) && r->path_len == strlen(path) &&
         memcmp(r->method, method, r->method_len) == 0 &&
         memcmp(r->path, path, r->path_len) == 0;
}

/* On this thread, inside hub_shard_run(). */
static int route(hub_t *h, const hub_request_info *r, void *user_data) {
  (void)user_data;
  char topic[257], body[48];
  if (is(r, "GET", "/ws") || is(r, "GET", "/sse"))
    return HUB_ROUTE_STREAM;
  /* ?topic=T, decoded as fanhub decodes its own. */
  const char *q = r->query;
  size_t ql = r->query_len, tl = 0;
  char key[8];
  int rv;
  while ((rv = hub_query_next(&q, &ql, key, sizeof(key), NULL, topic,
                              sizeof(topic), &tl)) == 1 &&
         strcmp(key, "topic") != 0)
    ;
  if (!is(r, "POST", "/publish") || rv != 1 || tl == 0) {
    hub_respond(h, r, 404, NULL, "not found\n", 10);
    return HUB_ROUTE_DONE;
  }
  int64_t seq = hub_broadcast(h, topic, r->body, r->body_len, 0);
  int n = seq < 0 ? snprintf(body, sizeof(body), "%s\n", hub_strerror((int)seq))
                  : snprintf(body, sizeof(body), "{\"seq\":%lld}\n",
                             (long long)seq);
  hub_respond(h, r, seq < 0 ? 400 : 200, seq < 0 ? NULL : "application/json",
              body, (size_t)n);
  return HUB_ROUTE_DONE;
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  if (uv_is_closing((uv_handle_t *)&server))
    return; /* a second signal while stopping */
  fprintf(stderr, "libuv_host: signal %d, shutting down\n", signum);
  uv_close((uv_handle_t *)&server, NULL); /* no new clients */
  uv_close((uv_handle_t *)&ticker, NULL);
  /* With no threads, hub_stop() runs the shards itself until they are done:
   * it holds this loop for up to the drain time (1 s). */
  hub_stop(hub, 1000);
  for (int i = 0; i < nshards; i++)
    uv_close((uv_handle_t *)&polls[i], NULL);
  uv_close((uv_handle_t *)&sigs[0], NULL);
  uv_close((uv_handle_t *)&sigs[1], NULL);
}

int main(int argc, char **argv) {
  const char *spec = "127.0.0.1:0";
  unsigned shards = 2, tick_ms = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") == 0)
      spec = argv[i + 1];
    else if (strcmp(argv[i], "--shards") == 0)
      shards = (unsigned)atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--tick") == 0)
      tick_ms = (unsigned)atoi(argv[i + 1]);
  }
  signal(SIGPIPE, SIG_IGN);
  hub_options *o;
  int rv = hub_options_new(&o);
  if (rv == 0)
    rv = hub_options_set_threads(o, 0);
  if (rv == 0)
    rv = hub_options_set_shards(o, shards);
  if (rv == 0)
    rv = hub_options_set_request_callback(o, route, NULL);
  if (rv == 0)
    rv = hub_new(&hub, o);
  hub_options_free(o);
  if (rv || (rv = hub_start(hub))) { /* no threads: only marks it running */
    fprintf(stderr, "fanhub: %s\n", hub_strerror(rv));
    return 1;
  }

  loop = uv_default_loop();
  nshards = hub_shard_count(hub);
  polls = calloc((size_t)nshards, sizeof(*polls));
  for (int i = 0; i < nshards; i++) {
    uv_poll_init(loop, &polls[i], hub_shard_fd(hub, i));
    uv_poll_start(&polls[i], UV_READABLE, on_shard);
  }

  char host[64];
  const char *colon = strrchr(spec, ':');
  struct sockaddr_in sa;
  int namelen = sizeof(sa);
  snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - spec) : 0, spec);
  uv_tcp_init(loop, &server);
  if (!colon || (rv = uv_ip4_addr(host, atoi(colon + 1), &sa)) ||
      (rv = uv_tcp_bind(&server, (struct sockaddr *)&sa, 0)) ||
      (rv = uv_listen((uv_stream_t *)&server, 128, on_connection)) ||
      (rv = uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &namelen))) {
    fprintf(stderr, "libuv_host: cannot listen on %s: %s\n", spec,
            uv_strerror(rv));
    return 1;
  }
  printf("libuv_host listening on http://%s:%u/\n", host, ntohs(sa.sin_port));
  fflush(stdout);

  uv_timer_init(loop, &ticker);
  if (tick_ms)
    uv_timer_start(&ticker, on_tick, tick_ms, tick_ms);
  uv_signal_init(loop, &sigs[0]);
  uv_signal_start(&sigs[0], on_signal, SIGINT);
  uv_signal_init(loop, &sigs[1]);
  uv_signal_start(&sigs[1], on_signal, SIGTERM);

  uv_run(loop, UV_RUN_DEFAULT); /* until on_signal has closed every handle */
  uv_loop_close(loop);
  hub_free(hub); /* after the polls on its fds are gone */
  free(polls);
  return 0;
}
