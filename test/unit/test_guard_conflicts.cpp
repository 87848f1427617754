// Unit tests for src/core/guard_conflicts (the conflict errors), and for the
// pieces they are made of: GuardError and the SQLSTATE codes.
#include <cctype>
#include <cstring>
#include <iterator>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/guard_conflicts.hpp"
#include "core/guard_error.hpp"
#include "core/sql_state.hpp"

#include "printers.hpp"

namespace idempotency::core {
namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// --- sqlstate_code ------------------------------------------------------

struct CodeCase {
  const char* name;
  SqlState state;
  const char* code;
};

const CodeCase kCodeCases[] = {
    {"NullValueNotAllowed", SqlState::kNullValueNotAllowed, "22004"},
    {"InvalidParameterValue", SqlState::kInvalidParameterValue, "22023"},
    {"ProgramLimitExceeded", SqlState::kProgramLimitExceeded, "54000"},
    {"ReadOnlyTransaction", SqlState::kReadOnlyTransaction, "25006"},
    {"SerializationFailure", SqlState::kSerializationFailure, "40001"},
    {"ObjectNotInPrerequisiteState", SqlState::kObjectNotInPrerequisiteState, "55000"},
    {"InsufficientPrivilege", SqlState::kInsufficientPrivilege, "42501"},
    {"KeyReused", SqlState::kKeyReused, "IK001"},
    {"NoLiveGuard", SqlState::kNoLiveGuard, "IK002"},
    {"OutcomeAlreadyRecorded", SqlState::kOutcomeAlreadyRecorded, "IK003"},
    {"StaleClaimToken", SqlState::kStaleClaimToken, "IK004"},
};

// Names the case in test listings (and so in CTest) instead of dumping bytes.
void PrintTo(const CodeCase& c, std::ostream* os) { *os << c.name; }

class SqlStateCode : public ::testing::TestWithParam<CodeCase> {};

TEST_P(SqlStateCode, IsTheDocumentedValue) {
  EXPECT_STREQ(sqlstate_code(GetParam().state), GetParam().code);
}

TEST_P(SqlStateCode, IsFiveDigitsOrUppercaseLetters) {
  const char* code = sqlstate_code(GetParam().state);
  ASSERT_NE(code, nullptr);
  ASSERT_EQ(std::strlen(code), 5u) << code;
  for (const char* c = code; *c != '\0'; ++c) {
    const auto uc = static_cast<unsigned char>(*c);
    EXPECT_TRUE(std::isdigit(uc) || std::isupper(uc)) << code;
  }
}

INSTANTIATE_TEST_SUITE_P(AllStates, SqlStateCode, ::testing::ValuesIn(kCodeCases),
                         [](const ::testing::TestParamInfo<CodeCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(SqlStateCodes, AreDistinct) {
  std::set<std::string> codes;
  for (const CodeCase& c : kCodeCases) codes.insert(sqlstate_code(c.state));
  EXPECT_EQ(codes.size(), std::size(kCodeCases));
}

TEST(SqlStateCodes, ExtensionCodesUseTheIkClass) {
  // Custom SQLSTATEs must not collide with PostgreSQL's classes.
  for (SqlState state : {SqlState::kKeyReused, SqlState::kNoLiveGuard,
                         SqlState::kOutcomeAlreadyRecorded, SqlState::kStaleClaimToken}) {
    EXPECT_EQ(std::string_view(sqlstate_code(state)).substr(0, 2), "IK");
  }
}

TEST(SqlStateCodes, UsableAtCompileTime) {
  constexpr const char* code = sqlstate_code(SqlState::kSerializationFailure);
  constexpr std::string_view view(code);
  static_assert(view == "40001", "sqlstate_code must be constexpr");
  EXPECT_EQ(view, "40001");
}

TEST(SqlStateCodes, UnknownValueFallsBackToInternalError) {
  // SqlState has a fixed underlying type, so any int is a valid value of it.
  EXPECT_STREQ(sqlstate_code(static_cast<SqlState>(-1)), "XX000");
  EXPECT_STREQ(sqlstate_code(static_cast<SqlState>(1000)), "XX000");
}

// --- GuardError ---------------------------------------------------------

TEST(GuardErrorType, CarriesStateMessageDetailAndHint) {
  const GuardError error(SqlState::kKeyReused, "message", "detail", "hint");
  EXPECT_EQ(error.state(), SqlState::kKeyReused);
  EXPECT_STREQ(error.what(), "message");
  EXPECT_EQ(error.detail(), "detail");
  EXPECT_EQ(error.hint(), "hint");
}

TEST(GuardErrorType, DetailAndHintDefaultToEmpty) {
  const GuardError error(SqlState::kNoLiveGuard, "only a message");
  EXPECT_EQ(error.state(), SqlState::kNoLiveGuard);
  EXPECT_STREQ(error.what(), "only a message");
  EXPECT_TRUE(error.detail().empty());
  EXPECT_TRUE(error.hint().empty());
}

TEST(GuardErrorType, IsCaughtAsRuntimeErrorAndKeepsItsState) {
  try {
    throw GuardError(SqlState::kStaleClaimToken, "stale", "d", "h");
  } catch (const std::runtime_error& base) {
    EXPECT_STREQ(base.what(), "stale");
    const auto* error = dynamic_cast<const GuardError*>(&base);
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->state(), SqlState::kStaleClaimToken);
    EXPECT_EQ(error->detail(), "d");
    EXPECT_EQ(error->hint(), "h");
    return;
  }
  FAIL() << "GuardError was not caught as std::runtime_error";
}

TEST(GuardErrorType, CopiesAreIndependent) {
  GuardError original(SqlState::kProgramLimitExceeded, "m", "d", "h");
  const GuardError copy = original;
  original = GuardError(SqlState::kKeyReused, "m2", "d2", "h2");
  EXPECT_EQ(copy.state(), SqlState::kProgramLimitExceeded);
  EXPECT_STREQ(copy.what(), "m");
  EXPECT_EQ(copy.detail(), "d");
  EXPECT_EQ(copy.hint(), "h");
}

// --- Conflict error factories -------------------------------------------

using Factory = GuardError (*)(std::string_view, std::string_view);

struct FactoryCase {
  const char* name;
  Factory make;
  SqlState state;
  const char* code;
  const char* message;
};

const FactoryCase kFactoryCases[] = {
    {"NoLiveGuard", &no_live_guard_error, SqlState::kNoLiveGuard, "IK002",
     "no live guard to record an outcome for"},
    {"ConflictingOutcome", &conflicting_outcome_error, SqlState::kOutcomeAlreadyRecorded, "IK003",
     "a different outcome is already recorded for this guard"},
    {"ReleaseCompleted", &release_completed_error, SqlState::kOutcomeAlreadyRecorded, "IK003",
     "cannot release a guard whose outcome is recorded"},
    {"StaleClaimToken", &stale_claim_token_error, SqlState::kStaleClaimToken, "IK004",
     "claim token does not match the current claim"},
    {"WriteRetriesExhausted", &write_retries_exhausted_error, SqlState::kSerializationFailure,
     "40001", "could not apply the change to the guard under concurrent updates"},
};

void PrintTo(const FactoryCase& c, std::ostream* os) { *os << c.name; }

class ConflictError : public ::testing::TestWithParam<FactoryCase> {};

TEST_P(ConflictError, HasTheRightSqlState) {
  const GuardError error = GetParam().make("billing", "order-42");
  EXPECT_EQ(error.state(), GetParam().state);
  EXPECT_STREQ(sqlstate_code(error.state()), GetParam().code);
}

TEST_P(ConflictError, HasTheDocumentedMessage) {
  const GuardError error = GetParam().make("billing", "order-42");
  EXPECT_STREQ(error.what(), GetParam().message);
}

TEST_P(ConflictError, MessageDoesNotContainScopeOrKey) {
  // Scope and key belong in the detail, so the message stays stable for matching.
  const GuardError error = GetParam().make("billing-scope", "order-key-42");
  EXPECT_FALSE(contains(error.what(), "billing-scope")) << error.what();
  EXPECT_FALSE(contains(error.what(), "order-key-42")) << error.what();
}

TEST_P(ConflictError, DetailNamesScopeAndKey) {
  const GuardError error = GetParam().make("billing", "order-42");
  const std::string& detail = error.detail();
  EXPECT_TRUE(contains(detail, "scope \"billing\"")) << detail;
  EXPECT_TRUE(contains(detail, "key \"order-42\"")) << detail;
}

TEST_P(ConflictError, DetailDoesNotSwapScopeAndKey) {
  const GuardError error = GetParam().make("the-scope", "the-key");
  const std::string& detail = error.detail();
  EXPECT_FALSE(contains(detail, "scope \"the-key\"")) << detail;
  EXPECT_FALSE(contains(detail, "key \"the-scope\"")) << detail;
  const auto scope_at = detail.find("scope \"the-scope\"");
  const auto key_at = detail.find("key \"the-key\"");
  ASSERT_NE(scope_at, std::string::npos) << detail;
  ASSERT_NE(key_at, std::string::npos) << detail;
  EXPECT_LT(scope_at, key_at) << detail;
}

TEST_P(ConflictError, HasAHint) {
  const GuardError error = GetParam().make("billing", "order-42");
  EXPECT_FALSE(error.hint().empty());
}

TEST_P(ConflictError, UsesOnlyTheViewedBytesOfScopeAndKey) {
  // Views that are not NUL-terminated must not drag in the bytes after them.
  const std::string buffer = "billingXYZorder-42QRS";
  const std::string_view scope(buffer.data(), 7);     // "billing"
  const std::string_view key(buffer.data() + 10, 8);  // "order-42"
  const GuardError error = GetParam().make(scope, key);
  const std::string& detail = error.detail();
  EXPECT_TRUE(contains(detail, "scope \"billing\"")) << detail;
  EXPECT_TRUE(contains(detail, "key \"order-42\"")) << detail;
  EXPECT_FALSE(contains(detail, "XYZ")) << detail;
  EXPECT_FALSE(contains(detail, "QRS")) << detail;
}

TEST_P(ConflictError, KeepsLongAndMultiByteIdentifiersWhole) {
  const std::string scope(255, 's');
  const std::string key = std::string(250, 'k') + "\xC3\xA9\xE2\x82\xAC";  // 255 bytes
  const GuardError error = GetParam().make(scope, key);
  const std::string& detail = error.detail();
  EXPECT_TRUE(contains(detail, "scope \"" + scope + "\"")) << detail;
  EXPECT_TRUE(contains(detail, "key \"" + key + "\"")) << detail;
}

TEST_P(ConflictError, DifferentGuardsGiveDifferentDetails) {
  const GuardError a = GetParam().make("billing", "order-1");
  const GuardError b = GetParam().make("billing", "order-2");
  const GuardError c = GetParam().make("shipping", "order-1");
  EXPECT_NE(a.detail(), b.detail());
  EXPECT_NE(a.detail(), c.detail());
  // Only the identifiers differ; the message and hint do not.
  EXPECT_STREQ(a.what(), b.what());
  EXPECT_EQ(a.hint(), c.hint());
}

INSTANTIATE_TEST_SUITE_P(AllFactories, ConflictError, ::testing::ValuesIn(kFactoryCases),
                         [](const ::testing::TestParamInfo<FactoryCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConflictErrors, EachHasItsOwnMessage) {
  std::set<std::string> messages;
  for (const FactoryCase& c : kFactoryCases) messages.insert(c.make("s", "k").what());
  messages.insert(key_reused_error("s", "k", "t", GuardStatus::kPending).what());
  EXPECT_EQ(messages.size(), std::size(kFactoryCases) + 1);
}

TEST(ConflictErrors, KeyReusedHintTellsToUseANewKey) {
  EXPECT_TRUE(contains(key_reused_error("s", "k", "t", GuardStatus::kPending).hint(), "new key"));
}

TEST(ConflictErrors, KeyReusedIsIK001AndNamesTheGuard) {
  GuardError error =
      key_reused_error("billing", "order-7", "2026-11-29 01:02:03+00", GuardStatus::kSucceeded);
  EXPECT_EQ(error.state(), SqlState::kKeyReused);
  EXPECT_STREQ(error.what(), "idempotency key reused for a different request");
  EXPECT_TRUE(contains(error.detail(), "\"billing\""));
  EXPECT_TRUE(contains(error.detail(), "\"order-7\""));
}

TEST(ConflictErrors, KeyReusedDetailSaysWhenTheLiveGuardWasClaimedAndItsStatus) {
  EXPECT_TRUE(
      contains(key_reused_error("s", "k", "2026-11-29 01:02:03+00", GuardStatus::kPending).detail(),
               "claimed at 2026-11-29 01:02:03+00"));
  EXPECT_TRUE(
      contains(key_reused_error("s", "k", "t", GuardStatus::kPending).detail(), "still pending"));
  EXPECT_TRUE(contains(key_reused_error("s", "k", "t", GuardStatus::kSucceeded).detail(),
                       "recorded as succeeded"));
  EXPECT_TRUE(contains(key_reused_error("s", "k", "t", GuardStatus::kFailed).detail(),
                       "recorded as failed"));
}

TEST(ConflictErrors, ConflictingOutcomeHintPointsToLookup) {
  EXPECT_TRUE(contains(conflicting_outcome_error("s", "k").hint(), "idempotency.lookup()"));
}

TEST(ConflictErrors, WriteRetriesExhaustedHintSaysRetry) {
  EXPECT_TRUE(contains(write_retries_exhausted_error("s", "k").hint(), "Retry"));
}

}  // namespace
}  // namespace idempotency::core

namespace idempotency::core {
namespace {

TEST(ScopeDeniedError, IsInsufficientPrivilegeNamingRoleAndScope) {
  const GuardError error = scope_denied_error("shop_app", "tenant-7:payments");
  EXPECT_EQ(error.state(), SqlState::kInsufficientPrivilege);
  EXPECT_STREQ(sqlstate_code(error.state()), "42501");
  EXPECT_STREQ(error.what(), "role \"shop_app\" may not use scope \"tenant-7:payments\"");
  EXPECT_NE(error.hint().find("restrict_scopes"), std::string::npos);
}

}  // namespace
}  // namespace idempotency::core
