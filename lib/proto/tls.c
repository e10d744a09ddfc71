/* The mbedTLS binding; see tls.h. */
#include "tls.h"

#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* One TLS record's worth: writes are gathered into it, one record each. */
#define TLS_CHUNK 16384

struct tls_shard {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt crt;
  mbedtls_pk_context key;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  const hub_mem *mem;
  size_t page; /* the page size, for tls_trim() */
  unsigned char gather[TLS_CHUNK];
};

struct tls_conn {
  mbedtls_ssl_context ssl;
  struct tls_shard *ts;
  int fd;
  bool done;       /* handshake complete */
  bool want_write; /* the last operation stopped on a full socket */
  /* tls_trim() bookkeeping: a record reached past the first page of its
   * buffer since the last trim (there are pages to give back), and since
   * the last tls_idle_tick() (the connection is not idle). */
  bool touched, busy;
  /* A record mbedTLS took but could not send all of: it must be offered
   * again with the same length, so its plaintext is kept here; *held says
   * so to the client's flush. */
  unsigned char *pend;
  size_t pend_len;
  bool *held;
};

int tls_shard_new(const hub_mem *mem, const char *cert, size_t cert_len,
                  const char *key, size_t key_len, struct tls_shard **out) {
  *out = NULL;
  struct tls_shard *ts = mem_calloc(mem, 1, sizeof(*ts));
  if (!ts)
    return HUB_ENOMEM;
  ts->mem = mem;
  long pg = sysconf(_SC_PAGESIZE);
  ts->page = pg > 0 ? (size_t)pg : 4096;
  mbedtls_ssl_config_init(&ts->conf);
  mbedtls_x509_crt_init(&ts->crt);
  mbedtls_pk_init(&ts->key);
  mbedtls_entropy_init(&ts->entropy);
  mbedtls_ctr_drbg_init(&ts->drbg);
  static const unsigned char pers[] = "fanhub";
  if (mbedtls_ctr_drbg_seed(&ts->drbg, mbedtls_entropy_func, &ts->entropy, pers,
                            sizeof(pers) - 1) ||
      mbedtls_x509_crt_parse(&ts->crt, (const unsigned char *)cert,
                             cert_len + 1) ||
      mbedtls_pk_parse_key(&ts->key, (const unsigned char *)key, key_len + 1,
                           NULL, 0) ||
      mbedtls_ssl_config_defaults(&ts->conf, MBEDTLS_SSL_IS_SERVER,
                                  MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) ||
      mbedtls_ssl_conf_own_cert(&ts->conf, &ts->crt, &ts->key)) {
    tls_shard_free(ts);
    return HUB_ETLS;
  }
  mbedtls_ssl_conf_rng(&ts->conf, mbedtls_ctr_drbg_random, &ts->drbg);
  mbedtls_ssl_conf_min_version(&ts->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
  *out = ts;
  return 0;
}

void tls_shard_free(struct tls_shard *ts) {
  if (!ts)
    return;
  mbedtls_ssl_config_free(&ts->conf);
  mbedtls_x509_crt_free(&ts->crt);
  mbedtls_pk_free(&ts->key);
  mbedtls_ctr_drbg_free(&ts->drbg);
  mbedtls_entropy_free(&ts->entropy);
  mem_free(ts->mem, ts);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  struct tls_conn *t = ctx;
  ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return (int)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  struct tls_conn *t = ctx;
  ssize_t n = recv(t->fd, buf, len, 0);
  if (n >= 0)
    return (int)n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return MBEDTLS_ERR_SSL_WANT_READ;
  return MBEDTLS_ERR_NET_RECV_FAILED;
}

struct tls_conn *tls_conn_new(struct tls_shard *ts, int fd, bool *held) {
  struct tls_conn *t = mem_calloc(ts->mem, 1, sizeof(*t));
  if (!t)
    return NULL;
  t->ts = ts;
  t->fd = fd;
  t->held = held;
  mbedtls_ssl_init(&t->ssl);
  if (mbedtls_ssl_setup(&t->ssl, &ts->conf)) {
    mbedtls_ssl_free(&t->ssl);
    mem_free(ts->mem, t);
    return NULL;
  }
  mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
  return t;
}

static bool again(int r) {
  return r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE;
}

/* The memory of an idle connection. mbedTLS 2.28 gives every connection
 * a 16 KiB input and a 16 KiB output buffer (MBEDTLS_SSL_IN/OUT_CONTENT_LEN
 * are compile-time, and Debian's build cannot shrink them after the
 * handshake: no MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH), allocated with
 * calloc(), which writes every page of them: ~33 KiB of RSS per connection
 * before it has sent a byte. Between records neither buffer holds anything
 * but its first bytes (the 8-byte record counter, then the header and
 * explicit IV of the record in progress, before in_msg / out_msg), so the
 * whole pages past in_msg / out_msg can go back to the kernel with
 * MADV_DONTNEED: they read back as zeros and fault in again when a record
 * needs them. The process's allocator is not involved (the pages stay the
 * buffers'), nor is mbedTLS's: mbedtls_platform_set_calloc_free() would
 * change it for the whole process, host and other libraries included
 * (and Debian's build has no MBEDTLS_PLATFORM_MEMORY). Reading in_* / out_*
 * needs 2.x, where they are plain fields; elsewhere this does nothing. */
#if MBEDTLS_VERSION_NUMBER >= 0x02100000 && MBEDTLS_VERSION_NUMBER < 0x03000000
#define TLS_TRIM 1
#ifdef MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH
#define IN_BUF_LEN(s) ((s)->in_buf_len)
#define OUT_BUF_LEN(s) ((s)->out_buf_len)
#else
#define IN_BUF_LEN(s) ((size_t)MBEDTLS_SSL_IN_BUFFER_LEN)
#define OUT_BUF_LEN(s) ((size_t)MBEDTLS_SSL_OUT_BUFFER_LEN)
#endif
#endif

#ifdef TLS_TRIM
/* The whole pages of [from, to) but the one `from` is in. */
static void drop_pages(size_t page, const unsigned char *from,
                       const unsigned char *to) {
  uintptr_t a = ((uintptr_t)from & ~(uintptr_t)(page - 1)) + page;
  uintptr_t b = (uintptr_t)to & ~(uintptr_t)(page - 1);
  if (b > a)
    madvise((void *)a, b - a, MADV_DONTNEED);
}
#endif

/* Only once the handshake is done (the handshake keeps messages across
 * records), with no record in either buffer: nothing of an output record
 * unsent (out_left), no input record half-received (in_left) or not read
 * out (mbedtls_ssl_check_pending: plaintext, a handshake message, a
 * message kept back). The pages after the one in_msg / out_msg is in hold
 * nothing then; that page and the bytes before it (the record counters,
 * the header) stay. */
static void tls_trim(struct tls_conn *t) {
#ifdef TLS_TRIM
  mbedtls_ssl_context *s = &t->ssl;
  if (!t->done || !s->in_buf || !s->out_buf)
    return;
  if (!s->out_left && !t->pend_len)
    drop_pages(t->ts->page, s->out_msg, s->out_buf + OUT_BUF_LEN(s));
  if (!s->in_left && !mbedtls_ssl_check_pending(s) &&
      !mbedtls_ssl_get_bytes_avail(s))
    drop_pages(t->ts->page, s->in_msg, s->in_buf + IN_BUF_LEN(s));
#else
  (void)t;
#endif
}

int tls_handshake(struct tls_conn *t) {
  int r = mbedtls_ssl_handshake(&t->ssl);
  t->want_write = r == MBEDTLS_ERR_SSL_WANT_WRITE;
  if (r == 0) {
    t->done = true;
    tls_trim(t); /* calloc() and the handshake's records touched them */
    return 1;
  }
  return again(r) ? 0 : HUB_ETLS;
}

/* A record of len bytes at msg (in_msg / out_msg) reaches past the page
 * msg is in (the one the trim keeps): len plus the GCM tag. */
static void note_record(struct tls_conn *t, const unsigned char *msg,
                        size_t len) {
  uintptr_t first =
      ((uintptr_t)msg & ~(uintptr_t)(t->ts->page - 1)) + t->ts->page;
  if ((uintptr_t)msg + len + 16 > first)
    t->touched = t->busy = true;
}

void tls_idle_tick(struct tls_conn *t) {
  if (t->touched && !t->busy) {
    tls_trim(t);
    t->touched = false;
  }
  t->busy = false;
}

ssize_t tls_read(struct tls_conn *t, unsigned char *buf, size_t len) {
  int r = mbedtls_ssl_read(&t->ssl, buf, len);
  if (r > 0) {
    note_record(t, t->ssl.in_msg, (size_t)r);
    return r;
  }
  if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
    return 0;
  if (again(r)) {
    errno = EAGAIN;
    return -1;
  }
  return -2;
}

bool tls_has_buffered(const struct tls_conn *t) {
  return mbedtls_ssl_get_bytes_avail(&t->ssl) > 0 ||
         mbedtls_ssl_check_pending(&t->ssl);
}

bool tls_wants_write(const struct tls_conn *t) {
  return t->pend_len > 0 || (!t->done && t->want_write);
}

int tls_flush(struct tls_conn *t) {
  if (!t->pend_len)
    return 0;
  int r = mbedtls_ssl_write(&t->ssl, t->pend, t->pend_len);
  if (again(r))
    return 1;
  if (r < 0)
    return HUB_ESYS;
  mem_free(t->ts->mem, t->pend);
  t->pend = NULL;
  t->pend_len = 0;
  *t->held = false;
  return 0;
}

/* Copies up to TLS_CHUNK bytes of iov, starting `skip` bytes in. */
static size_t gather(unsigned char *out, const struct iovec *iov, int n,
                     size_t skip) {
  size_t len = 0;
  for (int i = 0; i < n && len < TLS_CHUNK; i++) {
    size_t l = iov[i].iov_len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    size_t k = l - skip;
    if (k > TLS_CHUNK - len)
      k = TLS_CHUNK - len;
    memcpy(out + len, (const char *)iov[i].iov_base + skip, k);
    len += k;
    skip = 0;
  }
  return len;
}

static int64_t tls_writev(void *io, const struct iovec *iov, int n) {
  struct tls_conn *t = io;
  int r = tls_flush(t);
  if (r)
    return r == 1 ? 0 : r;
  size_t total = 0, len;
  while ((len = gather(t->ts->gather, iov, n, total)) > 0) {
    r = mbedtls_ssl_write(&t->ssl, t->ts->gather, len);
    note_record(t, t->ssl.out_msg, len);
    if (r > 0) {
      total += (size_t)r;
      continue;
    }
    if (!again(r))
      return HUB_ESYS;
    /* mbedTLS holds this record now; it counts as taken, and the client
     * waits for EPOLLOUT because *held says so. */
    t->pend = mem_malloc(t->ts->mem, len);
    if (!t->pend)
      return HUB_ENOMEM;
    memcpy(t->pend, t->ts->gather, len);
    t->pend_len = len;
    *t->held = true;
    total += len;
    break;
  }
  return (int64_t)total;
}

static void tls_close(void *io) {
  struct tls_conn *t = io;
  if (t->done)
    mbedtls_ssl_close_notify(&t->ssl); /* best effort, never waits */
  mbedtls_ssl_free(&t->ssl);
  close(t->fd);
  mem_free(t->ts->mem, t->pend);
  mem_free(t->ts->mem, t);
}

const hub_transport tls_transport = {sizeof(hub_transport), tls_writev,
                                     tls_close};
