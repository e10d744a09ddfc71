/* The wslay binding; see ws.h. */
#include "ws.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <wslay/wslay.h>

#include "control.h"
#include "frame.h"
#include "hub.h"
#include "session.h"

/* wslay only ever writes pongs and one close frame; a peer that makes it
 * write more than this at once (see drain()) is flooding us with pings. */
#define WS_OUT_MAX 65536

struct ws_in {
  wslay_event_context_ptr ctx;
  struct shard *s;
  struct client *c;
  const unsigned char *feed; /* bytes wslay may read in this ws_input() */
  size_t feed_len;
  /* Where the byte stream stands, from the frame headers alone. */
  unsigned char hdr[14];
  uint8_t hgot, hneed;
  bool in_frame;    /* a frame header or payload is partly read */
  bool fragmented;  /* a data message awaits its continuation frames */
  uint64_t left;    /* payload bytes of the current frame still to come */
  uint64_t msg_len; /* payload bytes of the data message so far */
  /* A header refused before wslay has all of it: the close to send once
   * wslay has handled the bytes before it. */
  int refuse_code;
  const char *refuse_why;
  /* What wslay wrote during one wslay_event_send(). */
  unsigned char *out;
  size_t out_len, out_cap;
  bool failed;
  uint64_t max; /* hub_options_set_max_message_size() */
};

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *user_data) {
  (void)flags;
  struct ws_in *w = user_data;
  if (!w->feed_len) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t k = len < w->feed_len ? len : w->feed_len;
  memcpy(buf, w->feed, k);
  w->feed += k;
  w->feed_len -= k;
  return (ssize_t)k;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *user_data) {
  (void)flags;
  struct ws_in *w = user_data;
  if (w->out_len + len > WS_OUT_MAX) {
    w->failed = true;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  if (w->out_len + len > w->out_cap) {
    size_t ncap = w->out_cap ? w->out_cap * 2 : 256;
    while (ncap < w->out_len + len)
      ncap *= 2;
    unsigned char *n = mem_realloc(w->s->mem, w->out, ncap);
    if (!n) {
      w->failed = true;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    w->out = n;
    w->out_cap = ncap;
  }
  memcpy(w->out + w->out_len, data, len);
  w->out_len += len;
  return (ssize_t)len;
}

/* Queues what wslay has written (pongs, its close frame) as the client's
 * own frames; returns wslay_event_send()'s result. */
static int drain(struct ws_in *w) {
  int rv = wslay_event_get_write_enabled(w->ctx) ? wslay_event_send(w->ctx) : 0;
  /* Nothing may follow our own close frame, not even a pong. */
  if (w->out_len && !w->c->close_after_flush)
    client_send_own(w->s, w->c, w->out, w->out_len);
  w->out_len = 0;
  return rv;
}

static void on_msg_cb(wslay_event_context_ptr ctx,
                      const struct wslay_event_on_msg_recv_arg *arg,
                      void *user_data) {
  (void)ctx;
  struct ws_in *w = user_data;
  /* Once closing (a close frame is queued), the rest of this read is
   * ignored: nothing may follow a close frame. */
  if (w->c->state != CLIENT_OPEN || w->c->close_after_flush)
    return;
  if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
    return;
  /* The pongs wslay has queued so far answer pings that came before this
   * message ended: they go out ahead of its reply, in the client's order,
   * not after everything else this read brings. */
  drain(w);
  if (w->c->state == CLIENT_OPEN && !w->failed)
    control_on_message(w->s, w->c, arg->msg, arg->msg_length,
                       arg->opcode == WSLAY_BINARY_FRAME);
}

static struct ws_in *ws_new(struct shard *s, struct client *c) {
  static const struct wslay_event_callbacks cbs = {
      recv_cb, send_cb, NULL, NULL, NULL, NULL, on_msg_cb};
  struct ws_in *w = mem_calloc(s->mem, 1, sizeof(*w));
  if (!w)
    return NULL;
  w->s = s;
  w->c = c;
  if (wslay_event_context_server_init(&w->ctx, &cbs, w)) {
    mem_free(s->mem, w);
    return NULL;
  }
  w->max = s->hub->opt.max_message_size;
  wslay_event_config_set_max_recv_msg_length(w->ctx, w->max);
  return w;
}

void ws_free(struct shard *s, struct client *c) {
  struct ws_in *w = session_of(c)->ws;
  if (!w)
    return;
  wslay_event_context_free(w->ctx);
  mem_free(s->mem, w->out);
  mem_free(s->mem, w);
  session_of(c)->ws = NULL;
}

/* The payload length in w->hdr, once its length bytes are in. */
static uint64_t hdr_len(const struct ws_in *w) {
  unsigned l7 = w->hdr[1] & 0x7f;
  if (l7 < 126)
    return l7;
  int k = l7 == 126 ? 2 : 8;
  uint64_t len = 0;
  for (int i = 0; i < k; i++)
    len = (len << 8) | w->hdr[2 + i];
  return len;
}

static void refuse(struct ws_in *w, int code, const char *why) {
  w->refuse_code = code;
  w->refuse_why = why;
}

/* Judges the header in w->hdr as each part of it arrives. The faults
 * refused here are those wslay's frame layer answers with a close frame
 * without a status code, or (a 1-byte close payload) takes for a close
 * without one; RFC 6455 (5.2, 5.5, 7.4.1) calls them protocol errors,
 * 1002. Judged no later than wslay would, so wslay never sees one whole. */
static void judge(struct ws_in *w) {
  unsigned op = w->hdr[0] & 0xf, l7 = w->hdr[1] & 0x7f;
  uint8_t len_end = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0));
  if (w->hgot == 2 && op >= 8) {
    if (!(w->hdr[0] & 0x80))
      refuse(w, HUB_CLOSE_PROTOCOL, "fragmented control frame");
    else if (l7 > 125)
      refuse(w, HUB_CLOSE_PROTOCOL, "control frame over 125 bytes");
    else if (op == WS_OP_CLOSE && l7 == 1)
      refuse(w, HUB_CLOSE_PROTOCOL, "close frame with a 1-byte payload");
  } else if (w->hgot == len_end && len_end > 2) {
    uint64_t len = hdr_len(w);
    if (l7 == 126 ? len < 126 : len <= 0xffff || len >> 63)
      refuse(w, HUB_CLOSE_PROTOCOL, "bad payload length");
  }
}

/* Follows frame boundaries through the headers, skipping payloads, and
 * refuses a bad header (see judge()) or a message over the limit on the
 * header alone. Returns how many of the n bytes wslay may read: those
 * before the byte that got a header refused, else all. */
static size_t track(struct ws_in *w, const unsigned char *p, size_t n) {
  const unsigned char *start = p;
  while (n) {
    if (!w->in_frame) {
      w->in_frame = true;
      w->hgot = 0;
      w->hneed = 2;
    }
    if (w->hgot < w->hneed) {
      w->hdr[w->hgot++] = *p++;
      n--;
      if (w->hgot == 2) {
        unsigned l7 = w->hdr[1] & 0x7f;
        w->hneed = (uint8_t)(2 +
                             (l7 == 126   ? 2
                              : l7 == 127 ? 8
                                          : 0) +
                             ((w->hdr[1] & 0x80) ? 4 : 0));
      }
      judge(w);
      if (!w->refuse_code && w->hgot == w->hneed) {
        unsigned op = w->hdr[0] & 0xf;
        uint64_t len = hdr_len(w);
        if (op < 8) { /* data frames, reserved ones included */
          w->msg_len = (op == 0 ? w->msg_len : 0) + len;
          /* Refused on the header alone: no need to wait for 100 MiB. */
          if (len > w->max || w->msg_len > w->max)
            refuse(w, HUB_CLOSE_TOO_BIG, "message too big");
          w->fragmented = !(w->hdr[0] & 0x80);
        }
        w->left = len;
        w->in_frame = len > 0;
      }
      if (w->refuse_code)
        return (size_t)(p - 1 - start);
    } else {
      size_t k = n < w->left ? n : (size_t)w->left;
      p += k;
      n -= k;
      w->left -= k;
      w->in_frame = w->left > 0;
    }
  }
  return (size_t)(p - start);
}

void ws_send_text(struct shard *s, struct client *c, const char *text,
                  size_t len) {
  unsigned char stackbuf[512];
  unsigned char *buf =
      len + 10 <= sizeof(stackbuf) ? stackbuf : mem_malloc(s->mem, len + 10);
  if (!buf) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  size_t h = ws_header(buf, WS_OP_TEXT, len);
  memcpy(buf + h, text, len);
  client_send_own(s, c, buf, h + len);
  if (buf != stackbuf)
    mem_free(s->mem, buf);
}

void ws_close(struct shard *s, struct client *c, int code, const char *why) {
  unsigned char buf[2 + 2 + 123];
  size_t wl = strlen(why);
  if (wl > 123)
    wl = 123; /* a control frame's payload is at most 125 bytes */
  size_t h = ws_header(buf, WS_OP_CLOSE, 2 + wl);
  buf[h] = (unsigned char)(code >> 8);
  buf[h + 1] = (unsigned char)code;
  memcpy(buf + h + 2, why, wl);
  client_send_own(s, c, buf, h + 2 + wl);
  client_close_after_flush(s, c, code);
}

void ws_start(struct shard *s, struct client *c) {
  timer_add(s, c, TL_WS_PING);
  if (session_of(c)->raw)
    return;
  char hello[96];
  int n = snprintf(hello, sizeof(hello),
                   "{\"type\":\"hello\",\"epoch\":\"%s\",\"client\":\"%" PRIu64
                   "\"}",
                   s->hub->epoch, c->id);
  ws_send_text(s, c, hello, (size_t)n);
}

void ws_input(struct shard *s, struct client *c, const unsigned char *buf,
              size_t n) {
  if (c->close_after_flush)
    return; /* closing: whatever else arrives is ignored */
  struct session *se = session_of(c);
  if (!se->ws && !(se->ws = ws_new(s, c))) {
    client_doom(s, c, HUB_CLOSE_TRANSPORT);
    return;
  }
  struct ws_in *w = se->ws;
  w->feed = buf;
  w->feed_len = track(w, buf, n);
  int rv = wslay_event_recv(w->ctx);
  w->feed_len = 0;
  if (c->state != CLIENT_OPEN)
    return;
  /* Even after a failed recv: wslay may have queued its close frame. */
  int sent = drain(w);
  if (!wslay_event_get_close_sent(w->ctx) && (rv || sent || w->failed)) {
    ws_close(s, c, HUB_CLOSE_PROTOCOL, "protocol error");
    return;
  }
  if (!wslay_event_get_read_enabled(w->ctx) ||
      wslay_event_get_close_sent(w->ctx)) {
    /* A close frame came in, or wslay refused the input and sent its own
     * close (1002, 1007, 1009): hang up once it is written. */
    int code = wslay_event_get_close_received(w->ctx)
                   ? wslay_event_get_status_code_received(w->ctx)
                   : wslay_event_get_status_code_sent(w->ctx);
    if (code == WSLAY_CODE_NO_STATUS_RCVD || code == 0)
      code = HUB_CLOSE_NORMAL;
    client_close_after_flush(s, c, code);
    return;
  }
  if (w->refuse_code) {
    if (!c->close_after_flush)
      ws_close(s, c, w->refuse_code, w->refuse_why);
    return;
  }
  if (!w->in_frame && !w->fragmented &&
      wslay_event_get_queued_msg_count(w->ctx) == 0)
    ws_free(s, c);
}
