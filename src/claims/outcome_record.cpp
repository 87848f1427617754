#include "claims/outcome_record.hpp"

#include "core/guard_conflicts.hpp"

#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"

namespace idempotency::pg {
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

bool record_guard_outcome(GuardStoreSession& session, const OutcomeWrite& write) {
  std::string_view scope = *text_view(write.scope);
  std::string_view key = *text_view(write.key);
  for (int attempt = 0; attempt < core::kMaxWriteAttempts; ++attempt) {
    if (complete_guard(write.scope, write.key, write.status, write.outcome, write.claim_token,
                       write.now)) {
      return true;
    }
    GuardRow existing = read_guard(session, write.scope, write.key, OutcomeColumn::kCopy);
    std::optional<core::StoredGuard> stored;
    if (existing.found) stored = existing.guard;
    bool same = existing.found && same_outcome(existing.outcome, write.outcome);
    switch (core::decide_record(stored, write.claim_token, write.status, same, write.now)) {
      case core::RecordDecision::kNoLiveGuard:
        count_event(scope, core::GuardEvent::kNoLiveGuard);
        throw core::no_live_guard_error(scope, key);
      case core::RecordDecision::kStaleClaimToken:
        count_event(scope, core::GuardEvent::kStaleOwnerFenced);
        throw core::stale_claim_token_error(scope, key);
      case core::RecordDecision::kConflictingOutcome:
        count_event(scope, core::GuardEvent::kOutcomeAlreadyRecorded);
        throw core::conflicting_outcome_error(scope, key);
      case core::RecordDecision::kAlreadyRecorded:
        return false;
      case core::RecordDecision::kRetry:
        break;
    }
  }
  throw core::write_retries_exhausted_error(scope, key);
}

}  // namespace idempotency::pg
