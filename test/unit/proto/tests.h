/* The tests of build/test_unit: the protocols (HTTP, WebSocket, SSE, TLS,
 * auth, the JWT example) on sockets and host streams, linked with all of
 * lib/, wslay and mbedTLS. */
#ifndef PROTO_TESTS_H
#define PROTO_TESTS_H

#include "test.h"

/* X(name) for each test function `void name(void)`; a name run on the
 * command line must be one of these (main.c). */
#define TEST_LIST(X)                                                          \
  X(test_tls_options)                                                         \
  X(test_socket_publish_mid_round)                                            \
  X(test_shard_queue_overflow_lagged)                                         \
  X(test_shard_queue_overflow_bounded)                                        \
  X(test_ws_accept_key)                                                       \
  X(test_frame_encoding)                                                      \
  X(test_ws_session)                                                          \
  X(test_ws_raw_and_query)                                                    \
  X(test_ws_protocol_errors)                                                  \
  X(test_ws_ping_order)                                                       \
  X(test_sse_session)                                                         \
  X(test_handshake_errors)                                                    \
  X(test_stop_sends_going_away)                                               \
  X(test_attach_fd_request)                                                   \
  X(test_attach_fd_request_extra)                                             \
  X(test_unread_replies_close)                                                \
  X(test_resume_ws)                                                           \
  X(test_resume_sse)                                                          \
  X(test_lagged_notice)                                                       \
  X(test_resume_flood_bounded)                                                \
  X(test_resume_flood_pages)                                                  \
  X(test_oversize_message_delivered)                                          \
  X(test_frames_with_upgrade)                                                 \
  X(test_sse_bytes_after_request)                                             \
  X(test_request_valid_after_respond)                                         \
  X(test_keep_alive_pipelined)                                                \
  X(test_keep_alive_flood_bounded)                                            \
  X(test_frame_to_closing_client)                                             \
  X(test_ws_pinged_after_upgrade)                                             \
  X(test_stream_websocket)                                                    \
  X(test_stream_sse_resume)                                                   \
  X(test_stream_http_request)                                                 \
  X(test_fd_already_upgraded)                                                 \
  X(test_stream_bad_topics_and_resume_id)                                     \
  X(test_ws_accept_key_public)                                                \
  X(test_relay_takes_broadcasts)                                              \
  X(test_deliver_engine_seq)                                                  \
  X(test_report_loss)                                                         \
  X(test_presence)                                                            \
  X(test_auth_connect)                                                        \
  X(test_auth_pending)                                                        \
  X(test_origin_check)                                                        \
  X(test_connection_caps)                                                     \
  X(test_client_limits)                                                       \
  X(test_write_and_idle_timeouts)                                             \
  X(test_http_ws_upgrade)                                                     \
  X(test_http_sse_get)                                                        \
  X(test_http_header_values)                                                  \
  X(test_http_header_lookup)                                                  \
  X(test_http_has_token)                                                      \
  X(test_http_query)                                                          \
  X(test_http_query_errors)                                                   \
  X(test_query_next_public)                                                   \
  X(test_http_reject)                                                         \
  X(test_http_version)                                                        \
  X(test_http_limit_head)                                                     \
  X(test_http_limit_line)                                                     \
  X(test_http_limit_headers)                                                  \
  X(test_http_prefixes)                                                       \
  X(test_jwt_valid)                                                           \
  X(test_jwt_signature)                                                       \
  X(test_jwt_alg)                                                             \
  X(test_jwt_times)                                                           \
  X(test_jwt_malformed)                                                       \
  X(test_jwt_claim_types)                                                     \
  X(test_jwt_callback)                                                        \
  X(test_jwt_hub)                                                             \
  X(churn_sockets)

#define X(name) void name(void);
TEST_LIST(X)
#undef X

#endif
