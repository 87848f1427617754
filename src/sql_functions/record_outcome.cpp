// record_outcome(): the write-once result of a claimed guard.
#include "core/guard_conflicts.hpp"
#include "core/guard_rules.hpp"
#include "core/input_validation.hpp"
#include "glue/arguments.hpp"
#include "claims/commit_wakeups.hpp"
#include "glue/error_boundary.hpp"
#include "guards/guard_store.hpp"
#include "config/scope_access.hpp"
#include "counters/scope_table.hpp"
#include "glue/server_state.hpp"
#include "glue/settings.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// jsonb equality, so key order and white space do not make a retry "different".
bool same_outcome(Jsonb* stored, Jsonb* requested) {
  if (stored == nullptr || requested == nullptr) return stored == requested;
  return call_pg([&]() noexcept {
    return DatumGetBool(
        DirectFunctionCall2(jsonb_eq, PointerGetDatum(stored), PointerGetDatum(requested)));
  });
}

}  // namespace

// Arguments: scope, key, status, outcome, claim_token.
IDEMPOTENCY_SQL_FUNCTION(idempotency_record_outcome) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  core::GuardStatus status = core::require_outcome_status(text_view(text_argument(fcinfo, 2)));
  Jsonb* outcome = jsonb_argument(fcinfo, 3);
  if (outcome != nullptr) {
    core::require_outcome_size(VARSIZE(outcome), static_cast<std::size_t>(max_outcome_size_bytes));
  }
  std::optional<std::int64_t> claim_token = bigint_argument(fcinfo, 4);
  require_writable("record an outcome");
  TimestampTz now = current_instant();

  GuardStoreSession session = open_guard_store();
  require_scope_access(session, guard_key.scope_view);
  for (int attempt = 0; attempt < core::kMaxWriteAttempts; ++attempt) {
    if (complete_guard(guard_key.scope, guard_key.key, status, outcome, claim_token, now)) {
      count_event(guard_key.scope_view, status == core::GuardStatus::kSucceeded
                                            ? core::GuardEvent::kSucceeded
                                            : core::GuardEvent::kFailed);
      wake_waiters_at_commit(guard_key.scope_view, guard_key.key_view);
      close_guard_store(session);
      return BoolGetDatum(true);
    }
    GuardRow existing = read_guard(session, guard_key.scope, guard_key.key, OutcomeColumn::kCopy);
    std::optional<core::StoredGuard> stored;
    if (existing.found) stored = existing.guard;
    bool same = existing.found && same_outcome(existing.outcome, outcome);
    switch (core::decide_record(stored, claim_token, status, same, now)) {
      case core::RecordDecision::kNoLiveGuard:
        count_event(guard_key.scope_view, core::GuardEvent::kNoLiveGuard);
        throw core::no_live_guard_error(guard_key.scope_view, guard_key.key_view);
      case core::RecordDecision::kStaleClaimToken:
        count_event(guard_key.scope_view, core::GuardEvent::kStaleOwnerFenced);
        throw core::stale_claim_token_error(guard_key.scope_view, guard_key.key_view);
      case core::RecordDecision::kConflictingOutcome:
        count_event(guard_key.scope_view, core::GuardEvent::kOutcomeAlreadyRecorded);
        throw core::conflicting_outcome_error(guard_key.scope_view, guard_key.key_view);
      case core::RecordDecision::kAlreadyRecorded:
        close_guard_store(session);
        return BoolGetDatum(false);
      case core::RecordDecision::kRetry:
        break;
    }
  }
  throw core::write_retries_exhausted_error(guard_key.scope_view, guard_key.key_view);
}
