/* A shard's timer lists; see timer.h. */
#include "timer.h"

#include "hub.h"

void timer_remove(struct shard *s, struct client *c) {
  if (c->tlist == TL_NONE)
    return;
  struct tlist *l = &s->timers[c->tlist];
  if (c->tprev)
    c->tprev->tnext = c->tnext;
  else
    l->head = c->tnext;
  if (c->tnext)
    c->tnext->tprev = c->tprev;
  else
    l->tail = c->tprev;
  c->tnext = c->tprev = NULL;
  c->tlist = TL_NONE;
}

void timer_add(struct shard *s, struct client *c, int list) {
  timer_remove(s, c);
  struct tlist *l = &s->timers[list];
  if (!l->period_ms)
    return;
  c->due_ms = hub__now_ms() + l->period_ms;
  c->tlist = (uint8_t)list;
  c->tprev = l->tail;
  c->tnext = NULL;
  if (l->tail)
    l->tail->tnext = c;
  else
    l->head = c;
  l->tail = c;
}

void run_timers(struct shard *s) {
  int64_t now = hub__now_ms();
  for (int i = 0; i < TL_COUNT; i++) {
    struct client *c;
    while ((c = s->timers[i].head) && c->due_ms <= now) {
      timer_remove(s, c);
      if (c->state == CLIENT_OPEN && c->ops)
        c->ops->tick(s, c, i);
    }
  }
}
