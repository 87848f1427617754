// The one exception type the core throws for a user-facing error. The error
// boundary in src/glue turns it into ereport(ERROR) with the same SQLSTATE.
#pragma once
#include "core/pure_cpp.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "core/sql_state.hpp"

namespace idempotency::core {

// Where an error was made: file, line and function of the expression that
// constructed it. The defaults of GuardError's constructor are evaluated at
// each call site (GCC's and Clang's __builtin_FILE/LINE/FUNCTION, C++17's
// stand-in for std::source_location), so `throw GuardError(...)` records
// the throwing code without a macro; the error boundary reports it as the
// error's LOCATION.
struct SourceLocation {
  const char* file = nullptr;  // nullptr: unknown
  int line = 0;
  const char* function = nullptr;
};

class GuardError : public std::runtime_error {
 public:
  GuardError(SqlState state, std::string message, std::string detail = {}, std::string hint = {},
             const char* file = __builtin_FILE(), int line = __builtin_LINE(),
             const char* function = __builtin_FUNCTION())
      : std::runtime_error(std::move(message)),
        state_(state),
        detail_(std::move(detail)),
        hint_(std::move(hint)),
        location_{file, line, function} {}

  SqlState state() const noexcept { return state_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }
  const SourceLocation& location() const noexcept { return location_; }

 private:
  SqlState state_;
  std::string detail_;
  std::string hint_;
  SourceLocation location_;
};

}  // namespace idempotency::core
