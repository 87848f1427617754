#include "glue/settings.hpp"

namespace idempotency::pg {

namespace {
// idempotency.default_ttl, in seconds: the ttl of a claim with neither an
// explicit ttl nor a retention policy for its scope (default_ttl_interval()).
int default_ttl_seconds = 24 * 60 * 60;
}  // namespace

int max_outcome_size_bytes = 1024 * 1024;
bool direct_access = true;

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
  // Superuser-only (or GRANT SET ON PARAMETER): an audited client must not
  // be able to turn the audited path off for itself.
  DefineCustomBoolVariable(
      "idempotency.direct_access",
      "Whether claims, reads and the purge may bypass SQL and use the heap directly.",
      "Off: every access runs an SQL statement, which executor hooks (pgaudit, auto_explain, "
      "pg_stat_statements with track = all) see; slower.",
      &direct_access, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

Interval default_ttl_interval() {
  Interval interval{};
  interval.time = static_cast<TimeOffset>(default_ttl_seconds) * USECS_PER_SEC;
  return interval;
}

}  // namespace idempotency::pg
