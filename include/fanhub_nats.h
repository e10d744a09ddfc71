/** @defgroup nats fanhub_nats.h — scale fanhub out over NATS (libfanhub-nats)
 *
 * Several processes ("nodes"), each with its own hub and its own clients,
 * serve one set of topics. Attached to NATS, a node's hub_broadcast() no
 * longer delivers locally: it hands the message to NATS, and every node,
 * the publishing one included, delivers what NATS gives back. So a
 * broadcast on any node reaches the subscribers of every node, once each.
 *
 * With JetStream (hub_nats_options_set_jetstream()) the messages go into
 * a stream and the stream's sequence number becomes the seq every node
 * gives the message: all nodes share one epoch (derived from the stream)
 * and one numbering, so a client that resumes with `since` or
 * Last-Event-ID can do it on any node, including after the node it was on
 * died. Without JetStream (core NATS) delivery is at most once and each
 * node numbers messages its own way (resume on the same node only).
 *
 * @code
 *   hub_nats_options *no;
 *   hub_nats_options_new(&no);
 *   hub_nats_options_set_url(no, "nats://127.0.0.1:4222");
 *   hub_nats_options_set_jetstream(no, "FANHUB");
 *   hub_nats *nats;
 *   hub_new(&hub, opt);
 *   hub_nats_attach(hub, no, &nats);   // before hub_start()
 *   hub_start(hub);
 *   hub_nats_start(nats);              // after hub_start()
 *   ...
 *   hub_stop(hub, 2000);
 *   hub_nats_free(nats, 2000);         // after hub_stop(), before hub_free()
 * @endcode
 *
 * Subjects: a message on topic T goes to subject "<prefix>.T" (prefix
 * "fanhub" by default) when T is a valid NATS subject, else to
 * "<prefix>._"; the topic always travels in the "Fanhub-Topic" header, so
 * any topic works. Other NATS programs can publish to "<prefix>.T" (the
 * topic is then the subject after the prefix). The stream, created when
 * missing, holds the subjects "<prefix>.>", in files, for 24 hours.
 *
 * Failure behaviour:
 *  - hub_broadcast() never waits for NATS: the message goes to a bounded
 *    local buffer (hub_nats_options_set_buffer()) that one thread of this
 *    library publishes from, in order. With JetStream each message is
 *    published with a Nats-Msg-Id and sent again until the stream
 *    acknowledges it, so an outage loses nothing and duplicates nothing
 *    as long as the buffer holds.
 *  - A message NATS refuses outright (bigger than the server's
 *    max_payload, 1 MiB by default; refused by the stream's limits) is
 *    dropped and reported the same way as one the buffer had no room for.
 *  - When the buffer is full, broadcasts are dropped and counted; once
 *    NATS is back a marker goes through the stream in their place, and
 *    every node tells the topic's subscribers (a "lagged" notice; a
 *    resume from before the marker gets a "reset").
 *  - A node that finds messages gone from the stream (a jump in the
 *    stream sequence: limits, purges) tells all of its subscribers the
 *    same way.
 *  - The connection is re-established with backoff (100 ms doubling to
 *    2 s); outages show in hub_nats_stats() and hub_nats_metrics_text().
 *  - Known limit: when the connection breaks with several messages in
 *    flight, the stream may store a later one before an earlier one that
 *    had to be sent again (hub_nats_options_set_max_in_flight(o, 1) rules
 *    this out at the cost of one round trip per message). Subscribers
 *    still get every message once, in seq order.
 *
 * Errors are the HUB_E* codes of fanhub.h; HUB_ESYS covers a NATS
 * connection, stream or subscription that could not be set up.
 * @{ */
/** @file */
#ifndef FANHUB_NATS_H
#define FANHUB_NATS_H

#include <stddef.h>
#include <stdint.h>

#include "fanhub.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A hub attached to NATS (hub_nats_attach()). */
typedef struct hub_nats hub_nats;
/** Options for hub_nats_attach() (hub_nats_options_new()). */
typedef struct hub_nats_options hub_nats_options;

/** Returns 0, HUB_EINVAL (out is NULL) or HUB_ENOMEM. */
HUB_EXTERN int hub_nats_options_new(hub_nats_options **out);
/** Frees options. NULL is a no-op. */
HUB_EXTERN void hub_nats_options_free(hub_nats_options *o);
/** NATS server URLs, comma-separated ("nats://127.0.0.1:4222" by
 * default). Returns 0, HUB_EINVAL or HUB_ENOMEM. */
HUB_EXTERN int hub_nats_options_set_url(hub_nats_options *o, const char *url);
/** Uses JetStream stream `stream` (NULL: core NATS, the default). Returns
 * 0, HUB_EINVAL (not a valid stream name) or HUB_ENOMEM. */
HUB_EXTERN int hub_nats_options_set_jetstream(hub_nats_options *o,
                                              const char *stream);
/** The subject prefix: one or more NATS subject tokens, at most 255
 * bytes ("fanhub" by default). Returns 0, HUB_EINVAL or HUB_ENOMEM. */
HUB_EXTERN int hub_nats_options_set_subject_prefix(hub_nats_options *o,
                                                   const char *prefix);
/** The local buffer for broadcasts not yet published: at most max_msgs
 * messages (>= 1) and max_bytes payload bytes (>= 1). Default 65536 and
 * 64 MiB. Returns 0 or HUB_EINVAL. */
HUB_EXTERN int hub_nats_options_set_buffer(hub_nats_options *o,
                                           size_t max_msgs, size_t max_bytes);
/** JetStream: messages published before their acknowledgements are
 * awaited, 1..65536 (default 256). Returns 0 or HUB_EINVAL. */
HUB_EXTERN int hub_nats_options_set_max_in_flight(hub_nats_options *o,
                                                  unsigned n);

/** Connects to NATS, finds or creates the stream, and makes it the hub's
 * relay (hub_set_relay()) and, with JetStream, the hub's epoch and seq
 * (hub_set_sequence(): the stream's last sequence). Before hub_start();
 * NATS must be reachable now (it may go away later). Returns 0,
 * HUB_EINVAL, HUB_ENOMEM, HUB_ESTATE (hub started) or HUB_ESYS. */
HUB_EXTERN int hub_nats_attach(hub_t *hub, const hub_nats_options *o,
                               hub_nats **out);
/** Starts publishing and delivering, after hub_start(). Returns 0,
 * HUB_EINVAL, HUB_ESTATE (already started, or the hub is not running) or
 * HUB_ESYS. */
HUB_EXTERN int hub_nats_start(hub_nats *n);
/** Stops delivering, publishes what the buffer holds for up to
 * `timeout_ms` (what is left is dropped), closes the connection and frees
 * everything. Call it after hub_stop() (so no hub_broadcast() reaches the
 * relay any more) and before hub_free(); or on a hub that never started. */
HUB_EXTERN void hub_nats_free(hub_nats *n, int timeout_ms);

/** Counters since hub_nats_attach(); fields are only ever appended. */
typedef struct hub_nats_stats_t {
  uint64_t connected;    /**< 1 while connected to NATS (gauge) */
  uint64_t disconnects;  /**< connections lost */
  uint64_t reconnects;   /**< connections re-established */
  uint64_t outage_ms;    /**< time spent disconnected, up to now */
  uint64_t published;    /**< broadcasts handed to NATS (JetStream: stored
                              and acknowledged) */
  uint64_t resent;       /**< publishes sent again after a failure */
  uint64_t buffered;     /**< broadcasts waiting to be published (gauge) */
  uint64_t dropped;      /**< broadcasts dropped: buffer full, refused by
                              the stream, or left at hub_nats_free() */
  uint64_t received;     /**< messages delivered into the hub */
  uint64_t duplicates;   /**< received again with a seq already delivered */
  uint64_t gaps;         /**< jumps in the stream sequence */
  uint64_t losses;       /**< loss reports made to the hub (markers, gaps) */
} hub_nats_stats_t;

/** Fills *out with the first `size` bytes of the counters (pass
 * sizeof(hub_nats_stats_t)). Returns 0 or HUB_EINVAL. Any thread. */
HUB_EXTERN int hub_nats_stats(hub_nats *n, hub_nats_stats_t *out,
                              size_t size);
/** Writes the counters in the Prometheus text format ("fanhub_nats_*")
 * into buf like hub_metrics_text(): NUL-terminated when len > 0, returns
 * the length the whole text needs (>= len: cut). Any thread. */
HUB_EXTERN size_t hub_nats_metrics_text(hub_nats *n, char *buf, size_t len);

/** @} */

#ifdef __cplusplus
}
#endif

#endif
