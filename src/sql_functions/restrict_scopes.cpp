// restrict_scopes() and unrestrict_scopes(): per-role scope restrictions.
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// Checks every pattern of a text[] argument; raises on a NULL or bad one.
void require_patterns(ArrayType* patterns) {
  auto [elements, nulls, count] = text_array_elements(patterns);
  if (count == 0) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue, "patterns must not be empty", {},
                           "To lift a role's restriction, use idempotency.unrestrict_scopes().");
  }
  for (int index = 0; index < count; ++index) {
    std::optional<std::string_view> pattern;
    if (!nulls[index]) pattern = text_view(DatumGetTextPP(elements[index]));
    core::require_scope_pattern(pattern);
  }
}

Oid role_argument(FunctionCallInfo fcinfo) {
  core::require_not_null("role", PG_ARGISNULL(0));
  return PG_GETARG_OID(0);
}

}  // namespace

// Arguments: role, patterns.
IDEMPOTENCY_SQL_FUNCTION(idempotency_restrict_scopes) {
  Oid role = role_argument(fcinfo);
  core::require_not_null("patterns", PG_ARGISNULL(1));
  ArrayType* patterns = call_pg([&]() noexcept { return PG_GETARG_ARRAYTYPE_P(1); });
  require_patterns(patterns);
  require_writable("restrict scopes");
  GuardStoreSession session = open_guard_store();
  replace_scope_patterns(role, patterns);
  close_guard_store(session);
  PG_RETURN_VOID();
}

// Arguments: role.
IDEMPOTENCY_SQL_FUNCTION(idempotency_unrestrict_scopes) {
  Oid role = role_argument(fcinfo);
  require_writable("lift a scope restriction");
  GuardStoreSession session = open_guard_store();
  bool removed = remove_scope_patterns(role);
  close_guard_store(session);
  return BoolGetDatum(removed);
}
