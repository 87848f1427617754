#include "pg/settings.hpp"

namespace idempotency::pg {

int default_ttl_seconds = 24 * 60 * 60;
int max_outcome_size_bytes = 1024 * 1024;

void define_client_settings() {
  DefineCustomIntVariable(
      "idempotency.default_ttl",
      "How long a guard lives when neither the claim nor a retention policy gives a ttl.",
      "Per-scope retention policies (idempotency.set_retention) take precedence.",
      &default_ttl_seconds, 24 * 60 * 60, 1, INT_MAX, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr,
      nullptr);
  DefineCustomIntVariable(
      "idempotency.max_outcome_size", "The largest outcome record_outcome accepts.",
      "Outcomes are replayed to retries; store a reference to large results instead.",
      &max_outcome_size_bytes, 1024 * 1024, 0, MaxAllocSize / 2, PGC_SUSET, GUC_UNIT_BYTE, nullptr,
      nullptr, nullptr);
}

Interval default_ttl_interval() {
  Interval interval{};
  interval.time = static_cast<TimeOffset>(default_ttl_seconds) * USECS_PER_SEC;
  return interval;
}

}  // namespace idempotency::pg
