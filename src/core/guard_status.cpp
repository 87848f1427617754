#include "core/guard_status.hpp"

namespace idempotency::core {

std::string_view status_name(GuardStatus status) {
  switch (status) {
    case GuardStatus::kPending:
      return "pending";
    case GuardStatus::kSucceeded:
      return "succeeded";
    case GuardStatus::kFailed:
      return "failed";
  }
  return "pending";
}

std::optional<GuardStatus> parse_status(std::string_view text) {
  for (GuardStatus status :
       {GuardStatus::kPending, GuardStatus::kSucceeded, GuardStatus::kFailed}) {
    if (text == status_name(status)) return status;
  }
  return std::nullopt;
}

}  // namespace idempotency::core
