/* The in-memory test transport; see memtp.h. */
#include "memtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t memtp_writev(void *io, const struct iovec *iov, int n) {
  struct memtp *t = io;
  pthread_mutex_lock(&t->lock);
  t->writes++;
  if (t->fail) {
    pthread_mutex_unlock(&t->lock);
    return HUB_ESYS;
  }
  size_t took = 0;
  for (int i = 0; i < n && took < t->accept_max; i++) {
    size_t k = iov[i].iov_len;
    if (k > t->accept_max - took)
      k = t->accept_max - took;
    if (t->len + k > t->cap) {
      size_t ncap = t->cap ? t->cap * 2 : 256;
      while (ncap < t->len + k)
        ncap *= 2;
      t->buf = realloc(t->buf, ncap);
      t->cap = ncap;
    }
    memcpy(t->buf + t->len, iov[i].iov_base, k);
    t->len += k;
    took += k;
  }
  size_t offered = 0;
  for (int i = 0; i < n; i++)
    offered += iov[i].iov_len;
  int notify = took > 0 && took < offered && t->hub;
  pthread_mutex_unlock(&t->lock);
  if (notify)
    hub_client_writable(t->hub, t->id);
  if (t->on_write)
    t->on_write(t);
  return (int64_t)took;
}

static void memtp_close(void *io) {
  struct memtp *t = io;
  pthread_mutex_lock(&t->lock);
  t->closes++;
  pthread_mutex_unlock(&t->lock);
}

const hub_transport memtp_transport = {sizeof(hub_transport), memtp_writev,
                                      memtp_close};

struct memtp *memtp_new(void) {
  struct memtp *t = calloc(1, sizeof(*t));
  pthread_mutex_init(&t->lock, NULL);
  t->accept_max = SIZE_MAX;
  return t;
}

void memtp_free(struct memtp *t) {
  if (!t)
    return;
  pthread_mutex_destroy(&t->lock);
  free(t->buf);
  free(t);
}

void memtp_set_accept(struct memtp *t, size_t accept_max) {
  pthread_mutex_lock(&t->lock);
  t->accept_max = accept_max;
  pthread_mutex_unlock(&t->lock);
}

void memtp_set_fail(struct memtp *t, int fail) {
  pthread_mutex_lock(&t->lock);
  t->fail = fail;
  pthread_mutex_unlock(&t->lock);
}

char *memtp_take_copy(struct memtp *t, size_t *len) {
  pthread_mutex_lock(&t->lock);
  char *c = malloc(t->len + 1);
  memcpy(c, t->buf ? t->buf : "", t->len);
  c[t->len] = '\0';
  if (len)
    *len = t->len;
  pthread_mutex_unlock(&t->lock);
  return c;
}

size_t memtp_len(struct memtp *t) {
  pthread_mutex_lock(&t->lock);
  size_t n = t->len;
  pthread_mutex_unlock(&t->lock);
  return n;
}

bool memtp_got(struct memtp *t, const char *want) {
  char *buf = memtp_take_copy(t, NULL);
  bool ok = strcmp(buf, want) == 0;
  free(buf);
  return ok;
}

int memtp_closes(struct memtp *t) {
  pthread_mutex_lock(&t->lock);
  int n = t->closes;
  pthread_mutex_unlock(&t->lock);
  return n;
}

struct memtp *memtp_attach(hub_t *hub, const hub_client_options *copt) {
  struct memtp *t = memtp_new();
  t->hub = hub;
  if (hub_attach_transport(hub, &memtp_transport, t, copt, &t->id)) {
    memtp_free(t);
    return NULL;
  }
  return t;
}
