// The life cycle of a guard: pending until its owner records an outcome.
#pragma once
#include "core/pure_cpp.hpp"

#include <optional>
#include <string_view>

namespace idempotency::core {

enum class GuardStatus { kPending, kSucceeded, kFailed };

std::string_view status_name(GuardStatus status);

// Parses a status as stored in idempotency.guards; nullopt for anything else.
std::optional<GuardStatus> parse_status(std::string_view text);

}  // namespace idempotency::core
