// Unit tests for src/core/guard_events: every counted event has its own
// column name, which the SQL view spells the same way.
#include "core/guard_events.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace idempotency::core {
namespace {

TEST(GuardEventName, EveryEventHasADistinctName) {
  std::set<std::string> names;
  for (int index = 0; index < kGuardEventCount; ++index) {
    std::string name = guard_event_name(static_cast<GuardEvent>(index));
    EXPECT_NE(name, "unknown") << "event " << index;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kGuardEventCount));
}

TEST(GuardEventName, FirstAndLastMatchTheViewColumns) {
  EXPECT_STREQ(guard_event_name(GuardEvent::kClaimedNew), "claimed_new");
  EXPECT_STREQ(guard_event_name(GuardEvent::kStaleOwnerFenced), "stale_owner_fenced");
  EXPECT_STREQ(guard_event_name(GuardEvent::kPurgedByHand), "purged_by_hand");
}

TEST(GuardEventName, OutOfRangeIsUnknown) {
  EXPECT_STREQ(guard_event_name(GuardEvent::kCount), "unknown");
}

}  // namespace
}  // namespace idempotency::core
