// Unit tests for src/core/cross_node_wait: how long a waiter may sleep when
// the guard's owner may commit on another node.
#include "core/cross_node_wait.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace idempotency::core {
namespace {

constexpr std::int64_t kNow = 1'000'000'000;
constexpr std::int64_t kSecond = 1'000'000;

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
