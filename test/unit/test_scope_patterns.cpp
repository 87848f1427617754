#include <string>

#include <gtest/gtest.h>

#include "core/guard_error.hpp"
#include "core/scope_patterns.hpp"

namespace idempotency::core {
namespace {

SqlState pattern_error(std::optional<std::string_view> pattern) {
  try {
    require_scope_pattern(pattern);
  } catch (const GuardError& error) {
    return error.state();
  }
  ADD_FAILURE() << "pattern accepted";
  return SqlState::kSerializationFailure;
}

TEST(ScopeMatches, ExactPatternMatchesOnlyItself) {
  EXPECT_TRUE(scope_matches("billing", "billing"));
  EXPECT_FALSE(scope_matches("billing", "billing2"));
  EXPECT_FALSE(scope_matches("billing", "Billing"));
  EXPECT_FALSE(scope_matches("billing", "bill"));
}

TEST(ScopeMatches, PrefixPatternMatchesTheScopesUnderIt) {
  EXPECT_TRUE(scope_matches("tenant-42:*", "tenant-42:payments"));
  EXPECT_TRUE(scope_matches("tenant-42:*", "tenant-42:"));
  EXPECT_FALSE(scope_matches("tenant-42:*", "tenant-420:payments"));
  EXPECT_FALSE(scope_matches("tenant-42:*", "tenant-42"));
}

TEST(ScopeMatches, LoneStarMatchesEverything) {
  EXPECT_TRUE(scope_matches("*", "anything"));
  EXPECT_TRUE(scope_matches("*", "x"));
}

TEST(ScopeMatches, LikeWildcardsAreLiteral) {
  EXPECT_FALSE(scope_matches("a%", "abc"));
  EXPECT_TRUE(scope_matches("a%", "a%"));
  EXPECT_FALSE(scope_matches("a_c", "abc"));
}

TEST(ScopeAllowed, AnyMatchingPatternAllows) {
  std::vector<std::string_view> patterns{"billing", "tenant-1:*"};
  EXPECT_TRUE(scope_allowed(patterns, "billing"));
  EXPECT_TRUE(scope_allowed(patterns, "tenant-1:x"));
  EXPECT_FALSE(scope_allowed(patterns, "tenant-2:x"));
  EXPECT_FALSE(scope_allowed({}, "billing"));
}

TEST(RequireScopePattern, ValidPatterns) {
  EXPECT_NO_THROW(require_scope_pattern("billing"));
  EXPECT_NO_THROW(require_scope_pattern("tenant-42:*"));
  EXPECT_NO_THROW(require_scope_pattern("*"));
  EXPECT_NO_THROW(require_scope_pattern(std::string(255, 'p')));
}

TEST(RequireScopePattern, InvalidPatterns) {
  EXPECT_EQ(pattern_error(std::nullopt), SqlState::kNullValueNotAllowed);
  EXPECT_EQ(pattern_error(""), SqlState::kInvalidParameterValue);
  EXPECT_EQ(pattern_error("a*b"), SqlState::kInvalidParameterValue);
  EXPECT_EQ(pattern_error("**"), SqlState::kInvalidParameterValue);
  EXPECT_EQ(pattern_error(std::string(256, 'p')), SqlState::kInvalidParameterValue);
}

}  // namespace
}  // namespace idempotency::core
