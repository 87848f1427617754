// release_guard(): give up a pending claim whose side effect did not happen.
#include "core/guard_conflicts.hpp"
#include "core/guard_rules.hpp"

#include "claims/commit_wakeups.hpp"
#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

// Arguments: scope, key, claim_token.
IDEMPOTENCY_SQL_FUNCTION(idempotency_release_guard) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  std::optional<std::int64_t> claim_token = bigint_argument(fcinfo, 2);
  require_writable("release a guard");
  TimestampTz now = current_instant();

  GuardStoreSession session = open_guard_store();
  require_scope_access(session, guard_key.scope_view);
  for (int attempt = 0; attempt < core::kMaxWriteAttempts; ++attempt) {
    if (delete_pending_guard(guard_key.scope, guard_key.key, claim_token, now)) {
      count_event(guard_key.scope_view, core::GuardEvent::kReleased);
      wake_waiters_at_commit(guard_key.scope_view, guard_key.key_view);
      close_guard_store(session);
      return BoolGetDatum(true);
    }
    GuardRow existing = read_guard(session, guard_key.scope, guard_key.key, OutcomeColumn::kSkip);
    std::optional<core::StoredGuard> stored;
    if (existing.found) stored = existing.guard;
    switch (core::decide_owner_write(stored, claim_token, now)) {
      case core::OwnerDecision::kNoLiveGuard:
        close_guard_store(session);
        return BoolGetDatum(false);
      case core::OwnerDecision::kStaleClaimToken:
        count_event(guard_key.scope_view, core::GuardEvent::kStaleOwnerFenced);
        throw core::stale_claim_token_error(guard_key.scope_view, guard_key.key_view);
      case core::OwnerDecision::kOutcomeRecorded:
        count_event(guard_key.scope_view, core::GuardEvent::kOutcomeAlreadyRecorded);
        throw core::release_completed_error(guard_key.scope_view, guard_key.key_view);
      case core::OwnerDecision::kRetry:
        break;
    }
  }
  throw core::write_retries_exhausted_error(guard_key.scope_view, guard_key.key_view);
}
