/* This binary's test table, from its TEST_LIST. */
#include "tests.h"

const struct test_entry test_list[] = {
#define X(name) {#name, name},
    TEST_LIST(X)
#undef X
};
const size_t test_count = sizeof(test_list) / sizeof(test_list[0]);
