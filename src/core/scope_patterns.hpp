// Scope patterns restrict a role to some scopes: either an exact scope
// ("billing") or a prefix ending in one '*' ("tenant-42:*"). No other
// wildcards, so a scope can never match by accident of escaping.
#pragma once
#include "core/pure_cpp.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace idempotency::core {

// Throws GuardError: 22004 for NULL, 22023 for empty, over 255 bytes, or a
// '*' anywhere but at the end.
void require_scope_pattern(std::optional<std::string_view> pattern);

bool scope_matches(std::string_view pattern, std::string_view scope);

// True if any pattern matches.
bool scope_allowed(const std::vector<std::string_view>& patterns, std::string_view scope);

}  // namespace idempotency::core
