// idempotency.retention_policies: its reads and writes, which like the guard
// store run inside a guard store session (as the table owner), and the ttl of
// each scope's policy, cached per backend (see table_watch.hpp) so that a
// claim finds its ttl without a query.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// Creates or replaces the policy of `scope`.
void upsert_retention_policy(text* scope, Interval* ttl, bool redate_pending, TimestampTz now);

// Deletes the policy of `scope`; false if there was none.
bool delete_retention_policy(text* scope);

// A policy whose live guards still wait to be re-dated, copied into the
// caller's memory context.
struct PendingRedate {
  text* scope = nullptr;  // nullptr: none left
  Interval* ttl = nullptr;
  TimestampTz set_at = 0;  // the policy's updated_at: the re-dating's cut-off
};

// The first pending policy with a scope after `after_scope` (nullptr: from the start).
PendingRedate next_pending_redate(text* after_scope, MemoryContext caller_context);

// Marks the policy done, unless it was set again since it was read.
void clear_redate_pending(const PendingRedate& pending);

// The policy ttl of `scope`, if it has one. Inside a guard store session: the
// cache may have to load.
std::optional<Interval> retention_policy_ttl(std::string_view scope);

}  // namespace idempotency::pg
