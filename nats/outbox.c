/* The outbox; see outbox.h. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

int outbox_init(struct outbox *ob, size_t max_msgs, size_t max_bytes) {
  memset(ob, 0, sizeof(*ob));
  ob->max_msgs = max_msgs;
  ob->max_bytes = max_bytes;
  if (pthread_mutex_init(&ob->lock, NULL))
    return -1;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rv = pthread_cond_init(&ob->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (rv) {
    pthread_mutex_destroy(&ob->lock);
    return -1;
  }
  return 0;
}

void ob_item_free(struct ob_item *it) { free(it); }

void outbox_destroy(struct outbox *ob) {
  for (struct ob_item *it = ob->head, *next; it; it = next) {
    next = it->next;
    ob_item_free(it);
  }
  for (unsigned i = 0; i < ob->nlosses; i++)
    free(ob->losses[i].topic);
  pthread_cond_destroy(&ob->cond);
  pthread_mutex_destroy(&ob->lock);
}

static struct ob_item *item_new(const char *topic, size_t topic_len,
                                const void *data, size_t len) {
  struct ob_item *it = malloc(sizeof(*it) + topic_len + len + 1);
  if (!it)
    return NULL;
  memset(it, 0, sizeof(*it));
  memcpy(it->topic, topic, topic_len);
  it->topic[topic_len] = '\0';
  it->topic_len = topic_len;
  it->data = it->topic + topic_len + 1;
  if (len)
    memcpy(it->data, data, len);
  it->len = len;
  return it;
}

static void note_loss_locked(struct outbox *ob, const char *topic,
                             size_t len, uint64_t count) {
  ob->dropped += count;
  if (!len) {
    ob->lost_any += count;
    return;
  }
  for (unsigned i = 0; i < ob->nlosses; i++)
    if (ob->losses[i].len == len && !memcmp(ob->losses[i].topic, topic, len)) {
      ob->losses[i].count += count;
      return;
    }
  char *copy = ob->nlosses < OB_LOSS_TOPICS ? malloc(len + 1) : NULL;
  if (!copy) {
    ob->lost_any += count;
    return;
  }
  memcpy(copy, topic, len);
  copy[len] = '\0';
  ob->losses[ob->nlosses++] = (struct ob_loss){count, len, copy};
}

int outbox_push(struct outbox *ob, const char *topic, size_t topic_len,
                const void *data, size_t len, unsigned flags) {
  pthread_mutex_lock(&ob->lock);
  bool full = ob->count >= ob->max_msgs || ob->bytes + len > ob->max_bytes;
  struct ob_item *it = full ? NULL : item_new(topic, topic_len, data, len);
  if (!it) {
    note_loss_locked(ob, topic, topic_len, 1);
    pthread_mutex_unlock(&ob->lock);
    return full ? 1 : -1;
  }
  it->flags = flags;
  if (ob->tail)
    ob->tail->next = it;
  else
    ob->head = it;
  ob->tail = it;
  ob->count++;
  ob->bytes += len;
  pthread_cond_signal(&ob->cond);
  pthread_mutex_unlock(&ob->lock);
  return 0;
}

void outbox_note_loss(struct outbox *ob, const struct ob_item *item) {
  pthread_mutex_lock(&ob->lock);
  /* A marker that could not go out stands for what it counted. */
  note_loss_locked(ob, item->topic, item->topic_len,
                   item->lost ? item->lost : 1);
  if (item->lost)
    ob->dropped -= item->lost; /* those were counted when dropped */
  pthread_mutex_unlock(&ob->lock);
}

bool outbox_has_work_locked(const struct outbox *ob) {
  return ob->head || ob->nlosses || ob->lost_any;
}

unsigned outbox_take_locked(struct outbox *ob, struct ob_item **out,
                            unsigned max) {
  unsigned n = 0;
  while (n < max && ob->head) {
    struct ob_item *it = ob->head;
    ob->head = it->next;
    if (!ob->head)
      ob->tail = NULL;
    ob->count--;
    ob->bytes -= it->len;
    it->next = NULL;
    out[n++] = it;
  }
  /* Markers once the backlog is out: they stand for messages dropped
   * while it was full, so they follow what was queued before them. */
  while (n < max && !ob->head && ob->nlosses) {
    struct ob_loss *l = &ob->losses[ob->nlosses - 1];
    struct ob_item *it = item_new(l->topic, l->len, NULL, 0);
    if (!it)
      break;
    it->lost = l->count;
    free(l->topic);
    ob->nlosses--;
    out[n++] = it;
  }
  if (n < max && !ob->head && !ob->nlosses && ob->lost_any) {
    struct ob_item *it = item_new("", 0, NULL, 0);
    if (it) {
      it->lost = ob->lost_any;
      ob->lost_any = 0;
      out[n++] = it;
    }
  }
  return n;
}
