#include "policies/table_watch.hpp"

#include "glue/error_boundary.hpp"

extern "C" {
#include "utils/inval.h"
}

namespace idempotency::pg {
namespace {

constexpr int kMaxWatches = 4;
TableWatch* watches[kMaxWatches];
int watch_count = 0;
bool callback_registered = false;

void invalidate(Datum /*argument*/, Oid relation) {
  for (int index = 0; index < watch_count; ++index) {
    // A watch of a table that did not exist (an older schema) looks again
    // after any change: the update that creates it sends one.
    if (relation == InvalidOid || relation == watches[index]->relation ||
        watches[index]->relation == InvalidOid) {
      watches[index]->current = false;
    }
  }
}

void watch(TableWatch& table) {
  for (int index = 0; index < watch_count; ++index) {
    if (watches[index] == &table) return;
  }
  if (watch_count == kMaxWatches) elog(ERROR, "idempotency: too many watched tables");
  watches[watch_count++] = &table;
  if (!callback_registered) {
    CacheRegisterRelcacheCallback(invalidate, 0);
    callback_registered = true;
  }
}

}  // namespace

void begin_reload(TableWatch& table) {
  call_pg([&]() noexcept {
    watch(table);
    table.current = true;  // before reading: a concurrent change clears it
    table.relation =
        get_relname_relid(table.relation_name, get_namespace_oid("idempotency", false));
    if (table.context == nullptr) {
      table.context = AllocSetContextCreate(CacheMemoryContext, "idempotency table cache",
                                            ALLOCSET_SMALL_SIZES);
      MemoryContextSetIdentifier(table.context, table.relation_name);
    }
    MemoryContextReset(table.context);
  });
}

void abandon_reload(TableWatch& table) { table.current = false; }

}  // namespace idempotency::pg
