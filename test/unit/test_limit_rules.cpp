// Unit tests for src/core/limit_rules: the byte range a limit's pattern
// covers (what its recount counts), the checks of set_limits' values, and
// the IK005 error.
#include <string>

#include <gtest/gtest.h>

#include "core/limit_rules.hpp"
#include "core/scope_patterns.hpp"

namespace idempotency::core {
namespace {

bool in_range(const ScopeRange& range, const std::string& scope) {
  return scope >= range.lower && (!range.upper || scope < *range.upper);
}

TEST(ScopeRange, AnExactScopeCoversItselfOnly) {
  ScopeRange range = scope_range("billing", true);
  EXPECT_TRUE(in_range(range, "billing"));
  EXPECT_FALSE(in_range(range, "billing2"));
  EXPECT_FALSE(in_range(range, "billin"));
  EXPECT_FALSE(in_range(range, "billinh"));
  EXPECT_FALSE(in_range(range, "billing\x01"));
  // The bounds are sent as text (to Citus's shards): no 0 byte in them.
  EXPECT_EQ(range.upper->find('\0'), std::string::npos);
}

TEST(ScopeRange, APrefixCoversWhatItMatches) {
  ScopeRange range = scope_range("tenant-7:*", true);
  for (std::string scope : {"tenant-7:", "tenant-7:orders", "tenant-7:\xff\xff", "tenant-7;",
                            "tenant-70", "tenant-6:z", "tenant-8:", "tenant-7"}) {
    EXPECT_EQ(in_range(range, scope), scope_matches("tenant-7:*", scope)) << scope;
  }
}

TEST(ScopeRange, OutsideUtf8APrefixEndingIn0xFFStillHasAnUpperBound) {
  ScopeRange range = scope_range("a\xff*", false);
  ASSERT_TRUE(range.upper);
  EXPECT_EQ(*range.upper, "b");
  EXPECT_TRUE(in_range(range, "a\xff\x01"));
  EXPECT_FALSE(in_range(range, "b"));
}

// Whether `text` is made of UTF-8 lead and continuation bytes in order (enough
// to tell the bounds below from a byte-incremented one).
bool valid_utf8(const std::string& text) {
  for (std::size_t index = 0; index < text.size();) {
    auto lead = static_cast<unsigned char>(text[index]);
    std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if ((length > 1 && lead < 0xC2) || lead > 0xF4 || index + length > text.size()) return false;
    for (std::size_t next = 1; next < length; ++next) {
      if ((static_cast<unsigned char>(text[index + next]) & 0xC0) != 0x80) return false;
    }
    index += length;
  }
  return true;
}

// Citus sends the bounds to its shards as text: in a UTF-8 database they must
// be valid UTF-8, which adding 1 to the last byte is not for these endings.
TEST(ScopeRange, InUtf8TheUpperBoundIsValidUtf8) {
  struct Case {
    const char* pattern;
    const char* upper;
  };
  for (Case c : {Case{"del\x7f*", "del\xc2\x80"},          // U+007F -> U+0080
                 Case{"inv\xc2\xbf*", "inv\xc3\x80"},      // U+00BF -> U+00C0
                 Case{"caf\xc3\xa9*", "caf\xc3\xaa"},      // U+00E9 -> U+00EA
                 Case{"x\xdf\xbf*", "x\xe0\xa0\x80"},      // U+07FF -> U+0800
                 Case{"x\xed\x9f\xbf*", "x\xee\x80\x80"},  // U+D7FF -> U+E000
                 Case{"x\xef\xbf\xbf*", "x\xf0\x90\x80\x80"},
                 Case{"ab\xf4\x8f\xbf\xbf*", "ac"}}) {  // U+10FFFF is dropped
    ScopeRange range = scope_range(c.pattern, true);
    ASSERT_TRUE(range.upper) << c.pattern;
    EXPECT_EQ(*range.upper, c.upper) << c.pattern;
    EXPECT_TRUE(valid_utf8(*range.upper)) << c.pattern;
    std::string prefix(c.pattern, std::string(c.pattern).size() - 1);
    EXPECT_TRUE(in_range(range, prefix + "\xf4\x8f\xbf\xbf")) << c.pattern;
    EXPECT_FALSE(in_range(range, *range.upper)) << c.pattern;
  }
  EXPECT_FALSE(scope_range("\xf4\x8f\xbf\xbf*", true).upper);
}

TEST(ScopeRange, InUtf8AnInvalidPrefixFallsBackToBytes) {
  EXPECT_EQ(*scope_range("a\xc0*", true).upper, "a\xc1");
  EXPECT_EQ(*scope_range("a\xed\xa0\x80*", true).upper, "a\xed\xa0\x81");
}

TEST(ScopeRange, StarAloneCoversEverything) {
  ScopeRange range = scope_range("*", true);
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
