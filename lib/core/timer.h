/* A shard's timer lists: the handshake timeout, WebSocket pings, SSE
 * keepalives. Every client on one list has the same period, so a list is
 * ordered by due time and a tick looks only at its head. Shard thread
 * only. */
#ifndef HUB_TIMER_H
#define HUB_TIMER_H

#include <stdint.h>

struct shard;
struct client;

enum { TL_HANDSHAKE, TL_WS_PING, TL_SSE_KEEPALIVE, TL_COUNT, TL_NONE = 255 };

struct tlist {
  struct client *head, *tail;
  uint32_t period_ms; /* 0: the list is off */
};

/* Puts the client at the tail of timer list `list` (due one period from
 * now), taking it off the list it was on. */
void timer_add(struct shard *s, struct client *c, int list);
void timer_remove(struct shard *s, struct client *c);
/* Fires every timer that is due. */
void run_timers(struct shard *s);

#endif
