#include "core/scope_patterns.hpp"

#include <string>

#include "core/guard_error.hpp"
#include "core/input_validation.hpp"

namespace idempotency::core {

void require_scope_pattern(std::optional<std::string_view> pattern) {
  require_identifier("scope pattern", pattern);
  std::size_t star = pattern->find('*');
  if (star != std::string_view::npos && star != pattern->size() - 1) {
    throw GuardError(SqlState::kInvalidParameterValue,
                     "scope pattern \"" + std::string(*pattern) + "\" has a '*' before its end", {},
                     "A pattern is an exact scope, or a prefix followed by one '*'.");
  }
}

bool scope_matches(std::string_view pattern, std::string_view scope) {
  if (!pattern.empty() && pattern.back() == '*') {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    return scope.substr(0, prefix.size()) == prefix;
  }
  return pattern == scope;
}

bool scope_allowed(const std::vector<std::string_view>& patterns, std::string_view scope) {
  for (std::string_view pattern : patterns) {
    if (scope_matches(pattern, scope)) return true;
  }
  return false;
}

}  // namespace idempotency::core
