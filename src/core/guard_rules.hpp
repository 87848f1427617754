// The rules that decide what a claim, a recorded outcome or a release does to
// an existing guard. The SQL layer reads the guard, asks these functions, and
// then applies the decision with a conditional write that fails if the guard
// changed in between (so the decision is never acted on stale data).
#pragma once
#include "core/pure_cpp.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/guard_status.hpp"

namespace idempotency::core {

// Timestamps are microseconds on one clock (PostgreSQL's TimestampTz).
using Instant = std::int64_t;

// A guard row as read from idempotency.guards.
struct StoredGuard {
  GuardStatus status = GuardStatus::kPending;
  std::optional<std::string_view> fingerprint;
  std::int64_t claim_token = 0;
  Instant expires_at = 0;
  std::optional<Instant> lease_expires_at;
  // The digest of the attempt id the guard was claimed with (nullopt: none).
  std::optional<std::string_view> attempt;
};

// Expiry is exact: a guard is gone at expires_at whether or not it was deleted.
bool is_live(const StoredGuard& guard, Instant now);

enum class ClaimDecision {
  kTakeOver,        // expired, or pending with a lease that ran out: claim it anew
  kAlreadyClaimed,  // a live guard: the caller must not perform the side effect
  kKeyReused,       // a live guard for a different request (fingerprints differ)
  kOwnClaim,        // pending, lease running, claimed by this very attempt: a retried claim
};

// `request_attempt`: the digest of the caller's attempt id (nullopt: none). A
// claim retried by the attempt that holds the pending guard gets it back; a
// completed guard answers it as any retry, and no attempt outranks expiry, a
// lease that ran out or another request's fingerprint.
ClaimDecision decide_claim(const StoredGuard& existing,
                           std::optional<std::string_view> request_fingerprint, Instant now,
                           std::optional<std::string_view> request_attempt = std::nullopt);

enum class RecordDecision {
  kNoLiveGuard,         // nothing to record against
  kStaleClaimToken,     // the guard was taken over by another claim since
  kAlreadyRecorded,     // the same outcome is stored: a harmless retry
  kConflictingOutcome,  // a different outcome is stored: write-once
  kRetry,               // still pending: the conditional write raced, try again
};

RecordDecision decide_record(const std::optional<StoredGuard>& existing,
                             std::optional<std::int64_t> claim_token, GuardStatus requested_status,
                             bool same_outcome, Instant now);

// What a write by the owner of a pending guard does: release_guard()
// deleting it, extend_lease() pushing its lease forward.
enum class OwnerDecision {
  kNoLiveGuard,      // no live guard
  kStaleClaimToken,  // the guard belongs to another claim now
  kOutcomeRecorded,  // completed guards are never released, their leases never extended
  kRetry,            // still pending: the conditional write raced, try again
};

OwnerDecision decide_owner_write(const std::optional<StoredGuard>& existing,
                                 std::optional<std::int64_t> claim_token, Instant now);

// How often a claim re-reads and retries after its conditional write lost a
// race. Each retry needs a concurrent commit on the same key, so a handful is
// plenty; past it the caller gets a serialization failure to retry.
constexpr int kMaxWriteAttempts = 8;

// A claim token from 64 random bits: positive and never zero, so it fits a
// bigint and cannot be confused with "no token".
std::int64_t claim_token_from_random(std::uint64_t random_bits);

}  // namespace idempotency::core
