// set_retention() and drop_retention(): per-scope time to live, for DBAs.
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "guards/purge.hpp"
#include "policies/retention_policies.hpp"
#include "worker/worker_registry.hpp"
#include "worker/worker_settings.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// Whether a purge worker is running (and not paused) in this database to
// re-date in batches of their own transactions; otherwise the caller's
// transaction does it.
bool purge_worker_running_here() {
  const char* database = call_pg([]() noexcept { return get_database_name(MyDatabaseId); });
  int index = find_worker_slot(database);
  if (index < 0) return false;
  PurgeWorkerSlot slot = read_worker_slot(index);
  return slot.pid != 0 && slot.state != PurgeWorkerState::kPaused;
}

}  // namespace

// Arguments: scope, ttl, apply_to_existing.
IDEMPOTENCY_SQL_FUNCTION(idempotency_set_retention) {
  text* scope = text_argument(fcinfo, 0);
  core::require_identifier("scope", text_view(scope));
  Interval* ttl = interval_argument(fcinfo, 1);
  core::require_not_null("ttl", ttl == nullptr);
  core::require_not_null("apply_to_existing", PG_ARGISNULL(2));
  bool apply_to_existing = PG_GETARG_BOOL(2);
  TimestampTz now = current_instant();
  core::require_positive_duration("ttl", now, add_interval(now, ttl));
  require_writable("set a retention policy");

  GuardStoreSession session = open_guard_store();
  // Distributed guards are re-dated on every shard at once, here: a node's
  // purge worker would re-date its own shards only.
  bool in_background = apply_to_existing && purge_worker_running_here() &&
                       !call_pg([]() noexcept { return guards_distributed(); });
  upsert_retention_policy(scope, ttl, in_background, now);
  if (apply_to_existing && !in_background) {
    while (redate_scope_batch(scope, ttl, now, now, purge_batch_size) > 0) {
    }
  }
  close_guard_store(session);
  PG_RETURN_VOID();
}

// Arguments: scope.
IDEMPOTENCY_SQL_FUNCTION(idempotency_drop_retention) {
  text* scope = text_argument(fcinfo, 0);
  core::require_identifier("scope", text_view(scope));
  require_writable("drop a retention policy");
  GuardStoreSession session = open_guard_store();
  bool dropped = delete_retention_policy(scope);
  close_guard_store(session);
  return BoolGetDatum(dropped);
}
