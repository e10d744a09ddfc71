/* Message construction: one allocation holds header, topic and payload. */
#include <string.h>

#include "msg.h"

struct msg *msg_new(const hub_mem *mem, const char *topic, size_t topic_len,
                    uint64_t topic_hash, const void *data, size_t len,
                    unsigned flags) {
  if (len > SIZE_MAX - sizeof(struct msg) - topic_len - 1)
    return NULL;
  struct msg *m = mem_malloc(mem, sizeof(*m) + len + topic_len + 1);
  if (!m)
    return NULL;
  atomic_init(&m->refs, 1);
  m->flags = flags;
  m->seq = 0;
  m->topic_hash = topic_hash;
  m->topic_len = topic_len;
  m->len = len;
  if (len)
    memcpy(m->data, data, len);
  char *t = (char *)m->data + len;
  memcpy(t, topic, topic_len);
  t[topic_len] = '\0';
  m->topic = t;
  return m;
}
