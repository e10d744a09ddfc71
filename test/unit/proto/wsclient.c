/* The unit-test WebSocket client; see wsclient.h. */
#include "wsclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int wsc_attach(hub_t *hub, hub_client_id *id) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
    return -1;
  if (hub_attach_fd(hub, sp[0], NULL, 0, NULL, id)) {
    close(sp[1]);
    return -1;
  }
  return sp[1];
}

bool wsc_write(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
    if (w <= 0)
      return false;
    p += w;
    len -= (size_t)w;
  }
  return true;
}

/* Reads exactly n bytes within timeout_ms. */
static bool read_n(int fd, void *buf, size_t n, int timeout_ms) {
  char *p = buf;
  while (n) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) != 1)
      return false;
    ssize_t r = read(fd, p, n);
    if (r <= 0)
      return false;
    p += r;
    n -= (size_t)r;
  }
  return true;
}

int wsc_read_head(int fd, char *buf, size_t cap, int timeout_ms) {
  size_t len = 0;
  while (len + 1 < cap) {
    if (!read_n(fd, buf + len, 1, timeout_ms))
      return -1;
    len++;
    buf[len] = '\0';
    if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) {
      int status;
      return sscanf(buf, "HTTP/1.1 %d", &status) == 1 ? status : -1;
    }
  }
  return -1;
}

int wsc_upgrade(int fd, const char *path, const char *extra_headers,
                char *head, size_t cap) {
  char req[8192];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n",
                   path, extra_headers ? extra_headers : "");
  if (!wsc_write(fd, req, (size_t)n))
    return -1;
  return wsc_read_head(fd, head, cap, 2000);
}

size_t wsc_encode(unsigned char *f, bool fin, unsigned rsv, unsigned opcode,
                  const void *data, size_t len, bool mask) {
  size_t h = 0;
  f[h++] = (unsigned char)((fin ? 0x80 : 0) | (rsv << 4) | opcode);
  unsigned char m = mask ? 0x80 : 0;
  if (len < 126) {
    f[h++] = (unsigned char)(m | len);
  } else if (len <= 0xffff) {
    f[h++] = m | 126;
    f[h++] = (unsigned char)(len >> 8);
    f[h++] = (unsigned char)len;
  } else {
    f[h++] = m | 127;
    for (int i = 7; i >= 0; i--)
      f[h++] = (unsigned char)((uint64_t)len >> (8 * i));
  }
  static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (mask) {
    memcpy(f + h, key, 4);
    h += 4;
  }
  const unsigned char *d = data;
  for (size_t i = 0; i < len; i++)
    f[h + i] = mask ? d[i] ^ key[i & 3] : d[i];
  return h + len;
}

bool wsc_send(int fd, bool fin, unsigned rsv, unsigned opcode,
              const void *data, size_t len, bool mask) {
  unsigned char *f = malloc(14 + len);
  bool ok = wsc_write(fd, f, wsc_encode(f, fin, rsv, opcode, data, len, mask));
  free(f);
  return ok;
}

bool wsc_send_text(int fd, const char *text) {
  return wsc_send(fd, true, 0, 0x1, text, strlen(text), true);
}

long wsc_recv(int fd, unsigned *opcode, char *buf, size_t cap,
              int timeout_ms) {
  unsigned char h[10];
  if (!read_n(fd, h, 2, timeout_ms))
    return -1;
  uint64_t len = h[1] & 0x7f;
  if (len >= 126) {
    int k = len == 126 ? 2 : 8;
    if (!read_n(fd, h + 2, (size_t)k, timeout_ms))
      return -1;
    len = 0;
    for (int i = 0; i < k; i++)
      len = (len << 8) | h[2 + i];
  }
  if (len + 1 > cap)
    return -1;
  if (len && !read_n(fd, buf, (size_t)len, timeout_ms))
    return -1;
  buf[len] = '\0';
  *opcode = h[0] & 0x0f;
  return (long)len;
}

bool wsc_recv_until(int fd, const char *needle, char *buf, size_t cap,
                    int timeout_ms) {
  unsigned op;
  for (;;) {
    long n = wsc_recv(fd, &op, buf, cap, timeout_ms);
    if (n < 0)
      return false;
    if (op == 0x1 && strstr(buf, needle))
      return true;
  }
}

bool wsc_eof(int fd, int timeout_ms) {
  char c[256];
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) != 1)
      return false;
    ssize_t r = read(fd, c, sizeof(c));
    if (r == 0 || (r < 0 && errno == ECONNRESET))
      return true;
    if (r < 0)
      return false;
  }
}

int wsc_open(hub_t *hub) {
  hub_client_id id;
  char head[1024], buf[256];
  int fd = wsc_attach(hub, &id);
  if (fd < 0 || wsc_upgrade(fd, "/ws", NULL, head, sizeof(head)) != 101 ||
      !wsc_recv_until(fd, "hello", buf, sizeof(buf), 2000)) {
    close(fd);
    return -1;
  }
  return fd;
}

int wsc_read_seqs(int fd, const char *needle, int64_t *seqs, int max,
                     char *buf, size_t cap) {
  int n = 0;
  unsigned op;
  while (wsc_recv(fd, &op, buf, cap, 2000) >= 0) {
    const char *p = strstr(buf, "\"type\":\"message\"");
    if (p && n < max)
      seqs[n++] = strtoll(strstr(buf, "\"seq\":") + 6, NULL, 10);
    if (strstr(buf, needle))
      return n;
  }
  return -1;
}
