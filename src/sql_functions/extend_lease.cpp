// extend_lease(): the owner of a pending guard heartbeats, pushing its lease
// forward from now so that a live owner is never taken over while a dead one
// is, once its short lease runs out.
#include "core/guard_conflicts.hpp"
#include "core/guard_rules.hpp"
#include "core/input_validation.hpp"

#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

// Arguments: scope, key, claim_token, lease. Returns the new lease expiry.
IDEMPOTENCY_SQL_FUNCTION(idempotency_extend_lease) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  std::optional<std::int64_t> claim_token = bigint_argument(fcinfo, 2);
  core::require_not_null("claim_token", !claim_token);
  Interval* lease = interval_argument(fcinfo, 3);
  core::require_not_null("lease", lease == nullptr);
  require_writable("extend a lease");
  TimestampTz now = current_instant();
  TimestampTz lease_expires_at = add_interval(now, lease);
  core::require_positive_duration("lease", now, lease_expires_at);

  GuardStoreSession session = open_guard_store();
  require_scope_access(session, guard_key.scope_view);
  for (int attempt = 0; attempt < core::kMaxWriteAttempts; ++attempt) {
    if (extend_pending_lease(guard_key.scope, guard_key.key, *claim_token, now, lease_expires_at)) {
      close_guard_store(session);
      return TimestampTzGetDatum(lease_expires_at);
    }
    GuardRow existing = read_guard(session, guard_key.scope, guard_key.key, OutcomeColumn::kSkip);
    std::optional<core::StoredGuard> stored;
    if (existing.found) stored = existing.guard;
    switch (core::decide_owner_write(stored, claim_token, now)) {
      case core::OwnerDecision::kNoLiveGuard:
        count_event(guard_key.scope_view, core::GuardEvent::kNoLiveGuard);
        throw core::no_live_guard_to_extend_error(guard_key.scope_view, guard_key.key_view);
      case core::OwnerDecision::kStaleClaimToken:
        count_event(guard_key.scope_view, core::GuardEvent::kStaleOwnerFenced);
        throw core::stale_claim_token_error(guard_key.scope_view, guard_key.key_view);
      case core::OwnerDecision::kOutcomeRecorded:
        count_event(guard_key.scope_view, core::GuardEvent::kOutcomeAlreadyRecorded);
        throw core::lease_of_completed_error(guard_key.scope_view, guard_key.key_view);
      case core::OwnerDecision::kRetry:
        break;
    }
  }
  throw core::write_retries_exhausted_error(guard_key.scope_view, guard_key.key_view);
}
