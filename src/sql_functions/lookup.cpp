// lookup(): the live guard for a (scope, key), if any. Works on standbys.
#include "core/guard_rules.hpp"

#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

IDEMPOTENCY_SQL_FUNCTION(idempotency_lookup) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  TimestampTz now = current_instant();
  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand);
  require_scope_access(session, guard_key.scope_view);
  GuardRow row = read_guard(session, guard_key.scope, guard_key.key, OutcomeColumn::kCopy);
  close_guard_store(session);

  // scope, key, status, fingerprint, outcome, claimed_at, completed_at, expires_at
  constexpr int kColumns = 8;
  begin_result_rows(fcinfo, kColumns);
  if (row.found && core::is_live(row.guard, now)) {
    Datum values[kColumns] = {PointerGetDatum(guard_key.scope),
                              PointerGetDatum(guard_key.key),
                              text_datum(core::status_name(row.guard.status)),
                              PointerGetDatum(row.fingerprint),
                              PointerGetDatum(row.outcome),
                              TimestampTzGetDatum(row.claimed_at),
                              TimestampTzGetDatum(row.completed_at.value_or(0)),
                              TimestampTzGetDatum(row.guard.expires_at)};
    bool nulls[kColumns] = {false,
                            false,
                            false,
                            row.fingerprint == nullptr,
                            row.outcome == nullptr,
                            false,
                            !row.completed_at,
                            false};
    add_result_row(fcinfo, values, nulls);
  }
  return static_cast<Datum>(0);
}
