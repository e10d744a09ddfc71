/* A minimal test runner: each test is a void function; CHECK records a
 * failure and returns from the function it is in. */
#ifndef TEST_H
#define TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

void test_fail(const char *file, int line, const char *expr);

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      test_fail(__FILE__, __LINE__, #cond);                                   \
      return;                                                                 \
    }                                                                         \
  } while (0)

/* For helpers that return bool. */
#define CHECK_B(cond)                                                         \
  do {                                                                        \
    if (!(cond)) {                                                            \
      test_fail(__FILE__, __LINE__, #cond);                                   \
      return false;                                                           \
    }                                                                         \
  } while (0)

#define CHECK_EQ(a, b)                                                        \
  do {                                                                        \
    long long a__ = (long long)(a), b__ = (long long)(b);                     \
    if (a__ != b__) {                                                         \
      fprintf(stderr, "  %s = %lld, %s = %lld\n", #a, a__, #b, b__);          \
      test_fail(__FILE__, __LINE__, #a " == " #b);                            \
      return;                                                                 \
    }                                                                         \
  } while (0)


int64_t test_now_us(void);
void test_sleep_ms(int ms);

/* The test list: X(name) for each test function `void name(void)`. */
#define TEST_LIST(X)                                                          \
  X(test_hash_table)                                                          \
  X(test_hash_seeded)                                                         \
  X(test_mpsc_ring_order_and_full)                                            \
  X(test_mpsc_ring_producers)                                                 \
  X(test_cmd_stack_fifo)                                                      \
  X(test_cqueue_drop_oldest)                                                  \
  X(test_cqueue_growth)                                                       \
  X(test_registry_idempotent)                                                 \
  X(test_registry_cleanup)                                                    \
  X(test_registry_many_topics)                                                \
  X(test_options_validation)                                                  \
  X(test_errors_and_version)                                                  \
  X(test_lifecycle_states)                                                    \
  X(test_free_unstarted_closes_transports)                                    \
  X(test_tls_options)                                                         \
  X(test_api_subscribe_idempotent)                                            \
  X(test_api_unsubscribe_all_on_close)                                        \
  X(test_host_loop_mode)                                                      \
  X(test_stop_drains)                                                         \
  X(test_subscribe_then_broadcast)                                            \
  X(test_fanout_10k)                                                          \
  X(test_broadcast_mid_round)                                                 \
  X(test_socket_publish_mid_round)                                            \
  X(test_drop_oldest_keeps_newest)                                            \
  X(test_disconnect_policy)                                                   \
  X(test_stalled_client_isolation)                                            \
  X(test_partial_writes)                                                      \
  X(test_transport_error_closes)                                              \
  X(test_shard_queue_overflow)                                                \
  X(test_shard_queue_overflow_lagged)                                         \
  X(test_shard_queue_overflow_bounded)                                        \
  X(test_concurrent_broadcast_churn)                                          \
  X(test_wake_race)                                                           \
  X(test_failmalloc)                                                          \
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
  X(test_history_ring)                                                        \
  X(test_wildcard_match)                                                      \
  X(test_resume_ws)                                                           \
  X(test_resume_sse)                                                          \
  X(test_lagged_notice)                                                       \
  X(test_resume_flood_bounded)                                                \
  X(test_resume_flood_pages)                                                  \
  X(test_oversize_message_delivered)                                          \
  X(test_frames_with_upgrade)                                                 \
  X(test_sse_bytes_after_request)                                             \
  X(test_request_valid_after_respond)                                         \
  X(test_frame_to_closing_client)                                             \
  X(test_ws_pinged_after_upgrade)                                             \
  X(test_stream_websocket)                                                    \
  X(test_stream_sse_resume)                                                   \
  X(test_stream_http_request)                                                 \
  X(test_fd_already_upgraded)                                                 \
  X(test_stream_input_backpressure)                                           \
  X(test_stream_bad_topics_and_resume_id)                                     \
  X(test_ws_accept_key_public)                                                \
  X(test_relay_takes_broadcasts)                                              \
  X(test_deliver_engine_seq)                                                  \
  X(test_report_loss)                                                         \
  X(test_outbox_bounds_and_order)                                             \
  X(test_outbox_many_lost_topics)                                             \
  X(test_resume_property)                                                     \
  X(test_history_sweep)                                                       \
  X(test_wildcard_subscribe)                                                  \
  X(test_wildcard_10k)                                                        \
  X(test_send_to)                                                             \
  X(test_presence)                                                            \
  X(test_batch)                                                               \
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
  X(test_json_skip_table)                                                     \
  X(test_json_depth)                                                          \
  X(test_json_ctl_ops)                                                        \
  X(test_json_ctl_errors)                                                     \
  X(test_json_ctl_scratch)                                                    \
  X(test_json_ctl_since)                                                      \
  X(test_json_ctl_data_raw)                                                   \
  X(test_json_escape)                                                         \
  X(test_json_utf8)                                                           \
  X(test_jwt_valid)                                                           \
  X(test_jwt_signature)                                                       \
  X(test_jwt_alg)                                                             \
  X(test_jwt_times)                                                           \
  X(test_jwt_malformed)                                                       \
  X(test_jwt_claim_types)                                                     \
  X(test_pattern_covers)                                                      \
  X(test_jwt_callback)                                                        \
  X(test_jwt_hub)                                                             \
  X(churn)                                                                    \
  X(churn_sockets)

#define X(name) void name(void);
TEST_LIST(X)
#undef X

#endif
