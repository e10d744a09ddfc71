/* A minimal WebSocket/HTTP client for unit tests: the far end of a
 * socketpair whose near end was handed to hub_attach_fd(). It can send
 * frames a real client would never send (unmasked, RSV bits, bad lengths)
 * to test the server's answers. */
#ifndef WSCLIENT_H
#define WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanhub.h"

/* A socketpair with one end attached to `hub` (head: nothing read yet);
 * returns the test's end, or -1. *id receives the client id. */
int wsc_attach(hub_t *hub, hub_client_id *id);
/* Writes all of buf. */
bool wsc_write(int fd, const void *buf, size_t len);
/* Reads an HTTP response head (through the blank line) into buf; returns
 * the status code, or -1 on timeout/EOF. */
int wsc_read_head(int fd, char *buf, size_t cap, int timeout_ms);
/* Sends a GET upgrade for `path` with the RFC 6455 sample key and reads
 * the response head; returns the status. */
int wsc_upgrade(int fd, const char *path, const char *extra_headers,
                char *head, size_t cap);
/* Encodes one frame into f (room for 14 + len); returns its length. */
size_t wsc_encode(unsigned char *f, bool fin, unsigned rsv, unsigned opcode,
                  const void *data, size_t len, bool mask);
/* Sends one frame: fin, rsv (0..7), opcode, masked or not. */
bool wsc_send(int fd, bool fin, unsigned rsv, unsigned opcode,
              const void *data, size_t len, bool mask);
/* Sends a masked final text frame. */
bool wsc_send_text(int fd, const char *text);
/* Reads one server frame; returns its payload length (NUL-terminated in
 * buf) and *opcode, or -1 on EOF or timeout. */
long wsc_recv(int fd, unsigned *opcode, char *buf, size_t cap,
              int timeout_ms);
/* Reads frames until a text frame containing `needle`; false on timeout
 * or EOF. The frame lands in buf. */
bool wsc_recv_until(int fd, const char *needle, char *buf, size_t cap,
                    int timeout_ms);
/* True once the peer has closed: read returns 0 within timeout_ms. */
bool wsc_eof(int fd, int timeout_ms);

/* A WebSocket client attached to the hub, upgraded on /ws, past its
 * hello; -1 on failure. */
int wsc_open(hub_t *hub);
/* Reads text frames until one holding `needle` (left in buf), appending
 * the "seq" of each message frame to seqs. Returns their count or -1. */
int wsc_read_seqs(int fd, const char *needle, int64_t *seqs, int max,
                  char *buf, size_t cap);

#endif
