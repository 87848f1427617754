// Limits on how many guards the scopes of a pattern may hold (set_limits):
// the rules that need no server. A pattern is an exact scope or a prefix
// ending in '*' (core/scope_patterns.hpp); a prefix's limit covers all its
// scopes together, e.g. one tenant's.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/guard_error.hpp"

namespace idempotency::core {

enum class LimitKind { kLive, kPending };

// 22023 unless at least one maximum is given and none is negative (0 is
// allowed: no new guards at all).
void require_limit_values(std::optional<std::int64_t> max_live,
                          std::optional<std::int64_t> max_pending);

// The scopes a pattern covers are the byte strings in [lower, upper): the
// scope itself (upper = scope + "\x01": scopes hold no 0 byte) or, for a
// prefix, every string that starts with it. upper is nullopt when there is
// none (the pattern "*"). The bounds are valid text in a UTF-8 database when
// `utf8` (Citus sends them to its shards as text, which must be valid); in
// another encoding the prefix's last byte is incremented.
struct ScopeRange {
  std::string lower;
  std::optional<std::string> upper;
};
ScopeRange scope_range(std::string_view pattern, bool utf8);

// IK005: the claim would take the pattern's scopes past their maximum.
GuardError scope_limit_error(std::string_view scope, std::string_view pattern, LimitKind kind,
                             std::int64_t maximum);

}  // namespace idempotency::core
