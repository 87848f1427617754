// The errors for a guard that is in the way of a request, with the messages
// and hints an application developer needs to act on them.
#pragma once
#include "core/pure_cpp.hpp"

#include <string_view>

#include "core/guard_error.hpp"
#include "core/guard_status.hpp"

namespace idempotency::core {

// `claimed_at`: when the live guard was claimed, as text; `status`: its status.
GuardError key_reused_error(std::string_view scope, std::string_view key,
                            std::string_view claimed_at, GuardStatus status);
GuardError no_live_guard_error(std::string_view scope, std::string_view key);
GuardError no_live_guard_to_extend_error(std::string_view scope, std::string_view key);
GuardError lease_of_completed_error(std::string_view scope, std::string_view key);
GuardError conflicting_outcome_error(std::string_view scope, std::string_view key);
GuardError release_completed_error(std::string_view scope, std::string_view key);
GuardError stale_claim_token_error(std::string_view scope, std::string_view key);
GuardError write_retries_exhausted_error(std::string_view scope, std::string_view key);
GuardError scope_denied_error(std::string_view role, std::string_view scope);

}  // namespace idempotency::core
