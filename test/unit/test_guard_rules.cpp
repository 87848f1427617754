// Unit tests for src/core/guard_rules: what a claim, a recorded outcome and a
// release do to an existing guard, and how claim tokens are made.
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/guard_rules.hpp"
#include "core/guard_status.hpp"

#include "printers.hpp"

namespace idempotency::core {
namespace {

constexpr Instant kNow = 1'000'000'000;
constexpr std::int64_t kToken = 4242;
constexpr std::int64_t kOtherToken = 4243;
constexpr GuardStatus kCompletedStatuses[] = {GuardStatus::kSucceeded, GuardStatus::kFailed};
constexpr GuardStatus kAllStatuses[] = {GuardStatus::kPending, GuardStatus::kSucceeded,
                                        GuardStatus::kFailed};

// A guard that is live at kNow: it expires an hour later and has no lease.
StoredGuard live_guard(GuardStatus status = GuardStatus::kPending) {
  StoredGuard guard;
  guard.status = status;
  guard.fingerprint = std::nullopt;
  guard.claim_token = kToken;
  guard.expires_at = kNow + 3'600'000'000;
  guard.lease_expires_at = std::nullopt;
  return guard;
}

// A guard whose expiry has passed at kNow.
StoredGuard expired_guard(GuardStatus status = GuardStatus::kPending) {
  StoredGuard guard = live_guard(status);
  guard.expires_at = kNow - 1;
  return guard;
}

// --- is_live ------------------------------------------------------------

TEST(IsLive, BeforeExpiryIsLive) {
  StoredGuard guard = live_guard();
  guard.expires_at = kNow + 1;
  EXPECT_TRUE(is_live(guard, kNow));
}

TEST(IsLive, ExactlyAtExpiryIsNotLive) {
  StoredGuard guard = live_guard();
  guard.expires_at = kNow;
  EXPECT_FALSE(is_live(guard, kNow));
}

TEST(IsLive, AfterExpiryIsNotLive) {
  StoredGuard guard = live_guard();
  guard.expires_at = kNow - 1;
  EXPECT_FALSE(is_live(guard, kNow));
}

TEST(IsLive, IndependentOfStatusAndLease) {
  for (GuardStatus status : kAllStatuses) {
    StoredGuard guard = live_guard(status);
    guard.lease_expires_at = kNow - 100;  // lease ran out long ago
    EXPECT_TRUE(is_live(guard, kNow));
    guard.expires_at = kNow;
    EXPECT_FALSE(is_live(guard, kNow));
  }
}

TEST(IsLive, NegativeInstants) {
  StoredGuard guard = live_guard();
  guard.expires_at = -10;
  EXPECT_TRUE(is_live(guard, -11));
  EXPECT_FALSE(is_live(guard, -10));
  EXPECT_FALSE(is_live(guard, -9));
}

// --- decide_claim: expiry -----------------------------------------------

TEST(DecideClaim, ExpiredGuardIsTakenOver) {
  for (GuardStatus status : kAllStatuses) {
    EXPECT_EQ(decide_claim(expired_guard(status), std::nullopt, kNow), ClaimDecision::kTakeOver);
  }
}

TEST(DecideClaim, ExactlyAtExpiryCountsAsExpired) {
  StoredGuard guard = live_guard(GuardStatus::kSucceeded);
  guard.expires_at = kNow;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kTakeOver);
}

TEST(DecideClaim, OneMicrosecondBeforeExpiryIsStillClaimed) {
  StoredGuard guard = live_guard(GuardStatus::kSucceeded);
  guard.expires_at = kNow + 1;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, ExpiredGuardWithDifferentFingerprintIsTakenOver) {
  // Once a guard has expired, the key is free for any request.
  for (GuardStatus status : kAllStatuses) {
    StoredGuard guard = expired_guard(status);
    guard.fingerprint = "old-request";
    EXPECT_EQ(decide_claim(guard, std::string_view("new-request"), kNow), ClaimDecision::kTakeOver);
  }
}

// --- decide_claim: live guards ------------------------------------------

TEST(DecideClaim, LivePendingGuardIsAlreadyClaimed) {
  EXPECT_EQ(decide_claim(live_guard(GuardStatus::kPending), std::nullopt, kNow),
            ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, LiveCompletedGuardIsAlreadyClaimed) {
  for (GuardStatus status : kCompletedStatuses) {
    EXPECT_EQ(decide_claim(live_guard(status), std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
  }
}

// --- decide_claim: fingerprints -----------------------------------------

TEST(DecideClaim, DifferentFingerprintOnLiveGuardIsKeyReused) {
  for (GuardStatus status : kAllStatuses) {
    StoredGuard guard = live_guard(status);
    guard.fingerprint = "fp-a";
    EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow), ClaimDecision::kKeyReused);
  }
}

TEST(DecideClaim, SameFingerprintIsAlreadyClaimed) {
  for (GuardStatus status : kAllStatuses) {
    StoredGuard guard = live_guard(status);
    guard.fingerprint = "fp-a";
    EXPECT_EQ(decide_claim(guard, std::string_view("fp-a"), kNow), ClaimDecision::kAlreadyClaimed);
  }
}

TEST(DecideClaim, FingerprintsAreComparedByContent) {
  // Equal text in two different buffers is the same fingerprint.
  const std::string stored = "e3b0c44298fc1c149afbf4c8996fb924";
  const std::string requested = stored;
  ASSERT_NE(stored.data(), requested.data());
  StoredGuard guard = live_guard();
  guard.fingerprint = std::string_view(stored);
  EXPECT_EQ(decide_claim(guard, std::string_view(requested), kNow), ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, FingerprintsAreComparedExactly) {
  StoredGuard guard = live_guard();
  guard.fingerprint = "abc";
  for (const char* other : {"ABC", "abc ", " abc", "ab", "abcd"}) {
    EXPECT_EQ(decide_claim(guard, std::string_view(other), kNow), ClaimDecision::kKeyReused)
        << other;
  }
  // Same prefix, different length (a view into a longer buffer).
  EXPECT_EQ(decide_claim(guard, std::string_view("abcdef", 3), kNow),
            ClaimDecision::kAlreadyClaimed);
  EXPECT_EQ(decide_claim(guard, std::string_view("abc\0", 4), kNow), ClaimDecision::kKeyReused);
}

TEST(DecideClaim, NullRequestFingerprintIsNoMismatch) {
  StoredGuard guard = live_guard();
  guard.fingerprint = "fp-a";
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, NullStoredFingerprintIsNoMismatch) {
  StoredGuard guard = live_guard();
  guard.fingerprint = std::nullopt;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow), ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, BothFingerprintsNullIsNoMismatch) {
  EXPECT_EQ(decide_claim(live_guard(), std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
}

// --- decide_claim: leases -----------------------------------------------

TEST(DecideClaim, PendingWithLeaseRunOutIsTakenOver) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.lease_expires_at = kNow - 1;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kTakeOver);
}

TEST(DecideClaim, PendingExactlyAtLeaseEndIsTakenOver) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.lease_expires_at = kNow;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kTakeOver);
}

TEST(DecideClaim, PendingWithLeaseNotYetOutIsAlreadyClaimed) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.lease_expires_at = kNow + 1;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, PendingWithoutLeaseIsAlreadyClaimed) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.lease_expires_at = std::nullopt;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, CompletedGuardWithLeaseRunOutIsAlreadyClaimed) {
  // A lease only covers the work; a recorded outcome stays until expiry.
  for (GuardStatus status : kCompletedStatuses) {
    StoredGuard guard = live_guard(status);
    guard.lease_expires_at = kNow - 1;
    EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
    guard.lease_expires_at = kNow;
    EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kAlreadyClaimed);
  }
}

TEST(DecideClaim, LeaseRunOutButFingerprintDiffersIsKeyReused) {
  // A different request must never take over, not even a lease that ran out.
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.fingerprint = "fp-a";
  guard.lease_expires_at = kNow - 1;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow), ClaimDecision::kKeyReused);
  guard.lease_expires_at = kNow;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow), ClaimDecision::kKeyReused);
}

TEST(DecideClaim, LeaseRunOutWithSameFingerprintIsTakenOver) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.fingerprint = "fp-a";
  guard.lease_expires_at = kNow - 1;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-a"), kNow), ClaimDecision::kTakeOver);
}

TEST(DecideClaim, LeaseRunOutWithOneNullFingerprintIsTakenOver) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.lease_expires_at = kNow - 1;
  guard.fingerprint = "fp-a";
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kTakeOver);
  guard.fingerprint = std::nullopt;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow), ClaimDecision::kTakeOver);
}

TEST(DecideClaim, LeaseStillRunningWithDifferentFingerprintIsKeyReused) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.fingerprint = "fp-a";
  guard.lease_expires_at = kNow + 1;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow), ClaimDecision::kKeyReused);
}

// --- decide_claim: attempts ---------------------------------------------

TEST(DecideClaim, SameAttemptOnPendingGuardIsOwnClaim) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.attempt = "digest-a";
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-a")),
            ClaimDecision::kOwnClaim);
  guard.lease_expires_at = kNow + 1;  // a lease still running
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-a")),
            ClaimDecision::kOwnClaim);
}

TEST(DecideClaim, OtherOrNoAttemptOnPendingGuardIsAlreadyClaimed) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.attempt = "digest-a";
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-b")),
            ClaimDecision::kAlreadyClaimed);
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::nullopt), ClaimDecision::kAlreadyClaimed);
  // A view into a longer buffer is compared by its own bytes only.
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-ab", 9)),
            ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, AttemptOnGuardClaimedWithoutOneIsAlreadyClaimed) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-a")),
            ClaimDecision::kAlreadyClaimed);
}

TEST(DecideClaim, SameAttemptOnCompletedGuardIsAlreadyClaimed) {
  // The side effect is done: the attempt is answered as any retry, with the outcome.
  for (GuardStatus status : kCompletedStatuses) {
    StoredGuard guard = live_guard(status);
    guard.attempt = "digest-a";
    EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-a")),
              ClaimDecision::kAlreadyClaimed);
  }
}

TEST(DecideClaim, SameAttemptDoesNotOutrankExpiryLeaseOrFingerprint) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.attempt = "digest-a";
  guard.lease_expires_at = kNow;  // ran out: a new claim, with a new token
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow, std::string_view("digest-a")),
            ClaimDecision::kTakeOver);
  guard.lease_expires_at = std::nullopt;
  guard.fingerprint = "fp-a";
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-b"), kNow, std::string_view("digest-a")),
            ClaimDecision::kKeyReused);
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-a"), kNow, std::string_view("digest-a")),
            ClaimDecision::kOwnClaim);
  guard.expires_at = kNow;
  EXPECT_EQ(decide_claim(guard, std::string_view("fp-a"), kNow, std::string_view("digest-a")),
            ClaimDecision::kTakeOver);
}

TEST(DecideClaim, ExpiryWinsOverARunningLease) {
  // A lease that outlasts the guard does not keep it alive.
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.expires_at = kNow;
  guard.lease_expires_at = kNow + 1'000'000;
  EXPECT_EQ(decide_claim(guard, std::nullopt, kNow), ClaimDecision::kTakeOver);
}

// --- decide_record ------------------------------------------------------

TEST(DecideRecord, NoGuardIsNoLiveGuard) {
  for (GuardStatus requested : kCompletedStatuses) {
    for (bool same_outcome : {false, true}) {
      EXPECT_EQ(decide_record(std::nullopt, kToken, requested, same_outcome, kNow),
                RecordDecision::kNoLiveGuard);
      EXPECT_EQ(decide_record(std::nullopt, std::nullopt, requested, same_outcome, kNow),
                RecordDecision::kNoLiveGuard);
    }
  }
}

TEST(DecideRecord, ExpiredGuardIsNoLiveGuard) {
  for (GuardStatus status : kAllStatuses) {
    EXPECT_EQ(decide_record(expired_guard(status), kToken, GuardStatus::kSucceeded, true, kNow),
              RecordDecision::kNoLiveGuard);
  }
}

TEST(DecideRecord, ExactlyAtExpiryIsNoLiveGuard) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.expires_at = kNow;
  EXPECT_EQ(decide_record(guard, kToken, GuardStatus::kSucceeded, false, kNow),
            RecordDecision::kNoLiveGuard);
  guard.expires_at = kNow + 1;
  EXPECT_EQ(decide_record(guard, kToken, GuardStatus::kSucceeded, false, kNow),
            RecordDecision::kRetry);
}

TEST(DecideRecord, NoLiveGuardTakesPrecedenceOverTokenMismatch) {
  for (GuardStatus status : kAllStatuses) {
    EXPECT_EQ(
        decide_record(expired_guard(status), kOtherToken, GuardStatus::kSucceeded, false, kNow),
        RecordDecision::kNoLiveGuard);
  }
}

TEST(DecideRecord, TokenMismatchIsStaleClaimToken) {
  EXPECT_EQ(decide_record(live_guard(GuardStatus::kPending), kOtherToken, GuardStatus::kSucceeded,
                          false, kNow),
            RecordDecision::kStaleClaimToken);
}

TEST(DecideRecord, TokenMismatchTakesPrecedenceOverStatus) {
  // Even a matching recorded outcome is not "already recorded" for a stale token.
  for (GuardStatus status : kAllStatuses) {
    for (GuardStatus requested : kCompletedStatuses) {
      for (bool same_outcome : {false, true}) {
        EXPECT_EQ(decide_record(live_guard(status), kOtherToken, requested, same_outcome, kNow),
                  RecordDecision::kStaleClaimToken);
      }
    }
  }
}

TEST(DecideRecord, ZeroTokenDoesNotMatchAStoredToken) {
  EXPECT_EQ(decide_record(live_guard(GuardStatus::kPending), std::int64_t{0},
                          GuardStatus::kSucceeded, false, kNow),
            RecordDecision::kStaleClaimToken);
}

TEST(DecideRecord, PendingWithMatchingTokenIsRetry) {
  for (GuardStatus requested : kCompletedStatuses) {
    for (bool same_outcome : {false, true}) {
      EXPECT_EQ(
          decide_record(live_guard(GuardStatus::kPending), kToken, requested, same_outcome, kNow),
          RecordDecision::kRetry);
    }
  }
}

TEST(DecideRecord, PendingWithoutTokenIsRetry) {
  // No token means "do not check the token".
  EXPECT_EQ(decide_record(live_guard(GuardStatus::kPending), std::nullopt, GuardStatus::kFailed,
                          false, kNow),
            RecordDecision::kRetry);
}

TEST(DecideRecord, PendingWithRunOutLeaseIsStillRetry) {
  // The lease only matters to a competing claim; until one takes over, the
  // owner may still record.
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.lease_expires_at = kNow - 1;
  EXPECT_EQ(decide_record(guard, kToken, GuardStatus::kSucceeded, false, kNow),
            RecordDecision::kRetry);
}

TEST(DecideRecord, SameStatusAndSameOutcomeIsAlreadyRecorded) {
  for (GuardStatus status : kCompletedStatuses) {
    EXPECT_EQ(decide_record(live_guard(status), kToken, status, true, kNow),
              RecordDecision::kAlreadyRecorded);
    EXPECT_EQ(decide_record(live_guard(status), std::nullopt, status, true, kNow),
              RecordDecision::kAlreadyRecorded);
  }
}

TEST(DecideRecord, SameStatusDifferentOutcomeIsConflicting) {
  for (GuardStatus status : kCompletedStatuses) {
    EXPECT_EQ(decide_record(live_guard(status), kToken, status, false, kNow),
              RecordDecision::kConflictingOutcome);
  }
}

TEST(DecideRecord, DifferentStatusIsConflictingEvenWithSameOutcome) {
  EXPECT_EQ(
      decide_record(live_guard(GuardStatus::kSucceeded), kToken, GuardStatus::kFailed, true, kNow),
      RecordDecision::kConflictingOutcome);
  EXPECT_EQ(
      decide_record(live_guard(GuardStatus::kFailed), kToken, GuardStatus::kSucceeded, true, kNow),
      RecordDecision::kConflictingOutcome);
}

TEST(DecideRecord, DifferentStatusAndDifferentOutcomeIsConflicting) {
  EXPECT_EQ(
      decide_record(live_guard(GuardStatus::kSucceeded), kToken, GuardStatus::kFailed, false, kNow),
      RecordDecision::kConflictingOutcome);
  EXPECT_EQ(decide_record(live_guard(GuardStatus::kFailed), std::nullopt, GuardStatus::kSucceeded,
                          false, kNow),
            RecordDecision::kConflictingOutcome);
}

// --- decide_owner_write -----------------------------------------------------

TEST(DecideOwnerWrite, NoGuardIsNoLiveGuard) {
  EXPECT_EQ(decide_owner_write(std::nullopt, kToken, kNow), OwnerDecision::kNoLiveGuard);
  EXPECT_EQ(decide_owner_write(std::nullopt, std::nullopt, kNow), OwnerDecision::kNoLiveGuard);
}

TEST(DecideOwnerWrite, ExpiredGuardIsNoLiveGuard) {
  for (GuardStatus status : kAllStatuses) {
    EXPECT_EQ(decide_owner_write(expired_guard(status), kToken, kNow), OwnerDecision::kNoLiveGuard);
  }
}

TEST(DecideOwnerWrite, ExactlyAtExpiryIsNoLiveGuard) {
  StoredGuard guard = live_guard(GuardStatus::kPending);
  guard.expires_at = kNow;
  EXPECT_EQ(decide_owner_write(guard, kToken, kNow), OwnerDecision::kNoLiveGuard);
  guard.expires_at = kNow + 1;
  EXPECT_EQ(decide_owner_write(guard, kToken, kNow), OwnerDecision::kRetry);
}

TEST(DecideOwnerWrite, NoLiveGuardTakesPrecedenceOverTokenMismatch) {
  for (GuardStatus status : kAllStatuses) {
    EXPECT_EQ(decide_owner_write(expired_guard(status), kOtherToken, kNow),
              OwnerDecision::kNoLiveGuard);
  }
}

TEST(DecideOwnerWrite, TokenMismatchIsStaleClaimToken) {
  EXPECT_EQ(decide_owner_write(live_guard(GuardStatus::kPending), kOtherToken, kNow),
            OwnerDecision::kStaleClaimToken);
}

TEST(DecideOwnerWrite, TokenMismatchTakesPrecedenceOverStatus) {
  for (GuardStatus status : kCompletedStatuses) {
    EXPECT_EQ(decide_owner_write(live_guard(status), kOtherToken, kNow),
              OwnerDecision::kStaleClaimToken);
  }
}

TEST(DecideOwnerWrite, CompletedGuardIsOutcomeRecorded) {
  for (GuardStatus status : kCompletedStatuses) {
    EXPECT_EQ(decide_owner_write(live_guard(status), kToken, kNow),
              OwnerDecision::kOutcomeRecorded);
    EXPECT_EQ(decide_owner_write(live_guard(status), std::nullopt, kNow),
              OwnerDecision::kOutcomeRecorded);
  }
}

TEST(DecideOwnerWrite, PendingWithMatchingTokenIsRetry) {
  EXPECT_EQ(decide_owner_write(live_guard(GuardStatus::kPending), kToken, kNow),
            OwnerDecision::kRetry);
}

TEST(DecideOwnerWrite, PendingWithoutTokenIsRetry) {
  EXPECT_EQ(decide_owner_write(live_guard(GuardStatus::kPending), std::nullopt, kNow),
            OwnerDecision::kRetry);
}

// --- kMaxWriteAttempts --------------------------------------------------

TEST(MaxWriteAttempts, AllowsAtLeastOneRetry) {
  EXPECT_GE(kMaxWriteAttempts, 2);
  EXPECT_LE(kMaxWriteAttempts, 100);
}

// --- claim_token_from_random --------------------------------------------

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t kAllOnes = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kTopBit = std::uint64_t{1} << 63;

TEST(ClaimTokenFromRandom, ZeroBecomesOne) { EXPECT_EQ(claim_token_from_random(0), 1); }

TEST(ClaimTokenFromRandom, AllOnesIsInt64Max) {
  EXPECT_EQ(claim_token_from_random(kAllOnes), kInt64Max);
}

TEST(ClaimTokenFromRandom, TopBitAloneBecomesOne) {
  // Masking the sign bit leaves zero, which is not a token.
  EXPECT_EQ(claim_token_from_random(kTopBit), 1);
}

TEST(ClaimTokenFromRandom, SignBitIsDropped) {
  EXPECT_EQ(claim_token_from_random(kTopBit | 1), 1);
  EXPECT_EQ(claim_token_from_random(kTopBit | 2), 2);
  EXPECT_EQ(claim_token_from_random(kTopBit | 0x1234), 0x1234);
  EXPECT_EQ(claim_token_from_random(kAllOnes - 1), kInt64Max - 1);
}

TEST(ClaimTokenFromRandom, PositiveValuesPassThrough) {
  EXPECT_EQ(claim_token_from_random(1), 1);
  EXPECT_EQ(claim_token_from_random(2), 2);
  EXPECT_EQ(claim_token_from_random(0x0123456789ABCDEF), 0x0123456789ABCDEF);
  EXPECT_EQ(claim_token_from_random(static_cast<std::uint64_t>(kInt64Max)), kInt64Max);
}

TEST(ClaimTokenFromRandom, EverySingleBitAndMaskIsPositive) {
  for (int bit = 0; bit < 64; ++bit) {
    SCOPED_TRACE(bit);
    const std::uint64_t single = std::uint64_t{1} << bit;
    const std::uint64_t mask = single - 1;  // the bits below `bit`
    const std::uint64_t inverse = ~single;  // all but `bit`
    for (std::uint64_t bits : {single, mask, inverse}) {
      const std::int64_t token = claim_token_from_random(bits);
      EXPECT_GT(token, 0) << bits;
      const std::uint64_t low = bits & static_cast<std::uint64_t>(kInt64Max);
      EXPECT_EQ(token, low == 0 ? 1 : static_cast<std::int64_t>(low)) << bits;
    }
  }
}

TEST(ClaimTokenFromRandom, RandomSweepIsAlwaysPositiveAndKeepsTheLow63Bits) {
  std::mt19937_64 rng(20240517);  // fixed seed: reproducible
  std::set<std::int64_t> tokens;
  constexpr int kSamples = 100000;
  for (int i = 0; i < kSamples; ++i) {
    const std::uint64_t bits = rng();
    const std::int64_t token = claim_token_from_random(bits);
    ASSERT_GT(token, 0) << "bits=" << bits;
    ASSERT_EQ(static_cast<std::uint64_t>(token), bits & static_cast<std::uint64_t>(kInt64Max))
        << "bits=" << bits;
    tokens.insert(token);
  }
  // 63 random bits: a collision among 100000 samples would mean bits are lost.
  EXPECT_EQ(tokens.size(), static_cast<std::size_t>(kSamples));
}

TEST(ClaimTokenFromRandom, SmallAndLargeSweepIsAlwaysPositive) {
  for (std::uint64_t low = 0; low < 4096; ++low) {
    EXPECT_GT(claim_token_from_random(low), 0) << low;
    EXPECT_GT(claim_token_from_random(kTopBit | low), 0) << low;
    EXPECT_GT(claim_token_from_random(kAllOnes - low), 0) << low;
  }
}

}  // namespace
}  // namespace idempotency::core
