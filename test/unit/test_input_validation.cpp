// Unit tests for src/core/input_validation: every rule and every boundary.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/guard_error.hpp"
#include "core/guard_status.hpp"
#include "core/input_validation.hpp"
#include "core/sql_state.hpp"

#include "printers.hpp"

namespace idempotency::core {
namespace {

// Runs `f` and returns the GuardError it threw, or nullopt if it threw nothing.
// Any other exception escapes and fails the test.
std::optional<GuardError> thrown_by(const std::function<void()>& f) {
  try {
    f();
  } catch (const GuardError& error) {
    return error;
  }
  return std::nullopt;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// `count` copies of `piece`.
std::string repeat(std::string_view piece, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += piece;
  return out;
}

constexpr std::string_view kTwoByte = "\xC3\xA9";           // U+00E9 'é'
constexpr std::string_view kThreeByte = "\xE2\x82\xAC";     // U+20AC '€'
constexpr std::string_view kFourByte = "\xF0\x9F\x98\x80";  // U+1F600

// --- Limits -------------------------------------------------------------

TEST(InputValidationLimits, DocumentedValues) {
  EXPECT_EQ(kMaxIdentifierBytes, 255u);
  EXPECT_EQ(kMaxFingerprintBytes, 1024u);
}

TEST(InputValidationLimits, MultiByteHelpersAreTheExpectedWidth) {
  // The UTF-8 tests below depend on these widths.
  EXPECT_EQ(kTwoByte.size(), 2u);
  EXPECT_EQ(kThreeByte.size(), 3u);
  EXPECT_EQ(kFourByte.size(), 4u);
}

// --- require_identifier -------------------------------------------------

TEST(RequireIdentifier, NullIsNullValueNotAllowed) {
  auto error = thrown_by([] { require_identifier("scope", std::nullopt); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kNullValueNotAllowed);
  EXPECT_STREQ(error->what(), "scope must not be NULL");
}

TEST(RequireIdentifier, NullMessageNamesTheArgument) {
  auto error = thrown_by([] { require_identifier("key", std::nullopt); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kNullValueNotAllowed);
  EXPECT_STREQ(error->what(), "key must not be NULL");
}

TEST(RequireIdentifier, EmptyIsInvalidParameterValue) {
  auto error = thrown_by([] { require_identifier("scope", std::string_view("")); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "scope must not be empty");
  EXPECT_TRUE(contains(error->hint(), "255")) << error->hint();
}

TEST(RequireIdentifier, DefaultConstructedViewIsEmptyNotNull) {
  // A present but empty value (nullptr data) is "empty", not NULL.
  auto error = thrown_by([] { require_identifier("key", std::string_view()); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "key must not be empty");
}

TEST(RequireIdentifier, OneByteIsAccepted) {
  EXPECT_NO_THROW(require_identifier("scope", std::string_view("a")));
}

TEST(RequireIdentifier, TypicalValuesAreAccepted) {
  EXPECT_NO_THROW(require_identifier("scope", std::string_view("billing")));
  EXPECT_NO_THROW(
      require_identifier("key", std::string_view("3f2504e0-4f89-11d3-9a0c-0305e82c3301")));
}

TEST(RequireIdentifier, ExactlyTheLimitIsAccepted) {
  const std::string value(255, 'k');
  ASSERT_EQ(value.size(), kMaxIdentifierBytes);
  EXPECT_NO_THROW(require_identifier("key", std::string_view(value)));
}

TEST(RequireIdentifier, OneByteOverTheLimitFails) {
  const std::string value(256, 'k');
  auto error = thrown_by([&] { require_identifier("key", std::string_view(value)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  const std::string message = error->what();
  EXPECT_TRUE(contains(message, "key")) << message;
  EXPECT_TRUE(contains(message, "256 bytes")) << message;
  EXPECT_TRUE(contains(message, "the limit is 255 bytes")) << message;
  EXPECT_FALSE(error->hint().empty());
}

TEST(RequireIdentifier, FarOverTheLimitFails) {
  const std::string value(100000, 'x');
  auto error = thrown_by([&] { require_identifier("scope", std::string_view(value)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  const std::string message = error->what();
  EXPECT_TRUE(contains(message, "scope is too long")) << message;
  EXPECT_TRUE(contains(message, "100000 bytes")) << message;
}

TEST(RequireIdentifier, TwoByteCharactersCountedInBytesAtTheLimit) {
  // 128 characters, 255 bytes.
  const std::string value = repeat(kTwoByte, 127) + "a";
  ASSERT_EQ(value.size(), 255u);
  EXPECT_NO_THROW(require_identifier("key", std::string_view(value)));
}

TEST(RequireIdentifier, TwoByteCharactersCountedInBytesOverTheLimit) {
  // Only 128 characters, but 256 bytes.
  const std::string value = repeat(kTwoByte, 128);
  ASSERT_EQ(value.size(), 256u);
  auto error = thrown_by([&] { require_identifier("key", std::string_view(value)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  const std::string message = error->what();
  EXPECT_TRUE(contains(message, "256 bytes")) << message;
  EXPECT_TRUE(contains(message, "255 bytes")) << message;
}

TEST(RequireIdentifier, ThreeByteCharactersCountedInBytes) {
  const std::string at_limit = repeat(kThreeByte, 85);  // 85 characters, 255 bytes
  ASSERT_EQ(at_limit.size(), 255u);
  EXPECT_NO_THROW(require_identifier("scope", std::string_view(at_limit)));

  const std::string over = at_limit + "a";  // 86 characters, 256 bytes
  auto error = thrown_by([&] { require_identifier("scope", std::string_view(over)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
}

TEST(RequireIdentifier, FourByteCharactersCountedInBytes) {
  const std::string at_limit = repeat(kFourByte, 63) + std::string(kThreeByte);  // 255 bytes
  ASSERT_EQ(at_limit.size(), 255u);
  EXPECT_NO_THROW(require_identifier("key", std::string_view(at_limit)));

  const std::string over = repeat(kFourByte, 64);  // 64 characters, 256 bytes
  ASSERT_EQ(over.size(), 256u);
  auto error = thrown_by([&] { require_identifier("key", std::string_view(over)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
}

TEST(RequireIdentifier, OnlyTheViewedBytesCount) {
  // A view of the first 255 bytes of a longer buffer is within the limit.
  const std::string buffer(300, 'k');
  EXPECT_NO_THROW(require_identifier("key", std::string_view(buffer.data(), 255)));
  auto error = thrown_by([&] { require_identifier("key", std::string_view(buffer.data(), 256)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
}

// --- require_attempt ----------------------------------------------------

TEST(RequireAttempt, NullIsAccepted) { EXPECT_NO_THROW(require_attempt(std::nullopt)); }

TEST(RequireAttempt, UuidIsAccepted) {
  EXPECT_NO_THROW(require_attempt(std::string_view("6f1c1f4e-8a3b-4a4e-9d65-1f0f5b2f9a10")));
}

TEST(RequireAttempt, BoundsAreAcceptedAndOneBeyondFails) {
  EXPECT_NO_THROW(require_attempt(std::string(kMinAttemptBytes, 'a')));
  EXPECT_NO_THROW(require_attempt(std::string(kMaxIdentifierBytes, 'a')));
  for (std::size_t size : {std::size_t{0}, kMinAttemptBytes - 1, kMaxIdentifierBytes + 1}) {
    const std::string value(size, 'a');
    auto error = thrown_by([&] { require_attempt(std::string_view(value)); });
    ASSERT_TRUE(error.has_value()) << size;
    EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
    EXPECT_TRUE(contains(error->what(), "not " + std::to_string(size))) << error->what();
    EXPECT_TRUE(contains(error->hint(), "UUID")) << error->hint();
  }
}

TEST(RequireAttempt, CountedInBytes) {
  // Eight two-byte characters are 16 bytes.
  EXPECT_NO_THROW(require_attempt(repeat(kTwoByte, 8)));
  // Seven are 14 bytes, though eight would be too few characters if counted as such.
  EXPECT_TRUE(thrown_by([] { require_attempt(repeat(kTwoByte, 7)); }).has_value());
  EXPECT_TRUE(thrown_by([] { require_attempt(repeat(kTwoByte, 7) + "x"); }).has_value());
  EXPECT_FALSE(thrown_by([] { require_attempt(repeat(kTwoByte, 7) + "xy"); }).has_value());
}

// --- require_fingerprint ------------------------------------------------

TEST(RequireFingerprint, NullIsAccepted) { EXPECT_NO_THROW(require_fingerprint(std::nullopt)); }

TEST(RequireFingerprint, EmptyIsInvalidParameterValue) {
  auto error = thrown_by([] { require_fingerprint(std::string_view("")); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "fingerprint must not be empty");
  EXPECT_TRUE(contains(error->hint(), "NULL")) << error->hint();
}

TEST(RequireFingerprint, OneByteIsAccepted) {
  EXPECT_NO_THROW(require_fingerprint(std::string_view("x")));
}

TEST(RequireFingerprint, Sha256HexIsAccepted) {
  const std::string sha256_hex(64, 'a');
  EXPECT_NO_THROW(require_fingerprint(std::string_view(sha256_hex)));
}

TEST(RequireFingerprint, ExactlyTheLimitIsAccepted) {
  const std::string value(1024, 'f');
  ASSERT_EQ(value.size(), kMaxFingerprintBytes);
  EXPECT_NO_THROW(require_fingerprint(std::string_view(value)));
}

TEST(RequireFingerprint, OneByteOverTheLimitFails) {
  const std::string value(1025, 'f');
  auto error = thrown_by([&] { require_fingerprint(std::string_view(value)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  const std::string message = error->what();
  EXPECT_TRUE(contains(message, "fingerprint is too long")) << message;
  EXPECT_TRUE(contains(message, "1025 bytes")) << message;
  EXPECT_TRUE(contains(message, "the limit is 1024 bytes")) << message;
  EXPECT_FALSE(error->hint().empty());
}

TEST(RequireFingerprint, MultiByteCharactersCountedInBytes) {
  const std::string at_limit = repeat(kTwoByte, 512);  // 512 characters, 1024 bytes
  ASSERT_EQ(at_limit.size(), 1024u);
  EXPECT_NO_THROW(require_fingerprint(std::string_view(at_limit)));

  const std::string over = std::string(1023, 'f') + std::string(kTwoByte);  // 1025 bytes
  auto error = thrown_by([&] { require_fingerprint(std::string_view(over)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_TRUE(contains(error->what(), "1025 bytes")) << error->what();
}

// --- require_positive_duration ------------------------------------------

TEST(RequirePositiveDuration, EndingNowFails) {
  auto error = thrown_by([] { require_positive_duration("ttl", 1000, 1000); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "ttl must be positive");
  EXPECT_FALSE(error->hint().empty());
}

TEST(RequirePositiveDuration, EndingBeforeNowFails) {
  auto error = thrown_by([] { require_positive_duration("lease", 1000, 999); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "lease must be positive");
}

TEST(RequirePositiveDuration, EndingLongBeforeNowFails) {
  auto error = thrown_by([] { require_positive_duration("ttl", 1000, -1000000); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
}

TEST(RequirePositiveDuration, OneMicrosecondAfterNowIsAccepted) {
  EXPECT_NO_THROW(require_positive_duration("ttl", 1000, 1001));
}

TEST(RequirePositiveDuration, LongDurationIsAccepted) {
  // Ten years in microseconds.
  const std::int64_t now = 700000000000000;
  EXPECT_NO_THROW(require_positive_duration("ttl", now, now + 315360000000000));
}

TEST(RequirePositiveDuration, NegativeTimestampsCompareCorrectly) {
  // TimestampTz is negative before 2000-01-01.
  EXPECT_NO_THROW(require_positive_duration("ttl", -100, -99));
  EXPECT_TRUE(thrown_by([] { require_positive_duration("ttl", -100, -100); }).has_value());
  EXPECT_TRUE(thrown_by([] { require_positive_duration("ttl", -100, -101); }).has_value());
}

TEST(RequirePositiveDuration, ExtremeInstants) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_NO_THROW(require_positive_duration("ttl", kMin, kMax));
  EXPECT_NO_THROW(require_positive_duration("ttl", kMax - 1, kMax));
  EXPECT_TRUE(thrown_by([] { require_positive_duration("ttl", kMax, kMax); }).has_value());
  EXPECT_TRUE(thrown_by([] { require_positive_duration("ttl", kMax, kMin); }).has_value());
}

// --- require_outcome_status ---------------------------------------------

TEST(RequireOutcomeStatus, SucceededIsAccepted) {
  EXPECT_EQ(require_outcome_status(std::string_view("succeeded")), GuardStatus::kSucceeded);
}

TEST(RequireOutcomeStatus, FailedIsAccepted) {
  EXPECT_EQ(require_outcome_status(std::string_view("failed")), GuardStatus::kFailed);
}

TEST(RequireOutcomeStatus, NullIsNullValueNotAllowed) {
  auto error = thrown_by([] { require_outcome_status(std::nullopt); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kNullValueNotAllowed);
  EXPECT_STREQ(sqlstate_code(error->state()), "22004");
  EXPECT_STREQ(error->what(), "status must not be NULL");
}

TEST(RequireOutcomeStatus, PendingIsRejected) {
  // 'pending' is a valid stored status, but not an outcome.
  auto error = thrown_by([] { require_outcome_status(std::string_view("pending")); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "status must be 'succeeded' or 'failed', not 'pending'");
}

TEST(RequireOutcomeStatus, WrongCaseIsRejected) {
  for (const char* text : {"Succeeded", "SUCCEEDED", "Failed", "FAILED", "succeedeD"}) {
    SCOPED_TRACE(text);
    auto error = thrown_by([&] { require_outcome_status(std::string_view(text)); });
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
    EXPECT_TRUE(contains(error->what(), std::string("'") + text + "'")) << error->what();
  }
}

TEST(RequireOutcomeStatus, EmptyIsRejected) {
  auto error = thrown_by([] { require_outcome_status(std::string_view("")); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  EXPECT_STREQ(error->what(), "status must be 'succeeded' or 'failed', not ''");
}

TEST(RequireOutcomeStatus, NearMissesAreRejected) {
  for (const char* text : {"success", "succeed", "fail", "failure", "completed", "done",
                           " succeeded", "succeeded ", "failed\n", "succeeded,failed"}) {
    SCOPED_TRACE(text);
    auto error = thrown_by([&] { require_outcome_status(std::string_view(text)); });
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
  }
}

TEST(RequireOutcomeStatus, TrailingNulByteIsRejected) {
  // The whole view is compared, not a C string prefix.
  auto error = thrown_by([] { require_outcome_status(std::string_view("succeeded\0", 10)); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kInvalidParameterValue);
}

TEST(RequireOutcomeStatus, ViewOfALongerBufferIsParsedByItsLength) {
  const std::string buffer = "failedXYZ";
  EXPECT_EQ(require_outcome_status(std::string_view(buffer.data(), 6)), GuardStatus::kFailed);
  EXPECT_TRUE(
      thrown_by([&] { require_outcome_status(std::string_view(buffer.data(), 7)); }).has_value());
}

// --- require_outcome_size -----------------------------------------------

TEST(RequireOutcomeSize, BelowTheLimitIsAccepted) {
  EXPECT_NO_THROW(require_outcome_size(0, 1024));
  EXPECT_NO_THROW(require_outcome_size(1023, 1024));
}

TEST(RequireOutcomeSize, ExactlyTheLimitIsAccepted) {
  EXPECT_NO_THROW(require_outcome_size(1024, 1024));
}

TEST(RequireOutcomeSize, OneByteOverTheLimitFails) {
  auto error = thrown_by([] { require_outcome_size(1025, 1024); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kProgramLimitExceeded);
  EXPECT_STREQ(sqlstate_code(error->state()), "54000");
  const std::string message = error->what();
  EXPECT_TRUE(contains(message, "outcome is too large")) << message;
  EXPECT_TRUE(contains(message, "1025 bytes")) << message;
  EXPECT_TRUE(contains(message, "the limit is 1024 bytes")) << message;
  EXPECT_TRUE(contains(error->hint(), "idempotency.max_outcome_size")) << error->hint();
}

TEST(RequireOutcomeSize, ZeroLimit) {
  EXPECT_NO_THROW(require_outcome_size(0, 0));
  auto error = thrown_by([] { require_outcome_size(1, 0); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kProgramLimitExceeded);
}

TEST(RequireOutcomeSize, ExtremeSizes) {
  constexpr auto kMax = std::numeric_limits<std::size_t>::max();
  EXPECT_NO_THROW(require_outcome_size(kMax, kMax));
  auto error = thrown_by([] { require_outcome_size(kMax, kMax - 1); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kProgramLimitExceeded);
  EXPECT_TRUE(contains(error->what(), std::to_string(kMax))) << error->what();
}

// --- require_not_null ---------------------------------------------------

TEST(RequireNotNull, NotNullIsAccepted) {
  EXPECT_NO_THROW(require_not_null("apply_to_existing", false));
}

TEST(RequireNotNull, NullIsNullValueNotAllowed) {
  auto error = thrown_by([] { require_not_null("apply_to_existing", true); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->state(), SqlState::kNullValueNotAllowed);
  EXPECT_STREQ(error->what(), "apply_to_existing must not be NULL");
}

}  // namespace
}  // namespace idempotency::core
