#include "policies/retention_policies.hpp"

#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"
#include "policies/table_watch.hpp"

extern "C" {
#include "utils/hsearch.h"
}

namespace idempotency::pg {
namespace {

PreparedStatement upsert_statement{
    "INSERT INTO idempotency.retention_policies AS p (scope, ttl, updated_at, redate_pending)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (scope) DO UPDATE"
    " SET ttl = excluded.ttl, updated_at = excluded.updated_at,"
    " redate_pending = excluded.redate_pending",
    4,
    {TEXTOID, INTERVALOID, TIMESTAMPTZOID, BOOLOID}};

PreparedStatement delete_statement{
    "DELETE FROM idempotency.retention_policies AS p WHERE p.scope OPERATOR(pg_catalog.=) $1",
    1,
    {TEXTOID}};

PreparedStatement next_pending_statement{
    "SELECT p.scope, p.ttl, p.updated_at FROM idempotency.retention_policies AS p"
    " WHERE p.redate_pending AND ($1 IS NULL OR p.scope OPERATOR(pg_catalog.>) $1)"
    " ORDER BY p.scope LIMIT 1",
    1,
    {TEXTOID}};

PreparedStatement clear_pending_statement{
    "UPDATE idempotency.retention_policies AS p SET redate_pending = false"
    " WHERE p.scope OPERATOR(pg_catalog.=) $1 AND p.ttl OPERATOR(pg_catalog.=) $2"
    " AND p.updated_at OPERATOR(pg_catalog.=) $3 AND p.redate_pending",
    3,
    {TEXTOID, INTERVALOID, TIMESTAMPTZOID}};

// The cache of each scope's policy ttl, for claims.
struct PolicyEntry {
  char scope[core::kMaxIdentifierBytes + 1];  // the hash key, NUL-terminated
  Interval ttl;
};

TableWatch retention_table{"retention_policies"};
HTAB* policies = nullptr;

PreparedStatement load_statement{
    "SELECT p.scope, p.ttl FROM idempotency.retention_policies AS p", 0, {}};

// A scope as a hash key; false if it cannot be one (too long to have a policy).
bool to_key(std::string_view scope, char (&key)[sizeof(PolicyEntry::scope)]) {
  if (scope.size() > core::kMaxIdentifierBytes) return false;
  memset(key, 0, sizeof key);
  memcpy(key, scope.data(), scope.size());
  return true;
}

void load_policies() {
  begin_reload(retention_table);
  try {
    call_pg([]() noexcept {
      HASHCTL control;
      memset(&control, 0, sizeof control);
      control.keysize = sizeof(PolicyEntry::scope);
      control.entrysize = sizeof(PolicyEntry);
      control.hcxt = retention_table.context;
      policies = hash_create("idempotency retention policies", 64, &control,
                             HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
      // Its own SPI connection: the caller may not have one.
      connect_spi();
      uint64 rows = execute_prepared_latest(load_statement, nullptr, "");
      for (uint64 row = 0; row < rows; ++row) {
        bool is_null = false;
        HeapTuple tuple = SPI_tuptable->vals[row];
        text* scope = DatumGetTextPP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &is_null));
        char key[sizeof(PolicyEntry::scope)];
        if (!to_key(std::string_view(VARDATA_ANY(scope), VARSIZE_ANY_EXHDR(scope)), key)) continue;
        auto* entry = static_cast<PolicyEntry*>(hash_search(policies, key, HASH_ENTER, nullptr));
        entry->ttl = *DatumGetIntervalP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &is_null));
      }
      SPI_finish();
    });
  } catch (...) {
    abandon_reload(retention_table);
    throw;
  }
}

}  // namespace

void upsert_retention_policy(text* scope, Interval* ttl, bool redate_pending, TimestampTz now) {
  call_pg([&]() noexcept {
    Datum values[4] = {PointerGetDatum(scope), IntervalPGetDatum(ttl), TimestampTzGetDatum(now),
                       BoolGetDatum(redate_pending)};
    execute_prepared(upsert_statement, values, "    ");
  });
}

bool delete_retention_policy(text* scope) {
  return call_pg([&]() noexcept {
    Datum values[1] = {PointerGetDatum(scope)};
    return execute_prepared(delete_statement, values, " ") == 1;
  });
}

PendingRedate next_pending_redate(text* after_scope, MemoryContext caller_context) {
  return call_pg([&]() noexcept {
    PendingRedate pending;
    Datum values[1] = {PointerGetDatum(after_scope)};
    if (execute_prepared(next_pending_statement, values, after_scope == nullptr ? "n" : " ") == 0) {
      return pending;
    }
    bool is_null = false;
    MemoryContext spi_context = MemoryContextSwitchTo(caller_context);
    pending.scope = DatumGetTextPCopy(first_row_column(1, &is_null));
    pending.ttl =
        DatumGetIntervalP(datumCopy(first_row_column(2, &is_null), false, sizeof(Interval)));
    pending.set_at = DatumGetTimestampTz(first_row_column(3, &is_null));
    MemoryContextSwitchTo(spi_context);
    return pending;
  });
}

void clear_redate_pending(const PendingRedate& pending) {
  call_pg([&]() noexcept {
    Datum values[3] = {PointerGetDatum(pending.scope), IntervalPGetDatum(pending.ttl),
                       TimestampTzGetDatum(pending.set_at)};
    execute_prepared(clear_pending_statement, values, "   ");
  });
}

std::optional<Interval> retention_policy_ttl(std::string_view scope) {
  if (!retention_table.current) load_policies();
  char key[sizeof(PolicyEntry::scope)];
  if (!to_key(scope, key)) return std::nullopt;
  auto* entry = static_cast<PolicyEntry*>(
      call_pg([&]() noexcept { return hash_search(policies, key, HASH_FIND, nullptr); }));
  if (entry == nullptr) return std::nullopt;
  return entry->ttl;
}

}  // namespace idempotency::pg
