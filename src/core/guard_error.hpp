// The one exception type the core throws for a user-facing error. The error
// boundary in src/glue turns it into ereport(ERROR) with the same SQLSTATE.
#pragma once
#include "core/pure_cpp.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "core/sql_state.hpp"

namespace idempotency::core {

class GuardError : public std::runtime_error {
 public:
  GuardError(SqlState state, std::string message, std::string detail = {}, std::string hint = {})
      : std::runtime_error(std::move(message)),
        state_(state),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  SqlState state() const noexcept { return state_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  SqlState state_;
  std::string detail_;
  std::string hint_;
};

}  // namespace idempotency::core
