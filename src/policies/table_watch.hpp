// Per-backend caches of the extension's small configuration tables
// (scope_access, retention_policies, scope_limits). Each table has a statement trigger,
// idempotency.config_changed(), that sends a relcache invalidation on every
// change, so the next transaction of every backend reloads its cache.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

struct TableWatch {
  const char* relation_name;  // in schema idempotency
  Oid relation = InvalidOid;
  bool current = false;
  MemoryContext context = nullptr;  // holds the cached rows; reset on reload
};

// Starts a reload: watches the table (once per backend), looks up its OID,
// resets the watch's memory context and marks the cache current. An
// invalidation that arrives while loading clears `current` again.
void begin_reload(TableWatch& watch);

// After a failed load: the cache is not current.
void abandon_reload(TableWatch& watch);

}  // namespace idempotency::pg
