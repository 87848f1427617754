#include <string>

#include <gtest/gtest.h>

#include "core/database_list.hpp"
#include "core/guard_error.hpp"

namespace idempotency::core {
namespace {

using Names = std::vector<std::string>;

SqlState state_of_failure(std::string_view list) {
  try {
    parse_database_list(list);
  } catch (const GuardError& error) {
    return error.state();
  }
  ADD_FAILURE() << "no error for \"" << list << "\"";
  return SqlState::kSerializationFailure;
}

TEST(ParseDatabaseList, SingleName) {
  EXPECT_EQ(parse_database_list("postgres"), Names{"postgres"});
}

TEST(ParseDatabaseList, TrimsBlanksAroundNames) {
  EXPECT_EQ(parse_database_list(" app ,\tbilling\n, postgres "),
            (Names{"app", "billing", "postgres"}));
}

TEST(ParseDatabaseList, KeepsFirstOfDuplicates) {
  EXPECT_EQ(parse_database_list("a,b,a,b,c"), (Names{"a", "b", "c"}));
}

TEST(ParseDatabaseList, NamesAreCaseSensitiveAndKeepInnerBlanks) {
  EXPECT_EQ(parse_database_list("Sales,sales,my db"), (Names{"Sales", "sales", "my db"}));
}

TEST(ParseDatabaseList, EmptyOrBlankListMeansNoWorkers) {
  EXPECT_TRUE(parse_database_list("").empty());
  EXPECT_TRUE(parse_database_list("   ").empty());
}

TEST(ParseDatabaseList, EmptyNameIsRejected) {
  EXPECT_EQ(state_of_failure("a,,b"), SqlState::kInvalidParameterValue);
  EXPECT_EQ(state_of_failure("a,"), SqlState::kInvalidParameterValue);
  EXPECT_EQ(state_of_failure(", a"), SqlState::kInvalidParameterValue);
}

TEST(ParseDatabaseList, NameLengthLimitIs63Bytes) {
  EXPECT_EQ(parse_database_list(std::string(63, 'd')).size(), 1u);
  EXPECT_EQ(state_of_failure(std::string(64, 'd')), SqlState::kInvalidParameterValue);
}

TEST(ParseDatabaseList, AtMost32Databases) {
  std::string list;
  for (int i = 0; i < 32; ++i) list += (i ? ",db" : "db") + std::to_string(i);
  EXPECT_EQ(parse_database_list(list).size(), 32u);
  EXPECT_EQ(state_of_failure(list + ",db32"), SqlState::kInvalidParameterValue);
  // Duplicates do not count against the limit.
  EXPECT_EQ(parse_database_list(list + ",db0").size(), 32u);
}

}  // namespace
}  // namespace idempotency::core
