/* The auth callback and pending decisions; see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "control.h"
#include "handshake.h"
#include "http.h"
#include "hub.h"
#include "admission.h"
#include "session.h"

/* Requests one client may have waiting for the host at once. */
#define AUTH_PENDING_MAX 64
#define PRINCIPAL_MAX 255

struct auth_op {
  struct auth_op *next, *prev; /* the shard's list, oldest first */
  struct auth_op *cnext;       /* the client's list */
  struct client *c;
  uint64_t serial;
  int64_t deadline;
  int kind;
  struct client_req r; /* its strings live in buf */
  char buf[];
};

static void set_principal(struct shard *s, struct client *c, const char *p) {
  mem_free(s->mem, c->principal);
  c->principal = NULL;
  size_t n = p ? strnlen(p, PRINCIPAL_MAX) : 0;
  if (n && (c->principal = mem_malloc(s->mem, n + 1))) {
    memcpy(c->principal, p, n);
    c->principal[n] = '\0';
  }
}

static void unlink_op(struct shard *s, struct auth_op *op) {
  struct proto_shard *ps = s->proto;
  if (op->prev)
    op->prev->next = op->next;
  else
    ps->auth_head = op->next;
  if (op->next)
    op->next->prev = op->prev;
  else
    ps->auth_tail = op->prev;
  struct session *se = session_of(op->c);
  struct auth_op **pp = &se->auth_ops;
  while (*pp != op)
    pp = &(*pp)->cnext;
  *pp = op->cnext;
  se->auth_npending--;
}

/* Parks a decision; `r` (NULL for CONNECT) is copied. */
static bool park(struct shard *s, struct client *c, int kind,
                 uint64_t serial, const struct client_req *r) {
  size_t extra = r ? r->topic_len + 1 + r->id_len + r->data_len : 0;
  struct auth_op *op = mem_calloc(s->mem, 1, sizeof(*op) + extra);
  if (!op)
    return false;
  op->c = c;
  op->serial = serial;
  op->kind = kind;
  op->deadline = hub__now_ms() + s->hub->opt.auth_timeout_ms;
  if (r) {
    op->r = *r;
    char *p = op->buf;
    memcpy(p, r->topic, r->topic_len);
    p[r->topic_len] = '\0'; /* hub_broadcast() wants a C string */
    op->r.topic = p;
    p += r->topic_len + 1;
    if (r->id) {
      memcpy(p, r->id, r->id_len);
      op->r.id = p;
      p += r->id_len;
    }
    if (r->data) {
      memcpy(p, r->data, r->data_len);
      op->r.data = p;
    }
  }
  struct proto_shard *ps = s->proto;
  op->prev = ps->auth_tail;
  if (ps->auth_tail)
    ps->auth_tail->next = op;
  else
    ps->auth_head = op;
  ps->auth_tail = op;
  struct session *se = session_of(c);
  op->cnext = se->auth_ops;
  se->auth_ops = op;
  se->auth_npending++;
  return true;
}

static void deny_connect(struct shard *s, struct client *c, int status,
                         const char *reason) {
  session_of(c)->auth_state = AUTH_NONE;
  if (status < 400 || status > 599)
    status = 403;
  handshake_refuse(s, c, status, reason && *reason ? reason : "forbidden",
                   status == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  ch |= 0x20;
  return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out (room for n); false if malformed. */
static bool pct_decode(const char *s, size_t n, char *out, size_t *len) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      out[o++] = s[i];
    } else if (i + 2 < n &&
               hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      return false;
    }
  }
  *len = o;
  return true;
}

/* The credential of a request: "Authorization: Bearer", a "bearer."
 * subprotocol (percent-decoded into buf), or ?token= (decoded into buf);
 * buf and key hold req->target_len + 1 bytes, enough for any of them. */
static const char *find_token(const struct http_request *req, char *buf,
                              char *key, size_t *len) {
  const struct http_header *h = http_find_header(req, "Authorization");
  if (h && h->value_len > 7 && strncasecmp(h->value, "Bearer ", 7) == 0) {
    *len = h->value_len - 7;
    return h->value + 7;
  }
  const char *t;
  size_t tl, pos = 0;
  while (ws_next_protocol(req, &pos, &t, &tl))
    if (tl > 7 && memcmp(t, "bearer.", 7) == 0 &&
        pct_decode(t + 7, tl - 7, buf, len))
      return buf;
  const char *q = req->query;
  size_t ql = req->query_len, kl, cap = req->target_len + 1;
  while (http_query_next(&q, &ql, key, cap, &kl, buf, cap, len) == 1)
    if (kl == 5 && memcmp(key, "token", 5) == 0)
      return buf;
  return NULL;
}

bool auth_connect(struct shard *s, struct client *c,
                  const struct http_request *req) {
  struct hub *hub = s->hub;
  struct session *se = session_of(c);
  if (!hub->opt.on_auth || se->auth_state == AUTH_ALLOWED)
    return true;
  if (se->auth_state == AUTH_PENDING)
    return false;
  char addr[64];
  size_t tlen = 0;
  /* Any token fits in the request's target or one header line. */
  size_t cap = req->target_len + 1;
  for (size_t i = 0; i < req->nheaders; i++)
    if (req->headers[i].value_len >= cap)
      cap = req->headers[i].value_len + 1;
  char *tokbuf = mem_malloc(s->mem, 2 * cap);
  if (!tokbuf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return false;
  }
  const char *tok = find_token(req, tokbuf, tokbuf + cap, &tlen);
  const struct http_header *o = http_find_header(req, "Origin");
  limits_addr(se, addr);
  hub_auth_request q = {0};
  q.kind = HUB_AUTH_CONNECT;
  q.id = c->id;
  q.ticket.id = c->id;
  q.ticket.serial = ++se->auth_serial;
  q.remote_addr = addr;
  q.path = req->path;
  q.path_len = req->path_len;
  q.query = req->query;
  q.query_len = req->query_len;
  q.origin = o ? o->value : NULL;
  q.origin_len = o ? o->value_len : 0;
  q.token = tok;
  q.token_len = tok ? tlen : 0;
  q.principal = "";
  q.client_user_data = c->user_data;
  q.internal = req;
  hub_auth_result res = {.size = sizeof(res)};
  int v = hub->opt.on_auth(hub, &q, &res, hub->opt.on_auth_user_data);
  mem_free(s->mem, tokbuf);
  if (v == HUB_AUTH_ALLOW) {
    set_principal(s, c, res.principal);
    se->auth_state = AUTH_ALLOWED;
    return true;
  }
  if (v == HUB_AUTH_PENDING && park(s, c, HUB_AUTH_CONNECT, q.ticket.serial,
                                    NULL)) {
    /* The request is in: from here the auth timeout bounds the wait, not
     * the handshake timeout. */
    timer_remove(s, c);
    se->auth_state = AUTH_PENDING;
    return false;
  }
  s->st.auth_denied++;
  deny_connect(s, c, v == HUB_AUTH_PENDING ? 503 : res.status, res.reason);
  return false;
}

void auth_request(struct shard *s, struct client *c,
                  const struct client_req *r) {
  struct hub *hub = s->hub;
  if (!hub->opt.on_auth) {
    control_execute(s, c, r);
    return;
  }
  struct session *se = session_of(c);
  if (se->auth_npending >= AUTH_PENDING_MAX) {
    control_refuse(s, c, r, "too-many-pending", NULL);
    return;
  }
  char addr[64];
  limits_addr(se, addr);
  hub_auth_request q = {0};
  q.kind = (hub_auth_kind)r->kind;
  q.id = c->id;
  q.ticket.id = c->id;
  q.ticket.serial = ++se->auth_serial;
  q.remote_addr = addr;
  q.principal = c->principal ? c->principal : "";
  q.topic = r->topic;
  q.topic_len = r->topic_len;
  q.client_user_data = c->user_data;
  hub_auth_result res = {.size = sizeof(res)};
  int v = hub->opt.on_auth(hub, &q, &res, hub->opt.on_auth_user_data);
  if (v == HUB_AUTH_ALLOW) {
    control_execute(s, c, r);
  } else if (v == HUB_AUTH_PENDING &&
             park(s, c, r->kind, q.ticket.serial, r)) {
    /* answered by hub_auth_complete() */
  } else {
    s->st.auth_denied++;
    control_refuse(s, c, r, "forbidden", res.reason);
  }
}

/* Carries out a decision; `timeout`: nobody answered in time. */
static void decide(struct shard *s, struct auth_op *op, bool allow,
                   bool timeout, const char *principal, int status,
                   const char *reason) {
  struct client *c = op->c;
  unlink_op(s, op);
  if (op->kind == HUB_AUTH_CONNECT) {
    if (allow) {
      set_principal(s, c, principal);
      session_of(c)->auth_state = AUTH_ALLOWED;
      handshake_step(s, c);
    } else {
      deny_connect(s, c, status, reason);
    }
  } else if (allow) {
    control_execute(s, c, &op->r);
  } else {
    control_refuse(s, c, &op->r, timeout ? "auth-timeout" : "forbidden",
                   timeout ? NULL : reason);
  }
  mem_free(s->mem, op);
}

void auth_answer(struct shard *s, struct cmd *cmd) {
  struct client *c = shard_find_client(s, cmd->id);
  /* A ticket's id may name a client of raw payloads, which has no
   * session to look in. */
  struct auth_op *op = c && c->ops ? session_of(c)->auth_ops : NULL;
  while (op && op->serial != cmd->serial)
    op = op->cnext;
  if (!op)
    return; /* timed out already, or the client is gone */
  const char *principal = cmd->topic;
  const char *reason = cmd->topic + strlen(cmd->topic) + 1;
  bool allow = cmd->code == HUB_AUTH_ALLOW;
  if (!allow)
    s->st.auth_denied++;
  decide(s, op, allow, false, principal, cmd->status, reason);
}

void auth_expire(struct shard *s, int64_t now) {
  struct proto_shard *ps = s->proto;
  while (ps->auth_head && ps->auth_head->deadline <= now) {
    s->st.auth_timeouts++;
    decide(s, ps->auth_head, false, true, NULL, 503,
           "authorization timed out");
  }
}

int64_t auth_next_deadline(const struct shard *s) {
  const struct proto_shard *ps = s->proto;
  return ps->auth_head ? ps->auth_head->deadline : -1;
}

void auth_forget(struct shard *s, struct client *c) {
  struct session *se = session_of(c);
  while (se->auth_ops) {
    struct auth_op *op = se->auth_ops;
    unlink_op(s, op);
    mem_free(s->mem, op);
  }
}

const char *hub_auth_header(const hub_auth_request *req, const char *name,
                            size_t *len) {
  if (!req || req->kind != HUB_AUTH_CONNECT || !req->internal || !name)
    return NULL;
  const struct http_header *h = http_find_header(req->internal, name);
  if (!h)
    return NULL;
  if (len)
    *len = h->value_len;
  return h->value;
}

int hub_auth_complete(hub_t *hub, hub_auth_ticket ticket,
                      const hub_auth_result *result) {
  hub_auth_result res;
  if (!hub || !ticket.id || !result ||
      hub__copy_sized(&res, sizeof(res), result, sizeof(res)) ||
      (res.verdict != HUB_AUTH_ALLOW && res.verdict != HUB_AUTH_DENY))
    return HUB_EINVAL;
  const char *p = res.principal ? res.principal : "";
  const char *r = res.reason ? res.reason : "";
  size_t pl = strnlen(p, PRINCIPAL_MAX), rl = strnlen(r, 200);
  struct cmd *c = hub__cmd_new(hub, CMD_AUTH, ticket.id, pl + 1 + rl);
  if (!c)
    return HUB_ENOMEM;
  memcpy(c->topic, p, pl);
  c->topic[pl] = '\0';
  memcpy(c->topic + pl + 1, r, rl);
  c->topic[pl + 1 + rl] = '\0';
  c->code = res.verdict;
  c->status = res.status;
  c->serial = ticket.serial;
  hub__send_cmd(hub, c);
  return 0;
}
