/* TLS for socket clients, on mbedTLS. Each shard has its own
 * configuration, key and random generator, so no TLS state is shared
 * between threads. A TLS client runs the handshake first, then reads and
 * writes through its mbedtls_ssl_context. Shard thread only. */
#ifndef HUB_TLS_H
#define HUB_TLS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common.h"

struct tls_shard;
struct tls_conn;

/* A shard's configuration in *out, from a PEM certificate chain and key
 * (NUL-terminated, len without the NUL). Returns 0, HUB_ENOMEM or
 * HUB_ETLS (and *out is NULL). */
int tls_shard_new(const hub_mem *mem, const char *cert, size_t cert_len,
                  const char *key, size_t key_len, struct tls_shard **out);
void tls_shard_free(struct tls_shard *ts);

/* A TLS server connection on `fd`, or NULL. `*held` is true while it
 * holds output the socket did not take (the client's flag, see struct
 * client). */
struct tls_conn *tls_conn_new(struct tls_shard *ts, int fd, bool *held);
/* writev/close for a TLS client; io_user is its tls_conn. */
extern const hub_transport tls_transport;

/* Drives the handshake: 1 done, 0 waiting (tls_wants_write says which
 * way), or HUB_ETLS on failure. */
int tls_handshake(struct tls_conn *t);
/* Like read(2): > 0 bytes, 0 at a clean end, -1 with errno EAGAIN when
 * nothing is ready, -2 on a TLS or socket error. */
ssize_t tls_read(struct tls_conn *t, unsigned char *buf, size_t len);
/* True if mbedTLS holds input the socket will not signal again: plaintext
 * of a record not read out, or bytes of a record already received. */
bool tls_has_buffered(const struct tls_conn *t);
/* True while mbedTLS holds output it could not write yet (or, during the
 * handshake, wants to write): wait for EPOLLOUT, then tls_flush(). */
bool tls_wants_write(const struct tls_conn *t);
/* Writes pending output; 0 when all is out, 1 still pending, HUB_ESYS. */
int tls_flush(struct tls_conn *t);
/* A timer tick of the client (WebSocket ping, SSE keepalive): if no
 * record went out since the last tick, the pages of its idle record
 * buffers go back to the kernel (see tls_trim() in tls.c). */
void tls_idle_tick(struct tls_conn *t);

#endif
