// Scope limits (set_limits): how many guards, and how many pending guards,
// the scopes of a pattern may store. Each backend caches the table
// idempotency.scope_limits (table_watch.hpp); the counts live in shared
// memory (limit_table.hpp).
//
// A claim that stores a new guard adds one to the counts of every limit of
// its scope at once, and takes it back if its (sub)transaction aborts, so
// concurrent claimers see each other before they commit. Outcomes, releases
// and the purge do not count down: a limit's counts are corrected by a
// recount (with the latest snapshot) when a claim finds the limit reached,
// at most once a second per limit, and at a limit's first claim after it
// is set or the server starts. So a claim costs O(1) until its scope is
// full, and a full scope gets room back within a second of a purge.
//
// Precision: a recount does not see the claims of other sessions that have
// not committed yet, so a limit can be exceeded by at most the number of
// such claims in flight at the moment of a recount (the concurrent
// claimers); between recounts it is never exceeded.
#pragma once
#include <string>
#include <vector>

#include "guards/guard_store.hpp"

namespace idempotency::pg {

// Gives a (sub)transaction's charges back when it aborts. From _PG_init when
// preloaded: without shared memory no charge is ever made.
void install_scope_limit_callbacks();

// Charges a claim of `scope` to its limits: a new guard counts as one more
// guard and one more pending guard; a completed guard taken over after its
// expiry as one more pending guard. Raises IK005, having taken its charges
// back, when a limit would be exceeded, and 55000 when a limit applies but
// the library is not preloaded. Inside a guard store session.
void charge_claim(std::string_view scope, bool new_guard, bool new_pending);

// Creates or replaces the limits of `pattern` (nullopt: none of that kind),
// and has them recounted at their next claim. Inside a guard store session.
void upsert_scope_limits(text* pattern, std::optional<std::int64_t> max_live,
                         std::optional<std::int64_t> max_pending);

// Deletes the limits of `pattern`; false if it had none.
bool delete_scope_limits(text* pattern);

// This database's limits and their counts, for the idempotency.limits view.
struct LimitUsage {
  std::string pattern;
  std::optional<std::int64_t> live;  // nullopt: not counted since set or started
  std::optional<std::int64_t> pending;
  TimestampTz counted_at = 0;
};
std::vector<LimitUsage> limit_usage();

}  // namespace idempotency::pg
