// Recording one guard's outcome, shared by record_outcome() and
// record_outcomes(): the conditional write, and when it finds nothing to
// complete, the decision between a harmless retry and an error.
#pragma once
#include "guards/guard_store.hpp"

namespace idempotency::pg {

struct OutcomeWrite {
  text* scope = nullptr;
  text* key = nullptr;
  core::GuardStatus status = core::GuardStatus::kSucceeded;
  Jsonb* outcome = nullptr;                 // nullptr: NULL
  std::optional<std::int64_t> claim_token;  // nullopt: any claim
  TimestampTz now = 0;
};

// In a session with its statements connected: true when the outcome was
// recorded now, false when the identical outcome was already recorded (JSON
// compared as values). Otherwise counts the refusal (no_live_guard,
// stale_owner_fenced, outcome_already_recorded) and throws IK002, IK004 or
// IK003 naming the key. Counts no success and wakes no waiter: the caller
// does both once what it recorded is certain.
bool record_guard_outcome(GuardStoreSession& session, const OutcomeWrite& write);

}  // namespace idempotency::pg
