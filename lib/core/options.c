/* Option objects: every default is set in hub__options_defaults(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

void hub__options_defaults(struct hub_options *opt) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  opt->shards = cpus < 1                ? 1
                : cpus > HUB_MAX_SHARDS ? HUB_MAX_SHARDS
                                        : (unsigned)cpus;
  opt->threads = 1;
  opt->queue_max_msgs = 1024;
  opt->queue_max_bytes = 1u << 20;
  opt->policy = HUB_DROP_OLDEST;
  opt->shard_queue_size = 65536;
  opt->max_topic_len = 256;
  opt->mem = hub__mem_default;
  opt->on_close = NULL;
  opt->on_close_user_data = NULL;
  opt->on_auth = NULL;
  opt->on_auth_user_data = NULL;
  opt->ping_interval_ms = 30000;
  opt->sse_keepalive_ms = 15000;
  opt->sse_retry_ms = 2000;
  opt->max_message_size = 65536;
  opt->max_request_head = 8192;
  opt->handshake_timeout_ms = 10000;
  opt->client_publish = 0;
  opt->on_message = NULL;
  opt->on_message_user_data = NULL;
  opt->on_request = NULL;
  opt->on_request_user_data = NULL;
  opt->max_request_body = 65536;
  opt->tls_cert = opt->tls_key = NULL;
  opt->tls_cert_len = opt->tls_key_len = 0;
  opt->hist_default = (struct hist_limits){
      .max_msgs = 100, .max_age_ms = 300000, .max_bytes = 1u << 20};
  opt->hist_rules = NULL;
  opt->nhist_rules = 0;
  opt->auth_timeout_ms = 10000;
  opt->origins = NULL;
  opt->norigins = 0;
  opt->max_connections = opt->max_conn_per_ip = 0;
  opt->max_subscriptions = 1024;
  hub_options_set_topic_chars(opt, NULL);
  opt->rate_per_sec = 100;
  opt->rate_burst = 200;
  opt->write_timeout_ms = 30000;
  opt->idle_timeout_ms = 0;
  opt->presence = NULL;
  opt->npresence = 0;
}

int hub_options_new(hub_options **out) {
  if (!out)
    return HUB_EINVAL;
  hub_options *opt = malloc(sizeof(*opt));
  if (!opt)
    return HUB_ENOMEM;
  hub__options_defaults(opt);
  *out = opt;
  return 0;
}

void hub_options_free(hub_options *opt) {
  if (opt) {
    free(opt->tls_cert);
    free(opt->tls_key);
    for (size_t i = 0; i < opt->nhist_rules; i++)
      free(opt->hist_rules[i].pattern);
    free(opt->hist_rules);
    for (size_t i = 0; i < opt->norigins; i++)
      free(opt->origins[i]);
    free(opt->origins);
    for (size_t i = 0; i < opt->npresence; i++)
      free(opt->presence[i]);
    free(opt->presence);
  }
  free(opt);
}

int hub_options_set_shards(hub_options *opt, unsigned shards) {
  if (!opt || shards < 1 || shards > HUB_MAX_SHARDS)
    return HUB_EINVAL;
  opt->shards = shards;
  return 0;
}

int hub_options_set_threads(hub_options *opt, int threads) {
  if (!opt || (threads != 0 && threads != 1))
    return HUB_EINVAL;
  opt->threads = threads;
  return 0;
}

int hub_options_set_queue_limits(hub_options *opt, uint32_t max_msgs,
                                 uint64_t max_bytes) {
  if (!opt || max_msgs < 1 || max_bytes < 1)
    return HUB_EINVAL;
  opt->queue_max_msgs = max_msgs;
  opt->queue_max_bytes = max_bytes;
  return 0;
}

static int valid_policy(hub_policy p) {
  return p == HUB_DROP_OLDEST || p == HUB_DISCONNECT;
}

int hub_options_set_policy(hub_options *opt, hub_policy policy) {
  if (!opt || !valid_policy(policy))
    return HUB_EINVAL;
  opt->policy = policy;
  return 0;
}

int hub_options_set_shard_queue_size(hub_options *opt, uint32_t size) {
  if (!opt || size < 16 || size > (1u << 20))
    return HUB_EINVAL;
  uint32_t pow2 = 16;
  while (pow2 < size)
    pow2 <<= 1;
  opt->shard_queue_size = pow2;
  return 0;
}

int hub_options_set_max_topic_len(hub_options *opt, size_t len) {
  if (!opt || len < 1 || len > 65535)
    return HUB_EINVAL;
  opt->max_topic_len = len;
  return 0;
}

int hub_options_set_mem(hub_options *opt, const hub_mem *mem) {
  if (!opt)
    return HUB_EINVAL;
  if (!mem) {
    opt->mem = hub__mem_default;
    return 0;
  }
  hub_mem m;
  if (hub__copy_sized(&m, sizeof(m), mem, sizeof(m)) || !m.malloc ||
      !m.free || !m.calloc || !m.realloc)
    return HUB_EINVAL;
  opt->mem = m;
  return 0;
}

int hub_options_set_close_callback(hub_options *opt, hub_close_fn fn,
                                   void *user_data) {
  if (!opt)
    return HUB_EINVAL;
  opt->on_close = fn;
  opt->on_close_user_data = user_data;
  return 0;
}

int hub_options_set_auth_callback(hub_options *opt, hub_auth_fn fn,
                                  void *user_data) {
  if (!opt)
    return HUB_EINVAL;
  opt->on_auth = fn;
  opt->on_auth_user_data = user_data;
  return 0;
}

int hub_options_set_ping_interval(hub_options *opt, uint32_t ms) {
  if (!opt)
    return HUB_EINVAL;
  opt->ping_interval_ms = ms;
  return 0;
}

int hub_options_set_sse_keepalive(hub_options *opt, uint32_t ms) {
  if (!opt)
    return HUB_EINVAL;
  opt->sse_keepalive_ms = ms;
  return 0;
}

int hub_options_set_sse_retry(hub_options *opt, uint32_t ms) {
  if (!opt)
    return HUB_EINVAL;
  opt->sse_retry_ms = ms;
  return 0;
}

int hub_options_set_max_message_size(hub_options *opt, uint32_t bytes) {
  if (!opt || bytes < 125 || bytes > INT32_MAX)
    return HUB_EINVAL;
  opt->max_message_size = bytes;
  return 0;
}

int hub_options_set_max_request_head(hub_options *opt, uint32_t bytes) {
  if (!opt || bytes < 256 || bytes > 65536)
    return HUB_EINVAL;
  opt->max_request_head = bytes;
  return 0;
}

int hub_options_set_handshake_timeout(hub_options *opt, uint32_t ms) {
  if (!opt)
    return HUB_EINVAL;
  opt->handshake_timeout_ms = ms;
  return 0;
}

int hub_options_set_client_publish(hub_options *opt, int allow) {
  if (!opt || (allow != 0 && allow != 1))
    return HUB_EINVAL;
  opt->client_publish = allow;
  return 0;
}

int hub_options_set_message_callback(hub_options *opt, hub_message_fn fn,
                                     void *user_data) {
  if (!opt)
    return HUB_EINVAL;
  opt->on_message = fn;
  opt->on_message_user_data = user_data;
  return 0;
}

int hub_options_set_request_callback(hub_options *opt, hub_request_fn fn,
                                     void *user_data) {
  if (!opt)
    return HUB_EINVAL;
  opt->on_request = fn;
  opt->on_request_user_data = user_data;
  return 0;
}

int hub_options_set_max_request_body(hub_options *opt, uint32_t bytes) {
  if (!opt || bytes > (1u << 30))
    return HUB_EINVAL;
  opt->max_request_body = bytes;
  return 0;
}

int hub_options_set_history(hub_options *opt, const char *pattern,
                            uint32_t max_msgs, uint64_t max_bytes,
                            uint32_t max_age_ms) {
  if (!opt || (pattern && !*pattern))
    return HUB_EINVAL;
  struct hist_limits lim = {max_msgs, max_age_ms, max_bytes};
  if (!pattern) {
    opt->hist_default = lim;
    return 0;
  }
  struct hist_rule *r =
      realloc(opt->hist_rules, sizeof(*r) * (opt->nhist_rules + 1));
  if (!r)
    return HUB_ENOMEM;
  opt->hist_rules = r;
  r = &r[opt->nhist_rules];
  r->len = strlen(pattern);
  if (!(r->pattern = strdup(pattern)))
    return HUB_ENOMEM;
  r->lim = lim;
  opt->nhist_rules++;
  return 0;
}

int hub_options_set_presence(hub_options *opt, const char *pattern) {
  if (!opt || !pattern || !*pattern)
    return HUB_EINVAL;
  char **p = realloc(opt->presence, sizeof(*p) * (opt->npresence + 1));
  if (!p)
    return HUB_ENOMEM;
  opt->presence = p;
  if (!(p[opt->npresence] = strdup(pattern)))
    return HUB_ENOMEM;
  opt->npresence++;
  return 0;
}

int hub_options_set_auth_timeout(hub_options *opt, uint32_t ms) {
  if (!opt || ms == 0)
    return HUB_EINVAL;
  opt->auth_timeout_ms = ms;
  return 0;
}

int hub_options_add_origin(hub_options *opt, const char *origin) {
  if (!opt || !origin || !*origin || strpbrk(origin, "\r\n"))
    return HUB_EINVAL;
  char **o = realloc(opt->origins, sizeof(*o) * (opt->norigins + 1));
  if (!o)
    return HUB_ENOMEM;
  opt->origins = o;
  if (!(o[opt->norigins] = strdup(origin)))
    return HUB_ENOMEM;
  opt->norigins++;
  return 0;
}

int hub_options_set_max_connections(hub_options *opt, uint32_t max) {
  if (!opt)
    return HUB_EINVAL;
  opt->max_connections = max;
  return 0;
}

int hub_options_set_max_connections_per_ip(hub_options *opt, uint32_t max) {
  if (!opt)
    return HUB_EINVAL;
  opt->max_conn_per_ip = max;
  return 0;
}

int hub_options_set_max_subscriptions(hub_options *opt, uint32_t max) {
  if (!opt || max == 0)
    return HUB_EINVAL;
  opt->max_subscriptions = max;
  return 0;
}

int hub_options_set_topic_chars(hub_options *opt, const char *chars) {
  static const char def[] = "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789._-:@/=+~!$&'()*>,;";
  if (!opt || (chars && !*chars))
    return HUB_EINVAL;
  memset(opt->topic_chars, 0, sizeof(opt->topic_chars));
  for (const unsigned char *p = (const unsigned char *)(chars ? chars : def);
       *p; p++)
    opt->topic_chars[*p >> 3] |= (uint8_t)(1u << (*p & 7));
  return 0;
}

int hub_options_set_message_rate(hub_options *opt, uint32_t per_second,
                                 uint32_t burst) {
  if (!opt || (per_second && burst < 1) || burst > 1000000)
    return HUB_EINVAL;
  opt->rate_per_sec = per_second;
  opt->rate_burst = burst;
  return 0;
}

int hub_options_set_write_timeout(hub_options *opt, uint32_t ms) {
  if (!opt)
    return HUB_EINVAL;
  opt->write_timeout_ms = ms;
  return 0;
}

int hub_options_set_idle_timeout(hub_options *opt, uint32_t ms) {
  if (!opt)
    return HUB_EINVAL;
  opt->idle_timeout_ms = ms;
  return 0;
}

/* A NUL-terminated copy of data[0..len), or NULL. */
static char *copy(const char *data, size_t len) {
  char *c = malloc(len + 1);
  if (c) {
    memcpy(c, data, len);
    c[len] = '\0';
  }
  return c;
}

int hub_options_set_tls_pem(hub_options *opt, const char *cert, size_t cert_len,
                            const char *key, size_t key_len) {
  if (!opt || !cert || !key || !cert_len || !key_len)
    return HUB_EINVAL;
  char *c = copy(cert, cert_len), *k = copy(key, key_len);
  if (!c || !k) {
    free(c);
    free(k);
    return HUB_ENOMEM;
  }
  free(opt->tls_cert);
  free(opt->tls_key);
  opt->tls_cert = c;
  opt->tls_key = k;
  opt->tls_cert_len = cert_len;
  opt->tls_key_len = key_len;
  return 0;
}

/* Reads a whole (small) file; HUB_ESYS if it cannot. */
static int slurp(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return HUB_ESYS;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += r;
    if (n == cap) {
      char *nb = cap < (1u << 24) ? realloc(buf, cap *= 2) : NULL;
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (!buf)
    return HUB_ENOMEM;
  if (err) {
    free(buf);
    return HUB_ESYS;
  }
  *out = buf;
  *len = n;
  return 0;
}

int hub_options_set_tls_files(hub_options *opt, const char *cert_file,
                              const char *key_file) {
  if (!opt || !cert_file || !key_file)
    return HUB_EINVAL;
  char *c = NULL, *k = NULL;
  size_t cl = 0, kl = 0;
  int rv = slurp(cert_file, &c, &cl);
  if (!rv)
    rv = slurp(key_file, &k, &kl);
  if (!rv)
    rv = cl && kl ? hub_options_set_tls_pem(opt, c, cl, k, kl) : HUB_ETLS;
  free(c);
  free(k);
  return rv;
}

int hub_client_options_new(hub_client_options **out) {
  if (!out)
    return HUB_EINVAL;
  hub_client_options *c = calloc(1, sizeof(*c));
  if (!c)
    return HUB_ENOMEM;
  c->since = -1;
  *out = c;
  return 0;
}

void hub_client_options_free(hub_client_options *copt) {
  if (copt) {
    free(copt->topics);
    free(copt->principal);
    free(copt);
  }
}

int hub_client_options_set_protocol(hub_client_options *copt,
                                    hub_protocol protocol) {
  if (!copt || protocol < HUB_PROTO_DEFAULT || protocol > HUB_PROTO_SSE)
    return HUB_EINVAL;
  copt->protocol = protocol;
  return 0;
}

/* As many initial subscriptions as a client may have by default. */
#define COPT_TOPICS_MAX 1024

int hub_client_options_add_topic(hub_client_options *copt,
                                 const char *topic) {
  if (!copt || !topic || copt->ntopics >= COPT_TOPICS_MAX)
    return HUB_EINVAL;
  size_t n = strnlen(topic, 65536) + 1;
  char *t = realloc(copt->topics, copt->topics_len + n);
  if (!t)
    return HUB_ENOMEM;
  memcpy(t + copt->topics_len, topic, n - 1);
  t[copt->topics_len + n - 1] = '\0';
  copt->topics = t;
  copt->topics_len += n;
  copt->ntopics++;
  return 0;
}

int hub_client_options_set_since(hub_client_options *copt, const char *epoch,
                                 int64_t since) {
  if (!copt || since < 0 ||
      (epoch && strnlen(epoch, sizeof(copt->epoch)) >= sizeof(copt->epoch)))
    return HUB_EINVAL;
  copt->since = since;
  snprintf(copt->epoch, sizeof(copt->epoch), "%s", epoch ? epoch : "");
  return 0;
}

int hub_client_options_set_last_event_id(hub_client_options *copt,
                                         const char *id) {
  if (!copt || !id)
    return HUB_EINVAL;
  const char *dash = strrchr(id, '-'), *num = dash ? dash + 1 : id;
  size_t n = strlen(num);
  if (n == 0 || n > 18 || strspn(num, "0123456789") != n ||
      (dash && (size_t)(dash - id) >= sizeof(copt->epoch)))
    return HUB_EINVAL;
  copt->since = strtoll(num, NULL, 10);
  snprintf(copt->epoch, sizeof(copt->epoch), "%.*s",
           dash ? (int)(dash - id) : 0, id);
  return 0;
}

int hub_client_options_set_principal(hub_client_options *copt,
                                     const char *principal) {
  if (!copt || !principal || strnlen(principal, 256) > 255)
    return HUB_EINVAL;
  char *p = strdup(principal);
  if (!p)
    return HUB_ENOMEM;
  free(copt->principal);
  copt->principal = p;
  return 0;
}

int hub_client_options_set_queue_limits(hub_client_options *copt,
                                        uint32_t max_msgs, uint64_t max_bytes) {
  if (!copt || max_msgs < 1 || max_bytes < 1)
    return HUB_EINVAL;
  copt->queue_max_msgs = max_msgs;
  copt->queue_max_bytes = max_bytes;
  copt->set |= COPT_LIMITS;
  return 0;
}

int hub_client_options_set_policy(hub_client_options *copt, hub_policy policy) {
  if (!copt || !valid_policy(policy))
    return HUB_EINVAL;
  copt->policy = policy;
  copt->set |= COPT_POLICY;
  return 0;
}

int hub_client_options_set_user_data(hub_client_options *copt,
                                     void *user_data) {
  if (!copt)
    return HUB_EINVAL;
  copt->user_data = user_data;
  return 0;
}

int hub_client_options_set_raw(hub_client_options *copt, int raw) {
  if (!copt || (raw != 0 && raw != 1))
    return HUB_EINVAL;
  copt->raw = raw;
  return 0;
}

int hub_client_options_set_tls(hub_client_options *copt, int tls) {
  if (!copt || (tls != 0 && tls != 1))
    return HUB_EINVAL;
  copt->tls = tls;
  return 0;
}
