/* Admission control and per-client limits; see admission.h. */
#include "admission.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http.h"
#include "hub.h"
#include "notice.h"
#include "session.h"
#include "ws.h"

/* Connections per address, for the per-IP cap. */
struct ip_count {
  struct hnode node;
  uint8_t family;
  uint8_t addr[16];
  uint32_t count;
};

struct ip_key {
  uint8_t family;
  const uint8_t *addr;
};

static size_t addr_len(uint8_t family) { return family == AF_INET6 ? 16 : 4; }

static int ip_eq(const struct hnode *n, const void *key) {
  const struct ip_count *e = container_of(n, struct ip_count, node);
  const struct ip_key *k = key;
  return e->family == k->family &&
         memcmp(e->addr, k->addr, addr_len(k->family)) == 0;
}

void limits_init(struct hub *hub) {
  pthread_mutex_init(&hub->ips_lock, NULL);
  htable_init(&hub->ips, &hub->opt.mem);
  atomic_init(&hub->sockets, 0);
}

void limits_destroy(struct hub *hub) {
  struct hnode *n, *tmp;
  HTABLE_FOREACH(&hub->ips, n, tmp)
  mem_free(&hub->opt.mem, container_of(n, struct ip_count, node));
  htable_destroy(&hub->ips);
  pthread_mutex_destroy(&hub->ips_lock);
}

/* Adds `d` to the count of the client's address; returns the new count,
 * or UINT32_MAX on ENOMEM. */
static uint32_t ip_add(struct hub *hub, const struct session *se, int d) {
  struct ip_key k = {se->family, se->addr};
  uint64_t h = hash_bytes(&hub->key, se->addr, addr_len(se->family));
  uint32_t n = UINT32_MAX;
  pthread_mutex_lock(&hub->ips_lock);
  struct hnode *hn = htable_find(&hub->ips, h, ip_eq, &k);
  struct ip_count *e = hn ? container_of(hn, struct ip_count, node) : NULL;
  if (!e && d > 0 && (e = mem_calloc(&hub->opt.mem, 1, sizeof(*e)))) {
    e->node.hash = h;
    e->family = se->family;
    memcpy(e->addr, se->addr, addr_len(se->family));
    if (htable_insert(&hub->ips, &e->node)) {
      mem_free(&hub->opt.mem, e);
      e = NULL;
    }
  }
  if (e) {
    e->count = (uint32_t)((int64_t)e->count + d);
    n = e->count;
    if (!n) {
      htable_remove(&hub->ips, &e->node);
      mem_free(&hub->opt.mem, e);
    }
  }
  pthread_mutex_unlock(&hub->ips_lock);
  return n;
}

int limits_admit(struct shard *s, struct client *c) {
  struct hub *hub = s->hub;
  struct session *se = session_of(c);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) {
      const struct sockaddr_in *in = (const void *)&ss;
      se->family = AF_INET;
      memcpy(se->addr, &in->sin_addr, 4);
      se->port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      const struct sockaddr_in6 *in6 = (const void *)&ss;
      se->family = AF_INET6;
      memcpy(se->addr, &in6->sin6_addr, 16);
      se->port = ntohs(in6->sin6_port);
    }
  }
  se->counted = true;
  uint64_t n = atomic_fetch_add(&hub->sockets, 1) + 1;
  if (hub->opt.max_connections && n > hub->opt.max_connections)
    return 503;
  if (se->family && hub->opt.max_conn_per_ip) {
    se->ip_counted = true;
    if (ip_add(hub, se, 1) > hub->opt.max_conn_per_ip)
      return 503;
  }
  return 0;
}

void limits_release(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  if (se->counted)
    atomic_fetch_sub(&s->hub->sockets, 1);
  if (se->ip_counted)
    ip_add(s->hub, se, -1);
  se->counted = se->ip_counted = false;
}

void limits_addr(const struct session *se, char out[64]) {
  char ip[INET6_ADDRSTRLEN];
  out[0] = '\0';
  if (se->family && inet_ntop(se->family, se->addr, ip, sizeof(ip)))
    snprintf(out, 64, se->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
             (unsigned)se->port);
}

/* The host[:port] of an Origin or Host value: Origin without its scheme. */
static void authority(const char *v, size_t len, const char **out,
                      size_t *olen) {
  const char *p = memchr(v, ':', len);
  if (p && p + 2 < v + len && p[1] == '/' && p[2] == '/') {
    len -= (size_t)(p + 3 - v);
    v = p + 3;
  }
  *out = v;
  *olen = len;
}

bool limits_origin_ok(const struct hub *hub, const struct http_request *req) {
  const struct http_header *o = http_find_header(req, "Origin");
  if (hub->opt.norigins) {
    for (size_t i = 0; i < hub->opt.norigins; i++) {
      const char *a = hub->opt.origins[i];
      if (strcmp(a, "*") == 0 ||
          (o && strlen(a) == o->value_len &&
           strncasecmp(a, o->value, o->value_len) == 0))
        return true;
    }
    return false;
  }
  /* Default: non-browser clients (no Origin) and same-origin pages. */
  if (!o)
    return true;
  const struct http_header *h = http_find_header(req, "Host");
  const char *oa, *ha;
  size_t ol, hl;
  if (!h)
    return false;
  authority(o->value, o->value_len, &oa, &ol);
  authority(h->value, h->value_len, &ha, &hl);
  return ol == hl && strncasecmp(oa, ha, ol) == 0;
}

bool limits_topic_ok(const struct hub *hub, const char *topic, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)topic[i];
    if (!(hub->opt.topic_chars[ch >> 3] & (1u << (ch & 7))))
      return false;
  }
  return len > 0;
}

/* The budget is in thousandths of a message, refilled from the clock. */
bool limits_rate_ok(struct shard *s, struct client *c) {
  const struct hub_options *o = &s->hub->opt;
  if (!o->rate_per_sec)
    return true;
  struct session *se = session_of(c);
  int64_t now = hub__now_ms();
  int64_t cap = (int64_t)o->rate_burst * 1000;
  if (!se->rate_ms) {
    se->rate_tokens = cap;
  } else {
    se->rate_tokens += (now - se->rate_ms) * (int64_t)o->rate_per_sec;
    if (se->rate_tokens > cap)
      se->rate_tokens = cap;
  }
  se->rate_ms = now;
  se->rate_tokens -= 1000;
  if (se->rate_tokens >= 0)
    return true;
  s->st.rate_limited++;
  if (se->rate_tokens < -cap) {
    ws_close(s, c, HUB_CLOSE_POLICY, "message rate");
    return false;
  }
  notice_reply(s, c, "error", NULL, 0, -1, "rate-limited", NULL, 0);
  return false;
}

void limits_tick(struct shard *s, int64_t now) {
  const struct hub_options *o = &s->hub->opt;
  if (!o->write_timeout_ms && !o->idle_timeout_ms)
    return;
  struct hnode *n, *tmp;
  HTABLE_FOREACH(&s->clients, n, tmp) {
    struct client *c = container_of(n, struct client, node);
    if (c->state != CLIENT_OPEN)
      continue;
    if (o->write_timeout_ms && c->stuck_ms &&
        now - c->stuck_ms > (int64_t)o->write_timeout_ms) {
      s->st.write_timeouts++;
      client_doom(s, c, HUB_CLOSE_POLICY);
    } else if (o->idle_timeout_ms && c->kind == CLIENT_WS &&
               now - session_of(c)->input_ms > (int64_t)o->idle_timeout_ms) {
      s->st.idle_timeouts++;
      ws_close(s, c, HUB_CLOSE_GOING_AWAY, "idle");
    }
  }
}
