/* hub_stats() in the Prometheus text exposition format. */
#include <inttypes.h>
#include <stdio.h>

#include "hub.h"

struct metric {
  const char *name, *type, *help;
  size_t off;
};

#define M(field, type, help)                                                   \
  { "fanhub_" #field, type, help, offsetof(hub_stats_t, field) }

static const struct metric metrics[] = {
    M(clients, "gauge", "Clients attached and not yet closed."),
    M(subscriptions, "gauge", "Client-topic subscriptions."),
    M(topics, "gauge", "Topics with at least one subscriber."),
    M(bytes_queued, "gauge", "Frame bytes waiting in client queues."),
    M(broadcasts, "counter", "Messages broadcast."),
    M(deliveries, "counter", "Broadcast messages fully written to clients."),
    M(drops, "counter", "Messages discarded by drop-oldest."),
    M(evictions, "counter", "Clients closed by the disconnect policy."),
    M(queue_overflows, "counter", "Messages lost to a full shard queue."),
    M(clients_closed, "counter", "Clients closed for any reason."),
    M(ws_accepted, "counter", "WebSocket handshakes completed."),
    M(sse_accepted, "counter", "SSE streams started."),
    M(http_refused, "counter", "Requests refused with an HTTP error."),
    M(history_msgs, "gauge", "Messages retained in topic histories."),
    M(history_bytes, "gauge", "Payload bytes retained in topic histories."),
    M(patterns, "gauge", "Wildcard patterns with subscribers."),
    M(auth_denied, "counter", "Connects, subscribes, publishes denied."),
    M(auth_timeouts, "counter", "Pending auth decisions that timed out."),
    M(origin_refused, "counter", "WebSocket requests from a foreign Origin."),
    M(capacity_refused, "counter", "Requests refused by connection caps."),
    M(rate_limited, "counter", "Inbound messages over the rate."),
    M(write_timeouts, "counter", "Clients closed for no write progress."),
    M(idle_timeouts, "counter", "Clients closed for silence."),
};

size_t hub_metrics_text(hub_t *hub, char *buf, size_t len) {
  hub_stats_t st;
  if (!hub || hub_stats(hub, &st, sizeof(st)))
    return 0;
  size_t need = 0;
  for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
    const struct metric *m = &metrics[i];
    uint64_t v = *(const uint64_t *)(const void *)((const char *)&st + m->off);
    const char *suffix = m->type[0] == 'c' ? "_total" : "";
    int n =
        snprintf(need < len ? buf + need : NULL, need < len ? len - need : 0,
                 "# HELP %s%s %s\n# TYPE %s%s %s\n%s%s %" PRIu64 "\n", m->name,
                 suffix, m->help, m->name, suffix, m->type, m->name, suffix, v);
    if (n > 0)
      need += (size_t)n;
  }
  int n = snprintf(need < len ? buf + need : NULL, need < len ? len - need : 0,
                   "# HELP fanhub_shards Shards of this hub.\n"
                   "# TYPE fanhub_shards gauge\nfanhub_shards %u\n",
                   hub->nshards);
  if (n > 0)
    need += (size_t)n;
  return need;
}
