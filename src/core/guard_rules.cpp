#include "core/guard_rules.hpp"

#include <limits>

namespace idempotency::core {
namespace {

bool token_mismatch(const StoredGuard& guard, std::optional<std::int64_t> claim_token) {
  return claim_token && *claim_token != guard.claim_token;
}

}  // namespace

bool is_live(const StoredGuard& guard, Instant now) { return now < guard.expires_at; }

ClaimDecision decide_claim(const StoredGuard& existing,
                           std::optional<std::string_view> request_fingerprint, Instant now,
                           std::optional<std::string_view> request_attempt) {
  if (!is_live(existing, now)) return ClaimDecision::kTakeOver;
  // A different request must never take over, not even a lease that ran out.
  if (request_fingerprint && existing.fingerprint &&
      *request_fingerprint != *existing.fingerprint) {
    return ClaimDecision::kKeyReused;
  }
  if (existing.status == GuardStatus::kPending && existing.lease_expires_at &&
      now >= *existing.lease_expires_at) {
    return ClaimDecision::kTakeOver;
  }
  if (existing.status == GuardStatus::kPending && request_attempt && existing.attempt &&
      *request_attempt == *existing.attempt) {
    return ClaimDecision::kOwnClaim;
  }
  return ClaimDecision::kAlreadyClaimed;
}

RecordDecision decide_record(const std::optional<StoredGuard>& existing,
                             std::optional<std::int64_t> claim_token, GuardStatus requested_status,
                             bool same_outcome, Instant now) {
  if (!existing || !is_live(*existing, now)) return RecordDecision::kNoLiveGuard;
  if (token_mismatch(*existing, claim_token)) return RecordDecision::kStaleClaimToken;
  if (existing->status == GuardStatus::kPending) return RecordDecision::kRetry;
  if (existing->status == requested_status && same_outcome) return RecordDecision::kAlreadyRecorded;
  return RecordDecision::kConflictingOutcome;
}

OwnerDecision decide_owner_write(const std::optional<StoredGuard>& existing,
                                 std::optional<std::int64_t> claim_token, Instant now) {
  if (!existing || !is_live(*existing, now)) return OwnerDecision::kNoLiveGuard;
  if (token_mismatch(*existing, claim_token)) return OwnerDecision::kStaleClaimToken;
  if (existing->status != GuardStatus::kPending) return OwnerDecision::kOutcomeRecorded;
  return OwnerDecision::kRetry;
}

std::int64_t claim_token_from_random(std::uint64_t random_bits) {
  auto token = static_cast<std::int64_t>(random_bits & std::numeric_limits<std::int64_t>::max());
  return token == 0 ? 1 : token;
}

}  // namespace idempotency::core
