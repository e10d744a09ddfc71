/* The in-memory transport for tests: appends what the hub writes to a
 * buffer another thread can read. It can be stalled (takes nothing), made
 * to take at most k bytes per call, or made to fail. */
#ifndef MEMTP_H
#define MEMTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "fanhub.h"

struct memtp {
  pthread_mutex_t lock;
  char *buf;
  size_t len, cap;
  size_t accept_max; /* bytes taken per writev; 0 = stalled. When a write
                        takes less than offered but more than 0, the memtp
                        calls hub_client_writable() itself, the way a
                        socket's EPOLLOUT fires once it drains. */
  int fail;          /* writev returns HUB_ESYS */
  int closes;        /* times the hub called close */
  int writes;        /* writev calls */
  hub_client_id id;
  hub_t *hub;
  /* Called after each writev, outside the lock, on the writing thread. */
  void (*on_write)(struct memtp *t);
};

extern const hub_transport memtp_transport;

struct memtp *memtp_new(void);
void memtp_free(struct memtp *t);
void memtp_set_accept(struct memtp *t, size_t accept_max);
void memtp_set_fail(struct memtp *t, int fail);
/* Copies out the bytes received so far (NUL-terminated); caller frees. */
char *memtp_take_copy(struct memtp *t, size_t *len);
size_t memtp_len(struct memtp *t);
/* True if the bytes received so far are exactly `want`. */
bool memtp_got(struct memtp *t, const char *want);
int memtp_closes(struct memtp *t);

/* Attaches a new memtp client; NULL on failure. */
struct memtp *memtp_attach(hub_t *hub, const hub_client_options *copt);

#endif
