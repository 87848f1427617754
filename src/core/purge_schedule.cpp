#include "core/purge_schedule.hpp"

#include <algorithm>

namespace idempotency::core {

std::int64_t next_run_delay_ms(std::int64_t interval_ms, int consecutive_failures) {
  if (consecutive_failures <= 0) return interval_ms;
  std::int64_t ceiling = std::max(interval_ms, kMaxFailureBackoffMs);
  std::int64_t delay = std::max(interval_ms, kMinFailureBackoffMs);
  for (int failure = 0; failure < consecutive_failures && delay < ceiling; ++failure) {
    delay *= 2;
  }
  return std::min(delay, ceiling);
}

}  // namespace idempotency::core
