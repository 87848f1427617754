// idempotency.config_changed(): the statement trigger on the configuration
// tables (scope_access, retention_policies, scope_limits). However a table changed (the
// extension's functions, a restore, a superuser's DML), every backend
// reloads its cache in its next transaction after this one commits. On a Citus
// node the trigger fires on a shard placement (retention_policies_102008), while
// the caches watch the table by its name: both named tables are invalidated too.
#include "glue/error_boundary.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
}

using namespace idempotency;
using namespace idempotency::pg;

IDEMPOTENCY_SQL_FUNCTION(idempotency_config_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "idempotency.config_changed() must be called as a trigger");
  }
  auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
  call_pg([&]() noexcept {
    CacheInvalidateRelcacheByRelid(RelationGetRelid(trigger->tg_relation));
    const Oid schema = get_namespace_oid("idempotency", true);
    for (const char* name : {"retention_policies", "scope_access", "scope_limits"}) {
      const Oid table = OidIsValid(schema) ? get_relname_relid(name, schema) : InvalidOid;
      if (OidIsValid(table)) CacheInvalidateRelcacheByRelid(table);
    }
  });
  // A statement trigger returns NULL (written as a Datum: PostgreSQL 19's
  // PointerGetDatum() is a macro that takes no nullptr).
  return Datum{0};
}
