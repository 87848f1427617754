#include "core/guard_error.hpp"
#include "core/guard_rules.hpp"
#include "pg/server_state.hpp"

#include <string>

namespace idempotency::pg {

void require_writable(const char* action) {
  if (RecoveryInProgress()) {
    throw core::GuardError(core::SqlState::kReadOnlyTransaction,
                           std::string("cannot ") + action + " on a standby server",
                           "The server is in recovery: guards are read-only here.",
                           "Send writes to the primary; idempotency.lookup() works on standbys.");
  }
  if (XactReadOnly) {
    throw core::GuardError(core::SqlState::kReadOnlyTransaction,
                           std::string("cannot ") + action + " in a read-only transaction");
  }
}

std::int64_t new_claim_token() {
  std::uint64_t bits = 0;
  if (!pg_strong_random(&bits, sizeof bits)) {
    throw std::runtime_error("could not generate a random claim token");
  }
  return core::claim_token_from_random(bits);
}

TimestampTz current_instant() { return GetCurrentTimestamp(); }

}  // namespace idempotency::pg
