#include "policies/scope_access.hpp"

#include <algorithm>
#include <vector>

#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"
#include "policies/table_watch.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace idempotency::pg {
namespace {

struct Restriction {
  Oid role;
  const char* pattern;
};

TableWatch scope_access_table{"scope_access"};
Restriction* restrictions = nullptr;
int restriction_count = 0;

PreparedStatement load_statement{
    "SELECT a.role::pg_catalog.oid, a.pattern FROM idempotency.scope_access AS a", 0, {}};

PreparedStatement delete_statement{
    "DELETE FROM idempotency.scope_access AS a"
    " WHERE a.role::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
    1,
    {OIDOID}};

PreparedStatement insert_statement{
    "INSERT INTO idempotency.scope_access (role, pattern)"
    " VALUES ($1::pg_catalog.regrole, $2) ON CONFLICT DO NOTHING",
    2,
    {OIDOID, TEXTOID}};

void load_restrictions() {
  begin_reload(scope_access_table);
  try {
    call_pg([]() noexcept {
      restrictions = nullptr;
      restriction_count = 0;
      // The latest snapshot: under REPEATABLE READ the transaction's own one
      // may predate the change whose invalidation triggered this load.
      // Its own SPI connection: the caller may not have one.
      connect_spi();
      uint64 rows = execute_prepared_latest(load_statement, nullptr, "");
      MemoryContext cache = scope_access_table.context;
      restrictions = static_cast<Restriction*>(
          MemoryContextAlloc(cache, std::max<uint64>(rows, 1) * sizeof(Restriction)));
      for (uint64 row = 0; row < rows; ++row) {
        bool is_null = false;
        HeapTuple tuple = SPI_tuptable->vals[row];
        restrictions[row].role =
            DatumGetObjectId(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &is_null));
        text* pattern = DatumGetTextPP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &is_null));
        restrictions[row].pattern = MemoryContextStrdup(cache, text_to_cstring(pattern));
      }
      restriction_count = static_cast<int>(rows);
      SPI_finish();
    });
  } catch (...) {
    abandon_reload(scope_access_table);
    throw;
  }
}

}  // namespace

namespace {

// Whether `role` is bound by the restrictions of `restricted`: it is that
// role or a member of it, directly or through other roles, whether or not
// the membership inherits privileges (a NOINHERIT member could SET ROLE to
// the group anyway, so it is held to the group's scopes too).
bool bound_by(Oid role, Oid restricted) {
  return call_pg([&]() noexcept { return is_member_of_role(role, restricted); });
}

// Whether `role`'s restrictions (those of every role it is a member of;
// none: unrestricted) allow `scope`.
bool role_may_use(Oid role, std::string_view scope) {
  if (call_pg([&]() noexcept { return superuser_arg(role); })) return true;
  std::vector<std::string_view> patterns;
  for (int index = 0; index < restriction_count; ++index) {
    Oid restricted = restrictions[index].role;
    if (bound_by(role, restricted)) patterns.emplace_back(restrictions[index].pattern);
  }
  return patterns.empty() || core::scope_allowed(patterns, scope);
}

bool role_is_restricted(Oid role) {
  if (call_pg([&]() noexcept { return superuser_arg(role); })) return false;
  for (int index = 0; index < restriction_count; ++index) {
    Oid restricted = restrictions[index].role;
    if (bound_by(role, restricted)) return true;
  }
  return false;
}

void refuse(Oid role, std::string_view scope) {
  const char* role_name = call_pg([&]() noexcept { return GetUserNameFromId(role, true); });
  throw core::scope_denied_error(role_name == nullptr ? "?" : role_name, scope);
}

}  // namespace

void require_scope_access(const GuardStoreSession& session, std::string_view scope) {
  if (!scope_access_table.current) load_restrictions();
  if (restriction_count == 0) return;
  // The current role's restrictions, and the session's login role's too: a
  // restricted login role cannot SET ROLE to an unrestricted one to escape.
  Oid current = session.saved_user;
  if (!role_may_use(current, scope)) refuse(current, scope);
  Oid login = GetSessionUserId();
  if (login != current && !role_may_use(login, scope)) refuse(login, scope);
}

bool may_see_scope(const GuardStoreSession& session, std::optional<std::string_view> scope) {
  if (!scope_access_table.current) load_restrictions();
  if (restriction_count == 0) return true;
  Oid current = session.saved_user;
  Oid login = GetSessionUserId();
  auto allowed = [&](Oid role) {
    return scope ? role_may_use(role, *scope) : !role_is_restricted(role);
  };
  return allowed(current) && (login == current || allowed(login));
}

void replace_scope_patterns(Oid role, ArrayType* patterns) {
  call_pg([&]() noexcept {
    Datum role_value[1] = {ObjectIdGetDatum(role)};
    execute_prepared(delete_statement, role_value, " ");
    // One INSERT per pattern: Citus cannot plan an INSERT ... SELECT with
    // parameters into a reference table.
    Datum* elements = nullptr;
    bool* element_nulls = nullptr;
    int count = 0;
    deconstruct_array(patterns, TEXTOID, -1, false, TYPALIGN_INT, &elements, &element_nulls,
                      &count);
    for (int index = 0; index < count; ++index) {
      Datum values[2] = {ObjectIdGetDatum(role), elements[index]};
      execute_prepared(insert_statement, values, element_nulls[index] ? " n" : "  ");
    }
  });
}

bool remove_scope_patterns(Oid role) {
  return call_pg([&]() noexcept {
    Datum values[1] = {ObjectIdGetDatum(role)};
    return execute_prepared(delete_statement, values, " ") > 0;
  });
}

}  // namespace idempotency::pg
