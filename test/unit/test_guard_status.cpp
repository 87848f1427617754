// Unit tests for src/core/guard_status: the stored names of the statuses.
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/guard_status.hpp"

#include "printers.hpp"

namespace idempotency::core {
namespace {

constexpr GuardStatus kAllStatuses[] = {GuardStatus::kPending, GuardStatus::kSucceeded,
                                        GuardStatus::kFailed};

TEST(StatusName, Pending) { EXPECT_EQ(status_name(GuardStatus::kPending), "pending"); }

TEST(StatusName, Succeeded) { EXPECT_EQ(status_name(GuardStatus::kSucceeded), "succeeded"); }

TEST(StatusName, Failed) { EXPECT_EQ(status_name(GuardStatus::kFailed), "failed"); }

TEST(StatusName, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (GuardStatus status : kAllStatuses) names.insert(status_name(status));
  EXPECT_EQ(names.size(), 3u);
}

TEST(ParseStatus, ParsesEachStoredName) {
  EXPECT_EQ(parse_status("pending"), GuardStatus::kPending);
  EXPECT_EQ(parse_status("succeeded"), GuardStatus::kSucceeded);
  EXPECT_EQ(parse_status("failed"), GuardStatus::kFailed);
}

TEST(ParseStatus, RoundTripsEveryStatus) {
  for (GuardStatus status : kAllStatuses) {
    SCOPED_TRACE(std::string(status_name(status)));
    std::optional<GuardStatus> parsed = parse_status(status_name(status));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, status);
  }
}

TEST(ParseStatus, RoundTripsThroughACopiedString) {
  // The comparison is by content, not by the address of the name literal.
  for (GuardStatus status : kAllStatuses) {
    const std::string copy(status_name(status));
    EXPECT_EQ(parse_status(copy), status) << copy;
  }
}

TEST(ParseStatus, RejectsEmpty) { EXPECT_EQ(parse_status(""), std::nullopt); }

TEST(ParseStatus, RejectsWrongCase) {
  for (const char* text : {"Pending", "PENDING", "Succeeded", "SUCCEEDED", "Failed", "FAILED"}) {
    EXPECT_EQ(parse_status(text), std::nullopt) << text;
  }
}

TEST(ParseStatus, RejectsNearMisses) {
  for (const char* text : {"pend", "pendings", "success", "succeed", "fail", "failure", " pending",
                           "pending ", "completed", "expired"}) {
    EXPECT_EQ(parse_status(text), std::nullopt) << text;
  }
}

TEST(ParseStatus, RejectsEmbeddedNul) {
  EXPECT_EQ(parse_status(std::string_view("failed\0", 7)), std::nullopt);
  EXPECT_EQ(parse_status(std::string_view("\0failed", 7)), std::nullopt);
}

TEST(ParseStatus, UsesOnlyTheViewedBytes) {
  const std::string buffer = "succeededXYZ";
  EXPECT_EQ(parse_status(std::string_view(buffer.data(), 9)), GuardStatus::kSucceeded);
  EXPECT_EQ(parse_status(std::string_view(buffer.data(), 8)), std::nullopt);
  EXPECT_EQ(parse_status(std::string_view(buffer.data(), 10)), std::nullopt);
}

}  // namespace
}  // namespace idempotency::core
