// Unit tests for src/core/scope_limits: the byte range a limit's pattern
// covers (what its recount counts), the checks of set_limits' values, and
// the IK005 error.
#include "core/scope_limits.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/scope_patterns.hpp"

namespace idempotency::core {
namespace {

bool in_range(const ScopeRange& range, const std::string& scope) {
  return scope >= range.lower && (!range.upper || scope < *range.upper);
}

TEST(ScopeRange, AnExactScopeCoversItselfOnly) {
  ScopeRange range = scope_range("billing");
  EXPECT_TRUE(in_range(range, "billing"));
  EXPECT_FALSE(in_range(range, "billing2"));
  EXPECT_FALSE(in_range(range, "billin"));
  EXPECT_FALSE(in_range(range, "billinh"));
}

TEST(ScopeRange, APrefixCoversWhatItMatches) {
  ScopeRange range = scope_range("tenant-7:*");
  for (std::string scope : {"tenant-7:", "tenant-7:orders", "tenant-7:\xff\xff", "tenant-7;",
                            "tenant-70", "tenant-6:z", "tenant-8:", "tenant-7"}) {
    EXPECT_EQ(in_range(range, scope), scope_matches("tenant-7:*", scope)) << scope;
  }
}

TEST(ScopeRange, APrefixEndingIn0xFFStillHasAnUpperBound) {
  ScopeRange range = scope_range("a\xff*");
  ASSERT_TRUE(range.upper);
  EXPECT_EQ(*range.upper, "b");
  EXPECT_TRUE(in_range(range, "a\xff\x01"));
  EXPECT_FALSE(in_range(range, "b"));
}

TEST(ScopeRange, StarAloneCoversEverything) {
  ScopeRange range = scope_range("*");
  EXPECT_EQ(range.lower, "");
  EXPECT_FALSE(range.upper);
  EXPECT_TRUE(in_range(range, "anything"));
}

TEST(LimitValues, NeedsOneNonNegativeMaximum) {
  EXPECT_THROW(require_limit_values(std::nullopt, std::nullopt), GuardError);
  EXPECT_THROW(require_limit_values(-1, std::nullopt), GuardError);
  EXPECT_THROW(require_limit_values(std::nullopt, -5), GuardError);
  EXPECT_NO_THROW(require_limit_values(0, std::nullopt));
  EXPECT_NO_THROW(require_limit_values(std::nullopt, 3));
  EXPECT_NO_THROW(require_limit_values(10, 3));
}

TEST(ScopeLimitError, IsIK005AndNamesTheLimit) {
  GuardError error = scope_limit_error("tenant-7:orders", "tenant-7:*", LimitKind::kPending, 20);
  EXPECT_EQ(error.state(), SqlState::kScopeLimitReached);
  EXPECT_STREQ(sqlstate_code(error.state()), "IK005");
  EXPECT_NE(std::string(error.what()).find("pending guards"), std::string::npos);
  EXPECT_NE(error.detail().find("\"tenant-7:*\" may hold at most 20"), std::string::npos);
}

}  // namespace
}  // namespace idempotency::core
