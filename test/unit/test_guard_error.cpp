// Unit tests for src/core/guard_error: an error records where it was made,
// which the error boundary reports as its LOCATION.
#include <string>

#include <gtest/gtest.h>

#include "core/claim_wait.hpp"
#include "core/guard_error.hpp"
#include "core/sql_state.hpp"

namespace idempotency::core {
namespace {

GuardError made_here(int* line) {
  *line = __LINE__ + 1;
  return GuardError(SqlState::kInvalidParameterValue, "made here");
}

TEST(GuardErrorLocation, IsTheConstructingFileLineAndFunction) {
  int line = 0;
  GuardError error = made_here(&line);
  EXPECT_EQ(std::string(error.location().file), std::string(__FILE__));
  EXPECT_EQ(error.location().line, line);
  EXPECT_STREQ(error.location().function, "made_here");
}

TEST(GuardErrorLocation, OfACoreErrorIsTheCoreCodeThatThrewIt) {
  try {
    require_wait(1'000'000, 0);
    FAIL() << "a negative wait must throw";
  } catch (const GuardError& error) {
    std::string file = error.location().file;
    EXPECT_NE(file.find("claim_wait.cpp"), std::string::npos) << file;
    EXPECT_STREQ(error.location().function, "require_wait");
    EXPECT_GT(error.location().line, 0);
  }
}

}  // namespace
}  // namespace idempotency::core
