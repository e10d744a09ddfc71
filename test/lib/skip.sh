# shellcheck shell=sh
# What a runner does when it cannot run a suite (sourced; POSIX sh):
#
#   skipped REASON
#
# prints "SKIPPED: REASON" on stderr and returns 0, so a developer without
# some dependency still gets the rest of `make check`. Under CI (CI set
# and non-empty, as CI systems set it; .ci/run sets it too) or with
# FANHUB_REQUIRE_ALL=1 it returns 1: there a suite that did not run would
# pass unnoticed.
skipped() {
  echo "SKIPPED: $*" >&2
  if [ -n "${CI:-}" ] || [ "${FANHUB_REQUIRE_ALL:-}" = 1 ]; then
    echo "FAIL: skipped under CI (CI=${CI:-}," \
         "FANHUB_REQUIRE_ALL=${FANHUB_REQUIRE_ALL:-}): everything must run" >&2
    return 1
  fi
  return 0
}
