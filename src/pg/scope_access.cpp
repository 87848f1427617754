#include "pg/error_boundary.hpp"
#include "pg/prepared_statement.hpp"
#include "pg/scope_access.hpp"

#include <vector>

extern "C" {
#include "utils/acl.h"
#include "utils/inval.h"
}

namespace idempotency::pg {
namespace {

struct Restriction {
  Oid role;
  const char* pattern;
};

// The cache: valid until a relcache invalidation of the table (or of all
// relations) arrives.
MemoryContext cache_context = nullptr;
Restriction* restrictions = nullptr;
int restriction_count = 0;
bool cache_valid = false;
bool callback_registered = false;
Oid cached_table = InvalidOid;

void invalidate_cache(Datum /*argument*/, Oid relation) {
  if (relation == InvalidOid || relation == cached_table) cache_valid = false;
}

PreparedStatement load_statement{
    "SELECT a.role::pg_catalog.oid, a.pattern FROM idempotency.scope_access AS a", 0, {}};

PreparedStatement delete_statement{
    "DELETE FROM idempotency.scope_access AS a"
    " WHERE a.role::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
    1,
    {OIDOID}};

PreparedStatement insert_statement{
    "INSERT INTO idempotency.scope_access (role, pattern)"
    " SELECT $1::pg_catalog.regrole, p FROM pg_catalog.unnest($2) AS p"
    " ON CONFLICT DO NOTHING",
    2,
    {OIDOID, TEXTARRAYOID}};

void load_restrictions() {
  if (!callback_registered) {
    CacheRegisterRelcacheCallback(invalidate_cache, 0);
    callback_registered = true;
  }
  // Marked valid first: an invalidation that arrives while loading clears it.
  cache_valid = true;
  try {
    call_pg([] {
      cached_table = get_relname_relid("scope_access", get_namespace_oid("idempotency", false));
      if (cache_context == nullptr) {
        cache_context = AllocSetContextCreate(CacheMemoryContext, "idempotency scope access",
                                              ALLOCSET_SMALL_SIZES);
      }
      MemoryContextReset(cache_context);
      restrictions = nullptr;
      restriction_count = 0;
      // The latest snapshot: under REPEATABLE READ the transaction's own one
      // may predate the change whose invalidation triggered this load.
      uint64 rows = execute_prepared_latest(load_statement, nullptr, "");
      if (rows == 0) return;
      restrictions =
          static_cast<Restriction*>(MemoryContextAlloc(cache_context, rows * sizeof(Restriction)));
      for (uint64 row = 0; row < rows; ++row) {
        bool is_null = false;
        HeapTuple tuple = SPI_tuptable->vals[row];
        restrictions[row].role =
            DatumGetObjectId(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &is_null));
        text* pattern = DatumGetTextPP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &is_null));
        restrictions[row].pattern = MemoryContextStrdup(cache_context, text_to_cstring(pattern));
      }
      restriction_count = static_cast<int>(rows);
    });
  } catch (...) {
    cache_valid = false;
    throw;
  }
}

}  // namespace

void require_scope_access(const GuardStoreSession& session, std::string_view scope) {
  if (!cache_valid) load_restrictions();
  if (restriction_count == 0) return;
  Oid caller = session.saved_user;
  if (call_pg([&] { return superuser_arg(caller); })) return;
  std::vector<std::string_view> patterns;
  for (int index = 0; index < restriction_count; ++index) {
    Oid role = restrictions[index].role;
    if (call_pg([&] { return has_privs_of_role(caller, role); })) {
      patterns.emplace_back(restrictions[index].pattern);
    }
  }
  if (patterns.empty() || core::scope_allowed(patterns, scope)) return;
  const char* role_name = call_pg([&] { return GetUserNameFromId(caller, true); });
  throw core::scope_denied_error(role_name == nullptr ? "?" : role_name, scope);
}

void replace_scope_patterns(Oid role, ArrayType* patterns) {
  call_pg([&] {
    Datum role_value[1] = {ObjectIdGetDatum(role)};
    execute_prepared(delete_statement, role_value, " ");
    Datum values[2] = {ObjectIdGetDatum(role), PointerGetDatum(patterns)};
    execute_prepared(insert_statement, values, "  ");
  });
}

bool remove_scope_patterns(Oid role) {
  return call_pg([&] {
    Datum values[1] = {ObjectIdGetDatum(role)};
    return execute_prepared(delete_statement, values, " ") > 0;
  });
}

}  // namespace idempotency::pg
