/* fanhubd: a standalone fanout server built only on fanhub's public API.
 *
 * The main thread accepts connections and hands each socket to the hub
 * with hub_attach_fd(). The hub reads the request; route() below, called
 * on a shard thread, lets /ws and /sse become WebSocket and SSE clients
 * and answers /publish, /metrics and the demo page itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fanhub.h>

#include "../auth_jwt.h"

#ifdef FANHUBD_NATS
#include <fanhub_nats.h>
static hub_nats *nats;
#endif

extern const char fanhubd_page[];

#define BODY_MAX (1u << 20)

static const char usage[] =
    "usage: fanhubd [options]\n"
    "  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080;\n"
    "                           port 0 picks a free one, printed on stdout);\n"
    "                           sockets passed by systemd (LISTEN_FDS) replace\n"
    "                           it\n"
    "  --shards N               shard threads (default: online CPUs)\n"
    "  --publish-token T        POST /publish needs 'Authorization: Bearer T'\n"
    "  --allow-client-publish   WebSocket clients may {\"op\":\"publish\"}\n"
    "  --ping-interval MS       WebSocket ping period (default 30000, 0: off)\n"
    "  --sse-keepalive MS       SSE keepalive comment period (default 15000)\n"
    "  --tls-cert FILE          PEM certificate chain: serve HTTPS / wss://\n"
    "  --tls-key FILE           PEM private key for --tls-cert\n"
    "  --plain-listen HOST:PORT with --tls-cert, also serve plain HTTP here\n"
    "                           (a publish port for backends on the host)\n"
    "  --jwt-secret-file F      WebSocket/SSE clients need an HS256 JWT signed\n"
    "                           with the secret in F (32+ bytes; a trailing\n"
    "                           newline is dropped), sent as 'Authorization:\n"
    "                           Bearer T', ?token=T or subprotocol bearer.T;\n"
    "                           claims: sub, exp, nbf, sub_topics, pub_topics\n"
    "  --max-connections N      sockets at once (default 0: no limit); past it\n"
    "                           503 with Retry-After\n"
    "  --max-per-ip N           sockets from one IP (default 0: no limit)\n"
    "  --origin O               allow WebSocket pages from origin O (repeat;\n"
    "                           \"*\" for any); default: same host only\n"
    "  --handshake-timeout MS   time for a request to arrive, and for the\n"
    "                           next one on a kept-alive connection (default\n"
    "                           10000)\n"
    "  --history N              messages kept per topic for resume (default\n"
    "                           100; 0: none)\n"
    "  --presence PATTERN       topics matching it announce join/leave (repeat)\n"
    "  --drain MS               on SIGINT/SIGTERM, time to flush queues\n"
    "                           before closing (default 2000)\n"
#ifdef FANHUBD_NATS
    "  --nats URL               scale out: every broadcast goes through NATS\n"
    "                           and reaches the subscribers of every node\n"
    "                           (nats://host:port, comma-separated for more)\n"
    "  --jetstream STREAM       with --nats: through JetStream stream STREAM\n"
    "                           (created if missing); its sequence is the\n"
    "                           seq on every node, so clients resume anywhere\n"
    "  --nats-prefix P          subject prefix (default fanhub)\n"
    "  --nats-buffer N          broadcasts held while NATS is away (default\n"
    "                           65536; past it they are dropped and reported)\n"
#endif
    "  --config FILE            read options from FILE first: 'key = value'\n"
    "                           lines, keys the long options' names, '#'\n"
    "                           comment lines; the command line overrides it\n"
    "  --help                   this text\n"
    "\n"
    "endpoints:\n"
    "  GET  /                   demo page (WebSocket + SSE, publish form)\n"
    "  GET  /ws                 WebSocket; JSON control protocol, ?topic= to\n"
    "                           subscribe at once\n"
    "  GET  /sse?topic=a&topic=b  Server-Sent Events\n"
    "  POST /publish?topic=T    body = payload (up to 1 MiB); answers\n"
    "                           {\"seq\":N} (0 with --nats: NATS numbers it);\n"
    "                           Content-Type: application/json sends it as a\n"
    "                           JSON value\n"
    "  GET  /metrics            Prometheus text format\n"
    "connections answered with a page, /publish or /metrics stay open for\n"
    "more requests (HTTP/1.1 keep-alive; pipelined ones answered in order)\n";

static const char *publish_token;
static struct auth_jwt jwt;

#define ACCEPT_PAUSE_MS 100

/* accept4() failures that pause the listener, by errno: counted on the
 * main thread, read by /metrics on shard threads. */
static const struct {
  int err;
  const char *reason;
} accept_errs[] = {{EMFILE, "emfile"},
                   {ENFILE, "enfile"},
                   {ENOBUFS, "enobufs"},
                   {ENOMEM, "enomem"}};
#define N_ACCEPT_ERRS (sizeof(accept_errs) / sizeof(accept_errs[0]))
static _Atomic uint64_t accept_errors[N_ACCEPT_ERRS];

static bool is(const hub_request_info *r, const char *method,
               const char *path) {
  return r->method_len == strlen(method) &&
         memcmp(r->method, method, r->method_len) == 0 &&
         r->path_len == strlen(path) && memcmp(r->path, path, r->path_len) == 0;
}

/* The decoded value of query parameter `name` (the first one), or false
 * if it is absent, empty or does not fit. */
static bool query_param(const hub_request_info *r, const char *name,
                        char *out, size_t cap) {
  const char *q = r->query;
  size_t ql = r->query_len, vl;
  char key[32];
  while (hub_query_next(&q, &ql, key, sizeof(key), NULL, out, cap, &vl) == 1)
    if (strcmp(key, name) == 0)
      return vl > 0;
  return false;
}

static bool token_ok(const hub_request_info *r) {
  if (!publish_token)
    return true;
  size_t vl, tl = strlen(publish_token);
  const char *v = hub_request_header(r, "Authorization", &vl);
  if (!v || vl != 7 + tl || strncasecmp(v, "Bearer ", 7) != 0)
    return false;
  unsigned char diff = 0; /* constant time in the token's length */
  for (size_t i = 0; i < tl; i++)
    diff |= (unsigned char)(v[7 + i] ^ publish_token[i]);
  return diff == 0;
}

static void text(hub_t *hub, const hub_request_info *r, int status,
                 const char *msg) {
  hub_respond(hub, r, status, "text/plain", msg, strlen(msg));
}

/* How long hub_broadcast() took its caller on /publish (with --nats: the
 * copy into the relay's buffer), a Prometheus histogram: counted on shard
 * threads, read by /metrics. Bounds in seconds, 1-2-5 from 0.5 us. */
static const double bcast_le[] = {5e-7, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5,
                                  1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2,
                                  2e-2, 5e-2, 1e-1};
#define N_BCAST_LE (sizeof(bcast_le) / sizeof(bcast_le[0]))
static _Atomic uint64_t bcast_bucket[N_BCAST_LE + 1]; /* last: +Inf */
static _Atomic uint64_t bcast_sum_ns;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bcast_observe(uint64_t ns) {
  size_t i = 0;
  while (i < N_BCAST_LE && (double)ns > bcast_le[i] * 1e9)
    i++;
  atomic_fetch_add_explicit(&bcast_bucket[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&bcast_sum_ns, ns, memory_order_relaxed);
}

static size_t bcast_metrics_text(char *buf, size_t len) {
  size_t need = 0;
  uint64_t cum = 0;
  int k = snprintf(buf, len,
                   "# HELP fanhubd_broadcast_seconds Time hub_broadcast() "
                   "took on POST /publish.\n"
                   "# TYPE fanhubd_broadcast_seconds histogram\n");
  need += k > 0 ? (size_t)k : 0;
  for (size_t i = 0; i <= N_BCAST_LE; i++) {
    cum += atomic_load_explicit(&bcast_bucket[i], memory_order_relaxed);
    char le[16];
    if (i < N_BCAST_LE)
      snprintf(le, sizeof(le), "%g", bcast_le[i]);
    else
      snprintf(le, sizeof(le), "+Inf");
    k = snprintf(need < len ? buf + need : NULL, need < len ? len - need : 0,
                 "fanhubd_broadcast_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                 le, cum);
    need += k > 0 ? (size_t)k : 0;
  }
  k = snprintf(need < len ? buf + need : NULL, need < len ? len - need : 0,
               "fanhubd_broadcast_seconds_sum %.9f\n"
               "fanhubd_broadcast_seconds_count %" PRIu64 "\n",
               (double)atomic_load_explicit(&bcast_sum_ns,
                                            memory_order_relaxed) / 1e9,
               cum);
  need += k > 0 ? (size_t)k : 0;
  return need;
}

static void publish(hub_t *hub, const hub_request_info *r) {
  char topic[1024], body[64];
  size_t tl;
  if (!token_ok(r)) {
    text(hub, r, 401, "missing or wrong bearer token\n");
    return;
  }
  if (!query_param(r, "topic", topic, sizeof(topic))) {
    text(hub, r, 400, "need ?topic=\n");
    return;
  }
  const char *ct = hub_request_header(r, "Content-Type", &tl);
  unsigned flags =
      ct && tl >= 16 && strncasecmp(ct, "application/json", 16) == 0
          ? HUB_MSG_JSON
          : 0;
  uint64_t t0 = mono_ns();
  int64_t seq = hub_broadcast(hub, topic, r->body, r->body_len, flags);
  bcast_observe(mono_ns() - t0);
  if (seq < 0) {
    text(hub, r, 400, hub_strerror((int)seq));
    return;
  }
  int n = snprintf(body, sizeof(body), "{\"seq\":%lld}\n", (long long)seq);
  hub_respond(hub, r, 200, "application/json", body, (size_t)n);
}

/* fanhubd's own lines of /metrics, after the hub's; returns the length
 * they need, like snprintf. */
static size_t accept_metrics_text(char *buf, size_t len) {
  int k = snprintf(buf, len,
                   "# HELP fanhubd_accept_errors_total accept4() failures "
                   "that paused the listener for %d ms.\n"
                   "# TYPE fanhubd_accept_errors_total counter\n",
                   ACCEPT_PAUSE_MS);
  size_t need = k > 0 ? (size_t)k : 0;
  for (size_t i = 0; i < N_ACCEPT_ERRS; i++) {
    k = snprintf(need < len ? buf + need : NULL, need < len ? len - need : 0,
                 "fanhubd_accept_errors_total{reason=\"%s\"} %" PRIu64 "\n",
                 accept_errs[i].reason,
                 atomic_load_explicit(&accept_errors[i], memory_order_relaxed));
    if (k > 0)
      need += (size_t)k;
  }
  return need;
}

/* Every request on an accepted socket, on the socket's shard thread. */
static int route(hub_t *hub, const hub_request_info *r, void *user_data) {
  (void)user_data;
  if (is(r, "GET", "/ws") || is(r, "GET", "/sse"))
    return HUB_ROUTE_STREAM;
  if (is(r, "POST", "/publish")) {
    publish(hub, r);
  } else if (is(r, "GET", "/metrics")) {
    char buf[16384];
    size_t n = hub_metrics_text(hub, buf, sizeof(buf));
#ifdef FANHUBD_NATS
    if (nats && n < sizeof(buf))
      n += hub_nats_metrics_text(nats, buf + n, sizeof(buf) - n);
#endif
    if (n < sizeof(buf))
      n += accept_metrics_text(buf + n, sizeof(buf) - n);
    if (n < sizeof(buf))
      n += bcast_metrics_text(buf + n, sizeof(buf) - n);
    hub_respond(hub, r, 200, "text/plain; version=0.0.4", buf,
                n < sizeof(buf) ? n : sizeof(buf) - 1);
  } else if (is(r, "GET", "/")) {
    hub_respond(hub, r, 200, "text/html; charset=utf-8", fanhubd_page,
                strlen(fanhubd_page));
  } else {
    text(hub, r, 404, "not found\n");
  }
  return HUB_ROUTE_DONE;
}

/* Reads the JWT secret from `path` into jwt; false with a message if it
 * cannot. One trailing newline (LF or CRLF) is not part of the secret. */
static bool load_jwt_secret(const char *path) {
  unsigned char buf[AUTH_JWT_MAX_SECRET + 3];
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fanhubd: cannot read %s: %s\n", path, strerror(errno));
    return false;
  }
  size_t n = fread(buf, 1, sizeof(buf), f);
  bool err = ferror(f);
  fclose(f);
  if (n > 0 && buf[n - 1] == '\n')
    n--;
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  int rv = err ? AUTH_JWT_EINVAL : auth_jwt_init(&jwt, buf, n);
  memset(buf, 0, sizeof(buf));
  if (rv) {
    fprintf(stderr, "fanhubd: %s: the JWT secret must be %d..%d bytes\n",
            path, AUTH_JWT_MIN_SECRET, AUTH_JWT_MAX_SECRET);
    return false;
  }
  return true;
}

/* Hands every connection waiting on lfd to the hub. False when accept4()
 * ran out of descriptors or memory (counted): the connection is still
 * queued and the listener still readable. */
static bool accept_all(hub_t *hub, int lfd, const hub_client_options *copt) {
  int fd;
  hub_client_id id;
  while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
    hub_attach_fd(hub, fd, NULL, 0, copt, &id); /* the hub owns fd */
  for (size_t i = 0; i < N_ACCEPT_ERRS; i++)
    if (errno == accept_errs[i].err) {
      atomic_fetch_add_explicit(&accept_errors[i], 1, memory_order_relaxed);
      return false;
    }
  return true;
}

/* Clients that close lose their JWT grants. */
static void on_close(hub_t *hub, const hub_close_info *info, void *user_data) {
  (void)hub;
  auth_jwt_forget(user_data, info->id);
}

/* Parses a non-negative decimal option value. */
static bool number(const char *s, unsigned long max, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || *s == '-' || v > max)
    return false;
  *out = v;
  return true;
}

/* Prints where listener `fd` listens, on stdout: the line the tests and
 * scripts wait for. */
static void announce(int fd, bool tls) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  char addr[INET6_ADDRSTRLEN];
  const char *scheme = tls ? "https" : "http";
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
      ss.ss_family == AF_INET) {
    struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof(addr));
    printf("fanhubd listening on %s://%s:%u/\n", scheme, addr,
           ntohs(sa->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &sa->sin6_addr, addr, sizeof(addr));
    printf("fanhubd listening on %s://[%s]:%u/\n", scheme, addr,
           ntohs(sa->sin6_port));
  } else if (ss.ss_family == AF_UNIX) {
    struct sockaddr_un *su = (struct sockaddr_un *)&ss;
    printf("fanhubd listening on unix:%s (%s)\n",
           su->sun_path[0] ? su->sun_path : "@", scheme);
  } else {
    printf("fanhubd listening on fd %d (%s)\n", fd, scheme);
  }
  fflush(stdout);
}

/* As deep a listen queue as the kernel allows: net.core.somaxconn caps
 * it (4096 by default). A reconnect storm of tens of thousands of clients
 * then waits there while the accept loop catches up, instead of having
 * its SYNs past a fixed 4096 dropped and sent again 1 s, then 3 s, later
 * (make bench-storm, wave "stalled"). */
#define LISTEN_BACKLOG INT_MAX

static int listen_on(const char *spec) {
  char host[64];
  const char *colon = strrchr(spec, ':');
  if (!colon || (size_t)(colon - spec) >= sizeof(host))
    return -1;
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = '\0';
  unsigned long port;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  if (!number(colon + 1, 65535, &port) ||
      inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    errno = EINVAL;
    return -1;
  }
  sa.sin_port = htons((uint16_t)port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
      listen(fd, LISTEN_BACKLOG)) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

#define MAX_LISTENERS 16
#define SD_LISTEN_FDS_START 3

/* Socket activation (systemd's sd_listen_fds() protocol, without
 * libsystemd): when LISTEN_PID is this process, LISTEN_FDS listening
 * sockets were passed from fd 3 on, and fanhubd serves those instead of
 * binding --listen, so a restart does not close the listening socket
 * (connections wait in its backlog meanwhile). The variables are unset,
 * as sd_listen_fds(1) does. Returns how many sockets were passed (0:
 * none), or -1 with a message. */
static int activated(int *fds, int max) {
  const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
  unsigned long p, n;
  if (!pid || !nfds || !number(pid, ULONG_MAX, &p) ||
      p != (unsigned long)getpid())
    return 0;
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!number(nfds, (unsigned long)max, &n)) {
    fprintf(stderr, "fanhubd: LISTEN_FDS=%s: not 0..%d sockets\n", nfds, max);
    return -1;
  }
  for (int i = 0; i < (int)n; i++) {
    int fd = SD_LISTEN_FDS_START + i, type = 0, listening = 0, fl;
    socklen_t tl = sizeof(type), ll = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) ||
        type != SOCK_STREAM || !listening) {
      fprintf(stderr, "fanhubd: LISTEN_FDS: fd %d is not a listening "
                      "stream socket\n", fd);
      return -1;
    }
    /* Non-blocking: accept_all() takes connections until none is left. */
    if ((fl = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
      fprintf(stderr, "fanhubd: LISTEN_FDS: fd %d: %s\n", fd,
              strerror(errno));
      return -1;
    }
    fds[i] = fd;
  }
  return (int)n;
}

/* The options, in --help's order; a configuration file's keys are their
 * names. */
static const struct option longopts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"shards", required_argument, NULL, 's'},
    {"publish-token", required_argument, NULL, 't'},
    {"allow-client-publish", no_argument, NULL, 'p'},
    {"ping-interval", required_argument, NULL, 'i'},
    {"sse-keepalive", required_argument, NULL, 'k'},
    {"tls-cert", required_argument, NULL, 'c'},
    {"tls-key", required_argument, NULL, 'K'},
    {"plain-listen", required_argument, NULL, 'L'},
    {"jwt-secret-file", required_argument, NULL, 'j'},
    {"max-connections", required_argument, NULL, 'm'},
    {"max-per-ip", required_argument, NULL, 'M'},
    {"origin", required_argument, NULL, 'o'},
    {"handshake-timeout", required_argument, NULL, 'H'},
    {"history", required_argument, NULL, 'y'},
    {"presence", required_argument, NULL, 'P'},
    {"drain", required_argument, NULL, 'd'},
#ifdef FANHUBD_NATS
    {"nats", required_argument, NULL, 'N'},
    {"jetstream", required_argument, NULL, 'J'},
    {"nats-prefix", required_argument, NULL, 'X'},
    {"nats-buffer", required_argument, NULL, 'B'},
#endif
    {"config", required_argument, NULL, 'C'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* What the options set besides the hub's options. */
static struct {
  hub_options *o;
#ifdef FANHUBD_NATS
  hub_nats_options *no;
  const char *nats_url;
#endif
  const char *listen_spec, *plain_spec, *cert, *key, *jwt_file;
  unsigned long drain_ms;
} cfg = {.listen_spec = "127.0.0.1:8080", .drain_ms = 2000};

/* Applies option `opt` (its val in longopts) with its value `arg` (NULL
 * for a flag given without one); false if the value is bad. */
static bool apply(int opt, const char *arg) {
  hub_options *o = cfg.o;
  unsigned long v = 0;
  switch (opt) {
  case 'l':
    cfg.listen_spec = arg;
    return true;
  case 's':
    return number(arg, 64, &v) && hub_options_set_shards(o, (unsigned)v) == 0;
  case 't':
    publish_token = arg;
    return true;
  case 'p': /* a flag; in a configuration file also "= yes" or "= no" */
    if (!arg || !strcmp(arg, "yes") || !strcmp(arg, "true") ||
        !strcmp(arg, "on") || !strcmp(arg, "1"))
      return hub_options_set_client_publish(o, 1) == 0;
    if (!strcmp(arg, "no") || !strcmp(arg, "false") || !strcmp(arg, "off") ||
        !strcmp(arg, "0"))
      return hub_options_set_client_publish(o, 0) == 0;
    return false;
  case 'i':
    return number(arg, UINT32_MAX, &v) &&
           hub_options_set_ping_interval(o, (uint32_t)v) == 0;
  case 'k':
    return number(arg, UINT32_MAX, &v) &&
           hub_options_set_sse_keepalive(o, (uint32_t)v) == 0;
  case 'd':
    return number(arg, 3600000, &cfg.drain_ms);
  case 'c':
    cfg.cert = arg;
    return true;
  case 'K':
    cfg.key = arg;
    return true;
  case 'L':
    cfg.plain_spec = arg;
    return true;
  case 'j':
    cfg.jwt_file = arg;
    return true;
  case 'm':
    return number(arg, UINT32_MAX, &v) &&
           hub_options_set_max_connections(o, (uint32_t)v) == 0;
  case 'M':
    return number(arg, UINT32_MAX, &v) &&
           hub_options_set_max_connections_per_ip(o, (uint32_t)v) == 0;
  case 'o':
    return hub_options_add_origin(o, arg) == 0;
  case 'H':
    return number(arg, UINT32_MAX, &v) &&
           hub_options_set_handshake_timeout(o, (uint32_t)v) == 0;
  case 'y':
    return number(arg, 1000000, &v) &&
           hub_options_set_history(o, NULL, (uint32_t)v, 1u << 20, 300000) ==
               0;
  case 'P':
    return hub_options_set_presence(o, arg) == 0;
#ifdef FANHUBD_NATS
  case 'N':
    cfg.nats_url = arg;
    return hub_nats_options_set_url(cfg.no, arg) == 0;
  case 'J':
    return hub_nats_options_set_jetstream(cfg.no, arg) == 0;
  case 'X':
    return hub_nats_options_set_subject_prefix(cfg.no, arg) == 0;
  case 'B':
    return number(arg, UINT32_MAX, &v) &&
           hub_nats_options_set_buffer(cfg.no, v, (size_t)64 << 20) == 0;
#endif
  default:
    return false;
  }
}

/* The values read from the configuration file, kept as long as fanhubd
 * runs (the options point into them). */
struct kept {
  struct kept *next;
  char s[];
};
static struct kept *kept;

static const char *keep(const char *s) {
  size_t n = strlen(s) + 1;
  struct kept *k = malloc(sizeof(*k) + n);
  if (!k)
    return NULL;
  memcpy(k->s, s, n);
  k->next = kept;
  kept = k;
  return k->s;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
               s[n - 1] == '\r'))
    s[--n] = '\0';
  return s;
}

/* Reads configuration file `path`: "key = value" lines whose keys are
 * the long options' names, a repeatable option on as many lines as it
 * takes values; a flag without a value (allow-client-publish) stands
 * alone or takes yes or no. Blank lines and lines whose first non-blank
 * character is '#' are skipped. An option the command line gives is not
 * read from the file (all the lines of a repeatable one): the command
 * line overrides it. False, with FILE:LINE and the reason on stderr, on
 * the first bad line. */
static bool read_config(const char *path, const bool *on_cmdline) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "fanhubd: cannot read %s: %s\n", path, strerror(errno));
    return false;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  unsigned lineno = 0;
  bool ok = true;
  while (ok && (n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (strlen(line) != (size_t)n) {
      fprintf(stderr, "fanhubd: %s:%u: a NUL byte\n", path, lineno);
      ok = false;
      break;
    }
    char *p = trim(line), *val = NULL, *eq = strchr(p, '=');
    if (*p == '\0' || *p == '#')
      continue;
    if (eq) {
      *eq = '\0';
      val = trim(eq + 1);
    }
    const char *key = trim(p);
    const struct option *lo = longopts;
    while (lo->name && strcmp(lo->name, key) != 0)
      lo++;
    if (!lo->name || lo->val == 'C' || lo->val == 'h') {
      fprintf(stderr, "fanhubd: %s:%u: unknown key '%s'\n", path, lineno,
              key);
      ok = false;
    } else if (lo->has_arg == required_argument && (!val || !*val)) {
      fprintf(stderr, "fanhubd: %s:%u: '%s' needs a value ('%s = ...')\n",
              path, lineno, key, key);
      ok = false;
    } else if (!on_cmdline[lo->val]) {
      const char *arg = val && *val ? keep(val) : NULL;
      if ((val && *val && !arg) || !apply(lo->val, arg)) {
        fprintf(stderr, "fanhubd: %s:%u: bad value for %s: %s\n", path,
                lineno, key, val ? val : "");
        ok = false;
      }
    }
  }
  if (ok && ferror(f)) {
    fprintf(stderr, "fanhubd: cannot read %s: %s\n", path, strerror(errno));
    ok = false;
  }
  free(line);
  fclose(f);
  return ok;
}

/* Turns every listener's events on (EPOLLIN) or off (0). */
static void watch_listeners(int epfd, const int *lfds, int n, uint32_t events) {
  for (int i = 0; i < n; i++) {
    struct epoll_event ev = {.events = events, .data.fd = lfds[i]};
    epoll_ctl(epfd, EPOLL_CTL_MOD, lfds[i], &ev);
  }
}

int main(int argc, char **argv) {
  int opt, idx;
  if (hub_options_new(&cfg.o))
    return 1;
#ifdef FANHUBD_NATS
  if (hub_nats_options_new(&cfg.no))
    return 1;
#endif
  hub_options_set_request_callback(cfg.o, route, NULL);
  hub_options_set_max_request_body(cfg.o, BODY_MAX);
  /* First the options the command line gives, and --config: the file's
   * values come first and the command line's override them. */
  bool on_cmdline[256] = {false};
  const char *config = NULL;
  while ((opt = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
    if (opt == 'h') {
      fputs(usage, stdout);
      return 0;
    }
    if (opt < 0 || opt > 255 || opt == '?' || opt == ':') {
      fputs(usage, stderr);
      return 2;
    }
    if (opt == 'C')
      config = optarg;
    on_cmdline[opt] = true;
  }
  if (optind < argc) {
    fprintf(stderr, "fanhubd: unexpected argument '%s'\n", argv[optind]);
    fputs(usage, stderr);
    return 2;
  }
  if (config && !read_config(config, on_cmdline))
    return 2;
  optind = 0; /* glibc: start over */
  while ((opt = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
    if (opt != 'C' && !apply(opt, optarg)) {
      fprintf(stderr, "fanhubd: bad value for --%s: %s\n", longopts[idx].name,
              optarg ? optarg : "");
      return 2;
    }
  }
  hub_options *o = cfg.o;
  if (!cfg.cert != !cfg.key) {
    fputs("fanhubd: --tls-cert and --tls-key go together\n", stderr);
    return 2;
  }
  if (cfg.plain_spec && !cfg.cert) {
    fputs("fanhubd: --plain-listen needs --tls-cert\n", stderr);
    return 2;
  }
  /* The listening sockets, before any thread starts: passed by a socket
   * activator (LISTEN_FDS), or --listen's. */
  int lfds[MAX_LISTENERS], nl = activated(lfds, MAX_LISTENERS);
  if (nl < 0)
    return 1;
  if (nl == 0) {
    if ((lfds[0] = listen_on(cfg.listen_spec)) < 0) {
      fprintf(stderr, "fanhubd: cannot listen on %s: %s\n", cfg.listen_spec,
              strerror(errno));
      return 1;
    }
    nl = 1;
  }
  /* --plain-listen: one listener more, whose clients speak no TLS. */
  int plain_fd = -1;
  if (cfg.plain_spec) {
    if ((plain_fd = listen_on(cfg.plain_spec)) < 0) {
      fprintf(stderr, "fanhubd: cannot listen on %s: %s\n", cfg.plain_spec,
              strerror(errno));
      return 1;
    }
    if (nl == MAX_LISTENERS) {
      fprintf(stderr, "fanhubd: more than %d listeners\n", MAX_LISTENERS);
      return 1;
    }
    lfds[nl++] = plain_fd;
  }
  if (cfg.jwt_file) {
    if (!load_jwt_secret(cfg.jwt_file))
      return 1;
    hub_options_set_close_callback(o, on_close, &jwt);
    hub_options_set_auth_callback(o, auth_jwt_callback, &jwt);
  }
  hub_client_options *copt = NULL;
  if (cfg.cert) {
    int rv = hub_options_set_tls_files(o, cfg.cert, cfg.key);
    if (rv) {
      fprintf(stderr, "fanhubd: cannot read %s / %s: %s\n", cfg.cert, cfg.key,
              rv == HUB_ESYS ? strerror(errno) : hub_strerror(rv));
      return 1;
    }
    if (hub_client_options_new(&copt) || hub_client_options_set_tls(copt, 1))
      return 1;
  }
  hub_t *hub = NULL;
  int rv = hub_new(&hub, o);
  hub_options_free(o);
#ifdef FANHUBD_NATS
  if (rv == 0 && cfg.nats_url &&
      (rv = hub_nats_attach(hub, cfg.no, &nats)) != 0)
    fprintf(stderr, "fanhubd: cannot use NATS at %s: %s\n", cfg.nats_url,
            hub_strerror(rv));
  hub_nats_options_free(cfg.no);
#endif
  if (rv || (rv = hub_start(hub))) {
    fprintf(stderr, "fanhubd: %s\n", hub_strerror(rv));
    hub_free(hub);
    return 1;
  }
#ifdef FANHUBD_NATS
  if (nats && (rv = hub_nats_start(nats)) != 0) {
    fprintf(stderr, "fanhubd: NATS: %s\n", hub_strerror(rv));
    hub_nats_free(nats, 0);
    hub_stop(hub, 0);
    hub_free(hub);
    return 1;
  }
#endif
  /* SIGINT/SIGTERM arrive on a signalfd in the accept loop; the hub's own
   * threads block every signal. */
  signal(SIGPIPE, SIG_IGN);
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGINT);
  sigaddset(&ss, SIGTERM);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  int sigfd = signalfd(-1, &ss, SFD_CLOEXEC);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (sigfd < 0 || epfd < 0) {
    fprintf(stderr, "fanhubd: %s\n", strerror(errno));
    hub_free(hub);
    return 1;
  }
  struct epoll_event sev = {.events = EPOLLIN, .data.fd = sigfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &sev);
  for (int i = 0; i < nl; i++) {
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfds[i]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfds[i], &lev);
    announce(lfds[i], copt != NULL && lfds[i] != plain_fd);
  }

  /* Out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS,
   * ENOMEM), accept4() leaves the connection queued and the listener
   * readable: straight back in epoll_wait() the loop would spin until a
   * client leaves. The listeners sit out ACCEPT_PAUSE_MS instead (a MOD to
   * no events, which allocates nothing, unlike a DEL and ADD), and queued
   * clients are served once descriptors come free. Not the spare-fd trick
   * (close a reserved fd, accept, close the connection, reopen): another
   * thread (libnats's) may take the freed descriptor first, it does
   * nothing for ENOBUFS and ENOMEM, and it turns away clients that could
   * be served a moment later; --max-connections under the descriptor
   * limit answers those with 503 and Retry-After instead. */
  bool paused = false;
  for (bool running = true; running;) {
    struct epoll_event evs[MAX_LISTENERS + 1];
    int n = epoll_wait(epfd, evs, MAX_LISTENERS + 1,
                       paused ? ACCEPT_PAUSE_MS : -1);
    if (n == 0) { /* only the signalfd was watched: the pause is over */
      paused = false;
      watch_listeners(epfd, lfds, nl, EPOLLIN);
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == sigfd) {
        running = false;
      } else if (!paused &&
                 !accept_all(hub, evs[i].data.fd,
                             evs[i].data.fd == plain_fd ? NULL : copt)) {
        paused = true;
        watch_listeners(epfd, lfds, nl, 0);
      }
    }
  }
  fprintf(stderr, "fanhubd: shutting down\n");
  for (int i = 0; i < nl; i++)
    close(lfds[i]);
  hub_stop(hub, (int)cfg.drain_ms);
#ifdef FANHUBD_NATS
  hub_nats_free(nats, (int)cfg.drain_ms); /* hub_broadcast() no longer relays */
#endif
  hub_free(hub);
  hub_client_options_free(copt);
  if (cfg.jwt_file)
    auth_jwt_free(&jwt);
  while (kept) {
    struct kept *k = kept;
    kept = k->next;
    free(k);
  }
  return 0;
}
