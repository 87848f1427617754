// purge_expired(): what the purge worker runs, for a DBA to call by hand. It
// runs in the caller's transaction, in batches (which bound the memory of each
// statement, not the locks: those are held until the caller commits).
#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "guards/guard_store.hpp"
#include "guards/purge.hpp"
#include "worker/worker_settings.hpp"

using namespace idempotency;
using namespace idempotency::pg;

// Arguments: batch_size (NULL: idempotency.purge_batch_size), max_rows (NULL: all).
IDEMPOTENCY_SQL_FUNCTION(idempotency_purge_expired) {
  int batch_size = PG_ARGISNULL(0) ? purge_batch_size : PG_GETARG_INT32(0);
  std::optional<std::int64_t> max_rows = bigint_argument(fcinfo, 1);
  if (batch_size <= 0) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue, "batch_size must be positive");
  }
  if (max_rows && *max_rows < 0) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue, "max_rows must not be negative");
  }
  require_writable("purge expired guards");
  TimestampTz now = current_instant();

  std::int64_t deleted = 0;
  PurgeProgress progress;
  GuardStoreSession session = open_guard_store();
  for (;;) {
    std::int64_t limit = batch_size;
    if (max_rows) limit = std::min(limit, *max_rows - deleted);
    if (limit <= 0) break;
    auto batch =
        static_cast<std::int64_t>(purge_expired_batch(now, static_cast<int>(limit), progress));
    deleted += batch;
    if (batch < limit) break;
  }
  close_guard_store(session);
  count_unscoped_event(core::GuardEvent::kPurgedByHand, static_cast<std::uint64_t>(deleted));
  return Int64GetDatum(deleted);
}
