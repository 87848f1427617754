#include "policies/scope_limits.hpp"

#include <unordered_map>

#include "core/scope_patterns.hpp"
#include "core/subtransaction_list.hpp"

#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"
#include "policies/limit_table.hpp"
#include "policies/table_watch.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "utils/syscache.h"
}

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
  LimitSlotRef slot;  // found on first use
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

PreparedStatement patterns_statement{"SELECT l.pattern FROM idempotency.scope_limits AS l", 0, {}};

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

LimitSlotRef slot_of(Limit& limit) {
  if (slot_is_current(limit.slot)) return limit.slot;
  LimitSlotShortage shortage = LimitSlotShortage::kNone;
  limit.slot = find_limit_slot(limit.pattern, true, &shortage);
  if (limit.slot.slot != nullptr) return limit.slot;
  // Reached only when the limits outnumber the slots after a restart (or a
  // lower max_limits): set_limits refuses a limit it cannot give a slot.
  throw core::GuardError(
      core::SqlState::kObjectNotInPrerequisiteState,
      "scope limit \"" + limit.pattern + "\" cannot be enforced",
      shortage == LimitSlotShortage::kNotPreloaded
          ? "Scope limits need shared_preload_libraries = 'idempotency'."
          : "No idempotency.max_limits slot is left for it (or this database holds "
            "idempotency.max_limits_per_database of them).",
      "Raise idempotency.max_limits or preload the library (a restart), or drop the limit.");
}

// Sets the slot's counts from the table, seen with the latest snapshot (and
// this transaction's own claims).
void recount(LimitSlotRef ref, const std::string& pattern) {
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
    // A slot freed meanwhile (its limit dropped) may count another pattern now.
    if (!slot_is_current(ref)) return;
    pg_atomic_write_u64(&ref.slot->live, static_cast<uint64>(live));
    pg_atomic_write_u64(&ref.slot->pending, static_cast<uint64>(pending));
    pg_atomic_write_u64(&ref.slot->counted_at, static_cast<uint64>(GetCurrentTimestamp()));
  });
}

// The slot whose recounting flag this backend holds. A backend that ends
// during a recount (pg_terminate_backend raises FATAL, which unwinds no C++
// frame) gives the flag back on its way out, so the limit is recounted
// again; a crash resets all of shared memory.
LimitSlot* recount_held = nullptr;

void give_back_recount(int, Datum) {
  if (recount_held != nullptr) pg_atomic_clear_flag(&recount_held->recounting);
  recount_held = nullptr;
}

void release_recount() {
  pg_atomic_clear_flag(&recount_held->recounting);
  recount_held = nullptr;
}

// A full limit is recounted by one backend at a time, at most once a
// second; true if this call recounted.
bool recount_if_due(LimitSlotRef ref, const std::string& pattern) {
  LimitSlot* slot = ref.slot;
  auto counted_at = static_cast<TimestampTz>(pg_atomic_read_u64(&slot->counted_at));
  if (GetCurrentTimestamp() - counted_at < kRecountIntervalMicroseconds) return false;
  static bool exit_callback_registered = false;
  if (!exit_callback_registered) {
    before_shmem_exit(give_back_recount, 0);
    exit_callback_registered = true;
  }
  if (!pg_atomic_test_set_flag(&slot->recounting)) return false;
  recount_held = slot;
  try {
    recount(ref, pattern);
  } catch (...) {
    release_recount();
    throw;
  }
  release_recount();
  return true;
}

// The charges of this backend's open transaction, given back if it (or the
// subtransaction that made them) aborts.
struct Charge {
  LimitSlotRef slot;
  core::LimitKind kind;
};
core::SubtransactionList<Charge> charges;

void give_back(const Charge& charge) noexcept {
  if (slot_is_current(charge.slot)) add_to_slot(charge.slot.slot, charge.kind, -1);
}

// What this transaction's set_limits and drop_limits did to the slots, undone
// or completed when it ends: a slot taken for a limit is freed if the
// (sub)transaction aborts; a dropped limit's slot is freed when it commits.
// A prepared transaction leaves both as they are: a slot it should have
// freed has no row and is reclaimed by the next set_limits that needs one.
struct SlotChange {
  bool dropped;  // false: a slot taken by set_limits
  LimitSlotRef taken;
  std::string pattern;
};
core::SubtransactionList<SlotChange> slot_changes;

void undo_slot_change(const SlotChange& change) noexcept {
  if (!change.dropped) free_limit_slot(change.taken);
}

void on_transaction_end(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      charges.for_each(give_back);
      slot_changes.for_each(undo_slot_change);
      break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      slot_changes.for_each([](const SlotChange& change) {
        if (change.dropped) free_limit_slot(change.pattern);
      });
      break;
    case XACT_EVENT_PREPARE:
      break;
    default:
      return;
  }
  charges.clear();
  slot_changes.clear();
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId mine, SubTransactionId parent,
                           void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    charges.abort_subtransaction(mine, give_back);
    slot_changes.abort_subtransaction(mine, undo_slot_change);
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    charges.commit_subtransaction(mine, parent);
    slot_changes.commit_subtransaction(mine, parent);
  }
}

// Charges one of a kind to the limit; false if that takes it past its
// maximum. `counted`: the slot was recounted during this claim, so its counts
// include this claim's guard already (it is still given back if the claim
// aborts); a recount made here sets it for the kinds charged after.
bool charge(Limit& limit, LimitSlotRef slot, core::LimitKind kind, bool& counted) {
  std::optional<std::int64_t> maximum =
      kind == core::LimitKind::kLive ? limit.max_live : limit.max_pending;
  if (!counted) add_to_slot(slot.slot, kind, 1);
  charges.add({slot, kind}, GetCurrentSubTransactionId());
  if (!maximum || slot_count(slot.slot, kind) <= *maximum) return true;
  if (recount_if_due(slot, limit.pattern)) counted = true;
  return slot_count(slot.slot, kind) <= *maximum;
}

// Frees the slots no row backs any more: those of databases that no longer
// exist, and this database's whose pattern has no row. Under the lock of
// lock_limit_rows(), no other transaction of this database can hold a limit
// row this one cannot see; a dropped database never comes back.
void reclaim_limit_slots() {
  std::vector<Oid> gone;
  for (Oid database : databases_holding_limit_slots()) {
    if (!call_pg([database]() noexcept {
          return SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(database));
        })) {
      gone.push_back(database);
    }
  }
  free_limit_slots_of(gone);
  std::vector<std::string> backed;
  call_pg([&]() noexcept {
    CommandCounterIncrement();  // this transaction's own set_limits and drop_limits
    connect_spi();
    uint64 count = execute_prepared_latest(patterns_statement, nullptr, "");
    for (uint64 row = 0; row < count; ++row) {
      bool is_null = false;
      text* pattern = DatumGetTextPP(
          SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &is_null));
      backed.emplace_back(VARDATA_ANY(pattern), VARSIZE_ANY_EXHDR(pattern));
    }
    SPI_finish();
  });
  free_unbacked_limit_slots(backed);
}

// Makes the set_limits and drop_limits of this database run one at a time,
// until the transaction ends (claims and the limits view are not blocked).
void lock_limit_rows() {
  if (!limits_table.current) load_limits();
  Oid relation = limits_table.relation;
  if (OidIsValid(relation)) {
    call_pg([relation]() noexcept { LockRelationOid(relation, ShareRowExclusiveLock); });
  }
}

// The slot of a limit just set: found, taken, or taken after reclaiming
// slots no row backs; 53400 if there is none.
LimitSlotRef require_limit_slot(const std::string& pattern) {
  LimitSlotShortage shortage = LimitSlotShortage::kNone;
  LimitSlotRef ref = find_limit_slot(pattern, true, &shortage);
  if (ref.slot == nullptr && shortage != LimitSlotShortage::kNotPreloaded) {
    reclaim_limit_slots();
    ref = find_limit_slot(pattern, true, &shortage);
  }
  if (ref.slot != nullptr) return ref;
  if (shortage == LimitSlotShortage::kDatabaseShare) {
    throw core::GuardError(
        core::SqlState::kConfigurationLimitExceeded,
        "scope limit \"" + pattern + "\" cannot get a slot",
        "This database already holds idempotency.max_limits_per_database (" +
            std::to_string(max_limits_per_database) + ") limits.",
        "Drop a limit of this database, or raise idempotency.max_limits_per_database "
        "(a reload; the server's slots are capped by idempotency.max_limits).");
  }
  throw core::GuardError(core::SqlState::kConfigurationLimitExceeded,
                         "scope limit \"" + pattern + "\" cannot get a slot",
                         "Every one of the server's idempotency.max_limits (" +
                             std::to_string(max_limits) + ") slots is taken, in all databases.",
                         "Drop limits, or raise idempotency.max_limits (a restart).");
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
  charges.reserve_more(2 * covering.size());  // no throw once charging
  std::size_t first_charge = charges.size();
  try {
    for (std::size_t index : covering) {
      Limit& limit = (*limits)[index];
      LimitSlotRef slot = slot_of(limit);
      // A count made during this claim saw its guard as live and pending.
      bool counted = pg_atomic_read_u64(&slot.slot->counted_at) == 0;
      if (counted) recount(slot, limit.pattern);
      // Both kinds are charged before either refuses: a count saw this
      // claim's guard as live and pending, and a refusal must give back both.
      bool live_fits = !new_guard || charge(limit, slot, core::LimitKind::kLive, counted);
      bool pending_fits = charge(limit, slot, core::LimitKind::kPending, counted);
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
    charges.truncate(first_charge, give_back);
    throw;
  }
}

void upsert_scope_limits(text* pattern, std::optional<std::int64_t> max_live,
                         std::optional<std::int64_t> max_pending) {
  std::string name(*text_view(pattern));
  lock_limit_rows();
  call_pg([&]() noexcept {
    connect_spi();
    Datum values[4] = {PointerGetDatum(pattern), Int64GetDatum(max_live.value_or(0)),
                       Int64GetDatum(max_pending.value_or(0)),
                       TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
    char nulls[5] = {' ', max_live ? ' ' : 'n', max_pending ? ' ' : 'n', ' ', '\0'};
    execute_prepared(upsert_statement, values, nulls);
    SPI_finish();
  });
  slot_changes.reserve_more(1);  // no throw once the slot is taken
  LimitSlotRef slot = require_limit_slot(name);
  // Set again after a drop in this transaction: its slot must stay. (If a
  // savepoint rolls this back, the slot stays without a row, to be reclaimed.)
  slot_changes.erase_if(
      [&name](const SlotChange& change) { return change.dropped && change.pattern == name; });
  if (slot.taken_now) slot_changes.add({false, slot, {}}, GetCurrentSubTransactionId());
  // Counted afresh at the next claim: while the pattern had no limit, nothing
  // counted its claims.
  pg_atomic_write_u64(&slot.slot->counted_at, 0);
}

bool delete_scope_limits(text* pattern) {
  lock_limit_rows();
  bool deleted = call_pg([&]() noexcept {
    connect_spi();
    Datum values[1] = {PointerGetDatum(pattern)};
    uint64 rows = execute_prepared(delete_statement, values, " ");
    SPI_finish();
    return rows > 0;
  });
  if (deleted) {
    slot_changes.add({true, {}, std::string(*text_view(pattern))}, GetCurrentSubTransactionId());
  }
  return deleted;
}

std::vector<LimitUsage> limit_usage() {
  if (!limits_table.current) load_limits();
  std::vector<LimitUsage> usage;
  for (Limit& limit : *limits) {
    LimitUsage row;
    row.pattern = limit.pattern;
    // Reading the view takes no slot.
    if (!slot_is_current(limit.slot)) limit.slot = find_limit_slot(limit.pattern, false);
    if (LimitSlot* slot = limit.slot.slot) {
      row.counted_at = static_cast<TimestampTz>(pg_atomic_read_u64(&slot->counted_at));
      if (row.counted_at != 0) {
        row.live = slot_count(slot, core::LimitKind::kLive);
        row.pending = slot_count(slot, core::LimitKind::kPending);
      }
    }
    usage.push_back(std::move(row));
  }
  return usage;
}

}  // namespace idempotency::pg
