/* How a message looks on NATS: its subject, and its topic in the
 * Fanhub-Topic header. Input from NATS is untrusted: any program on the
 * server may publish to our subjects (test/fuzz/fuzz_nats_wire.c). */
#ifndef FANHUB_NATS_WIRE_H
#define FANHUB_NATS_WIRE_H

#include <stdbool.h>
#include <stddef.h>

/* A NATS subject without wildcards: non-empty '.'-separated tokens of
 * printable ASCII other than '*' and '>'. */
bool wire_subject_ok(const char *s, size_t n);
/* The Fanhub-Topic header value for an n-byte topic: CR, LF, '%' and the
 * other control bytes as %XX (a header value is one line). out holds
 * 3 * n + 1 bytes. Returns the length written (NUL not counted). */
size_t wire_topic_encode(char *out, const char *topic, size_t n);
/* Decodes a header value in place; false for a malformed escape, an
 * escaped NUL or an empty result. */
bool wire_topic_decode(char *s);

#endif
