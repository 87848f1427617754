// set_limits(), drop_limits() and limit_usage() (behind the idempotency.limits
// view): per-pattern limits on the guards a scope may hold, for DBAs.
#include "core/limit_rules.hpp"
#include "core/scope_patterns.hpp"

#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "policies/limit_table.hpp"
#include "policies/scope_limits.hpp"

using namespace idempotency;
using namespace idempotency::pg;

// Arguments: scope (a pattern), max_live, max_pending.
IDEMPOTENCY_SQL_FUNCTION(idempotency_set_limits) {
  text* pattern = text_argument(fcinfo, 0);
  core::require_scope_pattern(text_view(pattern));
  std::optional<std::int64_t> max_live = bigint_argument(fcinfo, 1);
  std::optional<std::int64_t> max_pending = bigint_argument(fcinfo, 2);
  core::require_limit_values(max_live, max_pending);
  if (!limit_table_available()) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "scope limits need the library to be preloaded",
                           "The counts live in shared memory.",
                           "Add idempotency to shared_preload_libraries and restart.");
  }
  require_writable("set scope limits");
  GuardStoreSession session = open_guard_store();
  upsert_scope_limits(pattern, max_live, max_pending);
  close_guard_store(session);
  PG_RETURN_VOID();
}

// Arguments: scope (a pattern).
IDEMPOTENCY_SQL_FUNCTION(idempotency_drop_limits) {
  text* pattern = text_argument(fcinfo, 0);
  core::require_scope_pattern(text_view(pattern));
  require_writable("drop scope limits");
  GuardStoreSession session = open_guard_store();
  bool dropped = delete_scope_limits(pattern);
  close_guard_store(session);
  return BoolGetDatum(dropped);
}

// pattern, live, pending, counted_at: one row per limit of this database.
IDEMPOTENCY_SQL_FUNCTION(idempotency_limit_usage) {
  constexpr int kColumns = 4;
  begin_result_rows(fcinfo, kColumns);
  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand);
  std::vector<LimitUsage> usage = limit_usage();
  close_guard_store(session);
  for (const LimitUsage& row : usage) {
    Datum values[kColumns] = {text_datum(row.pattern), Int64GetDatum(row.live.value_or(0)),
                              Int64GetDatum(row.pending.value_or(0)),
                              TimestampTzGetDatum(row.counted_at)};
    bool nulls[kColumns] = {false, !row.live, !row.pending, row.counted_at == 0};
    add_result_row(fcinfo, values, nulls);
  }
  return static_cast<Datum>(0);
}
