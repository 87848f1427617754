// idempotency.config_changed(): the statement trigger on the configuration
// tables (scope_access, retention_policies). However a table changed (the
// extension's functions, a restore, a superuser's DML), every backend
// reloads its cache in its next transaction after this one commits.
#include "glue/error_boundary.hpp"

extern "C" {
#include "commands/trigger.h"
#include "utils/inval.h"
}

using namespace idempotency;
using namespace idempotency::pg;

IDEMPOTENCY_SQL_FUNCTION(idempotency_config_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "idempotency.config_changed() must be called as a trigger");
  }
  auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
  call_pg(
      [&]() noexcept { CacheInvalidateRelcacheByRelid(RelationGetRelid(trigger->tg_relation)); });
  return PointerGetDatum(nullptr);
}
