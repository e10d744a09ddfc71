/* The smallest fanhub host: one client whose transport is standard output,
 * subscribed to "news", and one broadcast. Build it against an installed
 * fanhub with:  cc hello_broadcast.c $(pkg-config --cflags --libs fanhub) */
#include <stdio.h>
#include <sys/uio.h>

#include <fanhub.h>

static int64_t stdout_writev(void *io, const struct iovec *iov, int n) {
  (void)io;
  ssize_t w = writev(1, iov, n);
  return w < 0 ? HUB_ESYS : w;
}

int main(void) {
  hub_t *hub = NULL;
  hub_client_id id;
  hub_transport tp = {.size = sizeof(tp), .writev = stdout_writev};
  int rv = hub_new(&hub, NULL);
  if (rv == 0 && (rv = hub_start(hub)) == 0 &&
      (rv = hub_attach_transport(hub, &tp, NULL, NULL, &id)) == 0 &&
      (rv = hub_subscribe(hub, id, "news")) == 0) {
    int64_t seq = hub_broadcast(hub, "news", "hello, fanhub\n", 14, 0);
    fprintf(stderr, "broadcast seq %lld\n", (long long)seq);
    hub_stop(hub, 1000); /* drains: the message is written before exit */
  }
  if (rv)
    fprintf(stderr, "fanhub: %s\n", hub_strerror(rv));
  hub_free(hub);
  return rv ? 1 : 0;
}
