// counters_rows() (behind the idempotency.counters view) and reset_counters().
#include "core/guard_events.hpp"

#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "guards/guard_store.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// scope, kind, since, then one column per event.
constexpr int kLeadingColumns = 3;
constexpr int kColumns = kLeadingColumns + core::kGuardEventCount;

const char* kind_name(ScopeEntryKind kind) {
  switch (kind) {
    case ScopeEntryKind::kScope:
      return "scope";
    case ScopeEntryKind::kOverflow:
      return "overflow";
    case ScopeEntryKind::kUnscoped:
      return "unscoped";
  }
  return "unknown";
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_counters_rows) {
  begin_result_rows(fcinfo, kColumns);
  std::vector<ScopeEntry*> entries = scope_entries();
  if (entries.empty()) return static_cast<Datum>(0);
  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand);
  for (ScopeEntry* entry : entries) {
    ScopeEntryKind kind = scope_entry_kind(entry);
    if (kind != ScopeEntryKind::kOverflow && entry->key.database != MyDatabaseId) continue;
    std::optional<std::string_view> scope;
    if (kind == ScopeEntryKind::kScope) scope = std::string_view(entry->key.scope);
    if (!may_see_scope(session, scope)) continue;
    Datum values[kColumns] = {};
    bool nulls[kColumns] = {};
    if (scope) {
      values[0] = text_datum(*scope);
    } else {
      nulls[0] = true;
    }
    values[1] = text_datum(kind_name(kind));
    values[2] =
        TimestampTzGetDatum(static_cast<TimestampTz>(pg_atomic_read_u64(&entry->counting_since)));
    for (int event = 0; event < core::kGuardEventCount; ++event) {
      values[kLeadingColumns + event] =
          Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->counts[event])));
    }
    add_result_row(fcinfo, values, nulls);
  }
  close_guard_store(session);
  return static_cast<Datum>(0);
}

// Arguments: scope (NULL: every scope, the overflow and the unscoped rows).
IDEMPOTENCY_SQL_FUNCTION(idempotency_reset_counters) {
  return BoolGetDatum(reset_scope_counts(text_view(text_argument(fcinfo, 0))));
}
