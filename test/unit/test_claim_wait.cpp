// Unit tests for src/core/claim_wait: the wait's bounds, the slot of a key,
// and when a waiter must look again on its own (also when the guard's owner
// may commit on another node).
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/claim_wait.hpp"
#include "core/guard_error.hpp"
#include "core/sql_state.hpp"

#include "printers.hpp"

namespace idempotency::core {
namespace {

constexpr std::int64_t kNow = 1'000'000'000;
constexpr std::int64_t kSecond = 1'000'000;

std::optional<SqlState> error_of_wait(std::int64_t ends_at) {
  try {
    require_wait(kNow, ends_at);
  } catch (const GuardError& error) {
    return error.state();
  }
  return std::nullopt;
}

TEST(RequireWait, ZeroAndPositiveWaitsAreTheirLength) {
  EXPECT_EQ(require_wait(kNow, kNow), 0);
  EXPECT_EQ(require_wait(kNow, kNow + kSecond), kSecond);
  EXPECT_EQ(require_wait(kNow, kNow + kMaxWaitMicroseconds), kMaxWaitMicroseconds);
}

TEST(RequireWait, NegativeIsRejected) {
  EXPECT_EQ(error_of_wait(kNow - 1), SqlState::kInvalidParameterValue);
}

TEST(RequireWait, LongerThanTheCapIsRejected) {
  EXPECT_EQ(kMaxWaitMicroseconds, 300 * kSecond);
  EXPECT_EQ(error_of_wait(kNow + kMaxWaitMicroseconds + 1), SqlState::kInvalidParameterValue);
}

constexpr std::uint64_t kSeed = 0x0123456789abcdefULL;
constexpr std::uint32_t kDatabase = 16384;

TEST(WaitSlotOf, StaysInRangeAndIsStable) {
  for (std::uint32_t count : {1u, 2u, 7u, 1024u}) {
    for (int i = 0; i < 200; ++i) {
      std::uint32_t slot =
          wait_slot_of(kSeed, kDatabase, "payments", "key-" + std::to_string(i), count);
      EXPECT_LT(slot, count);
      EXPECT_EQ(slot,
                wait_slot_of(kSeed, kDatabase, "payments", "key-" + std::to_string(i), count));
    }
  }
}

TEST(WaitSlotOf, OneSlotIsSharedByEveryKey) {
  EXPECT_EQ(wait_slot_of(kSeed, kDatabase, "a", "b", 1), 0u);
  EXPECT_EQ(wait_slot_of(kSeed, kDatabase, "other", "key", 1), 0u);
}

TEST(WaitSlotOf, SpreadsKeysAndSeparatesScopeFromKey) {
  std::set<std::uint32_t> used;
  for (int i = 0; i < 1000; ++i)
    used.insert(wait_slot_of(kSeed, kDatabase, "s", std::to_string(i), 1024));
  EXPECT_GT(used.size(), 500u);  // about 1024 * (1 - e^-0.98) = 639 expected
  EXPECT_NE(wait_slot_of(kSeed, kDatabase, "ab", "c", 1u << 31),
            wait_slot_of(kSeed, kDatabase, "a", "bc", 1u << 31));
}

TEST(WaitSlotOf, SeparatesDatabasesAndSeeds) {
  constexpr std::uint32_t kMany = 1u << 31;
  EXPECT_NE(wait_slot_of(kSeed, 1, "s", "k", kMany), wait_slot_of(kSeed, 2, "s", "k", kMany));
  EXPECT_NE(wait_slot_of(1, kDatabase, "s", "k", kMany),
            wait_slot_of(2, kDatabase, "s", "k", kMany));
}

TEST(NextWakeUp, TheDeadlineWithoutAnEarlierExpiry) {
  StoredGuard guard;
  guard.expires_at = kNow + 100 * kSecond;
  EXPECT_EQ(next_wake_up(guard, kNow + kSecond), kNow + kSecond);
}

TEST(NextWakeUp, TheLeaseOrTheExpiryWhenEarlier) {
  StoredGuard guard;
  guard.expires_at = kNow + 3 * kSecond;
  EXPECT_EQ(next_wake_up(guard, kNow + 10 * kSecond), kNow + 3 * kSecond);
  guard.lease_expires_at = kNow + 2 * kSecond;
  EXPECT_EQ(next_wake_up(guard, kNow + 10 * kSecond), kNow + 2 * kSecond);
  EXPECT_EQ(next_wake_up(guard, kNow + kSecond), kNow + kSecond);
}

TEST(CrossNodeWait, OneNodeSleepsUntilItsWakeUp) {
  EXPECT_EQ(cross_node_wake_up(kNow + 30 * kSecond, kNow, false), kNow + 30 * kSecond);
}

TEST(CrossNodeWait, OtherNodesCapTheSleepAtTheRecheckInterval) {
  EXPECT_EQ(cross_node_wake_up(kNow + 30 * kSecond, kNow, true),
            kNow + kCrossNodeRecheckMicroseconds);
  EXPECT_EQ(kCrossNodeRecheckMicroseconds, kSecond / 10);
}

TEST(CrossNodeWait, AnEarlierWakeUpStays) {
  // the wait's end, a lease or the ttl before the next re-check
  EXPECT_EQ(cross_node_wake_up(kNow + 20'000, kNow, true), kNow + 20'000);
  EXPECT_EQ(cross_node_wake_up(kNow - 1, kNow, true), kNow - 1);
}

}  // namespace
}  // namespace idempotency::core
