/**
 * @mainpage
 *
 * fanhub — sharded WebSocket / Server-Sent-Events fanout, as a C library.
 *
 * Read this header top to bottom: it is the manual.
 *
 * **Model.** A hub owns N shards. Each shard is one thread (or, in host-loop
 * mode, one epoll fd the host drives) with its own event loop. Every client
 * belongs to exactly one shard, chosen from its id, and only that shard's
 * thread touches it: its transport, its queue, its subscriptions. Calls made
 * from other threads travel to the shard as commands, so every hub_* call
 * below is safe from any thread unless it says otherwise.
 *
 * hub_broadcast() copies the payload once into a refcounted message and
 * hands one pointer to each shard that has subscribers for the topic. It
 * never blocks on I/O, never waits for a slow client and never calls back
 * into the host on the caller's thread: it is safe inside a database commit
 * hook.
 *
 * **Errors.** Functions returning int (or int64_t) return 0 (or a value >= 0)
 * on success and a negative HUB_E* code on failure; hub_strerror() names it.
 * A call that fails has no effect and never fires a callback.
 *
 * **Threads.** "Any thread" means any thread, including a shard thread from
 * inside a hub callback. "Shard thread" means the thread running that
 * shard's loop: one of the hub's threads, or the host thread calling
 * hub_shard_run() in host-loop mode. Every call on a hub_t is safe from
 * any thread at any time, except those whose comment restricts them:
 *   - hub_stop(), hub_free(): not from a shard thread;
 *   - hub_set_relay(), hub_set_sequence(): before hub_start();
 *   - hub_deliver(): one thread at a time, in seq order;
 *   - hub_shard_run(): one thread per shard at a time;
 *   - hub_request_header(), hub_respond(): inside the request callback;
 *     hub_auth_header(): inside the auth callback.
 *
 * Objects the host creates are not thread-safe: a hub_options,
 * hub_client_options or hub_batch is used by one thread at a time (the
 * hub reads options only during the call that takes them).
 *
 * **Structs the host fills.** hub_mem, hub_transport, hub_request and the
 * hub_auth_result given to hub_auth_complete() start with `size`, which
 * the host sets to sizeof the struct as it was compiled:
 * @code
 *   hub_transport tp = {.size = sizeof(tp), .writev = my_writev};
 * @endcode
 * A later version may append fields; it reads only the `size` bytes an
 * older host passed (the rest take their defaults), and a call with a
 * size below the first version's fails with HUB_EINVAL. Structs the hub
 * fills and hands to callbacks (hub_close_info, hub_message_info,
 * hub_request_info, hub_auth_request) and hub_stats_t (sized by the
 * caller) only ever grow at their end too. hub_header and hub_auth_ticket,
 * which travel in arrays or by value, never change.
 */
/** @file */
#ifndef FANHUB_H
#define FANHUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HUB_EXTERN __attribute__((visibility("default")))
#else
#define HUB_EXTERN
#endif

/* ------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------ */
/** @defgroup version Version
 * @{ */

/** This header's major version. */
#define HUB_VERSION_MAJOR 0
/** Its minor version. */
#define HUB_VERSION_MINOR 1
/** Its patch level. */
#define HUB_VERSION_PATCH 0
/** The three as a string. */
#define HUB_VERSION_STRING "0.1.0"
/** (major << 16) | (minor << 8) | patch, comparable with what hub_version()
 * returns. */
#define HUB_VERSION_NUM                                                       \
  ((HUB_VERSION_MAJOR << 16) | (HUB_VERSION_MINOR << 8) | HUB_VERSION_PATCH)

/** The version of the library actually linked, as HUB_VERSION_NUM; `str`,
 * when not NULL, receives a static string such as "0.1.0". Any thread. */
HUB_EXTERN unsigned hub_version(const char **str);

/** @} */

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */
/** @defgroup errors Errors
 * @{ */

/** Defined once here; hub_strerror() and hub_err_name() are generated from
 * the same list, so codes and strings cannot disagree. */
#define HUB_ERRNO_MAP(X)                                                      \
  X(EINVAL, -1, "invalid argument")                                           \
  X(ENOMEM, -2, "out of memory")                                              \
  X(ESTATE, -3, "not allowed in the hub's current state")                     \
  X(ETOPIC, -4, "invalid topic name")                                         \
  X(ESYS, -5, "system call failed (see errno)")                               \
  X(ETLS, -6, "TLS setup failed (certificate or key)")                        \
  X(EAGAIN, -7, "busy: nothing was taken, try again later")

/** The codes: HUB_EINVAL = -1 and the others of HUB_ERRNO_MAP(). */
enum {
#define HUB__ERR_ENUM(name, code, msg) HUB_##name = (code),
  HUB_ERRNO_MAP(HUB__ERR_ENUM)
#undef HUB__ERR_ENUM
};

/** A static, human-readable description of `err` ("unknown error" for codes
 * not in the list). Any thread. */
HUB_EXTERN const char *hub_strerror(int err);
/** The code's symbolic name, e.g.\ "HUB_EINVAL", or "HUB_UNKNOWN". */
HUB_EXTERN const char *hub_err_name(int err);

/** @} */

/* ------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------ */
/** @defgroup types Types
 * @{ */

/** A hub: hub_new() makes one, hub_free() frees it. */
typedef struct hub hub_t;
/** Options for hub_new() (hub_options_new()). */
typedef struct hub_options hub_options;
/** Options for one client (hub_client_options_new()). */
typedef struct hub_client_options hub_client_options;

/** A client id is unique for the life of a hub and never reused. 0 is never
 * a valid id. */
typedef uint64_t hub_client_id;

/** What happens when a client's queue is full (see
 * hub_options_set_queue_limits). */
typedef enum hub_policy {
  /** Discard the oldest queued messages to make room and count them on the
   * client; it keeps receiving the newest. The default. */
  HUB_DROP_OLDEST = 0,
  /** Close the client. The others are unaffected. */
  HUB_DISCONNECT = 1
} hub_policy;

/** Optional allocator (hub_options_set_mem). The functions must be
 * thread-safe. Every allocation a hub makes of its own goes through it
 * (option objects, which exist before any hub, use libc). Two
 * libraries it builds on allocate with their own allocators:
 *   - wslay, for a WebSocket client: its event context and the buffer of
 *     an inbound message being assembled (libc malloc);
 *   - mbedTLS, for TLS: the certificate and key hub_new() parses, and per
 *     TLS connection its handshake state and two 16 KiB record buffers
 *     (mbedTLS's calloc: mbedtls_platform_set_calloc_free() sets it for
 *     the whole process, so fanhub leaves that call to the host).
 * SSE clients, raw host transports and the core use neither. */
typedef struct hub_mem {
  size_t size; /**< sizeof(hub_mem): see "Structs the host fills" */
  void *user_data; /**< passed to each function */
  /** Like malloc(3). */
  void *(*malloc)(size_t size, void *user_data);
  /** Like free(3). */
  void (*free)(void *ptr, void *user_data);
  /** Like calloc(3). */
  void *(*calloc)(size_t nmemb, size_t size, void *user_data);
  /** Like realloc(3). */
  void *(*realloc)(void *ptr, size_t size, void *user_data);
} hub_mem;

/** @} */

/* ------------------------------------------------------------------------
 * Transports
 * ------------------------------------------------------------------------ */
/** @defgroup transports Transports
 * @{ */

/** A transport carries one client's bytes. fanhub's own socket and TLS
 * transports implement this interface; a host can implement it to put a
 * client on any byte stream (its own TLS, a pipe, a test buffer). */
typedef struct hub_transport {
  size_t size; /**< sizeof(hub_transport): see "Structs the host fills" */
  /** Write as many of the bytes in `iov` as can be written now without
   * blocking. Returns the number of bytes taken (0 .. total), or a negative
   * HUB_E* code if the stream is broken, which closes the client. Taking
   * fewer bytes than offered means "full": the hub writes nothing more to
   * this client until the host calls hub_client_writable(). Called on the
   * client's shard thread only. */
  int64_t (*writev)(void *io_user, const struct iovec *iov, int iovcnt);
  /** Release the stream. Called exactly once, on the shard thread, when the
   * client is closed for any reason; no other call follows. Bytes writev
   * took and the host still buffers are the host's to write out before it
   * ends the stream (in host-loop mode, hub_stop() runs the host's loop
   * thread until it returns, so a host flushes after it). May be NULL. */
  void (*close)(void *io_user);
} hub_transport;

/** @} */

/* ------------------------------------------------------------------------
 * Hub options
 * ------------------------------------------------------------------------ */
/** @defgroup options Hub options
 *
 * An options object is only read by hub_new(), which copies what it needs;
 * it can be freed or reused at once after. Every setter returns 0, or
 * HUB_EINVAL for a NULL object or a value out of its range, unless its
 * comment says more.
 * @{ */

/** Allocates options holding every default. Returns 0, HUB_EINVAL (out is
 * NULL) or HUB_ENOMEM. */
HUB_EXTERN int hub_options_new(hub_options **out);
/** Frees options. NULL is a no-op. */
HUB_EXTERN void hub_options_free(hub_options *opt);

/** Number of shards, 1..64. Default: the number of online CPUs (capped at
 * 64). Returns 0 or HUB_EINVAL. */
HUB_EXTERN int hub_options_set_shards(hub_options *opt, unsigned shards);
/** 1 (default): hub_start() runs one thread per shard. 0: host-loop mode, no
 * threads; the host polls hub_shard_fd() and calls hub_shard_run(). */
HUB_EXTERN int hub_options_set_threads(hub_options *opt, int threads);
/** Per-client queue caps: a client holds at most `max_msgs` messages and
 * `max_bytes` bytes of frames not yet written, history replayed on a
 * subscribe included (what does not fit is reported in a "lagged"
 * notice). A frame larger than `max_bytes` alone is let into a queue that
 * holds no other message. Defaults: 1024 messages, 1 MiB. Both must be
 * >= 1. Returns 0 or HUB_EINVAL. */
HUB_EXTERN int hub_options_set_queue_limits(hub_options *opt,
                                            uint32_t max_msgs,
                                            uint64_t max_bytes);
/** What a full client queue does (default HUB_DROP_OLDEST). */
HUB_EXTERN int hub_options_set_policy(hub_options *opt, hub_policy policy);
/** Capacity of each shard's inbound message queue, rounded up to a power of
 * two, 16..1048576 (default 65536). When it is full, hub_broadcast() still
 * returns at once: the message is not delivered on that shard and
 * hub_stats_t.queue_overflows counts it. */
HUB_EXTERN int hub_options_set_shard_queue_size(hub_options *opt,
                                                uint32_t size);
/** Longest topic name accepted, 1..65535 bytes (default 256). Topics are
 * byte strings without NUL; anything longer is HUB_ETOPIC. */
HUB_EXTERN int hub_options_set_max_topic_len(hub_options *opt, size_t len);
/** History kept for topics matching `pattern` (NATS-style: "news.*",
 * "news.>"; NULL sets the default for topics no pattern matches): the
 * newest `max_msgs` messages (0: no history), at most `max_bytes` of
 * payload, none older than `max_age_ms` (0: no age limit). Patterns are
 * tried in the order set; the first match wins. Default: 100 messages,
 * 1 MiB, 300000 ms. A subscription made with a starting point
 * (hub_subscribe_since, WS "since", SSE Last-Event-ID) is replayed what
 * history still holds, within the client's queue caps, or told "reset"
 * when it cannot be; one that exists already replays nothing. Returns 0,
 * HUB_EINVAL or HUB_ENOMEM. */
HUB_EXTERN int hub_options_set_history(hub_options *opt, const char *pattern,
                                       uint32_t max_msgs, uint64_t max_bytes,
                                       uint32_t max_age_ms);
/** Topics matching `pattern` (NATS-style) keep presence: who is
 * subscribed to them, listed by hub_presence(), and "join" / "leave"
 * notices to their subscribers, {"type":"join","topic":T,"principal":P,
 * "client":"ID"} (SSE: "event: hub.join"), whenever a client subscribes
 * or goes. Call once per pattern; default: none. Returns 0, HUB_EINVAL or
 * HUB_ENOMEM. */
HUB_EXTERN int hub_options_set_presence(hub_options *opt,
                                        const char *pattern);
/** Allocator for everything the hub allocates (default: libc). `mem` is
 * copied; NULL restores the default. */
HUB_EXTERN int hub_options_set_mem(hub_options *opt, const hub_mem *mem);

/** What hub_close_fn receives. Fields are only ever appended. */
typedef struct hub_close_info {
  hub_client_id id;        /**< the client */
  int code;                /**< HUB_CLOSE_* reason */
  void *client_user_data;  /**< from hub_client_options_set_user_data() */
  uint64_t drops;          /**< messages drop-oldest discarded for it */
  uint64_t deliveries;     /**< broadcast messages fully written to it */
  const char *principal;   /**< set by the auth callback, or "" */
} hub_close_info;

/** Called on the client's shard thread after a client is closed and its
 * transport released, for any reason: hub_client_close(), a transport
 * error, the disconnect policy, hub_stop(). It may call any hub_* function
 * except hub_stop() and hub_free(). */
typedef void (*hub_close_fn)(hub_t *hub, const hub_close_info *info,
                             void *user_data);
/** The close callback, called with `user_data` (default none). Returns 0
 * or HUB_EINVAL. */
HUB_EXTERN int hub_options_set_close_callback(hub_options *opt,
                                              hub_close_fn fn,
                                              void *user_data);

/** @name Close reasons
 * Close reasons in hub_close_info.code. Values 1000..4999 are WebSocket
 * close codes; the others are fanhub's.
 * @{ */
#define HUB_CLOSE_NORMAL 1000      /**< hub_client_close() without a code; the
                                        peer closed cleanly (WS close, SSE
                                        EOF) */
#define HUB_CLOSE_GOING_AWAY 1001  /**< hub_stop(), or the idle timeout */
#define HUB_CLOSE_PROTOCOL 1002    /**< the peer broke RFC 6455 */
#define HUB_CLOSE_ABNORMAL 1006    /**< the peer vanished: EOF without a WS
                                        close, or no answer to a ping */
#define HUB_CLOSE_INVALID_DATA 1007 /**< invalid UTF-8 in a text message */
#define HUB_CLOSE_POLICY 1008      /**< disconnect policy (queue overflow),
                                        write timeout, unread replies, or
                                        twice the message rate */
#define HUB_CLOSE_TOO_BIG 1009     /**< inbound message over the limit */
#define HUB_CLOSE_TLS 1015         /**< the TLS handshake or a record failed */
/** 4000 + HTTP status: the request was refused with that status before any
 * upgrade (e.g.\ 4400 bad request, 4426 wrong WebSocket version). */
#define HUB_CLOSE_HTTP_BASE 4000
#define HUB_CLOSE_TIMEOUT 4408     /**< request head not complete in time */
#define HUB_CLOSE_TRANSPORT 4900   /**< the transport reported an error */
/** @} */

/** @name Sockets
 * hub_attach_fd() clients speak WebSocket or Server-Sent Events.
 * Each setter returns 0 or HUB_EINVAL.
 * @{ */

/** WebSocket ping period in ms (default 30000, 0: no pings). A client that
 * sends nothing at all for a whole period after a ping is closed
 * (HUB_CLOSE_ABNORMAL). */
HUB_EXTERN int hub_options_set_ping_interval(hub_options *opt, uint32_t ms);
/** Period of SSE ": keepalive" comments in ms (default 15000, 0: none). */
HUB_EXTERN int hub_options_set_sse_keepalive(hub_options *opt, uint32_t ms);
/** The SSE "retry:" reconnection delay sent first, in ms (default 2000). */
HUB_EXTERN int hub_options_set_sse_retry(hub_options *opt, uint32_t ms);
/** Largest inbound WebSocket message, 125..2^31-1 bytes (default 65536);
 * a larger one closes the connection with 1009. */
HUB_EXTERN int hub_options_set_max_message_size(hub_options *opt,
                                                uint32_t bytes);
/** Largest request head, 256..65536 bytes (default 8192); larger: 431. */
HUB_EXTERN int hub_options_set_max_request_head(hub_options *opt,
                                                uint32_t bytes);
/** Time a socket has to complete its request head, in ms (default 10000,
 * 0: no limit); then it is closed (HUB_CLOSE_TIMEOUT). On a connection
 * kept open after an answer (hub_respond()) it is also the time it may
 * wait for its next request, counted from the answer. */
HUB_EXTERN int hub_options_set_handshake_timeout(hub_options *opt,
                                                 uint32_t ms);
/** TLS for hub_attach_fd() sockets that ask for it
 * (hub_client_options_set_tls): a PEM certificate chain and its PEM
 * private key (unencrypted), from files or from memory. The data is
 * copied; hub_new() parses it and fails with HUB_ETLS if it is unusable.
 * The _files form returns HUB_ESYS if a file cannot be read. TLS 1.2. */
HUB_EXTERN int hub_options_set_tls_files(hub_options *opt,
                                         const char *cert_file,
                                         const char *key_file);
/** @copydoc hub_options_set_tls_files */
HUB_EXTERN int hub_options_set_tls_pem(hub_options *opt, const char *cert,
                                       size_t cert_len, const char *key,
                                       size_t key_len);
/** 1: WebSocket clients may {"op":"publish"}; 0 (default): they get an
 * error notice "forbidden". */
HUB_EXTERN int hub_options_set_client_publish(hub_options *opt, int allow);

/** What hub_message_fn receives. Fields are only ever appended. */
typedef struct hub_message_info {
  hub_client_id id; /**< the client that sent it */
  const void *data; /**< valid during the call only */
  size_t len;       /**< bytes at data */
  int binary;       /**< 1: a binary message; 0: text (valid UTF-8) */
  void *client_user_data; /**< from hub_client_options_set_user_data() */
  const char *principal; /**< set by the auth callback, or "" */
} hub_message_info;

/** Called on the client's shard thread for each complete inbound WebSocket
 * message. Return 0 when the host has handled it, or 1 to have fanhub
 * read it as a control-protocol message (see docs/protocol.md). */
typedef int (*hub_message_fn)(hub_t *hub, const hub_message_info *info,
                              void *user_data);
/** The message callback, called with `user_data` (default none). */
HUB_EXTERN int hub_options_set_message_callback(hub_options *opt,
                                                hub_message_fn fn,
                                                void *user_data);
/** @} */

/** @name Requests on hub_attach_fd() sockets
 * A host can route them itself.
 * @{ */

/** What hub_request_fn receives. Strings are not NUL-terminated; all of it
 * is valid during the call only. Fields are only ever appended. */
typedef struct hub_request_info {
  hub_client_id id;   /**< the client */
  const char *method; /**< "GET", "POST", ... */
  size_t method_len;  /**< its length */
  const char *path; /**< without the query */
  size_t path_len;  /**< its length */
  const char *query; /**< after '?', still percent-encoded; may be empty */
  size_t query_len;  /**< its length */
  const void *body; /**< the Content-Length body, if any */
  size_t body_len;  /**< its length */
  void *client_user_data; /**< from hub_client_options_set_user_data() */
  const void *internal; /**< for hub_request_header() and hub_respond() */
} hub_request_info;

#define HUB_ROUTE_STREAM 0 /**< go on: a WebSocket upgrade or an SSE stream */
#define HUB_ROUTE_DONE 1   /**< the host answered with hub_respond() */

/** Called on the client's shard thread once a request head (and its body)
 * is complete, before fanhub answers it. Return HUB_ROUTE_STREAM to let
 * fanhub make it a WebSocket or SSE client, or answer it with
 * hub_respond() and return HUB_ROUTE_DONE; the connection then stays
 * open for the client's next request, which comes to this callback too
 * (HTTP/1.1 persistent connections: see hub_respond()), or closes once
 * the answer is written. Without a callback every GET streams and
 * anything else gets 405. */
typedef int (*hub_request_fn)(hub_t *hub, const hub_request_info *req,
                              void *user_data);
/** The request callback, called with `user_data` (default none). */
HUB_EXTERN int hub_options_set_request_callback(hub_options *opt,
                                                hub_request_fn fn,
                                                void *user_data);
/** Largest request body fanhub reads for the request callback, 0..2^30
 * bytes (default 65536); a larger Content-Length gets 413. */
HUB_EXTERN int hub_options_set_max_request_body(hub_options *opt,
                                                uint32_t bytes);
/** The value of request header `name` (case-insensitive), with its length
 * in *len; NULL if absent. Only inside hub_request_fn. */
HUB_EXTERN const char *hub_request_header(const hub_request_info *req,
                                          const char *name, size_t *len);
/** Answers the request: status line, Content-Type (NULL: text/plain),
 * Content-Length and `len` bytes of body (a HEAD request gets all but the
 * body). Only inside hub_request_fn, once.
 * Returns 0, HUB_EINVAL or HUB_ESTATE (already answered).
 *
 * Keep-alive. The connection stays open after the answer ("Connection:
 * keep-alive") and its next request goes to the request callback like
 * the first: any request, a WebSocket upgrade or an event stream
 * included. It closes once the answer is written ("Connection: close")
 * if the request said "Connection: close", was HTTP/1.0 without
 * "Connection: keep-alive", or came while the hub stops. fanhub's own
 * error answers (400, 405, 413, 431, 501, ...) always close: it cannot
 * trust the bytes after such a request. Requests may be pipelined (sent
 * before the answers to those before them): they are read one at a time,
 * each within the head and body limits, and answered in order. The wait
 * for each next request head is the handshake timeout
 * (hub_options_set_handshake_timeout), counted from the answer before it;
 * an idle connection is then closed (HUB_CLOSE_TIMEOUT). Once a socket's
 * unwritten answers reach 64 KiB (its queue's byte cap, if lower), it is
 * not read until they are written: a client that pipelines without
 * reading its answers makes the hub hold at most those, one request and
 * one read for it (its socket's buffers fill instead), and the write
 * timeout closes it (hub_options_set_write_timeout). A client of
 * hub_attach_transport() is not paused: it is closed (HUB_CLOSE_POLICY)
 * once its unwritten answers reach twice its queue's caps. */
HUB_EXTERN int hub_respond(hub_t *hub, const hub_request_info *req,
                           int status, const char *content_type,
                           const void *body, size_t len);
/** @} */

/** @} */

/* ------------------------------------------------------------------------
 * Security: authentication, admission control, limits
 * ------------------------------------------------------------------------ */
/** @defgroup security Security: authentication, admission control, limits
 *
 * Every limit below is counted in hub_stats() and answered with a clear
 * HTTP status or close code. Limits that only make sense for untrusted
 * input (topic characters, subscriptions per client, message rate) apply
 * to what clients send, not to the host's own hub_* calls.
 * @{ */

/** What the auth callback is asked to decide (hub_auth_request.kind). */
typedef enum hub_auth_kind {
  HUB_AUTH_CONNECT = 1,   /**< a WebSocket or SSE request, before it streams */
  HUB_AUTH_SUBSCRIBE = 2, /**< a client's own subscribe (plain or pattern),
                               and each ?topic= of its request */
  HUB_AUTH_PUBLISH = 3    /**< a WebSocket client's {"op":"publish"} */
} hub_auth_kind;

/** Names one pending decision; pass it back to hub_auth_complete(). It
 * travels by value, so it never grows. */
typedef struct hub_auth_ticket {
  hub_client_id id; /**< the client */
  uint64_t serial;  /**< which of its decisions */
} hub_auth_ticket;

/** What the auth callback is asked. Strings are not NUL-terminated unless
 * said; all of it is valid during the call only. Fields are only ever
 * appended. */
typedef struct hub_auth_request {
  hub_auth_kind kind;      /**< what is asked */
  hub_client_id id;        /**< the client */
  hub_auth_ticket ticket;  /**< for hub_auth_complete() */
  const char *remote_addr; /**< "ip:port" (NUL-terminated), "" if unknown */
  /** @name CONNECT
   * @{ */
  const char *path;   /**< the request's path, without the query */
  size_t path_len;    /**< its length */
  const char *query; /**< still percent-encoded */
  size_t query_len;  /**< its length */
  const char *origin; /**< the Origin header, NULL if none */
  size_t origin_len;  /**< its length */
  /** The credential, whichever way it came: "Authorization: Bearer T", a
   * "bearer.T" WebSocket subprotocol (percent-decoded), or ?token=T
   * (percent-decoded). NULL if none. */
  const char *token;
  size_t token_len; /**< its length */
  /** @} */
  /** @name SUBSCRIBE, PUBLISH
   * @{ */
  const char *principal; /**< from the CONNECT answer (NUL-terminated) */
  const char *topic;     /**< a topic or a pattern */
  size_t topic_len;      /**< its length */
  /** @} */
  void *client_user_data; /**< from hub_client_options_set_user_data() */
  const void *internal; /**< for hub_auth_header() */
} hub_auth_request;

#define HUB_AUTH_ALLOW 0   /**< allowed: go on */
#define HUB_AUTH_DENY 1    /**< denied */
#define HUB_AUTH_PENDING 2 /**< decided later, with hub_auth_complete() */

/** The answer: filled by the callback in the struct it is given (its size
 * set by the hub), or made by the host for hub_auth_complete() (which
 * needs the size set: see "Structs the host fills"). */
typedef struct hub_auth_result {
  size_t size;           /**< sizeof(hub_auth_result) */
  int verdict;           /**< HUB_AUTH_ALLOW or HUB_AUTH_DENY */
  const char *principal; /**< ALLOW at CONNECT: who the client is, copied
                              (at most 255 bytes, NUL-terminated); NULL: "" */
  int status;            /**< DENY at CONNECT: the HTTP status, 400..599
                              (0: 403; 401 suits a missing or bad token) */
  const char *reason;    /**< DENY: a short text for the response or notice */
} hub_auth_result;

/** Decides a CONNECT, SUBSCRIBE or PUBLISH, on the client's shard thread
 * (never on a broadcaster's). Fill *res and return HUB_AUTH_ALLOW or
 * HUB_AUTH_DENY; or return HUB_AUTH_PENDING and answer later, from any
 * thread, with hub_auth_complete(hub, req->ticket, ...): the request waits
 * (at most the auth timeout, then it is denied). A denied CONNECT gets the
 * HTTP status and is closed; a denied SUBSCRIBE or PUBLISH gets
 * {"type":"error","code":"forbidden",...} and the client stays. */
typedef int (*hub_auth_fn)(hub_t *hub, const hub_auth_request *req,
                           hub_auth_result *res, void *user_data);
/** The auth callback (default none: everything is allowed). Returns 0 or
 * HUB_EINVAL. */
HUB_EXTERN int hub_options_set_auth_callback(hub_options *opt,
                                             hub_auth_fn fn, void *user_data);
/** Answers a pending request:
 * @code
 *   hub_auth_result res = {.size = sizeof(res), .verdict = HUB_AUTH_ALLOW};
 *   hub_auth_complete(hub, ticket, &res);
 * @endcode
 * Any thread. Returns 0, HUB_EINVAL (no size, a verdict that is neither
 * ALLOW nor DENY) or HUB_ENOMEM; a ticket whose client is gone, or that
 * timed out, is ignored. */
HUB_EXTERN int hub_auth_complete(hub_t *hub, hub_auth_ticket ticket,
                                 const hub_auth_result *res);
/** A request header's value (case-insensitive name), its length in *len;
 * NULL if absent. CONNECT only, inside the callback only. */
HUB_EXTERN const char *hub_auth_header(const hub_auth_request *req,
                                       const char *name, size_t *len);
/** Time a pending decision may take, in ms (default 10000); then it is
 * denied (CONNECT: 503). */
HUB_EXTERN int hub_options_set_auth_timeout(hub_options *opt, uint32_t ms);

/** Origins allowed to open WebSocket connections (cross-site WebSocket
 * hijacking): "https://app.example.com", or "*" for any. Call once per
 * origin. Default (none added): requests without Origin, and those whose
 * Origin names the same host as their Host header, are allowed; others
 * get 403. SSE is left to the browser's CORS rules. */
HUB_EXTERN int hub_options_add_origin(hub_options *opt, const char *origin);
/** Most sockets attached at once (default 0: no limit); past it a request
 * gets 503 with Retry-After and is closed. */
HUB_EXTERN int hub_options_set_max_connections(hub_options *opt,
                                               uint32_t max);
/** Most sockets from one IP address (default 0: no limit); past it: 503. */
HUB_EXTERN int hub_options_set_max_connections_per_ip(hub_options *opt,
                                                      uint32_t max);
/** Most subscriptions one client may make itself (default 1024); past it
 * the subscribe gets an error notice "too-many-subscriptions". */
HUB_EXTERN int hub_options_set_max_subscriptions(hub_options *opt,
                                                 uint32_t max);
/** The bytes a client-chosen topic may contain, as a string of them, or
 * NULL for the default: ASCII letters, digits and "._-:@/=+~!$&'()*>,;".
 * Others: error notice "bad-topic" (HTTP 400 in a query). */
HUB_EXTERN int hub_options_set_topic_chars(hub_options *opt,
                                           const char *chars);
/** Inbound WebSocket messages a client may send per second, with bursts up
 * to `burst` (default 100/s, burst 200; 0: no limit). A message over the
 * rate gets an error notice "rate-limited" and is dropped; a client that
 * goes on at twice the burst is closed with 1008. */
HUB_EXTERN int hub_options_set_message_rate(hub_options *opt,
                                            uint32_t per_second,
                                            uint32_t burst);
/** A client whose queue has not moved for this long, in ms, while it had
 * something to write is closed (1008; default 30000, 0: never). */
HUB_EXTERN int hub_options_set_write_timeout(hub_options *opt, uint32_t ms);
/** A WebSocket client that sends nothing (not even a pong) for this long
 * is closed (1001; default 0: off; pings keep live clients busy). */
HUB_EXTERN int hub_options_set_idle_timeout(hub_options *opt, uint32_t ms);

/** @} */

/* ------------------------------------------------------------------------
 * Hub lifecycle
 * ------------------------------------------------------------------------ */
/** @defgroup lifecycle Hub lifecycle
 * @{ */

/** Creates a hub from `opt` (NULL: defaults). Nothing runs until
 * hub_start(). Returns 0, HUB_EINVAL, HUB_ENOMEM or HUB_ESYS. */
HUB_EXTERN int hub_new(hub_t **out, const hub_options *opt);
/** Starts the shard threads (none in host-loop mode). Returns 0, HUB_ESTATE
 * (already started or stopped) or HUB_ESYS. */
HUB_EXTERN int hub_start(hub_t *hub);
/** Stops the hub: hub_broadcast() fails from now on with HUB_ESTATE, queued
 * messages are written for at most `drain_ms` milliseconds (0: none), then
 * every client is closed (HUB_CLOSE_GOING_AWAY) and the threads are joined.
 * Any thread but a shard thread; in host-loop mode, the host's loop thread.
 * Returns 0 or HUB_ESTATE (never started, or already stopped). */
HUB_EXTERN int hub_stop(hub_t *hub, int drain_ms);
/** Frees the hub, stopping it first without draining if it still runs.
 * Not from a shard thread. NULL is a no-op. */
HUB_EXTERN void hub_free(hub_t *hub);

/** @} */

/* ------------------------------------------------------------------------
 * Clients
 * ------------------------------------------------------------------------ */
/** @defgroup clients Clients
 * @{ */

/** Per-client options for hub_attach_transport(), hub_attach_fd() and
 * hub_attach_fd_request(); same rules as hub_options (read at the call,
 * reusable; setters return 0 or HUB_EINVAL unless said). Fields not set
 * take the hub's values. */
HUB_EXTERN int hub_client_options_new(hub_client_options **out);
/** Frees client options. NULL is a no-op. */
HUB_EXTERN void hub_client_options_free(hub_client_options *copt);
/** hub_options_set_queue_limits() for this client. */
HUB_EXTERN int hub_client_options_set_queue_limits(hub_client_options *copt,
                                                   uint32_t max_msgs,
                                                   uint64_t max_bytes);
/** hub_options_set_policy() for this client. */
HUB_EXTERN int hub_client_options_set_policy(hub_client_options *copt,
                                             hub_policy policy);
/** An opaque pointer the hub hands back in hub_close_fn. Default NULL. */
HUB_EXTERN int hub_client_options_set_user_data(hub_client_options *copt,
                                                void *user_data);

/** 1: WebSocket frames carry the payload alone (a text frame, or binary
 * for HUB_MSG_BINARY), with no JSON envelope and no hello. Default 0; a
 * client can also ask for it with the subprotocol "fanhub.raw". */
HUB_EXTERN int hub_client_options_set_raw(hub_client_options *copt,
                                          int raw);

/** 1: the hub_attach_fd() socket speaks TLS (wss://, https://); the hub
 * needs a certificate (hub_options_set_tls_files). Default 0. */
HUB_EXTERN int hub_client_options_set_tls(hub_client_options *copt,
                                          int tls);

/** What a client speaks from the first byte of its stream on. */
typedef enum hub_protocol {
  /** hub_attach_transport(): HUB_PROTO_RAW; hub_attach_fd(): HUB_PROTO_HTTP. */
  HUB_PROTO_DEFAULT = 0,
  /** Payload bytes only, nothing around them; what the client sends is
   * ignored. */
  HUB_PROTO_RAW = 1,
  /** An HTTP request first, which fanhub answers: a WebSocket upgrade, an
   * SSE stream, an HTTP error, or the request callback's answer. */
  HUB_PROTO_HTTP = 2,
  /** The host's server already answered the WebSocket upgrade (sent the
   * 101): fanhub starts at the frames, with the hello (or raw frames,
   * hub_client_options_set_raw) and the control protocol. */
  HUB_PROTO_WEBSOCKET = 3,
  /** The host's server already sent the response head of an event stream
   * (status 200, Content-Type: text/event-stream): fanhub starts at its
   * body, ": connected" and "retry:" first. */
  HUB_PROTO_SSE = 4
} hub_protocol;

/** What the client speaks (default HUB_PROTO_DEFAULT). With
 * HUB_PROTO_WEBSOCKET and HUB_PROTO_SSE the host answered the request, so
 * it decided what fanhub would have checked there: no CONNECT goes to the
 * auth callback, and the Origin list (hub_options_add_origin) and the
 * connection caps' 503 do not apply (a client over the caps is closed);
 * the SUBSCRIBE and PUBLISH requests of the client go to the auth
 * callback as usual. Returns 0 or HUB_EINVAL. */
HUB_EXTERN int hub_client_options_set_protocol(hub_client_options *copt,
                                               hub_protocol protocol);
/** Subscribes the client to `topic` (a topic or a pattern, copied) once it
 * speaks WebSocket or SSE, as a ?topic= of its request would: authorized
 * and limited like a subscribe the client sends, with no reply, a refused
 * one (a topic empty, too long or an invalid pattern included) getting an
 * error notice "bad-topic" or "forbidden". Call once per topic, up to
 * 1024. Returns 0, HUB_EINVAL or HUB_ENOMEM. */
HUB_EXTERN int hub_client_options_add_topic(hub_client_options *copt,
                                            const char *topic);
/** The starting point of those topics, as ?since= or Last-Event-ID would
 * give it: the seq of the last message the client got, of the hub's epoch
 * `epoch` (NULL: this hub's). Default: none, the subscriptions start live.
 * Returns 0 or HUB_EINVAL (since < 0, epoch over 64 bytes). */
HUB_EXTERN int hub_client_options_set_since(hub_client_options *copt,
                                            const char *epoch, int64_t since);
/** hub_client_options_set_since() from an SSE Last-Event-ID header's value
 * as fanhub writes ids ("<epoch>-<seq>", or a bare "<seq>" of this hub),
 * the way fanhub reads the header itself. Returns 0, or HUB_EINVAL for a
 * value that is no such id (the subscriptions then start live, as
 * fanhub's own would). */
HUB_EXTERN int hub_client_options_set_last_event_id(hub_client_options *copt,
                                                    const char *id);
/** The principal the auth callback's SUBSCRIBE and PUBLISH requests carry
 * and hub_close_info reports (copied, at most 255 bytes), for a client
 * whose connect the host authorized. Default: none (""). Returns 0,
 * HUB_EINVAL or HUB_ENOMEM. */
HUB_EXTERN int hub_client_options_set_principal(hub_client_options *copt,
                                                const char *principal);

/** Attaches a client that speaks through `tp` (copied) with `io_user` as its
 * stream. By default messages are written raw: the payload bytes, nothing
 * around them; with hub_client_options_set_protocol() the client speaks
 * fanhub's HTTP, WebSocket or SSE on that stream, and the host feeds what
 * it reads from the stream to hub_client_input().
 * On success *out receives the id and the hub owns the stream: it calls
 * tp->close exactly once, even if the hub stops before the client is set
 * up. On failure nothing is called and the caller keeps the stream.
 * `copt` may be NULL. Returns 0, HUB_EINVAL, HUB_ENOMEM or HUB_ESTATE
 * (stopped). Any thread. */
HUB_EXTERN int hub_attach_transport(hub_t *hub, const hub_transport *tp,
                                    void *io_user,
                                    const hub_client_options *copt,
                                    hub_client_id *out);

/** Hands the hub an accepted socket that carries an HTTP request for a
 * WebSocket upgrade or an SSE stream. `head` holds the `head_len` bytes of
 * the request the host has already read (any part of it, or none, or all
 * of it and bytes past it: a WebSocket client's first frames are read as
 * frames); the hub reads the rest, answers the handshake and owns `fd`
 * from the call on:
 * it makes it non-blocking and closes it, also when the call fails with
 * anything but HUB_EINVAL (then the caller keeps the fd).
 * A request with "Upgrade: websocket" becomes a WebSocket client, any other
 * GET an SSE client subscribed to each ?topic= in its query (WebSocket
 * clients may use ?topic= too); anything else gets an HTTP error and is
 * closed. With hub_client_options_set_protocol() HUB_PROTO_WEBSOCKET or
 * HUB_PROTO_SSE the host's server already answered the request on this
 * socket: fanhub starts at the frames or the stream, and `head` holds the
 * bytes read past the request (a WebSocket client's first frames). On
 * success *out receives the id at once, before the handshake is done.
 * Returns 0, HUB_EINVAL, HUB_ENOMEM or HUB_ESTATE. Any thread. */
HUB_EXTERN int hub_attach_fd(hub_t *hub, int fd, const void *head,
                             size_t head_len, const hub_client_options *copt,
                             hub_client_id *out);

/** One request header, NUL-terminated name and value. Hosts pass arrays of
 * it, so it has no size field and never grows. */
typedef struct hub_header {
  const char *name;  /**< the name */
  const char *value; /**< the value */
} hub_header;

/** A request the host has parsed itself. */
typedef struct hub_request {
  size_t size;        /**< sizeof(hub_request): see "Structs the host fills" */
  const char *method; /**< "GET", NUL-terminated */
  const char *target; /**< "/sse?topic=a", NUL-terminated */
  const hub_header *headers; /**< its headers */
  size_t nheaders;           /**< how many */
  /** Bytes the host read past the head, which belong to the client: a
   * WebSocket client's first frames. May be NULL with extra_len 0. */
  const void *extra;
  size_t extra_len; /**< its length */
} hub_request;

/** The Sec-WebSocket-Accept value (RFC 6455 4.2.2) for the NUL-terminated
 * Sec-WebSocket-Key `key`, for a host whose server answers the upgrade
 * itself (HUB_PROTO_WEBSOCKET): 28 characters and a NUL into out[29].
 * Returns 0, or HUB_EINVAL if key is not the base64 of 16 bytes. Any
 * thread. */
HUB_EXTERN int hub_ws_accept_key(const char *key, char out[29]);

/** hub_attach_fd() for a host that parsed the request head itself and
 * consumed it from the socket. The request and its extra bytes are
 * copied. Same returns; also HUB_EINVAL for a head larger than the
 * request head limit (hub_options_set_max_request_head), extra bytes
 * beyond the head limit plus the body limit, or CR or LF in a string. */
HUB_EXTERN int hub_attach_fd_request(hub_t *hub, int fd,
                                     const hub_request *req,
                                     const hub_client_options *copt,
                                     hub_client_id *out);

/** Feeds bytes the client sent, which the host read from the stream it
 * owns (a client of hub_attach_transport() with a protocol; a client of
 * HUB_PROTO_SSE or HUB_PROTO_RAW has nothing to say, and its bytes are
 * ignored). They are copied and handled on the client's shard in the
 * order of the calls, after the attach. `len` 0: the client's side of the
 * stream ended (EOF), for any client of hub_attach_transport(): it is
 * closed (HUB_CLOSE_NORMAL; HUB_CLOSE_ABNORMAL for a WebSocket that sent
 * no close frame). Returns 0,
 * HUB_EINVAL (len over 1 MiB), HUB_ENOMEM, HUB_ESTATE (stopped), or
 * HUB_EAGAIN: the client's shard has 16 MiB of input not handled yet;
 * nothing was taken, and the host should read no more from this client
 * until it has fed these bytes (retry after a short while). An unknown or
 * closed id is ignored. Any thread. */
HUB_EXTERN int hub_client_input(hub_t *hub, hub_client_id id, const void *data,
                                size_t len);

/** Tells the hub a transport that took fewer bytes than offered can take
 * more: the shard resumes writing to the client. Any thread, also from
 * inside writev and while hub_stop() drains. Returns 0, HUB_EINVAL,
 * HUB_ENOMEM or HUB_ESTATE (stopped). An unknown or closed id is
 * ignored. */
HUB_EXTERN int hub_client_writable(hub_t *hub, hub_client_id id);

/** Subscribes a client to `topic` (a byte string of 1..max_topic_len bytes,
 * no NUL), or to every topic a NATS-style pattern matches: tokens are
 * separated by '.', a token "*" matches any one token, a last token ">"
 * one or more ("news.*", "news.>"; at most 32 tokens). A client gets one
 * copy of a message even when several of its subscriptions match.
 * Idempotent: subscribing twice is one subscription. The
 * subscription is in place for every hub_broadcast() that starts after this
 * call returns. Returns 0, HUB_EINVAL, HUB_ETOPIC, HUB_ENOMEM or HUB_ESTATE.
 * An unknown or closed id is ignored. Any thread. */
HUB_EXTERN int hub_subscribe(hub_t *hub, hub_client_id id, const char *topic);
/** hub_subscribe() that first replays the topic's retained messages with
 * seq > `since` (from hub_broadcast(), a "seq" or an SSE id), then goes on
 * live with no gap and no duplicate. If some of them are gone (history
 * limits) or `epoch` (NULL: this hub's) is not this hub's, the client
 * gets a "reset" notice instead of the replay, then live messages. The
 * replay counts against the client's queue caps (see
 * hub_options_set_queue_limits). A client already subscribed to `topic`
 * is replayed nothing: unsubscribe first to resume it. Same returns as
 * hub_subscribe(), and HUB_EINVAL for since < 0. */
HUB_EXTERN int hub_subscribe_since(hub_t *hub, hub_client_id id,
                                   const char *topic, const char *epoch,
                                   int64_t since);
/** Removes a subscription; removing one that does not exist is a no-op.
 * Same returns and rules as hub_subscribe(). */
HUB_EXTERN int hub_unsubscribe(hub_t *hub, hub_client_id id,
                               const char *topic);
/** Closes a client: its subscriptions are removed, its queue discarded, its
 * transport released and the close callback fires with `code` (0 means
 * HUB_CLOSE_NORMAL). Idempotent; an unknown id is ignored. Returns 0,
 * HUB_EINVAL, HUB_ENOMEM or HUB_ESTATE. Any thread. */
HUB_EXTERN int hub_client_close(hub_t *hub, hub_client_id id, int code);

/** @} */

/* ------------------------------------------------------------------------
 * Broadcast
 * ------------------------------------------------------------------------ */
/** @defgroup broadcast Broadcast
 * @{ */

/** @name Flags for hub_broadcast()
 * @{ */
#define HUB_MSG_JSON 0x1u   /**< payload is a JSON value (WS envelopes embed
                                 it as is instead of as a JSON string) */
#define HUB_MSG_BINARY 0x2u /**< raw WebSocket clients get a binary frame */
/** @} */

/** Delivers `len` bytes at `data` to every client subscribed to `topic`.
 * The payload is copied once; the caller may reuse `data` at once.
 * Returns the message's sequence number (> 0, increasing per hub; 0
 * under a relay, see hub_set_relay()) or
 * HUB_EINVAL, HUB_ETOPIC (also for a pattern: "*" and ">" tokens are for
 * subscribing), HUB_ENOMEM, HUB_ESTATE (not running).
 * Any thread; never blocks on I/O or on a client, never calls back into
 * the host, and takes only short internal locks: safe in a commit hook.
 * Messages of one topic reach every subscriber in sequence order, even
 * when several threads broadcast to it at once. */
HUB_EXTERN int64_t hub_broadcast(hub_t *hub, const char *topic,
                                 const void *data, size_t len,
                                 unsigned flags);

/** A batch of broadcasts staged now and published later together, or
 * dropped: a database host stages a transaction's changes in its change
 * hook and publishes them once the commit is final (never from inside a
 * pre-commit hook), or discards them on rollback. Each call copies what it
 * is given. A batch belongs to one thread at a time. */
typedef struct hub_batch hub_batch;
/** Returns 0, HUB_EINVAL or HUB_ENOMEM. Any thread; free before the hub. */
HUB_EXTERN int hub_batch_new(hub_t *hub, hub_batch **out);
/** Stages one broadcast; same arguments and errors as hub_broadcast(). */
HUB_EXTERN int hub_batch_add(hub_batch *b, const char *topic,
                             const void *data, size_t len, unsigned flags);
/** Publishes everything staged, in the order staged (each topic's messages
 * get increasing seqs), and empties the batch. All or nothing: on
 * HUB_ENOMEM nothing was published and the batch is kept. Returns the
 * last seq, 0 for an empty batch, HUB_ENOMEM or HUB_ESTATE. Never blocks,
 * like hub_broadcast(). */
HUB_EXTERN int64_t hub_batch_publish(hub_batch *b);
/** Drops everything staged; the batch can be reused. */
HUB_EXTERN void hub_batch_discard(hub_batch *b);
/** Drops what was staged after the first `count` messages: what a
 * statement that failed inside a transaction staged (the database undid
 * that statement alone, without a rollback hook: take hub_batch_count()
 * before each statement), or what followed a savepoint rolled back to
 * (take it when the savepoint is set). Returns 0, or HUB_EINVAL if fewer
 * than `count` are staged. */
HUB_EXTERN int hub_batch_truncate(hub_batch *b, size_t count);
/** Messages staged and not yet published or dropped. */
HUB_EXTERN size_t hub_batch_count(const hub_batch *b);
/** Frees a batch and anything still staged. NULL is a no-op. */
HUB_EXTERN void hub_batch_free(hub_batch *b);

/** Lists who is subscribed to a presence topic, on every shard: fn is
 * called once per subscriber with its id and principal ("" without an
 * auth callback), under an internal lock (fn must not call into the hub).
 * Returns the number listed (0 for a topic without presence), or
 * HUB_EINVAL. Any thread. */
typedef void (*hub_presence_fn)(hub_t *hub, hub_client_id id,
                                const char *principal, void *user_data);
/** @copydoc hub_presence_fn */
HUB_EXTERN int hub_presence(hub_t *hub, const char *topic,
                            hub_presence_fn fn, void *user_data);

/** Sends one message on `topic` to one client only (a snapshot when it
 * subscribes, say), framed like a broadcast on that topic and carrying
 * the hub's current seq. It is queued after anything already queued for
 * the client and before every hub_broadcast() that starts after this call
 * returns. It goes past the client's queue caps. Returns 0, HUB_EINVAL,
 * HUB_ETOPIC, HUB_ENOMEM or HUB_ESTATE; an unknown or closed id is
 * ignored. Any thread. */
HUB_EXTERN int hub_send_to(hub_t *hub, hub_client_id id, const char *topic,
                           const void *data, size_t len, unsigned flags);

/** @} */

/* ------------------------------------------------------------------------
 * Scale-out: an engine that sequences every node's broadcasts
 * ------------------------------------------------------------------------ */
/** @defgroup scaleout Scale-out
 *
 * An engine that sequences every node's broadcasts.
 *
 * With several hubs (nodes) serving one set of topics, a distributed
 * engine orders the messages of all of them and hands each message, with
 * its engine-wide seq, back to every node: fanhub_nats.h does this on NATS
 * JetStream with the stream sequence as the seq. These are its hooks; any
 * engine with a total order can use them.
 * @{ */

/** Takes what hub_broadcast() and hub_batch_publish() would deliver: the
 * topic (topic_len bytes, not NUL-terminated), the payload and the flags.
 * It runs on the broadcasting thread, under no hub lock, must not block
 * and copies what it keeps. It returns 0 when it took the message, else
 * a HUB_E* code, which the broadcast returns. */
typedef int (*hub_relay_fn)(hub_t *hub, const char *topic, size_t topic_len,
                            const void *data, size_t len, unsigned flags,
                            void *user_data);
/** Sends every broadcast to `fn` instead of delivering it: hub_broadcast()
 * then returns 0 when the relay took the message (the seq comes with
 * hub_deliver()), and hub_batch_publish() hands the messages over in
 * order and returns 0, or the relay's error with that message and those
 * after it still staged. NULL fn removes the relay. Before hub_start()
 * only: returns 0, HUB_EINVAL or HUB_ESTATE. */
HUB_EXTERN int hub_set_relay(hub_t *hub, hub_relay_fn fn, void *user_data);
/** Makes this hub continue a numbering that started elsewhere: `epoch`
 * (1..16 ASCII letters and digits; shared by every node of the engine)
 * replaces the random one, and the next seq is above `seq` (>= 0).
 * Nothing before `seq` happened here, so a resume from before it gets a
 * reset. Before hub_start() only: returns 0, HUB_EINVAL or HUB_ESTATE. */
HUB_EXTERN int hub_set_sequence(hub_t *hub, const char *epoch, int64_t seq);
/** Delivers a message the engine sequenced, with `seq`, exactly like a
 * broadcast that got that seq: to the subscribers of `topic` on this
 * hub, into its history. seq must be above every seq this hub has given
 * or delivered; one that is not is a duplicate and is dropped. Returns
 * seq, 0 for a duplicate, HUB_EINVAL, HUB_ETOPIC, HUB_ENOMEM or
 * HUB_ESTATE. Never blocks. Call it from one thread at a time, in seq
 * order (hub_broadcast() would give seqs of its own: use a relay). */
HUB_EXTERN int64_t hub_deliver(hub_t *hub, const char *topic,
                               const void *data, size_t len, unsigned flags,
                               int64_t seq);
/** Tells the hub that `count` (>= 1; at most that many when the engine
 * cannot tell) messages on `topic` (NULL: on any topic) were lost before
 * `seq` and cannot be replayed: the subscribers get a "lagged" notice
 * ("dropped" counts them, "to" is seq) after the messages before `seq`,
 * and a resume from before `seq` gets a "reset". Returns 0, HUB_EINVAL,
 * HUB_ETOPIC, HUB_ENOMEM or HUB_ESTATE. Any thread. */
HUB_EXTERN int hub_report_loss(hub_t *hub, const char *topic, uint64_t count,
                               int64_t seq);

/** @} */

/* ------------------------------------------------------------------------
 * Host-loop mode (hub_options_set_threads(opt, 0))
 * ------------------------------------------------------------------------ */
/** @defgroup hostloop Host-loop mode
 *
 * (hub_options_set_threads(opt, 0))
 * @{ */

/** Number of shards. Any thread. */
HUB_EXTERN int hub_shard_count(const hub_t *hub);
/** A pollable fd (an epoll fd) that becomes readable when shard `i` has
 * work; add it to the host's loop. Returns the fd or HUB_EINVAL. */
HUB_EXTERN int hub_shard_fd(const hub_t *hub, int i);
/** Runs shard `i` once: waits up to `timeout_ms` (0: not at all, -1: until
 * there is work) and handles everything ready. Only in host-loop mode,
 * only from one thread per shard at a time. Returns the number of events
 * handled (>= 0), HUB_EINVAL or HUB_ESTATE. */
HUB_EXTERN int hub_shard_run(hub_t *hub, int i, int timeout_ms);

/** @} */

/* ------------------------------------------------------------------------
 * Helpers for hosts: what fanhub itself does with topics and queries
 * ------------------------------------------------------------------------ */
/** @defgroup helpers Helpers for hosts
 *
 * What fanhub itself does with topics and queries.
 * @{ */

/** 1 if every topic that `subject` (a topic, or a pattern a client
 * subscribes to) stands for is matched by `pattern`, else 0: what an auth
 * callback checks a requested topic against a granted pattern with.
 * Token by token, a literal in `pattern` must equal the subject's token,
 * "*" covers any one token except ">", and a last ">" covers one or more
 * tokens of anything; wildcards in `subject` count as what they stand for,
 * so "news.*" covers "news.sport" and "news.*", not "news.>". Either
 * string with an empty token, or a ">" that is not its last token, covers
 * nothing and is covered by nothing. Lengths bound the strings (no NUL
 * needed). Any thread. */
HUB_EXTERN int hub_pattern_covers(const char *pattern, size_t pattern_len,
                                  const char *subject, size_t subject_len);

/** Reads the next parameter of a query string ("topic=a&topic=b", as
 * hub_request_info.query holds it), decoded the way fanhub reads ?topic=
 * and ?token=: '+' is a space, \%XX a byte. The key goes to
 * key[0..key_cap) and the value to value[0..value_cap), each
 * NUL-terminated, their lengths without the NUL to *key_len and
 * *value_len (either may be NULL); a parameter without '=' has an empty
 * value, and empty parameters ("a=1&&b=2") are skipped. *query and *len
 * move past the parameter. Returns 1 for a parameter, 0 at the end, or
 * HUB_EINVAL for a bad %-escape, a decoded NUL, or a key or value that
 * does not fit (*query and *len then stay where they were). Any thread. */
HUB_EXTERN int hub_query_next(const char **query, size_t *len, char *key,
                              size_t key_cap, size_t *key_len, char *value,
                              size_t value_cap, size_t *value_len);

/** @} */

/* ------------------------------------------------------------------------
 * Stats
 * ------------------------------------------------------------------------ */
/** @defgroup stats Stats
 * @{ */

/** Counters since hub_new(). Fields are only ever appended: pass
 * sizeof(hub_stats_t) and an older binary keeps working. Gauges (clients,
 * subscriptions, topics, bytes_queued) are a snapshot each shard publishes
 * after every loop iteration. */
typedef struct hub_stats_t {
  uint64_t clients;         /**< attached and not yet closed */
  uint64_t subscriptions;   /**< (client, topic) pairs */
  uint64_t topics;          /**< topics with at least one subscriber */
  uint64_t broadcasts;      /**< hub_broadcast() calls that returned a seq */
  uint64_t deliveries;      /**< broadcast messages fully written to a
                                 client (replies, pings and handshakes are
                                 not counted) */
  uint64_t drops;           /**< messages discarded by drop-oldest */
  uint64_t evictions;       /**< clients closed by the disconnect policy */
  uint64_t bytes_queued;    /**< frame bytes waiting in client queues */
  uint64_t queue_overflows; /**< messages lost to a full shard queue */
  uint64_t clients_closed;  /**< clients closed for any reason */
  uint64_t ws_accepted;     /**< WebSocket handshakes completed */
  uint64_t sse_accepted;    /**< SSE streams started */
  uint64_t http_refused;    /**< requests answered with an HTTP error */
  uint64_t history_msgs;    /**< messages retained in topic histories */
  uint64_t history_bytes;   /**< their payload bytes */
  uint64_t patterns;        /**< wildcard patterns with subscribers */
  uint64_t auth_denied;     /**< CONNECT, SUBSCRIBE, PUBLISH denied */
  uint64_t auth_timeouts;   /**< pending decisions that timed out */
  uint64_t origin_refused;  /**< WebSocket requests from a foreign Origin */
  uint64_t capacity_refused; /**< 503s: connection caps */
  uint64_t rate_limited;    /**< inbound messages over the rate */
  uint64_t write_timeouts;  /**< clients closed for no write progress */
  uint64_t idle_timeouts;   /**< clients closed for silence */
} hub_stats_t;

/** Fills the first `size` bytes of *out (at most sizeof(hub_stats_t)).
 * Returns 0 or HUB_EINVAL. Any thread; cost O(shards). */
HUB_EXTERN int hub_stats(hub_t *hub, hub_stats_t *out, size_t size);

/** Writes the stats in the Prometheus text exposition format into buf
 * (NUL-terminated when len > 0) and returns the length the whole text
 * needs, like snprintf: a return >= len means it was cut. Any thread. */
HUB_EXTERN size_t hub_metrics_text(hub_t *hub, char *buf, size_t len);

/** The hub's epoch: 16 hex digits, random per hub_new(). SSE event ids are
 * "<epoch>-<seq>". Valid until hub_free(). Any thread. */
HUB_EXTERN const char *hub_epoch(const hub_t *hub);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* FANHUB_H */
