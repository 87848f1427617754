#include "core/guard_conflicts.hpp"

#include <string>

namespace idempotency::core {
namespace {

std::string guard_detail(std::string_view scope, std::string_view key) {
  return "scope \"" + std::string(scope) + "\", key \"" + std::string(key) + "\"";
}

}  // namespace

GuardError key_reused_error(std::string_view scope, std::string_view key,
                            std::string_view claimed_at, GuardStatus status) {
  // When and in which state: a support engineer tells a client's bug (a key
  // reused days later) from a retry whose request changed.
  std::string state = status == GuardStatus::kPending
                          ? "is still pending (no outcome recorded yet)"
                          : "has its outcome recorded as " + std::string(status_name(status));
  return GuardError(SqlState::kKeyReused, "idempotency key reused for a different request",
                    "The live guard for " + guard_detail(scope, key) + " was claimed at " +
                        std::string(claimed_at) + " with a different fingerprint, and " + state +
                        ".",
                    "Use a new key for a new request; reuse a key only to retry the same request.");
}

GuardError no_live_guard_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kNoLiveGuard, "no live guard to record an outcome for",
                    "There is no unexpired guard for " + guard_detail(scope, key) + ".",
                    "Claim the guard first; a guard that expired may have been claimed again.");
}

GuardError no_live_guard_to_extend_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kNoLiveGuard, "no live guard to extend the lease of",
                    "There is no unexpired guard for " + guard_detail(scope, key) + ".",
                    "A guard that expired or was released is no longer yours: stop the work, "
                    "or claim the key again.");
}

GuardError lease_of_completed_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kOutcomeAlreadyRecorded,
                    "cannot extend the lease of a guard whose outcome is recorded",
                    "The guard for " + guard_detail(scope, key) + " is completed.",
                    "Only pending guards have leases; stop heartbeating once the outcome is "
                    "recorded.");
}

GuardError conflicting_outcome_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kOutcomeAlreadyRecorded,
                    "a different outcome is already recorded for this guard",
                    "Outcomes are write-once; " + guard_detail(scope, key) + " already has one.",
                    "Read the recorded outcome with idempotency.lookup().");
}

GuardError release_completed_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kOutcomeAlreadyRecorded,
                    "cannot release a guard whose outcome is recorded",
                    "The guard for " + guard_detail(scope, key) + " is completed.",
                    "Only pending guards can be released; completed ones expire with their ttl.");
}

GuardError stale_claim_token_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kStaleClaimToken, "claim token does not match the current claim",
                    "The guard for " + guard_detail(scope, key) +
                        " was taken over by another claim since this token was issued.",
                    "Stop: another worker owns this key now.");
}

GuardError write_retries_exhausted_error(std::string_view scope, std::string_view key) {
  return GuardError(SqlState::kSerializationFailure,
                    "could not apply the change to the guard under concurrent updates",
                    "The guard for " + guard_detail(scope, key) + " kept changing.",
                    "Retry the transaction.");
}

GuardError scope_denied_error(std::string_view role, std::string_view scope) {
  return GuardError(
      SqlState::kInsufficientPrivilege,
      "role \"" + std::string(role) + "\" may not use scope \"" + std::string(scope) + "\"",
      "The role is restricted to the scopes listed for it in idempotency.scope_access.",
      "A DBA can extend the list with idempotency.restrict_scopes().");
}

}  // namespace idempotency::core
