// When a purge worker runs next: every purge_interval, paused at 0, and
// backing off after failures so a broken database is not hammered (nor the
// log flooded) while it stays broken.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstdint>

namespace idempotency::core {

// The longest a worker waits after repeated failures.
constexpr std::int64_t kMaxFailureBackoffMs = 10 * 60 * 1000;
// The first retry after a failure comes no sooner than this.
constexpr std::int64_t kMinFailureBackoffMs = 1000;

// Milliseconds until the next run. `interval_ms` is idempotency.purge_interval
// (> 0; 0 means paused and is handled by the caller). After n consecutive
// failures the wait is interval * 2^n, at least kMinFailureBackoffMs and at
// most max(interval, kMaxFailureBackoffMs).
std::int64_t next_run_delay_ms(std::int64_t interval_ms, int consecutive_failures);

}  // namespace idempotency::core
