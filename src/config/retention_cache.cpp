#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"
#include "config/retention_policies.hpp"
#include "config/table_watch.hpp"

extern "C" {
#include "utils/hsearch.h"
}

namespace idempotency::pg {
namespace {

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
