/* The tests of build/test_core: the core alone (lib/core/ and the NATS
 * outbox, linked without the protocols, wslay or mbedTLS), through host
 * transports of raw payloads and the core's internals. */
#ifndef CORE_TESTS_H
#define CORE_TESTS_H

#include "test.h"

/* X(name) for each test function `void name(void)`; a name run on the
 * command line must be one of these (main.c). */
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
  X(test_api_subscribe_idempotent)                                            \
  X(test_api_unsubscribe_all_on_close)                                        \
  X(test_host_loop_mode)                                                      \
  X(test_stop_drains)                                                         \
  X(test_subscribe_then_broadcast)                                            \
  X(test_fanout_10k)                                                          \
  X(test_broadcast_mid_round)                                                 \
  X(test_drop_oldest_keeps_newest)                                            \
  X(test_disconnect_policy)                                                   \
  X(test_stalled_client_isolation)                                            \
  X(test_partial_writes)                                                      \
  X(test_transport_error_closes)                                              \
  X(test_shard_queue_overflow)                                                \
  X(test_concurrent_broadcast_churn)                                          \
  X(test_wake_race)                                                           \
  X(test_failmalloc)                                                          \
  X(test_history_ring)                                                        \
  X(test_wildcard_match)                                                      \
  X(test_pattern_covers)                                                      \
  X(test_stream_input_backpressure)                                           \
  X(test_outbox_bounds_and_order)                                             \
  X(test_outbox_many_lost_topics)                                             \
  X(test_resume_property)                                                     \
  X(test_history_sweep)                                                       \
  X(test_wildcard_subscribe)                                                  \
  X(test_wildcard_10k)                                                        \
  X(test_send_to)                                                             \
  X(test_batch)                                                               \
  X(test_json_skip_table)                                                     \
  X(test_json_depth)                                                          \
  X(test_json_ctl_ops)                                                        \
  X(test_json_ctl_errors)                                                     \
  X(test_json_ctl_scratch)                                                    \
  X(test_json_ctl_since)                                                      \
  X(test_json_ctl_data_raw)                                                   \
  X(test_json_escape)                                                         \
  X(test_json_utf8)                                                           \
  X(churn)

#define X(name) void name(void);
TEST_LIST(X)
#undef X

#endif
