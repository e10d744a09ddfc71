/* libFuzzer target for libfanhub-nats's wire format: a Fanhub-Topic
 * header value from any program on the NATS server must decode or be
 * refused without harm; every topic must survive encode then decode
 * exactly, as one header line; a subject found valid has no wildcard and
 * no empty token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define REQUIRE(c)                                                            \
  do {                                                                        \
    if (!(c))                                                                 \
      abort();                                                                \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1), *enc = malloc(3 * size + 1),
       *topic = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';

  /* Untrusted header value: decoded or refused, never longer. */
  size_t before = strlen(s);
  if (wire_topic_decode(s))
    REQUIRE(strlen(s) >= 1 && strlen(s) <= before);

  /* A topic (no NUL) round-trips, and its header value is one line of
   * printable bytes. */
  size_t n = 0;
  for (size_t i = 0; i < size; i++)
    if (data[i])
      topic[n++] = (char)data[i];
  topic[n] = '\0';
  size_t elen = wire_topic_encode(enc, topic, n);
  REQUIRE(elen == strlen(enc) && elen <= 3 * n);
  for (size_t i = 0; i < elen; i++)
    REQUIRE((unsigned char)enc[i] >= ' ' && (unsigned char)enc[i] != 0x7f);
  if (n) {
    REQUIRE(wire_topic_decode(enc));
    REQUIRE(strcmp(enc, topic) == 0);
  }

  /* Subjects. */
  if (wire_subject_ok((const char *)data, size)) {
    REQUIRE(size && data[0] != '.' && data[size - 1] != '.');
    for (size_t i = 0; i < size; i++) {
      REQUIRE(data[i] > ' ' && data[i] < 0x7f && data[i] != '*' &&
              data[i] != '>');
      REQUIRE(!(data[i] == '.' && i + 1 < size && data[i + 1] == '.'));
    }
  }
  free(s);
  free(enc);
  free(topic);
  return 0;
}
