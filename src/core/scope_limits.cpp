#include "core/scope_limits.hpp"

namespace idempotency::core {

void require_limit_values(std::optional<std::int64_t> max_live,
                          std::optional<std::int64_t> max_pending) {
  if (!max_live && !max_pending) {
    throw GuardError(SqlState::kInvalidParameterValue, "no limit given",
                     "set_limits needs max_live, max_pending or both.",
                     "drop_limits(scope) removes a scope's limits.");
  }
  for (auto [name, value] : {std::pair{"max_live", max_live}, {"max_pending", max_pending}}) {
    if (value && *value < 0) {
      throw GuardError(SqlState::kInvalidParameterValue,
                       std::string(name) + " must not be negative",
                       std::string(name) + " was " + std::to_string(*value) + ".");
    }
  }
}

ScopeRange scope_range(std::string_view pattern) {
  if (pattern.empty() || pattern.back() != '*') {
    return {std::string(pattern), std::string(pattern) + '\0'};
  }
  std::string prefix(pattern.substr(0, pattern.size() - 1));
  // The first string after every string that starts with the prefix: the
  // prefix with its last byte that is not 0xFF incremented, and cut there.
  std::string upper = prefix;
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xFF) upper.pop_back();
  if (upper.empty()) return {prefix, std::nullopt};
  upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
  return {prefix, upper};
}

GuardError scope_limit_error(std::string_view scope, std::string_view pattern, LimitKind kind,
                             std::int64_t maximum) {
  const char* what = kind == LimitKind::kLive ? "guards" : "pending guards";
  std::string covered = pattern == scope ? "scope \"" + std::string(scope) + "\""
                                         : "scopes \"" + std::string(pattern) + "\"";
  return GuardError(SqlState::kScopeLimitReached,
                    "scope \"" + std::string(scope) + "\" has reached its limit of " + what,
                    "The " + covered + " may hold at most " + std::to_string(maximum) + " " + what +
                        " (idempotency.set_limits); nothing was claimed.",
                    kind == LimitKind::kLive
                        ? "Retry later: guards that are purged or released give room back."
                        : "Retry later: recorded outcomes and releases give room back.");
}

}  // namespace idempotency::core
