#include "config/scope_limits.hpp"

#include <algorithm>
#include <unordered_map>

#include "core/scope_patterns.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "config/limit_table.hpp"
#include "glue/prepared_statement.hpp"
#include "counters/scope_table.hpp"
#include "config/table_watch.hpp"

namespace idempotency::pg {
namespace {

// How many scopes' covering limits a backend remembers between reloads.
constexpr std::size_t kMaxRememberedScopes = 4096;

// A recount corrects a full limit's counts at most this often.
constexpr TimestampTz kRecountIntervalMicroseconds = 1000 * 1000;

struct Limit {
  std::string pattern;
  std::optional<std::int64_t> max_live;
  std::optional<std::int64_t> max_pending;
  LimitSlot* slot = nullptr;  // found on first use
};

TableWatch limits_table{"scope_limits"};
// Backend-local, rebuilt on each reload: the limits, and for each scope met
// since, the positions of the limits that cover it.
std::vector<Limit>* limits = nullptr;
std::unordered_map<std::string, std::vector<std::size_t>>* limits_by_scope = nullptr;

PreparedStatement load_statement{
    "SELECT l.pattern, l.max_live, l.max_pending FROM idempotency.scope_limits AS l", 0, {}};

#define COUNT_GUARDS                                                          \
  "SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER ("                  \
  "WHERE g.status OPERATOR(pg_catalog.=) 'pending') FROM idempotency.guards " \
  "AS g WHERE g.scope OPERATOR(pg_catalog.>=) $1"
PreparedStatement count_range_statement{
    COUNT_GUARDS " AND g.scope OPERATOR(pg_catalog.<) $2", 2, {TEXTOID, TEXTOID}};
PreparedStatement count_from_statement{COUNT_GUARDS, 1, {TEXTOID}};
#undef COUNT_GUARDS

PreparedStatement upsert_statement{
    "INSERT INTO idempotency.scope_limits AS l (pattern, max_live, max_pending, updated_at)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (pattern) DO UPDATE"
    " SET max_live = excluded.max_live, max_pending = excluded.max_pending,"
    " updated_at = excluded.updated_at",
    4,
    {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID}};

PreparedStatement delete_statement{
    "DELETE FROM idempotency.scope_limits AS l WHERE l.pattern OPERATOR(pg_catalog.=) $1",
    1,
    {TEXTOID}};

// The rows as loaded, in the watch's memory context.
struct LoadedRow {
  text* pattern;
  int64 max_live;
  int64 max_pending;
  bool max_live_null;
  bool max_pending_null;
};

void load_limits() {
  begin_reload(limits_table);
  try {
    LoadedRow* rows = nullptr;
    uint64 count = 0;
    // Before ALTER EXTENSION ... UPDATE to 1.2 there is no table: no limits.
    if (OidIsValid(limits_table.relation))
      call_pg([&]() noexcept {
        connect_spi();  // its own connection: the caller may not have one
        count = execute_prepared_latest(load_statement, nullptr, "");
        rows = static_cast<LoadedRow*>(
            MemoryContextAllocZero(limits_table.context, sizeof(LoadedRow) * (count + 1)));
        for (uint64 index = 0; index < count; ++index) {
          HeapTuple tuple = SPI_tuptable->vals[index];
          TupleDesc columns = SPI_tuptable->tupdesc;
          bool is_null = false;
          MemoryContext previous = MemoryContextSwitchTo(limits_table.context);
          rows[index].pattern = DatumGetTextPCopy(SPI_getbinval(tuple, columns, 1, &is_null));
          MemoryContextSwitchTo(previous);
          rows[index].max_live =
              DatumGetInt64(SPI_getbinval(tuple, columns, 2, &rows[index].max_live_null));
          rows[index].max_pending =
              DatumGetInt64(SPI_getbinval(tuple, columns, 3, &rows[index].max_pending_null));
        }
        SPI_finish();
      });
    if (limits == nullptr) limits = new std::vector<Limit>;
    if (limits_by_scope == nullptr) {
      limits_by_scope = new std::unordered_map<std::string, std::vector<std::size_t>>;
    }
    limits->clear();
    limits_by_scope->clear();
    for (uint64 index = 0; index < count; ++index) {
      const LoadedRow& row = rows[index];
      Limit limit;
      limit.pattern.assign(VARDATA_ANY(row.pattern), VARSIZE_ANY_EXHDR(row.pattern));
      if (!row.max_live_null) limit.max_live = row.max_live;
      if (!row.max_pending_null) limit.max_pending = row.max_pending;
      limits->push_back(std::move(limit));
    }
  } catch (...) {
    abandon_reload(limits_table);
    throw;
  }
}

const std::vector<std::size_t>& limits_of(std::string_view scope) {
  std::string name(scope);
  auto known = limits_by_scope->find(name);
  if (known != limits_by_scope->end()) return known->second;
  std::vector<std::size_t> covering;
  for (std::size_t index = 0; index < limits->size(); ++index) {
    if (core::scope_matches((*limits)[index].pattern, scope)) covering.push_back(index);
  }
  // A client may use any number of scopes: the memo starts over rather than
  // grow without bound.
  if (limits_by_scope->size() >= kMaxRememberedScopes) limits_by_scope->clear();
  return limits_by_scope->emplace(std::move(name), std::move(covering)).first->second;
}

LimitSlot* slot_of(Limit& limit) {
  if (limit.slot == nullptr) limit.slot = find_limit_slot(limit.pattern);
  if (limit.slot != nullptr) return limit.slot;
  throw core::GuardError(
      core::SqlState::kObjectNotInPrerequisiteState,
      "scope limit \"" + limit.pattern + "\" cannot be enforced",
      limit_table_available() ? "Every one of the idempotency.max_limits slots is taken."
                              : "Scope limits need shared_preload_libraries = 'idempotency'.",
      "Raise idempotency.max_limits or preload the library (a restart), or drop the limit.");
}

// Sets the slot's counts from the table, seen with the latest snapshot (and
// this transaction's own claims).
void recount(LimitSlot* slot, const std::string& pattern) {
  core::ScopeRange range = core::scope_range(pattern, GetDatabaseEncoding() == PG_UTF8);
  call_pg([&]() noexcept {
    CommandCounterIncrement();
    connect_spi();
    Datum values[2] = {
        PointerGetDatum(cstring_to_text_with_len(range.lower.data(), range.lower.size())), 0};
    if (range.upper) {
      values[1] =
          PointerGetDatum(cstring_to_text_with_len(range.upper->data(), range.upper->size()));
      execute_prepared_latest(count_range_statement, values, "  ");
    } else {
      execute_prepared_latest(count_from_statement, values, " ");
    }
    bool is_null = false;
    int64 live = DatumGetInt64(first_row_column(1, &is_null));
    int64 pending = DatumGetInt64(first_row_column(2, &is_null));
    SPI_finish();
    pg_atomic_write_u64(&slot->live, static_cast<uint64>(live));
    pg_atomic_write_u64(&slot->pending, static_cast<uint64>(pending));
    pg_atomic_write_u64(&slot->counted_at, static_cast<uint64>(GetCurrentTimestamp()));
  });
}

// A full limit is recounted by one backend at a time, at most once a second.
void recount_if_due(LimitSlot* slot, const std::string& pattern) {
  auto counted_at = static_cast<TimestampTz>(pg_atomic_read_u64(&slot->counted_at));
  if (GetCurrentTimestamp() - counted_at < kRecountIntervalMicroseconds) return;
  if (!pg_atomic_test_set_flag(&slot->recounting)) return;
  try {
    recount(slot, pattern);
  } catch (...) {
    pg_atomic_clear_flag(&slot->recounting);
    throw;
  }
  pg_atomic_clear_flag(&slot->recounting);
}

// The charges of this backend's open transaction, given back if it (or the
// subtransaction that made them) aborts.
struct Charge {
  LimitSlot* slot;
  core::LimitKind kind;
  SubTransactionId subtransaction;
};
std::vector<Charge> charges;

void give_back(const Charge& charge) noexcept { add_to_slot(charge.slot, charge.kind, -1); }

void on_transaction_end(XactEvent event, void*) {
  if (charges.empty()) return;
  switch (event) {
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      for (const Charge& charge : charges) give_back(charge);
      charges.clear();
      break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
      charges.clear();
      break;
    default:
      break;
  }
}

// A subtransaction's charges are the tail of the list: any made after them
// were made by subtransactions nested in it, which have ended and either
// given theirs back or handed them to it. So ending one costs its own
// charges, not the transaction's.
void on_subtransaction_end(SubXactEvent event, SubTransactionId mine, SubTransactionId parent,
                           void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    while (!charges.empty() && charges.back().subtransaction == mine) {
      give_back(charges.back());
      charges.pop_back();
    }
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (auto charge = charges.rbegin(); charge != charges.rend() && charge->subtransaction == mine;
         ++charge) {
      charge->subtransaction = parent;
    }
  }
}

// Charges one of a kind to the limit; false if that takes it past its maximum.
bool charge(Limit& limit, LimitSlot* slot, core::LimitKind kind, bool first_count) {
  std::optional<std::int64_t> maximum =
      kind == core::LimitKind::kLive ? limit.max_live : limit.max_pending;
  // The first count saw this claim's own guard: nothing to add, but it is
  // still given back if the claim aborts.
  if (!first_count) add_to_slot(slot, kind, 1);
  charges.push_back({slot, kind, GetCurrentSubTransactionId()});
  if (!maximum || slot_count(slot, kind) <= *maximum) return true;
  recount_if_due(slot, limit.pattern);
  return slot_count(slot, kind) <= *maximum;
}

}  // namespace

void install_scope_limit_callbacks() {
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

void charge_claim(std::string_view scope, bool new_guard, bool new_pending) {
  if (!new_guard && !new_pending) return;
  if (!limits_table.current) load_limits();
  if (limits->empty()) return;
  const std::vector<std::size_t>& covering = limits_of(scope);
  if (covering.empty()) return;
  charges.reserve(charges.size() + 2 * covering.size());  // no throw once charging
  std::size_t first_charge = charges.size();
  try {
    for (std::size_t index : covering) {
      Limit& limit = (*limits)[index];
      LimitSlot* slot = slot_of(limit);
      bool first_count = pg_atomic_read_u64(&slot->counted_at) == 0;
      if (first_count) recount(slot, limit.pattern);
      // Both kinds are charged before either refuses: a first count saw this
      // claim's guard as live and pending, and a refusal must give back both.
      bool live_fits = !new_guard || charge(limit, slot, core::LimitKind::kLive, first_count);
      bool pending_fits = charge(limit, slot, core::LimitKind::kPending, first_count);
      if (!live_fits) {
        count_event(scope, core::GuardEvent::kLimitReached);
        throw core::scope_limit_error(scope, limit.pattern, core::LimitKind::kLive,
                                      *limit.max_live);
      }
      if (!pending_fits) {
        count_event(scope, core::GuardEvent::kLimitReached);
        throw core::scope_limit_error(scope, limit.pattern, core::LimitKind::kPending,
                                      *limit.max_pending);
      }
    }
  } catch (...) {
    for (std::size_t position = first_charge; position < charges.size(); ++position) {
      give_back(charges[position]);
    }
    charges.resize(first_charge);
    throw;
  }
}

void upsert_scope_limits(text* pattern, std::optional<std::int64_t> max_live,
                         std::optional<std::int64_t> max_pending) {
  std::string name(*text_view(pattern));
  call_pg([&]() noexcept {
    connect_spi();
    Datum values[4] = {PointerGetDatum(pattern), Int64GetDatum(max_live.value_or(0)),
                       Int64GetDatum(max_pending.value_or(0)),
                       TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
    char nulls[5] = {' ', max_live ? ' ' : 'n', max_pending ? ' ' : 'n', ' ', '\0'};
    execute_prepared(upsert_statement, values, nulls);
    SPI_finish();
  });
  // Counted afresh at the next claim: while the pattern had no limit, nothing
  // counted its claims.
  if (LimitSlot* slot = find_limit_slot(name)) pg_atomic_write_u64(&slot->counted_at, 0);
}

bool delete_scope_limits(text* pattern) {
  return call_pg([&]() noexcept {
    connect_spi();
    Datum values[1] = {PointerGetDatum(pattern)};
    uint64 deleted = execute_prepared(delete_statement, values, " ");
    SPI_finish();
    return deleted > 0;
  });
}

std::vector<LimitUsage> limit_usage() {
  if (!limits_table.current) load_limits();
  std::vector<LimitUsage> usage;
  for (Limit& limit : *limits) {
    LimitUsage row;
    row.pattern = limit.pattern;
    if (limit.slot == nullptr) limit.slot = find_limit_slot(limit.pattern);
    if (limit.slot != nullptr) {
      row.counted_at = static_cast<TimestampTz>(pg_atomic_read_u64(&limit.slot->counted_at));
      if (row.counted_at != 0) {
        row.live = slot_count(limit.slot, core::LimitKind::kLive);
        row.pending = slot_count(limit.slot, core::LimitKind::kPending);
      }
    }
    usage.push_back(std::move(row));
  }
  return usage;
}

}  // namespace idempotency::pg
