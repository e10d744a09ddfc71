/* loadgen: one process, one thread, one epoll loop holding many WebSocket
 * or SSE subscribers of a fanout server, plus one HTTP publisher.
 *
 * It connects N subscribers (and K that never read: the isolation case),
 * proves every healthy one is subscribed by publishing probes until each
 * has seen one, then runs phases: publish messages over HTTP POST with at
 * most W in flight (a message is in flight until every healthy subscriber
 * has it), each payload carrying its sequence number and its send time.
 * Per phase it prints one JSON line: deliveries/s, broadcast-to-receive
 * latency percentiles and CDF, lost and duplicated messages, and what the
 * server process(es) spent: write syscalls, CPU, RSS.
 *
 * Everything is bounded: connect, probe, every phase and its drain have a
 * deadline. Exit status: 0 all delivered once, 1 losses or duplicates,
 * 2 setup failure or a deadline hit. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#define RBUF (256 * 1024)
#define CARRY_MAX (64 * 1024)
#define MAX_PHASES 64
#define MAX_PIDS 16

enum kind { K_WS, K_SSE };
enum cstate { C_CONNECTING, C_TLS, C_HEAD, C_STREAM, C_DEAD, C_BACKOFF };
/* Chunked transfer decoding states (nginx chunks its SSE responses). */
enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF };

struct conn {
  int fd;
  uint8_t state, stalled, chunked, ck;
  uint32_t ck_left;
  uint32_t carry_len, carry_cap;
  char *carry;
  uint64_t base; /* lowest sequence number this subscriber still lacks */
  uint64_t bits; /* bit k: got base + k (messages may arrive out of order
                    when several publisher connections are in flight) */
  bool probed;
  uint32_t nrecv; /* messages of this phase received, in arrival order */
  /* --tls: the connection's context (the configuration is shared), what
   * the read-ahead holds for it past one event, and where its incoming
   * byte stream is in the record it is in (to count records). */
  mbedtls_ssl_context *ssl;
  unsigned char *spill;
  uint32_t spill_off, spill_len;
  uint16_t rec_left;
  uint8_t rec_have;
  unsigned char rec_hdr[5];
  /* storm accounting (--retry): this wave's start for this client (its
   * first connect() call, or the moment it saw the server go), its last
   * connect() call, when that was seen established, its response head,
   * its retry time */
  uint16_t attempts;
  uint64_t wave_t0, t_try, t_est, t_head, next_try;
};

struct phase {
  unsigned size, window, msgs;
  double secs;
  int stalled; /* never-readers connected during it: 1, 0, -1 = all phases */
  bool warmup;  /* brings the server to a steady state; marked, not a result */
};

/* ---- options ---- */
static const char *host = "127.0.0.1";
static int port, pub_port; /* pub_port 0: port */
static enum kind kind = K_WS;
static const char *sub_path = "/ws?topic=bench";
static const char *pub_path = "/publish?topic=bench";
static const char *ws_protocol;
static const char *metrics_path;
static const char *label = "";
static unsigned nsubs = 100, nstalled;
static pid_t pids[MAX_PIDS];
static int npids;
static struct phase phases[MAX_PHASES];
static int nphases;
static double connect_timeout = 60, drain_timeout = 10, probe_timeout = 30;
static bool use_tls; /* --tls: subscribers speak TLS 1.2 (wss://, HTTPS) */
/* Subscribers' source addresses: 127.0.0.1 .. 127.0.0.N, round robin. One
 * source address to one server port makes the kernel's connect() search
 * the ephemeral ports for a free 4-tuple, and at 10k+ connections that
 * search, not the server, sets the connection rate. */
static unsigned source_addrs = 1;
/* --retry MIN:MAX (ms): failed subscribers retry after MIN, doubling up
 * to MAX, each delay drawn from [d/2, d) (jitter); every failure is
 * counted and one JSON line per storm reports the storm. 0: no retries,
 * the first failure is fatal (the matrix). */
static unsigned retry_min_ms, retry_max_ms;
static bool restart_mode;        /* --restart: a second storm, see below */
static const char *pids_file;    /* the restarted server's processes */
static double restart_timeout = 60;
static unsigned stall_ms;        /* --stall: a third storm, see below */
/* connect() calls in a row before what is ready is handled */
static unsigned storm_batch = 64;

/* ---- state ---- */
static int epfd;
static struct conn *subs;
static unsigned nconns;      /* nsubs + nstalled */
static bool stalled_open;    /* the never-readers are connected */
static unsigned connected;   /* got their response head */
static unsigned connecting;  /* in C_CONNECTING / C_HEAD */
static unsigned next_to_open;
static unsigned probed_count;
static unsigned dead_count;
static char *rbuf;
static struct sockaddr_in addr, pub_addr; /* subscribers', publishers' */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "loadgen: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(2);
}

/* ---- latency histogram: log-linear, 1/64 relative precision ---- */
#define HBUCKETS (128 + 57 * 64)
struct hist {
  uint64_t b[HBUCKETS];
  uint64_t n, max;
};
static struct hist lat;   /* publish to receive, per delivery */
static struct hist ack;   /* publish to HTTP answer, per publish */

static unsigned hidx(uint64_t v) {
  if (v < 128)
    return (unsigned)v;
  int e = 63 - __builtin_clzll(v);
  unsigned m = (unsigned)(v >> (e - 6)); /* 64..127 */
  return 128 + (unsigned)(e - 7) * 64 + (m - 64);
}

static double hval(unsigned i) {
  if (i < 128)
    return i;
  unsigned e = (i - 128) / 64 + 7, m = (i - 128) % 64 + 64;
  double lo = (double)((uint64_t)m << (e - 6));
  return lo + (double)(1ull << (e - 6)) / 2;
}

static void hadd(struct hist *h, uint64_t v) {
  h->b[hidx(v)]++;
  h->n++;
  if (v > h->max)
    h->max = v;
}

/* The value at quantile q (0..1), in ns. */
static double hq(const struct hist *h, double q) {
  if (!h->n)
    return 0;
  if (q >= 1)
    return (double)h->max;
  uint64_t rank = (uint64_t)(q * (double)h->n), seen = 0;
  for (unsigned i = 0; i < HBUCKETS; i++) {
    seen += h->b[i];
    if (seen > rank) {
      double v = hval(i);
      return v > (double)h->max ? (double)h->max : v;
    }
  }
  return (double)h->max;
}

/* ---- server process accounting from /proc and perf ---- */
struct proc_snap {
  double cpu_s;
  uint64_t syscw;
  uint64_t rss_kb;
  uint64_t sends; /* write/writev/sendmsg/sendto syscalls, via perf */
  uint64_t minflt; /* minor page faults: fresh heap pages touched */
};

static bool read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0)
    return false;
  buf[n] = '\0';
  return true;
}

static uint64_t field_u64(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static uint64_t rss_kb(void) {
  char buf[4096], path[64];
  uint64_t sum = 0;
  for (int i = 0; i < npids; i++) {
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pids[i]);
    if (read_file(path, buf, sizeof(buf)))
      sum += field_u64(buf, "VmRSS:");
  }
  return sum;
}

/* perf tracepoint counters, one per (thread, syscall). */
#define MAX_PERF 512
static int perf_fds[MAX_PERF];
static int nperf;
static bool perf_ok;

static const char *const send_calls[] = {"write", "writev", "sendmsg",
                                         "sendto", "sendmmsg"};

static int tracepoint_id(const char *name) {
  char path[160], buf[32];
  const char *roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
  for (int r = 0; r < 2; r++) {
    snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_%s/id",
             roots[r], name);
    if (read_file(path, buf, sizeof(buf)))
      return atoi(buf);
  }
  return -1;
}

static void perf_open(void) {
  int ids[5], found = 0;
  for (int k = 0; k < 5; k++)
    found += (ids[k] = tracepoint_id(send_calls[k])) >= 0;
  /* No tracepoint (tracefs not mounted): no figure rather than a zero. */
  perf_ok = npids > 0 && found > 0;
  if (npids && !found)
    errno = ENOENT;
  for (int i = 0; i < npids && perf_ok; i++) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pids[i]);
    DIR *d = opendir(path);
    if (!d) {
      perf_ok = false;
      break;
    }
    struct dirent *de;
    while ((de = readdir(d)) && perf_ok) {
      if (de->d_name[0] == '.')
        continue;
      pid_t tid = atoi(de->d_name);
      for (int k = 0; k < 5; k++) {
        if (ids[k] < 0)
          continue;
        struct perf_event_attr a = {0};
        a.type = PERF_TYPE_TRACEPOINT;
        a.size = sizeof(a);
        a.config = (uint64_t)ids[k];
        a.sample_period = 0;
        int fd = nperf < MAX_PERF
                     ? (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
                                    PERF_FLAG_FD_CLOEXEC)
                     : -1;
        if (fd < 0) {
          perf_ok = false;
          break;
        }
        perf_fds[nperf++] = fd;
      }
    }
    closedir(d);
  }
  if (!perf_ok) {
    for (int i = 0; i < nperf; i++)
      close(perf_fds[i]);
    nperf = 0;
    if (npids)
      fprintf(stderr, "loadgen: perf syscall counters unavailable (%s); "
                      "only /proc syscw\n", strerror(errno));
  }
}

static void snap(struct proc_snap *s) {
  char buf[4096], path[64];
  long tck = sysconf(_SC_CLK_TCK);
  memset(s, 0, sizeof(*s));
  for (int i = 0; i < npids; i++) {
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
    if (read_file(path, buf, sizeof(buf))) {
      /* Fields after the ")" that ends comm: state is 3rd, minflt 10th,
       * utime 14th. */
      char *p = strrchr(buf, ')');
      unsigned long ut = 0, st = 0, mf = 0;
      if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %*u %*u %*u "
                             "%lu %lu", &mf, &ut, &st) == 3) {
        s->cpu_s += (double)(ut + st) / (double)tck;
        s->minflt += mf;
      }
    }
    snprintf(path, sizeof(path), "/proc/%d/io", (int)pids[i]);
    if (read_file(path, buf, sizeof(buf)))
      s->syscw += field_u64(buf, "syscw:");
  }
  s->rss_kb = rss_kb();
  for (int i = 0; i < nperf; i++) {
    uint64_t v = 0;
    if (read(perf_fds[i], &v, sizeof(v)) == sizeof(v))
      s->sends += v;
  }
}

/* ---- sockets ---- */
/* src: 0 lets the kernel pick the source address, k binds 127.0.0.k
 * (its port still picked at connect(): IP_BIND_ADDRESS_NO_PORT). */
static int open_socket(bool small_rcvbuf, const struct sockaddr_in *to,
                       unsigned src) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (src) {
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(0x7f000000u | src);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
      close(fd);
      return -1;
    }
  }
  if (small_rcvbuf) {
    /* A never-reading client: small window and a small MSS, so the
     * server's kernel buffers (autotuned from the MSS; 64 KiB segments on
     * loopback) hold little and the server's own queue takes the rest. */
    int sz = 4096, mss = 536;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
      errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* Close without TIME_WAIT: back-to-back runs would run out of ports. */
static void hard_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

static void ep(int op, int fd, uint32_t events, uint64_t tag) {
  struct epoll_event ev = {.events = events, .data.u64 = tag};
  if (epoll_ctl(epfd, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL)
    die("epoll_ctl: %s", strerror(errno));
}

#define PUB_TAG (1ull << 40)

/* ---- TLS client (--tls) ----
 * One mbedtls_ssl_config for every connection (TLS 1.2 only,
 * ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 only, P-256 only, no session
 * tickets, no certificate verification: the bench's self-signed
 * certificate), one random generator, and per connection only an
 * mbedtls_ssl_context. Every connection does a full handshake. */
static mbedtls_ssl_config tls_conf;
static mbedtls_entropy_context tls_entropy;
static mbedtls_ctr_drbg_context tls_drbg;
static const int tls_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};
static const mbedtls_ecp_group_id tls_curves[] = {MBEDTLS_ECP_DP_SECP256R1,
                                                  MBEDTLS_ECP_DP_NONE};
/* Application-data records received (and their bytes, header excluded),
 * counted in the byte stream itself, header by header. */
static uint64_t tls_records, tls_record_bytes;

/* Read-ahead: mbedTLS asks the socket for a record header, then for its
 * body (two recv() calls a record); one recv() of up to RA_SIZE serves
 * them instead. Bytes left over when a connection's event ends move into
 * that connection (spill) and it is read again before the next wait. */
#define RA_SIZE (256 * 1024)
static unsigned char *ra;
static size_t ra_off, ra_len;
static struct conn *ra_owner;
static unsigned *pending; /* connections with spilled bytes */
static unsigned npending;

static void tls_init(void) {
  mbedtls_ssl_config_init(&tls_conf);
  mbedtls_entropy_init(&tls_entropy);
  mbedtls_ctr_drbg_init(&tls_drbg);
  if (mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func, &tls_entropy,
                            (const unsigned char *)"loadgen", 7) ||
      mbedtls_ssl_config_defaults(&tls_conf, MBEDTLS_SSL_IS_CLIENT,
                                  MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT))
    die("%s", "mbedTLS setup failed");
  mbedtls_ssl_conf_rng(&tls_conf, mbedtls_ctr_drbg_random, &tls_drbg);
  mbedtls_ssl_conf_authmode(&tls_conf, MBEDTLS_SSL_VERIFY_NONE);
  mbedtls_ssl_conf_ciphersuites(&tls_conf, tls_suites);
  mbedtls_ssl_conf_curves(&tls_conf, tls_curves);
  mbedtls_ssl_conf_min_version(&tls_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&tls_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_session_tickets(&tls_conf,
                                   MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  mbedtls_ssl_conf_renegotiation(&tls_conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  ra = malloc(RA_SIZE);
  if (!ra)
    die("%s", "out of memory");
}

static void count_records(struct conn *c, const unsigned char *p, size_t n) {
  while (n) {
    if (c->rec_left) {
      size_t k = n < c->rec_left ? n : c->rec_left;
      c->rec_left = (uint16_t)(c->rec_left - k);
      p += k;
      n -= k;
      continue;
    }
    c->rec_hdr[c->rec_have++] = *p++;
    n--;
    if (c->rec_have == 5) {
      c->rec_have = 0;
      c->rec_left = (uint16_t)(c->rec_hdr[3] << 8 | c->rec_hdr[4]);
      if (c->rec_hdr[0] == 23) {
        tls_records++;
        tls_record_bytes += c->rec_left;
      }
    }
  }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  struct conn *c = ctx;
  size_t k;
  if (c->spill_len) {
    k = len < c->spill_len ? len : c->spill_len;
    memcpy(buf, c->spill + c->spill_off, k);
    c->spill_off += (uint32_t)k;
    c->spill_len -= (uint32_t)k;
    if (!c->spill_len) {
      free(c->spill);
      c->spill = NULL;
      c->spill_off = 0;
    }
  } else {
    if (ra_owner != c || ra_off == ra_len) {
      ssize_t n = recv(c->fd, ra, RA_SIZE, 0);
      if (n < 0)
        return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ
                                                 : MBEDTLS_ERR_NET_RECV_FAILED;
      if (n == 0)
        return 0;
      ra_owner = c;
      ra_off = 0;
      ra_len = (size_t)n;
    }
    k = len < ra_len - ra_off ? len : ra_len - ra_off;
    memcpy(buf, ra + ra_off, k);
    ra_off += k;
  }
  count_records(c, buf, k);
  return (int)k;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  struct conn *c = ctx;
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return (int)n;
  return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE
                                           : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* What the read-ahead still holds for c moves into c. */
static void tls_spill(unsigned i, struct conn *c) {
  if (ra_owner != c)
    return;
  ra_owner = NULL;
  if (ra_off == ra_len || c->state == C_DEAD || c->state == C_BACKOFF)
    return;
  size_t k = ra_len - ra_off;
  unsigned char *s = malloc(k + c->spill_len);
  if (!s)
    die("%s", "out of memory");
  memcpy(s, c->spill ? c->spill + c->spill_off : s, c->spill_len);
  memcpy(s + c->spill_len, ra + ra_off, k);
  free(c->spill);
  c->spill = s;
  c->spill_off = 0;
  c->spill_len += (uint32_t)k;
  pending[npending++] = i;
}

/* Like write(2) on the subscriber's connection (plain or TLS). */
static ssize_t conn_write(struct conn *c, const void *buf, size_t len) {
  if (!c->ssl)
    return write(c->fd, buf, len);
  int r = mbedtls_ssl_write(c->ssl, buf, len);
  if (r >= 0)
    return r;
  errno = r == MBEDTLS_ERR_SSL_WANT_WRITE ? EAGAIN : EIO;
  return -1;
}

/* Like read(2): > 0, 0 at the end, -1 with errno (EAGAIN: nothing yet). */
static ssize_t conn_read(struct conn *c, void *buf, size_t len) {
  if (!c->ssl)
    return read(c->fd, buf, len);
  int r = mbedtls_ssl_read(c->ssl, buf, len);
  if (r > 0)
    return r;
  if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
      r == MBEDTLS_ERR_SSL_CONN_EOF)
    return 0;
  errno = r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE
              ? EAGAIN
              : EIO;
  return -1;
}

static void sub_close(struct conn *c) {
  if (c->fd > 0)
    hard_close(c->fd);
  c->fd = -1;
  if (c->ssl) {
    mbedtls_ssl_free(c->ssl);
    free(c->ssl);
    c->ssl = NULL;
  }
  free(c->spill);
  c->spill = NULL;
  c->spill_len = 0;
}

/* ---- storm accounting (--retry) ----
 * A wave: every subscriber connecting at once to a fresh server (fresh),
 * or reconnecting after the server was killed and started again
 * (restart). While a wave is on, a failed attempt is not fatal: it is
 * recorded (time, kind) and the subscriber retries after a back-off. */
enum fail_kind { F_REFUSED, F_CONNERR, F_RESET, F_HTTP, F_DROP, F_OTHER,
                 F_KINDS };
static const char *const fail_names[F_KINDS] = {
    "refused", "connect_error", "reset", "http", "dropped", "other"};
/* A failed attempt: its connect() call (for a drop: when it was seen) */
struct fail_ev {
  uint64_t t;
  uint8_t kind;
  uint8_t why; /* index in storm.whys */
};
#define MAX_WHYS 32
static struct {
  bool on;             /* a wave is under way */
  bool restart;        /* this wave is the restart one */
  bool stalled;        /* this wave is the stalled one */
  uint64_t resume_at;  /* stalled: when to SIGCONT the server (0: done) */
  uint64_t t_resume;   /* stalled: when it was */
  uint64_t t0;         /* fresh: first connect() call; restart: first drop */
  uint64_t t_last_head;
  unsigned heads;      /* subscribers with their response head this wave */
  unsigned gone;       /* connections of before the wave the server closed */
  uint64_t attempts;   /* connect() calls this wave */
  struct fail_ev *ev;
  size_t nev, ev_cap;
  char whys[MAX_WHYS][96]; /* distinct failure messages */
  unsigned nwhys;
  unsigned backoff_n;  /* subscribers waiting to retry */
  uint64_t next_due;   /* the earliest of their retry times */
} storm;

static void sub_dead(struct conn *c, const char *why);

static uint64_t backoff_ns(unsigned attempt) {
  uint64_t d = retry_min_ms;
  for (unsigned k = 1; k < attempt && d < retry_max_ms; k++)
    d *= 2;
  if (d > retry_max_ms)
    d = retry_max_ms;
  d *= 1000000u;
  return d / 2 + (uint64_t)rand() % (d / 2 + 1);
}

/* Opens subscriber i (again: a retry keeps its wave's figures). */
static void sub_open(unsigned i) {
  struct conn *c = &subs[i];
  uint16_t attempts = c->attempts;
  uint64_t wave_t0 = c->wave_t0;
  free(c->carry);
  sub_close(c); /* what a failed attempt left: its TLS context */
  memset(c, 0, sizeof(*c));
  c->attempts = attempts;
  c->wave_t0 = wave_t0;
  c->stalled = i >= nsubs;
  c->base = 1;
  c->state = C_CONNECTING;
  connecting++;
  if (storm.on) {
    uint64_t now = now_ns();
    storm.attempts++;
    if (!storm.t0)
      storm.t0 = now;
    if (!c->wave_t0)
      c->wave_t0 = now;
    c->t_try = now;
  }
  c->fd = open_socket(c->stalled, &addr,
                      source_addrs > 1 ? 1 + i % source_addrs : 0);
  if (c->fd < 0) {
    if (!storm.on)
      die("socket/connect: %s", strerror(errno));
    sub_dead(c, strerror(errno));
    return;
  }
  ep(EPOLL_CTL_ADD, c->fd, EPOLLOUT, i);
}

static void storm_fail(struct conn *c, const char *why) {
  uint64_t now = now_ns();
  int k;
  if (c->state == C_CONNECTING)
    k = strcmp(why, strerror(ECONNREFUSED)) == 0 ? F_REFUSED : F_CONNERR;
  else if (c->state == C_HEAD)
    k = strncmp(why, "HTTP/", 5) == 0 ? F_HTTP
        : strcmp(why, "EOF") == 0 || strcmp(why, strerror(ECONNRESET)) == 0
            ? F_RESET
            : F_OTHER;
  else
    k = F_DROP;
  uint64_t t = c->t_try;
  if (k == F_DROP) {
    connected--;
    if (!c->t_head) {
      /* a connection of before the wave: the server went away */
      if (!storm.t0)
        storm.t0 = now;
      storm.gone++;
      c->wave_t0 = now;
      c->attempts = 0;
      k = -1;
    }
    t = now;
  } else {
    connecting--;
  }
  if (k >= 0) {
    if (storm.nev == storm.ev_cap) {
      storm.ev_cap = storm.ev_cap ? 2 * storm.ev_cap : 4096;
      storm.ev = realloc(storm.ev, storm.ev_cap * sizeof(*storm.ev));
      if (!storm.ev)
        die("%s", "out of memory");
    }
    char msg[96];
    snprintf(msg, sizeof(msg), "%s: %s", fail_names[k], why);
    unsigned w = 0;
    while (w < storm.nwhys && strcmp(storm.whys[w], msg) != 0)
      w++;
    if (w == storm.nwhys && w < MAX_WHYS)
      memcpy(storm.whys[storm.nwhys++], msg, sizeof(msg));
    storm.ev[storm.nev++] =
        (struct fail_ev){t, (uint8_t)k, (uint8_t)(w < MAX_WHYS ? w : 0)};
  }
  if (c->fd >= 0)
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  sub_close(c); /* the socket, and a TLS client's context */
  c->state = C_BACKOFF;
  c->next_try = now + backoff_ns(++c->attempts);
  if (!storm.backoff_n++ || c->next_try < storm.next_due)
    storm.next_due = c->next_try;
}

/* Reopens the subscribers whose back-off is over, at most storm_batch
 * at a time (what is ready is handled between batches, as in a fresh
 * wave); true if more are due. */
static bool retry_due(void) {
  if (!storm.backoff_n)
    return false;
  uint64_t now = now_ns(), next = UINT64_MAX;
  if (now < storm.next_due)
    return false;
  unsigned opened = 0;
  for (unsigned i = 0; i < nsubs; i++) {
    struct conn *c = &subs[i];
    if (c->state != C_BACKOFF)
      continue;
    if (c->next_try <= now && opened < storm_batch) {
      storm.backoff_n--;
      opened++;
      sub_open(i);
      if (c->state == C_BACKOFF && c->next_try < next)
        next = c->next_try; /* failed at once, rescheduled */
    } else if (c->next_try < next) {
      next = c->next_try;
    }
  }
  storm.next_due = next;
  return next <= now;
}

static void sub_dead(struct conn *c, const char *why) {
  if (c->state == C_DEAD || c->state == C_BACKOFF)
    return;
  if (storm.on) {
    storm_fail(c, why);
    return;
  }
  if (c->state != C_STREAM)
    connecting--;
  c->state = C_DEAD;
  dead_count++;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  if (dead_count <= 5)
    fprintf(stderr, "loadgen: subscriber closed: %s\n", why);
}

static void sub_send_request(unsigned i) {
  struct conn *c = &subs[i];
  char req[1024];
  int n;
  if (kind == K_WS) {
    unsigned char key[16];
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char k64[25];
    for (int j = 0; j < 16; j++)
      key[j] = (unsigned char)rand();
    for (int j = 0, o = 0; j < 16; j += 3) {
      uint32_t v = (uint32_t)key[j] << 16 |
                   (j + 1 < 16 ? (uint32_t)key[j + 1] << 8 : 0) |
                   (j + 2 < 16 ? key[j + 2] : 0);
      k64[o++] = b64[v >> 18 & 63];
      k64[o++] = b64[v >> 12 & 63];
      k64[o++] = j + 1 < 16 ? b64[v >> 6 & 63] : '=';
      k64[o++] = j + 2 < 16 ? b64[v & 63] : '=';
    }
    k64[24] = '\0';
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                 sub_path, host, port, k64,
                 ws_protocol ? "Sec-WebSocket-Protocol: " : "",
                 ws_protocol ? ws_protocol : "", ws_protocol ? "\r\n" : "");
  } else {
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Accept: text/event-stream\r\n\r\n",
                 sub_path, host, port);
  }
  if (conn_write(c, req, (size_t)n) != n) {
    sub_dead(c, "request write failed");
    return;
  }
  c->state = C_HEAD;
  ep(EPOLL_CTL_MOD, c->fd, EPOLLIN, i);
}

/* ---- phase accounting ---- */
static uint32_t *recv_cnt;      /* per sequence number: healthy receivers */
static uint64_t max_seq_alloc;
static uint64_t published;      /* last sequence number sent */
static uint64_t done_upto;      /* every seq <= this reached every healthy sub */
static uint64_t deliveries, dups, probe_msgs, last_recv_ns;
static uint64_t bad_msgs;
/* Order: the k-th message of a phase must be the same one for every
 * subscriber (the stream's order, whatever order the publishes took).
 * order_seq[k] is what the first subscriber to get a k-th message got;
 * a subscriber whose k-th differs counts one misorder. order_hash folds
 * the phase's order, so the members of a group can be compared. */
static uint64_t *order_seq;
static uint64_t misorders;

/* --group FILE:I:N: N load generators, one per node of a cluster, share a
 * file of counters (MAP_SHARED). Member 0 publishes; every member checks
 * its own subscribers. The window spans all members: a message is in
 * flight until every member's subscribers have it. */
struct group_shm {
  volatile uint64_t ready[16];       /* member subscribed and probed */
  volatile uint64_t done[16];        /* member's done_upto */
  volatile uint64_t pub_total;       /* member 0's published */
  volatile uint64_t phase_start[MAX_PHASES]; /* CLOCK_MONOTONIC ns */
  volatile uint64_t phase_end[MAX_PHASES];   /* published + 1 at its end */
};
static struct group_shm *grp;
static int grp_idx, grp_n;

static uint64_t group_done(void) { /* lowest done_upto of all members */
  uint64_t m = done_upto;
  for (int i = 0; i < grp_n; i++)
    if (i != grp_idx && grp->done[i] < m)
      m = grp->done[i];
  return m;
}

static void on_delivery(struct conn *c, const char *p, size_t len,
                        uint64_t now) {
  const char *at = memchr(p, '@', len < 64 ? len : 64);
  if (!at || (size_t)(p + len - at) < 4) {
    bad_msgs++;
    return;
  }
  if (at[1] == 'P') {
    probe_msgs++;
    if (!c->probed) {
      c->probed = true;
      probed_count++;
    }
    return;
  }
  if (at[1] != 'M') {
    bad_msgs++;
    return;
  }
  char *e;
  uint64_t seq = strtoull(at + 2, &e, 10);
  uint64_t sent = strtoull(e + 1, NULL, 10);
  if (grp && grp_idx && seq > published)
    published = __atomic_load_n(&grp->pub_total, __ATOMIC_ACQUIRE);
  if (seq == 0 || seq > published) {
    bad_msgs++;
    return;
  }
  if (seq < c->base) {
    dups++;
    return;
  }
  uint64_t d = seq - c->base;
  if (d >= 64) { /* cannot happen with W <= 64: in flight is bounded */
    bad_msgs++;
    return;
  }
  if (c->bits & (1ull << d)) {
    dups++;
    return;
  }
  c->bits |= 1ull << d;
  uint32_t k = c->nrecv++;
  if (!order_seq[k])
    order_seq[k] = seq;
  else if (order_seq[k] != seq)
    misorders++;
  while (c->bits & 1) {
    c->bits >>= 1;
    c->base++;
  }
  deliveries++;
  last_recv_ns = now;
  hadd(&lat, now > sent ? now - sent : 0);
  if (++recv_cnt[seq] == nsubs && seq == done_upto + 1) {
    while (done_upto < published && recv_cnt[done_upto + 1] >= nsubs)
      done_upto++;
  }
}

/* WebSocket frames from the server; returns bytes consumed. */
static size_t parse_ws(struct conn *c, char *buf, size_t len, uint64_t now) {
  size_t off = 0;
  while (len - off >= 2) {
    unsigned char *p = (unsigned char *)buf + off;
    uint64_t plen = p[1] & 0x7f;
    size_t hl = 2;
    if (plen == 126) {
      if (len - off < 4)
        break;
      plen = (uint64_t)p[2] << 8 | p[3];
      hl = 4;
    } else if (plen == 127) {
      if (len - off < 10)
        break;
      plen = 0;
      for (int i = 0; i < 8; i++)
        plen = plen << 8 | p[2 + i];
      hl = 10;
    }
    if (p[1] & 0x80)
      hl += 4; /* servers must not mask; tolerate it in the length only */
    if (plen > CARRY_MAX) {
      sub_dead(c, "frame too large");
      return len;
    }
    if (len - off < hl + plen)
      break;
    unsigned op = p[0] & 0x0f;
    char *pl = (char *)p + hl;
    if (op == 1 || op == 2 || op == 0) {
      on_delivery(c, pl, (size_t)plen, now);
    } else if (op == 8) {
      sub_dead(c, "WebSocket close frame");
      return len;
    } else if (op == 9 && plen <= 125) {
      unsigned char pong[6 + 125] = {0x8a, (unsigned char)(0x80 | plen), 0,
                                     0, 0, 0}; /* zero mask */
      memcpy(pong + 6, pl, (size_t)plen);
      ssize_t w = conn_write(c, pong, 6 + (size_t)plen);
      (void)w;
    }
    off += hl + (size_t)plen;
  }
  return off;
}

/* SSE lines: every "data:" line is one message (payloads are one line). */
static size_t parse_sse(struct conn *c, char *buf, size_t len, uint64_t now) {
  size_t off = 0;
  for (;;) {
    char *nl = memchr(buf + off, '\n', len - off);
    if (!nl)
      break;
    char *line = buf + off;
    size_t ll = (size_t)(nl - line);
    if (ll && line[ll - 1] == '\r')
      ll--;
    if (ll >= 5 && memcmp(line, "data:", 5) == 0) {
      size_t s = 5 + (ll > 5 && line[5] == ' ');
      on_delivery(c, line + s, ll - s, now);
    }
    off = (size_t)(nl - buf) + 1;
  }
  if (len - off > CARRY_MAX) {
    sub_dead(c, "SSE line too long");
    return len;
  }
  return off;
}

/* Decodes chunked transfer coding in place; returns the decoded length. */
static size_t dechunk(struct conn *c, char *p, size_t n) {
  size_t r = 0, w = 0;
  while (r < n) {
    char ch = p[r];
    switch (c->ck) {
    case CK_SIZE:
      if (isxdigit((unsigned char)ch)) {
        c->ck_left = c->ck_left * 16 +
                     (uint32_t)(isdigit((unsigned char)ch)
                                    ? ch - '0'
                                    : (tolower((unsigned char)ch) - 'a' + 10));
        r++;
      } else if (ch == '\r') {
        c->ck = CK_SIZE_LF;
        r++;
      } else {
        c->ck = CK_EXT;
        r++;
      }
      break;
    case CK_EXT:
      if (ch == '\r')
        c->ck = CK_SIZE_LF;
      r++;
      break;
    case CK_SIZE_LF:
      r++;
      if (c->ck_left == 0) {
        sub_dead(c, "chunked stream ended");
        return w;
      }
      c->ck = CK_DATA;
      break;
    case CK_DATA: {
      size_t k = n - r < c->ck_left ? n - r : c->ck_left;
      memmove(p + w, p + r, k);
      w += k;
      r += k;
      c->ck_left -= (uint32_t)k;
      if (!c->ck_left)
        c->ck = CK_DATA_CR;
      break;
    }
    case CK_DATA_CR:
      r++;
      c->ck = CK_DATA_LF;
      break;
    case CK_DATA_LF:
      r++;
      c->ck = CK_SIZE;
      c->ck_left = 0;
      break;
    }
  }
  return w;
}

/* Stream bytes at rbuf[0..len) (carry already in front); keeps the tail. */
static void consume(struct conn *c, size_t len, uint64_t now) {
  size_t used = kind == K_WS ? parse_ws(c, rbuf, len, now)
                             : parse_sse(c, rbuf, len, now);
  if (c->state == C_DEAD)
    return;
  size_t tail = len - used;
  if (tail) {
    if (tail > c->carry_cap) {
      free(c->carry);
      c->carry_cap = (uint32_t)(tail > 256 ? tail : 256);
      c->carry = malloc(c->carry_cap);
      if (!c->carry)
        die("%s", "out of memory");
    }
    memcpy(c->carry, rbuf + used, tail);
  }
  c->carry_len = (uint32_t)tail;
}

static void on_head(unsigned i, struct conn *c, size_t len, uint64_t now) {
  char *end = memmem(rbuf, len, "\r\n\r\n", 4);
  if (!end) {
    if (len > 8192) {
      sub_dead(c, "response head too large");
      return;
    }
    free(c->carry);
    c->carry = malloc(len);
    if (!c->carry)
      die("%s", "out of memory");
    memcpy(c->carry, rbuf, len);
    c->carry_len = c->carry_cap = (uint32_t)len;
    return;
  }
  size_t hl = (size_t)(end - rbuf) + 4;
  int status = 0;
  if (sscanf(rbuf, "HTTP/1.%*d %d", &status) != 1 ||
      status != (kind == K_WS ? 101 : 200)) {
    char line[128];
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(rbuf, "\r\n"), rbuf);
    sub_dead(c, line);
    return;
  }
  rbuf[hl - 1] = '\0';
  for (char *p = rbuf; (p = strcasestr(p, "transfer-encoding:")); p++)
    if (strcasestr(p, "chunked") && strcasestr(p, "chunked") < strchr(p, '\r'))
      c->chunked = 1;
  c->state = C_STREAM;
  connecting--;
  connected++;
  if (storm.on) {
    c->t_head = now;
    storm.heads++;
    storm.t_last_head = now;
  }
  size_t rest = len - hl;
  memmove(rbuf, rbuf + hl, rest);
  free(c->carry);
  c->carry = NULL;
  c->carry_len = c->carry_cap = 0;
  if (c->chunked)
    rest = dechunk(c, rbuf, rest);
  if (c->stalled) {
    /* Never read again: the server's queue for it fills up. */
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    return;
  }
  consume(c, rest, now);
  (void)i;
}

/* Drives a TLS handshake; sends the request once it is done. */
static void tls_step(unsigned i, struct conn *c) {
  int r = mbedtls_ssl_handshake(c->ssl);
  if (r == 0) {
    sub_send_request(i);
  } else if (r == MBEDTLS_ERR_SSL_WANT_READ) {
    ep(EPOLL_CTL_MOD, c->fd, EPOLLIN, i);
  } else if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
    ep(EPOLL_CTL_MOD, c->fd, EPOLLOUT, i);
  } else {
    char e[128];
    mbedtls_strerror(r, e, sizeof(e));
    sub_dead(c, e);
  }
}

/* TLS: records read per event before the connection yields (its bytes
 * then wait in its spill); plain: reads of up to RBUF. */
#define TLS_READS_PER_EVENT 256

static void sub_event(unsigned i, uint32_t events, uint64_t now) {
  struct conn *c = &subs[i];
  if (c->state == C_DEAD)
    return;
  if (c->state == C_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      sub_dead(c, strerror(err));
      return;
    }
    c->t_est = now;
    if (!use_tls) {
      sub_send_request(i);
      return;
    }
    c->ssl = malloc(sizeof(*c->ssl));
    if (!c->ssl)
      die("%s", "out of memory");
    mbedtls_ssl_init(c->ssl);
    if (mbedtls_ssl_setup(c->ssl, &tls_conf))
      die("%s", "mbedtls_ssl_setup failed");
    mbedtls_ssl_set_bio(c->ssl, c, bio_send, bio_recv, NULL);
    c->state = C_TLS;
  }
  if (c->state == C_TLS) {
    tls_step(i, c);
    if (c->ssl)
      tls_spill(i, c);
    return;
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->spill_len)
    return;
  int rounds = c->ssl ? TLS_READS_PER_EVENT : 4;
  for (int round = 0; round < rounds; round++) {
    size_t carry = c->carry_len;
    if (carry)
      memcpy(rbuf, c->carry, carry);
    ssize_t n = conn_read(c, rbuf + carry, RBUF - carry);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      sub_dead(c, n == 0 ? "EOF" : strerror(errno));
      return;
    }
    if (n < 0)
      break;
    size_t len = (size_t)n;
    if (c->state == C_HEAD) {
      on_head(i, c, carry + len, now);
    } else {
      if (c->chunked)
        len = dechunk(c, rbuf + carry, len);
      if (c->state != C_DEAD)
        consume(c, carry + len, now);
    }
    if (c->state != C_STREAM || (!c->ssl && (size_t)n < RBUF - carry))
      break;
  }
  if (c->ssl)
    tls_spill(i, c);
}

/* ---- publishers: a pool of HTTP/1.1 connections, one request each at a
 * time. With W > 1, up to W requests are outstanding on W connections, so
 * the window is filled even when the server answers a publish late. ---- */
#define MAX_PUB 64
struct pubconn {
  int fd;
  bool connected, busy;
  uint64_t sent_ns; /* when the outstanding request was written */
  size_t len;
  char buf[4096];
};
static struct pubconn pubs[MAX_PUB];
static int npubs = 1;
static char *pub_req;
static size_t pub_req_cap;
static uint64_t pub_requests, pub_reconnects, pub_errors;
static int pub_free_count; /* connected and idle */

static void pub_connect(int i) {
  struct pubconn *p = &pubs[i];
  p->fd = open_socket(false, &pub_addr, 0);
  if (p->fd < 0)
    die("publisher connect: %s", strerror(errno));
  p->connected = p->busy = false;
  p->len = 0;
  pub_reconnects++;
  ep(EPOLL_CTL_ADD, p->fd, EPOLLOUT | EPOLLIN, PUB_TAG + (uint64_t)i);
}

static void pub_reset(int i) {
  struct pubconn *p = &pubs[i];
  if (p->connected && !p->busy)
    pub_free_count--;
  epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
  close(p->fd);
  pub_connect(i);
}

static int pub_find_ready(void) {
  if (!pub_free_count)
    return -1;
  for (int i = 0; i < npubs; i++)
    if (pubs[i].connected && !pubs[i].busy)
      return i;
  return -1;
}

/* Sends one message: '@' kind seq ' ' send-time ' ' then padding. */
static void pub_send(int i, char type, uint64_t seq, unsigned size) {
  struct pubconn *p = &pubs[i];
  size_t head_max = 256;
  if (pub_req_cap < head_max + size) {
    pub_req_cap = head_max + size;
    pub_req = realloc(pub_req, pub_req_cap);
    if (!pub_req)
      die("%s", "out of memory");
  }
  uint64_t t = now_ns();
  char body[64];
  int bl = snprintf(body, sizeof(body), "@%c%" PRIu64 " %" PRIu64 " ", type,
                    seq, t);
  if ((unsigned)bl > size)
    size = (unsigned)bl;
  int hl = snprintf(pub_req, head_max,
                    "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                    "Content-Type: text/plain\r\nContent-Length: %u\r\n\r\n",
                    pub_path, host, pub_port, size);
  memcpy(pub_req + hl, body, (size_t)bl);
  memset(pub_req + hl + bl, 'x', size - (unsigned)bl);
  size_t total = (size_t)hl + size;
  ssize_t w = write(p->fd, pub_req, total);
  if (w != (ssize_t)total)
    die("publish write: %s", w < 0 ? strerror(errno) : "short write");
  p->busy = true;
  p->sent_ns = t;
  pub_free_count--;
  pub_requests++;
}

static void pub_event(int i, uint32_t events) {
  struct pubconn *p = &pubs[i];
  if (!p->connected) {
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err)
      die("publisher connect: %s", strerror(err));
    if (!(events & EPOLLOUT))
      return;
    p->connected = true;
    pub_free_count++;
    ep(EPOLL_CTL_MOD, p->fd, EPOLLIN | EPOLLRDHUP, PUB_TAG + (uint64_t)i);
    if (!(events & EPOLLIN))
      return;
  }
  ssize_t n = read(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) {
    if (p->busy)
      die("%s", "publisher: connection closed before the response");
    pub_reset(i); /* the server closed an idle connection */
    return;
  }
  p->len += (size_t)n;
  p->buf[p->len] = '\0';
  char *end = strstr(p->buf, "\r\n\r\n");
  if (!end) {
    if (p->len >= sizeof(p->buf) - 1)
      die("%s", "publisher: response head too large");
    return;
  }
  size_t hl = (size_t)(end - p->buf) + 4;
  int status = 0;
  sscanf(p->buf, "HTTP/1.%*d %d", &status);
  char *cl = strcasestr(p->buf, "\r\ncontent-length:");
  size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
  if (hl + body >= sizeof(p->buf))
    die("%s", "publisher: response too large");
  if (p->len < hl + body)
    return;
  char *conn = strcasestr(p->buf, "\r\nconnection:");
  bool want_close =
      conn && conn < end && strncasecmp(conn + 13, " close", 6) == 0;
  if (status < 200 || status > 299) {
    pub_errors++;
    fprintf(stderr, "loadgen: publish answered %d: %.*s\n", status,
            (int)body, p->buf + hl);
  }
  p->busy = false;
  hadd(&ack, now_ns() - p->sent_ns);
  pub_free_count++;
  p->len = 0;
  if (want_close)
    pub_reset(i); /* fanhubd closes after each answer: connect the next now */
}

/* ---- the loop ---- */
static void poll_once(int timeout_ms) {
  struct epoll_event evs[512];
  /* TLS connections whose bytes wait in their spill, not in the socket */
  if (npending) {
    unsigned np = npending;
    npending = 0;
    uint64_t t = now_ns();
    for (unsigned k = 0; k < np; k++)
      sub_event(pending[k], EPOLLIN, t);
    timeout_ms = 0;
  }
  if (retry_due())
    timeout_ms = 0;
  else if (storm.backoff_n) {
    uint64_t now = now_ns();
    int due = storm.next_due > now
                  ? (int)((storm.next_due - now) / 1000000u) + 1
                  : 0;
    if (due < timeout_ms)
      timeout_ms = due;
  }
  int n = epoll_wait(epfd, evs, 512, timeout_ms);
  uint64_t now = now_ns();
  for (int i = 0; i < n; i++) {
    if (evs[i].data.u64 >= PUB_TAG)
      pub_event((int)(evs[i].data.u64 - PUB_TAG), evs[i].events);
    else
      sub_event((unsigned)evs[i].data.u64, evs[i].events, now);
  }
}

/* Handshakes in progress at once (--connecting); 0: all of them, a
 * reconnect storm. */
static unsigned connecting_max = 512;

static void open_more(unsigned upto) {
  while (next_to_open < upto &&
         (connecting_max == 0 || connecting < connecting_max))
    sub_open(next_to_open++);
}

static double secs_since(uint64_t t0) { return (double)(now_ns() - t0) / 1e9; }

/* Opens subscribers up to index `upto` and waits for their response heads. */
static void connect_subs(unsigned upto, const char *what) {
  uint64_t t0 = now_ns();
  while (connected + dead_count < upto) {
    open_more(upto);
    poll_once(10);
    if (dead_count)
      die("a %s failed to connect", what);
    if (secs_since(t0) > connect_timeout)
      die("timed out connecting %s", what);
  }
}

static double self_cpu_s(void);

/* ---- kernel TCP counters (/proc/net/netstat, /proc/net/snmp): the
 * listen queue overflowing, SYNs dropped or answered with cookies, SYN
 * retransmissions. They count the whole network namespace, so other
 * traffic on the machine shows in them too. ---- */
static const char *const net_names[] = {
    "TcpExt:ListenOverflows", "TcpExt:ListenDrops",  "TcpExt:TCPReqQFullDrop",
    "TcpExt:TCPReqQFullDoCookies", "TcpExt:SyncookiesSent",
    "TcpExt:TCPTimeouts", "TcpExt:TCPBacklogDrop", "Tcp:RetransSegs",
    "Tcp:AttemptFails", "Tcp:EstabResets", "Tcp:ActiveOpens",
    "Tcp:PassiveOpens"};
#define N_NET (sizeof(net_names) / sizeof(net_names[0]))
struct net_snap {
  uint64_t v[N_NET];
};

static void net_read_file(const char *path, struct net_snap *ns) {
  static char buf[16384];
  if (!read_file(path, buf, sizeof(buf)))
    return;
  /* pairs of lines: "Prefix: name name ..." then "Prefix: value value ..." */
  char *save = NULL, *head = strtok_r(buf, "\n", &save);
  while (head) {
    char *vals = strtok_r(NULL, "\n", &save);
    if (!vals)
      break;
    char *colon = strchr(head, ':');
    if (colon) {
      size_t pl = (size_t)(colon - head) + 1;
      char *hs = NULL, *vs = NULL;
      char *h = strtok_r(colon + 1, " ", &hs);
      char *v = strtok_r(vals + pl, " ", &vs);
      while (h && v) {
        for (size_t k = 0; k < N_NET; k++)
          if (strncmp(net_names[k], head, pl) == 0 &&
              strcmp(net_names[k] + pl, h) == 0)
            ns->v[k] = strtoull(v, NULL, 10);
        h = strtok_r(NULL, " ", &hs);
        v = strtok_r(NULL, " ", &vs);
      }
    }
    head = strtok_r(NULL, "\n", &save);
  }
}

static void net_snap(struct net_snap *ns) {
  memset(ns, 0, sizeof(*ns));
  net_read_file("/proc/net/netstat", ns);
  net_read_file("/proc/net/snmp", ns);
}

/* The whole machine's CPU seconds (/proc/stat): busy, and the part of it
 * in interrupts and softirqs, which the kernel charges to no process
 * (on loopback much of TCP runs there). */
struct cpu_snap {
  double busy, softirq;
};
static void cpu_snap(struct cpu_snap *c) {
  char buf[512];
  unsigned long long v[8] = {0};
  memset(c, 0, sizeof(*c));
  if (!read_file("/proc/stat", buf, sizeof(buf)) ||
      sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
    return;
  double tck = (double)sysconf(_SC_CLK_TCK);
  c->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck;
  c->softirq = (double)(v[5] + v[6]) / tck;
}

/* The figures of one wave, printed as one JSON line ("record":"storm"). */
struct wave_figs {
  struct cpu_snap c0, c1;
  struct net_snap n0, n1;
  struct proc_snap s0, s1; /* the server(s), at the wave's start and end */
  bool cpu_ok;             /* s0/s1 are of the same processes */
  double self0, self1;     /* the load generator's CPU */
  unsigned timed_out;      /* no response head by the deadline */
  uint64_t t_probed;       /* every subscriber got a probe (0: not yet) */
  double rss_per_conn_b;   /* -1: not measured */
  double wave_s;           /* the wave's wall time, as the CPU figures */
};

static void storm_report(const struct wave_figs *w) {
  /* t_up: when the server could take connections. A fresh server is
   * listening before the first connect() call. A restarted one: the
   * first connection seen established of those that got their head (the
   * old server, while it dies, still takes SYNs and resets them, or
   * queues them until a retransmission reaches the new one; an attempt's
   * connect() call is no guide then). Failed attempts made before t_up
   * were the server being away, the others are the server's. */
  uint64_t t_up = 0;
  if (!storm.restart) {
    t_up = storm.t0;
  } else {
    for (unsigned i = 0; i < nsubs; i++)
      if (subs[i].t_head && (!t_up || subs[i].t_est < t_up))
        t_up = subs[i].t_est;
  }
  uint64_t t0 = storm.t0 ? storm.t0 : t_up;
  /* The rate counts from when the server could take connections: for a
   * stalled server, from when it was let go on. */
  uint64_t t_span = storm.stalled && storm.t_resume ? storm.t_resume : t_up;
  const char *wave = storm.restart   ? "restart"
                     : storm.stalled ? "stalled"
                                     : "fresh";
  uint64_t up[F_KINDS] = {0}, down[F_KINDS] = {0};
  const char *first_fail = "";
  uint64_t first_t = UINT64_MAX;
  for (size_t k = 0; k < storm.nev; k++) {
    bool after = t_up && storm.ev[k].t >= t_up;
    (after ? up : down)[storm.ev[k].kind]++;
    if (after && storm.ev[k].t < first_t) {
      first_t = storm.ev[k].t;
      first_fail = storm.whys[storm.ev[k].why];
    }
  }
  /* per subscriber: from when it tried, or when the server was back if
   * later, to its response head */
  /* and per successful attempt: its connect() call to its head, what the
   * server (and the kernel's queues) took, back-off waits left out; a
   * SYN dropped and sent again adds a second */
  struct hist h, ha;
  memset(&h, 0, sizeof(h));
  memset(&ha, 0, sizeof(ha));
  unsigned max_attempts = 0, slow = 0;
  for (unsigned i = 0; i < nsubs; i++) {
    struct conn *c = &subs[i];
    if (c->attempts > max_attempts)
      max_attempts = c->attempts;
    if (!c->t_head)
      continue;
    uint64_t from = c->wave_t0 > t_up ? c->wave_t0 : t_up;
    hadd(&h, c->t_head > from ? c->t_head - from : 0);
    hadd(&ha, c->t_head - c->t_try);
    slow += c->t_head - c->t_try >= 1000000000u;
  }
  double span = t_span && storm.t_last_head > t_span
                    ? (double)(storm.t_last_head - t_span) / 1e9
                    : 0;
  printf("{\"record\":\"storm\",\"label\":\"%s\",\"proto\":\"%s\","
         "\"wave\":\"%s\",\"clients\":%u,\"subscribed\":%u,"
         "\"timed_out\":%u,\"server_gone\":%u,\"source_addrs\":%u,"
         "\"retry_ms\":[%u,%u],\"stall_ms\":%u,"
         "\"up_s\":%.4f,\"span_s\":%.4f,\"last_s\":%.4f,"
         "\"conn_per_s\":%.0f,\"probe_s\":%.4f,",
         label, kind == K_WS ? "ws" : "sse",
         wave, nsubs, storm.heads, w->timed_out, storm.gone, source_addrs,
         retry_min_ms, retry_max_ms, storm.stalled ? stall_ms : 0,
         t_up > t0 ? (double)(t_up - t0) / 1e9 : 0, span,
         storm.t_last_head > t0 ? (double)(storm.t_last_head - t0) / 1e9 : 0,
         span > 0 ? storm.heads / span : 0,
         w->t_probed > storm.t_last_head
             ? (double)(w->t_probed - storm.t_last_head) / 1e9
             : -1);
  printf("\"sub_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
         "\"attempt_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
         "\"max\":%.2f},\"attempts_over_1s\":%u,"
         "\"attempts\":%" PRIu64 ",\"max_attempts\":%u,\"failures\":{",
         hq(&h, 0.5) / 1e6, hq(&h, 0.9) / 1e6, hq(&h, 0.99) / 1e6,
         (double)h.max / 1e6, hq(&ha, 0.5) / 1e6, hq(&ha, 0.9) / 1e6,
         hq(&ha, 0.99) / 1e6, (double)ha.max / 1e6, slow, storm.attempts,
         max_attempts);
  for (int k = 0; k < F_KINDS; k++)
    printf("%s\"%s\":%" PRIu64, k ? "," : "", fail_names[k], up[k]);
  printf("},\"while_down\":{");
  for (int k = 0; k < F_KINDS; k++)
    printf("%s\"%s\":%" PRIu64, k ? "," : "", fail_names[k], down[k]);
  printf("},\"first_failure\":\"");
  for (const char *p = first_fail; *p; p++)
    if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
      putchar(*p);
  printf("\",\"kernel\":{");
  for (size_t k = 0; k < N_NET; k++)
    printf("%s\"%s\":%" PRIu64, k ? "," : "", strchr(net_names[k], ':') + 1,
           w->n1.v[k] - w->n0.v[k]);
  printf("},\"loadgen_cpu_s\":%.3f,\"machine_busy_s\":%.3f,"
         "\"machine_irq_s\":%.3f,\"wave_s\":%.3f",
         w->self1 - w->self0, w->c1.busy - w->c0.busy,
         w->c1.softirq - w->c0.softirq, w->wave_s);
  if (w->cpu_ok)
    printf(",\"server_cpu_s\":%.3f,\"server_cpu_us_per_conn\":%.1f",
           w->s1.cpu_s - w->s0.cpu_s,
           storm.heads ? (w->s1.cpu_s - w->s0.cpu_s) / storm.heads * 1e6 : 0);
  if (w->rss_per_conn_b >= 0)
    printf(",\"rss_idle_per_conn_b\":%.0f", w->rss_per_conn_b);
  printf("}\n");
  fflush(stdout);
  fprintf(stderr,
          "loadgen: %s storm (%s): %u/%u subscribed, %.0f conn/s, last %.2fs, "
          "refused %" PRIu64 ", connect errors %" PRIu64 ", reset %" PRIu64
          ", http %" PRIu64 ", dropped %" PRIu64 ", other %" PRIu64
          ", timed out %u\n",
          label, wave, storm.heads, nsubs,
          span > 0 ? storm.heads / span : 0,
          storm.t_last_head > t0 ? (double)(storm.t_last_head - t0) / 1e9 : 0,
          up[F_REFUSED], up[F_CONNERR], up[F_RESET], up[F_HTTP], up[F_DROP],
          up[F_OTHER], w->timed_out);
}

/* Stops or resumes the server's processes (--stall). */
static void signal_server(int sig) {
  for (int i = 0; i < npids; i++)
    kill(pids[i], sig);
  if (sig == SIGCONT) {
    storm.resume_at = 0;
    storm.t_resume = now_ns();
  }
}

/* Runs a wave until every subscriber has its response head or the
 * deadline passes; the subscribers not there by then are counted. */
static void storm_wave(double timeout, struct wave_figs *w) {
  uint64_t t0 = now_ns();
  while (storm.heads < nsubs && secs_since(t0) < timeout) {
    /* connect() calls in batches, with what is ready handled between
     * them: each client sends its request as soon as it is connected, as
     * independent clients would, instead of all waiting for the last
     * connect() (the server would sit idle meanwhile) */
    unsigned batch = next_to_open + storm_batch;
    open_more(batch < nsubs ? batch : nsubs);
    poll_once(next_to_open < nsubs ? 0 : storm.resume_at ? 1 : 10);
    if (dead_count)
      die("%s", "a subscriber failed outside the storm");
    if (storm.resume_at && now_ns() >= storm.resume_at)
      signal_server(SIGCONT);
  }
  if (storm.resume_at)
    signal_server(SIGCONT);
  snap(&w->s1);
  net_snap(&w->n1);
  cpu_snap(&w->c1);
  w->self1 = self_cpu_s();
  w->wave_s = secs_since(t0);
  w->timed_out = nsubs - storm.heads;
  storm.on = false;
  /* what is still connecting or waiting is closed: the storm is over */
  for (unsigned i = 0; i < nsubs; i++)
    if (subs[i].state == C_CONNECTING || subs[i].state == C_HEAD ||
        subs[i].state == C_BACKOFF) {
      if (subs[i].fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, subs[i].fd, NULL);
        hard_close(subs[i].fd);
      }
      subs[i].fd = -1;
      subs[i].state = C_DEAD;
    }
  storm.backoff_n = 0;
}

/* The restarted server's processes, from --pids-file (comma-separated). */
static bool reload_pids(void) {
  char buf[256];
  if (!pids_file || !read_file(pids_file, buf, sizeof(buf)))
    return false;
  npids = 0;
  for (char *t = strtok(buf, ", \n"); t && npids < MAX_PIDS;
       t = strtok(NULL, ", \n"))
    pids[npids++] = atoi(t);
  return npids > 0;
}

/* Lets stragglers drain and the server settle. */
static void settle(double secs) {
  for (uint64_t q = now_ns(); secs_since(q) < secs;)
    poll_once(10);
}

static bool phase_stalls(const struct phase *ph) {
  return nstalled && ph->stalled != 0;
}

/* Connects the never-readers (they get their response head and are then
 * left alone), or closes them: phases with and without them alternate on
 * one server and one set of healthy connections, so the isolation ratio
 * is not at the mercy of what differs between two server starts. */
static void set_stalled(bool on) {
  if (on == stalled_open)
    return;
  stalled_open = on;
  if (!on) {
    for (unsigned i = nsubs; i < nconns; i++)
      if (subs[i].state == C_STREAM) {
        sub_close(&subs[i]);
        subs[i].state = C_DEAD;
        connected--;
      }
    return;
  }
  next_to_open = nsubs;
  connect_subs(nconns, "never-reading subscriber");
  settle(0.2); /* the server finishes its side of the subscription */
}

/* This process's CPU seconds: is the load generator itself the limit? */
static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* GET metrics_path on a blocking socket; returns the body or NULL. */
static char *http_get(const char *path) {
  static char buf[65536];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  /* --tls: the subscribers' port speaks TLS; the metrics come from the
   * plain (publish) port */
  const struct sockaddr_in *to = use_tls ? &pub_addr : &addr;
  if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
    close(fd);
    return NULL;
  }
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                   path, host, port);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return NULL;
  }
  size_t len = 0;
  ssize_t r;
  while (len < sizeof(buf) - 1 &&
         (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
    len += (size_t)r;
  close(fd);
  buf[len] = '\0';
  char *b = strstr(buf, "\r\n\r\n");
  return b ? b + 4 : NULL;
}

static void metric_json(FILE *o, const char *text, const char *name) {
  const char *p = text;
  size_t nl = strlen(name);
  while (p && (p = strstr(p, name))) {
    if ((p == text || p[-1] == '\n') && p[nl] == ' ') {
      fprintf(o, ",\"%s\":%" PRIu64, name,
              (uint64_t)strtoull(p + nl + 1, NULL, 10));
      return;
    }
    p += nl;
  }
}

/* The server's open descriptors, all its processes together. */
static unsigned server_fds(void) {
  unsigned n = 0;
  for (int i = 0; i < npids; i++) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pids[i]);
    DIR *d = opendir(path);
    if (!d)
      continue;
    for (struct dirent *de; (de = readdir(d));)
      n += de->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

/* Publishes a probe every 50 ms until every healthy subscriber has one;
 * returns how many it sent. */
static unsigned probe_all(void) {
  uint64_t t0 = now_ns(), last_probe = 0;
  unsigned probes = 0;
  while (probed_count < nsubs) {
    uint64_t now = now_ns();
    int pi = pub_find_ready();
    if (pi >= 0 && now - last_probe > 50000000u) {
      pub_send(pi, 'P', 0, 64);
      last_probe = now;
      probes++;
    }
    poll_once(5);
    if (dead_count)
      die("%s", "a subscriber closed while probing");
    if (secs_since(t0) > probe_timeout)
      die("%s", "timed out waiting for probes to arrive");
  }
  return probes;
}

/* Closes the publishers (while the server restarts they would fail). */
static void pub_close_all(void) {
  for (int i = 0; i < npubs; i++) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, pubs[i].fd, NULL);
    close(pubs[i].fd);
    pubs[i].connected = pubs[i].busy = false;
  }
  pub_free_count = 0;
}

/* --restart: every subscriber is connected and idle; the server is about
 * to be killed and started again on the same port (by whoever runs this:
 * it waits for "ready for restart" on stderr). Each subscriber that loses
 * its connection reconnects with the back-off of --retry, as a real
 * client would; the wave ends when all have their response head again,
 * then probes prove them subscribed. */
static int restart_wave(const struct proc_snap *base) {
  pub_close_all();
  storm.nev = storm.heads = storm.gone = 0;
  storm.t0 = storm.t_last_head = storm.attempts = 0;
  storm.nwhys = 0;
  storm.restart = storm.on = true;
  probed_count = 0;
  for (unsigned i = 0; i < nsubs; i++) {
    struct conn *c = &subs[i];
    c->probed = false;
    c->t_head = c->t_try = c->t_est = c->wave_t0 = 0;
    c->attempts = 0;
  }
  struct wave_figs w = {.rss_per_conn_b = -1};
  net_snap(&w.n0);
  cpu_snap(&w.c0);
  w.self0 = self_cpu_s();
  fprintf(stderr, "loadgen: ready for restart\n");
  fflush(stderr);
  storm_wave(restart_timeout, &w);
  w.cpu_ok = reload_pids(); /* CPU since the new server started */
  if (w.cpu_ok)
    snap(&w.s1);
  if (!w.timed_out) {
    for (int i = 0; i < npubs; i++)
      pub_connect(i);
    probe_all();
    w.t_probed = now_ns();
    settle(0.3);
    if (reload_pids()) {
      /* against the first server's RSS before any connection: same binary,
       * same options */
      struct proc_snap idle;
      snap(&idle);
      w.rss_per_conn_b =
          ((double)idle.rss_kb - (double)base->rss_kb) * 1024 / nsubs;
    }
  }
  storm_report(&w);
  return w.timed_out ? 2 : 0;
}

/* --stall MS: every subscriber closes, and once the server has let go of
 * their sockets it is stopped (SIGSTOP) and all reconnect at once; it is
 * let go on (SIGCONT) MS after the first connect(). A server that stalls
 * while a storm arrives (starved of CPU, a pause, a slow start): its
 * listen queue holds the storm, or the kernel drops the SYNs past it and
 * the clients send them again a second later, then 3 s later... */
static int stall_wave(void) {
  pub_close_all();
  for (unsigned i = 0; i < nsubs; i++) {
    struct conn *c = &subs[i];
    if (c->fd >= 0) {
      epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
      hard_close(c->fd);
      c->fd = -1;
    }
    c->state = C_DEAD;
    c->probed = false;
    c->t_head = c->t_try = c->t_est = c->wave_t0 = 0;
    c->attempts = 0;
  }
  connected = connecting = probed_count = next_to_open = 0;
  if (pids_file)
    reload_pids();
  for (uint64_t t0 = now_ns(); server_fds() > 1000 && secs_since(t0) < 10;)
    settle(0.05);
  storm.nev = storm.heads = storm.gone = 0;
  storm.t0 = storm.t_last_head = storm.attempts = storm.t_resume = 0;
  storm.nwhys = 0;
  storm.restart = false;
  storm.stalled = storm.on = true;
  struct wave_figs w = {.rss_per_conn_b = -1, .cpu_ok = npids > 0};
  net_snap(&w.n0);
  cpu_snap(&w.c0);
  snap(&w.s0);
  w.self0 = self_cpu_s();
  signal_server(SIGSTOP);
  storm.t_resume = 0;
  storm.resume_at = now_ns() + (uint64_t)stall_ms * 1000000u;
  storm_wave(restart_timeout, &w);
  if (!w.timed_out) {
    for (int i = 0; i < npubs; i++)
      pub_connect(i);
    probe_all();
    w.t_probed = now_ns();
  }
  storm_report(&w);
  return w.timed_out ? 2 : 0;
}

/* The latency histogram's non-empty buckets as [value_us, count] pairs,
 * so that a cluster's members can be merged exactly (--group). */
static void hist_json(FILE *o, const struct hist *h) {
  fprintf(o, ",\"lat_hist\":[");
  int first = 1;
  for (unsigned i = 0; i < HBUCKETS; i++)
    if (h->b[i]) {
      fprintf(o, "%s[%.3f,%" PRIu64 "]", first ? "" : ",", hval(i) / 1e3,
              h->b[i]);
      first = 0;
    }
  fprintf(o, "],\"lat_max_us\":%.1f", (double)h->max / 1e3);
}

static void usage(void) {
  fputs(
      "usage: loadgen --port P [options]\n"
      "  --host H             server address (default 127.0.0.1)\n"
      "  --proto ws|sse       subscriber kind (default ws)\n"
      "  --sub PATH           subscribe request target (default "
      "/ws?topic=bench)\n"
      "  --pub PATH           publish POST target (default "
      "/publish?topic=bench)\n"
      "  --pub-port P         publish to this port instead (another node of\n"
      "                       a cluster: cross-node delivery)\n"
      "  --ws-protocol P      Sec-WebSocket-Protocol to offer (fanhub.raw)\n"
      "  --subs N             healthy subscribers (default 100)\n"
      "  --stalled K          extra subscribers that never read (default 0)\n"
      "  --pids P1,P2         server processes to account (CPU, RSS, writes)\n"
      "  --phase S:W:M:T[:K[:warmup]]  payload bytes, window, max messages,\n"
      "                       max seconds; K 0 or 1: the never-readers are\n"
      "                       connected during this phase or not (default:\n"
      "                       during all); warmup: marked so in the output\n"
      "                       (repeatable; default 64:32:2000:2)\n"
      "  --label TEXT         copied into each JSON line\n"
      "  --metrics PATH       GET it after each phase, copy fanhub_* counters\n"
      "  --connect-timeout S  (default 60)  --drain-timeout S (default 10)\n"
      "  --connecting N       handshakes in progress at once (default 512;\n"
      "                       0: every subscriber at once, a reconnect storm)\n"
      "  --tls                subscribers speak TLS 1.2 (wss://, HTTPS SSE),\n"
      "                       ECDHE-ECDSA-AES128-GCM-SHA256 on P-256, no\n"
      "                       certificate check; publishes and --metrics stay\n"
      "                       plain HTTP (use --pub-port for the plain port)\n"
      "  --source-addrs N     subscribers connect from 127.0.0.1..127.0.0.N\n"
      "                       (default 1: the kernel picks; one address makes\n"
      "                       connect() itself slow past ~10k connections)\n"
      "  --retry MIN:MAX      storm mode: a failed subscriber retries after a\n"
      "                       back-off (ms, doubling from MIN up to MAX, drawn\n"
      "                       from [d/2, d)); failures are counted, not fatal;\n"
      "                       one \"record\":\"storm\" JSON line per storm\n"
      "  --restart            with --retry: after the phases, print \"ready for\n"
      "                       restart\" on stderr and wait for the server to be\n"
      "                       killed and started again on the same port while\n"
      "                       every subscriber reconnects: a second storm\n"
      "  --pids-file F        the restarted server's processes (P1,P2), for\n"
      "                       its CPU and RSS\n"
      "  --restart-timeout S  time for all to be back (default 60)\n"
      "  --stall MS           with --retry: last, every subscriber closes and\n"
      "                       reconnects at once to the server, stopped\n"
      "                       (SIGSTOP) until MS after the first connect()\n"
      "  --group FILE:I:N     member I of N load generators of one cluster\n"
      "                       (one per node) sharing counters in FILE: member\n"
      "                       0 publishes, the others only check; in flight\n"
      "                       spans all members' subscribers\n"
      "loadgen --free-port    print a free loopback TCP port and exit\n",
      stderr);
  exit(2);
}

static void raise_nofile(unsigned need) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t want = need + 256;
  if (rl.rlim_max < want) {
    struct rlimit up = {want, want};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0)
      return;
  }
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    fprintf(stderr, "loadgen: RLIMIT_NOFILE is %lu, need %lu\n",
            (unsigned long)rl.rlim_cur, (unsigned long)want);
    exit(2);
  }
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
      getsockname(fd, (struct sockaddr *)&a, &al))
    return 1;
  printf("%u\n", ntohs(a.sin_port));
  close(fd);
  return 0;
}

/* One turn of a phase's loop, publisher's or checker's: the process RSS
 * sampled every 100 ms into *rss_max, then what is ready handled. False
 * if a subscriber was lost (the phase has failed). */
static bool phase_tick(uint64_t now, uint64_t *last_rss, uint64_t *rss_max) {
  if (now - *last_rss > 100000000u) {
    uint64_t r = rss_kb();
    if (r > *rss_max)
      *rss_max = r;
    *last_rss = now;
  }
  poll_once(1);
  if (dead_count > 0) {
    fprintf(stderr, "loadgen: subscribers lost during the phase\n");
    return false;
  }
  return true;
}

int main(int argc, char **argv) {
  static const struct option lo[] = {
      {"host", 1, 0, 'h'},         {"port", 1, 0, 'p'},
      {"proto", 1, 0, 'k'},        {"sub", 1, 0, 's'},
      {"pub", 1, 0, 'P'},          {"ws-protocol", 1, 0, 'w'},
      {"subs", 1, 0, 'n'},         {"stalled", 1, 0, 'z'},
      {"pids", 1, 0, 'i'},         {"phase", 1, 0, 'f'},
      {"label", 1, 0, 'l'},        {"metrics", 1, 0, 'm'},
      {"connect-timeout", 1, 0, 'c'}, {"drain-timeout", 1, 0, 'd'},
      {"free-port", 0, 0, 'F'},    {"help", 0, 0, '?'},
      {"pub-port", 1, 0, 'Q'},     {"connecting", 1, 0, 'C'},
      {"tls", 0, 0, 'Y'},
      {"source-addrs", 1, 0, 'S'}, {"retry", 1, 0, 'R'},
      {"restart", 0, 0, 'r'},      {"pids-file", 1, 0, 'I'},
      {"restart-timeout", 1, 0, 'T'}, {"stall", 1, 0, 'X'},
      {"group", 1, 0, 'G'},
      {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (o) {
    case 'h': host = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 'Q': pub_port = atoi(optarg); break;
    case 'C': connecting_max = (unsigned)atoi(optarg); break;
    case 'Y': use_tls = true; break;
    case 'S':
      source_addrs = (unsigned)atoi(optarg);
      if (source_addrs < 1 || source_addrs > 254)
        usage();
      break;
    case 'R':
      if (sscanf(optarg, "%u:%u", &retry_min_ms, &retry_max_ms) != 2 ||
          retry_min_ms < 2 || retry_max_ms < retry_min_ms)
        usage();
      break;
    case 'r': restart_mode = true; break;
    case 'I': pids_file = optarg; break;
    case 'T': restart_timeout = atof(optarg); break;
    case 'X': stall_ms = (unsigned)atoi(optarg); break;
    case 'G': {
      static char gpath[4096];
      if (sscanf(optarg, "%4095[^:]:%d:%d", gpath, &grp_idx, &grp_n) != 3 ||
          grp_idx < 0 || grp_n < 1 || grp_n > 16 || grp_idx >= grp_n)
        usage();
      int gfd = open(gpath, O_RDWR | O_CREAT, 0600);
      if (gfd < 0 || ftruncate(gfd, sizeof(struct group_shm)) != 0)
        die("cannot open %s", gpath);
      grp = mmap(NULL, sizeof(struct group_shm), PROT_READ | PROT_WRITE,
                 MAP_SHARED, gfd, 0);
      if (grp == MAP_FAILED)
        die("cannot map %s", gpath);
      close(gfd);
      break;
    }
    case 'k':
      if (strcmp(optarg, "ws") == 0)
        kind = K_WS;
      else if (strcmp(optarg, "sse") == 0)
        kind = K_SSE;
      else
        usage();
      break;
    case 's': sub_path = optarg; break;
    case 'P': pub_path = optarg; break;
    case 'w': ws_protocol = optarg; break;
    case 'n': nsubs = (unsigned)atoi(optarg); break;
    case 'z': nstalled = (unsigned)atoi(optarg); break;
    case 'i':
      for (char *t = strtok(optarg, ","); t && npids < MAX_PIDS;
           t = strtok(NULL, ","))
        pids[npids++] = atoi(t);
      break;
    case 'f': {
      if (nphases == MAX_PHASES)
        usage();
      struct phase *ph = &phases[nphases];
      ph->stalled = -1;
      char tag[16] = "";
      int nf = sscanf(optarg, "%u:%u:%u:%lf:%d:%15s", &ph->size, &ph->window,
                      &ph->msgs, &ph->secs, &ph->stalled, tag);
      ph->warmup = nf == 6 && strcmp(tag, "warmup") == 0;
      if (nf < 4 || (nf == 6 && !ph->warmup) || ph->stalled < -1 ||
          ph->stalled > 1 ||
          ph->window < 1 || ph->window > MAX_PUB || ph->msgs < 1 || ph->size < 48 ||
          ph->size > 60000)
        usage();
      nphases++;
      break;
    }
    case 'l': label = optarg; break;
    case 'm': metrics_path = optarg; break;
    case 'c': connect_timeout = atof(optarg); break;
    case 'd': drain_timeout = atof(optarg); break;
    case 'F': return free_port();
    default: usage();
    }
  }
  if (!port || !nsubs || (use_tls && !pub_port) ||
      ((restart_mode || stall_ms) && !retry_min_ms) ||
      (retry_min_ms && nstalled))
    usage(); /* --tls publishes in plain HTTP: it needs --pub-port */
  if (!nphases)
    phases[nphases++] = (struct phase){64, 32, 2000, 2, -1, false};
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid());
  nconns = nsubs + nstalled;
  raise_nofile(nconns + 16);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
    die("bad host %s", host);
  if (!pub_port)
    pub_port = port;
  pub_addr = addr;
  pub_addr.sin_port = htons((uint16_t)pub_port);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  rbuf = malloc(RBUF + 16);
  subs = calloc(nconns, sizeof(*subs));
  pending = calloc(2 * (size_t)nconns + 16, sizeof(*pending));
  if (use_tls)
    tls_init();
  for (int i = 0; i < nphases; i++)
    max_seq_alloc += phases[i].msgs;
  recv_cnt = calloc(max_seq_alloc + 2, sizeof(*recv_cnt));
  order_seq = calloc(max_seq_alloc + 2, sizeof(*order_seq));
  if (!order_seq)
    die("%s", "out of memory");
  if (!rbuf || !subs || !recv_cnt || !pending)
    die("%s", "out of memory");

  struct proc_snap base;
  snap(&base);
  perf_open();

  /* 1. connect everyone: a storm with --retry */
  uint64_t t0 = now_ns();
  for (unsigned i = 0; i < (unsigned)nphases; i++)
    if (phases[i].window > (unsigned)npubs)
      npubs = (int)phases[i].window;
  if (grp && grp_idx)
    npubs = 1; /* a checking member publishes only its probes */
  for (int i = 0; i < npubs; i++)
    pub_connect(i);
  stalled_open = phase_stalls(&phases[0]);
  unsigned first = stalled_open ? nconns : nsubs;
  struct wave_figs fw = {.rss_per_conn_b = -1};
  if (retry_min_ms) {
    fw.s0 = base;
    fw.cpu_ok = true;
    net_snap(&fw.n0);
    cpu_snap(&fw.c0);
    fw.self0 = self_cpu_s();
    storm.on = true;
    storm_wave(connect_timeout, &fw);
    snap(&fw.s1);
    if (fw.timed_out) {
      storm_report(&fw);
      return 2;
    }
  } else {
    connect_subs(first, "subscriber");
  }
  double connect_s = secs_since(t0);
  fprintf(stderr, "loadgen: %u subscribers connected in %.2fs\n", first,
          connect_s);

  /* 2. probes until every healthy subscriber has one: only then is each
   * surely subscribed, whatever the server does on connect. */
  t0 = now_ns();
  unsigned probes = probe_all();
  fw.t_probed = now_ns();
  settle(0.3); /* stray probes drain, the server settles */
  struct proc_snap idle;
  snap(&idle);
  fprintf(stderr, "loadgen: all subscribed after %u probes, %.2fs\n", probes,
          secs_since(t0));
  if (retry_min_ms) {
    fw.rss_per_conn_b =
        ((double)idle.rss_kb - (double)base.rss_kb) * 1024 / nsubs;
    storm_report(&fw);
  }
  if (grp) { /* member 0 starts once every member is subscribed */
    __atomic_store_n(&grp->ready[grp_idx], 1, __ATOMIC_RELEASE);
    uint64_t w0 = now_ns();
    for (int i = 0; !grp_idx && i < grp_n; i++)
      while (!__atomic_load_n(&grp->ready[i], __ATOMIC_ACQUIRE)) {
        poll_once(10);
        if (secs_since(w0) > connect_timeout + probe_timeout)
          die("%s", "timed out waiting for the group's other members");
      }
  }

  int rc = 0;
  uint64_t seq_base = 0;
  for (int pi = 0; pi < nphases; pi++) {
    struct phase *ph = &phases[pi];
    set_stalled(phase_stalls(ph));
    memset(&lat, 0, sizeof(lat));
    memset(&ack, 0, sizeof(ack));
    double inflight_sum = 0; /* in flight, weighted by time */
    uint64_t inflight_t = 0, inflight_last = 0;
    deliveries = dups = bad_msgs = misorders = 0;
    memset(order_seq, 0, (max_seq_alloc + 2) * sizeof(*order_seq));
    for (unsigned i = 0; i < nconns; i++)
      subs[i].nrecv = 0;
    uint64_t recs0 = tls_records, rbytes0 = tls_record_bytes;
    uint64_t pub_err0 = pub_errors, pub_req0 = pub_requests,
             pub_rc0 = pub_reconnects;
    struct proc_snap s0, s1;
    uint64_t rss_max = 0, last_rss = 0;
    bool checker = grp && grp_idx; /* a group member that only checks */
    if (checker) { /* the phase starts with member 0's first publish */
      uint64_t w0 = now_ns();
      while (!__atomic_load_n(&grp->phase_start[pi], __ATOMIC_ACQUIRE)) {
        poll_once(1);
        if (secs_since(w0) > 120)
          die("%s", "timed out waiting for the group's publisher");
      }
    }
    snap(&s0);
    double self0 = self_cpu_s();
    uint64_t start = checker ? grp->phase_start[pi] : now_ns();
    if (grp && !grp_idx)
      __atomic_store_n(&grp->phase_start[pi], start, __ATOMIC_RELEASE);
    uint64_t deadline = start + (uint64_t)(ph->secs * 1e9);
    bool timed_out = false;
    for (; checker;) {
      uint64_t now = now_ns();
      uint64_t end = __atomic_load_n(&grp->phase_end[pi], __ATOMIC_ACQUIRE);
      uint64_t pt = __atomic_load_n(&grp->pub_total, __ATOMIC_ACQUIRE);
      if (pt > published)
        published = pt;
      while (done_upto < published && recv_cnt[done_upto + 1] >= nsubs)
        done_upto++;
      __atomic_store_n(&grp->done[grp_idx], done_upto, __ATOMIC_RELEASE);
      if (end && done_upto >= end - 1)
        break;
      if (now > deadline + (uint64_t)(drain_timeout * 1e9)) {
        timed_out = true;
        break;
      }
      if (!phase_tick(now, &last_rss, &rss_max)) {
        timed_out = true;
        break;
      }
    }
    if (checker && grp->phase_end[pi])
      published = grp->phase_end[pi] - 1;
    for (; !checker;) {
      uint64_t now = now_ns();
      uint64_t gdone = grp ? group_done() : done_upto;
      bool more = published - seq_base < ph->msgs && now < deadline;
      int pc;
      while (more && published - gdone < ph->window &&
             (pc = pub_find_ready()) >= 0) {
        published++;
        if (grp)
          __atomic_store_n(&grp->pub_total, published, __ATOMIC_RELEASE);
        pub_send(pc, 'M', published, ph->size);
        more = published - seq_base < ph->msgs;
      }
      if (grp)
        __atomic_store_n(&grp->done[0], done_upto, __ATOMIC_RELEASE);
      if (inflight_last) {
        inflight_sum += (double)(published - gdone) * (double)(now - inflight_last);
        inflight_t += now - inflight_last;
      }
      inflight_last = now;
      if (!more && gdone == published)
        break;
      if (!more && now > deadline + (uint64_t)(drain_timeout * 1e9)) {
        timed_out = true;
        break;
      }
      if (!phase_tick(now, &last_rss, &rss_max)) {
        timed_out = true;
        break;
      }
    }
    if (grp && !grp_idx)
      __atomic_store_n(&grp->phase_end[pi], published + 1, __ATOMIC_RELEASE);
    uint64_t end_recv = last_recv_ns ? last_recv_ns : now_ns();
    /* Whatever each subscriber still lacks at the end is lost. */
    uint64_t missing = 0;
    for (unsigned i = 0; i < nsubs; i++)
      if (subs[i].state == C_STREAM && subs[i].base <= published)
        missing += published + 1 - subs[i].base -
                   (uint64_t)__builtin_popcountll(subs[i].bits);
    snap(&s1);
    if (s1.rss_kb > rss_max)
      rss_max = s1.rss_kb;
    uint64_t nmsg = published - seq_base;
    double dur = (double)(end_recv - start) / 1e9;
    if (dur <= 0)
      dur = 1e-9;
    double dps = (double)deliveries / dur;
    double cpu = s1.cpu_s - s0.cpu_s;
    uint64_t total_lost = missing;
    if (total_lost || dups || bad_msgs || misorders)
      rc = rc ? rc : 1;
    if (timed_out)
      rc = 2;

    printf("{\"label\":\"%s\",\"proto\":\"%s\",\"subs\":%u,\"stalled\":%u,"
           "\"size\":%u,\"window\":%u,\"phase\":%d,\"warmup\":%s,"
           "\"msgs\":%" PRIu64
           ",\"expected_deliveries\":%" PRIu64 ",\"deliveries\":%" PRIu64
           ",\"duration_s\":%.4f,\"deliveries_per_s\":%.0f,\"msgs_per_s\":%.1f,"
           "\"lat_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
           "\"max\":%.1f},",
           label, kind == K_WS ? "ws" : "sse", nsubs,
           stalled_open ? nstalled : 0, ph->size,
           ph->window, pi, ph->warmup ? "true" : "false", nmsg, nmsg * nsubs,
           deliveries, dur, dps,
           (double)nmsg / dur, hq(&lat, 0.5) / 1e3, hq(&lat, 0.9) / 1e3,
           hq(&lat, 0.99) / 1e3, hq(&lat, 0.999) / 1e3, (double)lat.max / 1e3);
    printf("\"ack_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
           "\"avg_in_flight\":%.2f,",
           hq(&ack, 0.5) / 1e3, hq(&ack, 0.99) / 1e3, (double)ack.max / 1e3,
           inflight_t ? inflight_sum / (double)inflight_t : 0);
    static const double cq[] = {0,    0.01, 0.05, 0.1,  0.2,   0.3,  0.4,
                                0.5,  0.6,  0.7,  0.8,  0.9,   0.95, 0.97,
                                0.99, 0.995, 0.999, 0.9999, 1};
    printf("\"cdf\":[");
    for (size_t i = 0; i < sizeof(cq) / sizeof(cq[0]); i++)
      printf("%s[%g,%.1f]", i ? "," : "", cq[i], hq(&lat, cq[i]) / 1e3);
    printf("],\"lost\":%" PRIu64 ",\"dups\":%" PRIu64 ",\"bad\":%" PRIu64
           ",\"timed_out\":%s,\"publish_requests\":%" PRIu64
           ",\"publish_errors\":%" PRIu64 ",\"publish_reconnects\":%" PRIu64,
           total_lost, dups, bad_msgs, timed_out ? "true" : "false",
           pub_requests - pub_req0, pub_errors - pub_err0,
           pub_reconnects - pub_rc0);
    if (npids) {
      double dd = deliveries ? (double)deliveries : 1;
      printf(",\"server_cpu_s\":%.3f,\"cpu_s_per_M\":%.3f,"
             "\"syscw_per_delivery\":%.4f,\"server_page_faults\":%" PRIu64,
             cpu, cpu / dd * 1e6, (double)(s1.syscw - s0.syscw) / dd,
             s1.minflt - s0.minflt);
      if (perf_ok)
        printf(",\"writes_per_delivery\":%.4f", (double)(s1.sends - s0.sends) / dd);
      else
        printf(",\"writes_per_delivery\":null");
      printf(",\"rss_base_kb\":%" PRIu64 ",\"rss_idle_kb\":%" PRIu64
             ",\"rss_load_kb\":%" PRIu64 ",\"rss_idle_per_conn_b\":%.0f,"
             "\"rss_load_per_conn_b\":%.0f",
             base.rss_kb, idle.rss_kb, rss_max,
             ((double)idle.rss_kb - (double)base.rss_kb) * 1024 / first,
             ((double)rss_max - (double)base.rss_kb) * 1024 /
                 (stalled_open ? nconns : nsubs));
    }
    if (metrics_path) {
      char *m = http_get(metrics_path);
      if (m) {
        printf(",\"server_metrics\":{\"ok\":1");
        metric_json(stdout, m, "fanhub_bytes_queued");
        metric_json(stdout, m, "fanhub_drops_total");
        metric_json(stdout, m, "fanhub_deliveries_total");
        metric_json(stdout, m, "fanhub_queue_overflows_total");
        metric_json(stdout, m, "fanhub_clients");
        printf("}");
        /* fanhubd's hub_broadcast() histogram, cumulative [le_s, count] */
        const char *bp = m, *bk = "fanhubd_broadcast_seconds_bucket{le=\"";
        int nb = 0;
        while ((bp = strstr(bp, bk))) {
          bp += strlen(bk);
          double le = strncmp(bp, "+Inf", 4) == 0 ? -1 : strtod(bp, NULL);
          const char *sp = strstr(bp, "} ");
          if (!sp)
            break;
          printf("%s[%g,%" PRIu64 "]", nb++ ? "," : ",\"broadcast_le\":[", le,
                 (uint64_t)strtoull(sp + 2, NULL, 10));
        }
        if (nb)
          printf("]");
      }
    }
    {
      uint64_t h = 1469598103934665603ull; /* FNV-1a over the order */
      for (uint64_t k = 0; k < nmsg && order_seq[k]; k++) {
        h ^= order_seq[k];
        h *= 1099511628211ull;
      }
      printf(",\"misorders\":%" PRIu64 ",\"order_hash\":\"%016" PRIx64 "\"",
             misorders, h);
    }
    if (grp) {
      struct timespec rt;
      clock_gettime(CLOCK_REALTIME, &rt);
      double wnow = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9,
             mnow = (double)now_ns() / 1e9;
      printf(",\"group_member\":%d,\"group_size\":%d,\"wall_start\":%.3f,"
             "\"wall_end\":%.3f",
             grp_idx, grp_n, wnow - (mnow - (double)start / 1e9),
             wnow - (mnow - (double)end_recv / 1e9));
      hist_json(stdout, &lat);
    }
    if (use_tls) {
      uint64_t nr = tls_records - recs0;
      printf(",\"tls\":true,\"tls_records\":%" PRIu64
             ",\"tls_records_per_delivery\":%.4f,\"tls_bytes_per_record\":%.0f",
             nr, deliveries ? (double)nr / (double)deliveries : 0,
             nr ? (double)(tls_record_bytes - rbytes0) / (double)nr : 0);
    } else {
      printf(",\"tls\":false");
    }
    printf(",\"loadgen_cpu_s\":%.3f,\"connect_s\":%.2f}\n",
           self_cpu_s() - self0, connect_s);
    fflush(stdout);
    fprintf(stderr,
            "loadgen: %s phase %d size %u W %u: %" PRIu64 " msgs, %.0f "
            "deliveries/s, p99 %.0f us, lost %" PRIu64 ", dups %" PRIu64 "\n",
            label, pi, ph->size, ph->window, nmsg, dps, hq(&lat, 0.99) / 1e3,
            total_lost, dups);
    if (timed_out)
      break;
    /* the next phase starts with every subscriber caught up */
    for (unsigned i = 0; i < nsubs; i++)
      if (subs[i].state == C_STREAM) {
        subs[i].base = published + 1;
        subs[i].bits = 0;
      }
    done_upto = seq_base = published;
  }
  if (restart_mode && rc == 0)
    rc = restart_wave(&base);
  if (stall_ms && rc == 0)
    rc = stall_wave();
  for (unsigned i = 0; i < nconns; i++)
    sub_close(&subs[i]);
  for (int i = 0; i < npubs; i++)
    close(pubs[i].fd);
  return rc;
}
