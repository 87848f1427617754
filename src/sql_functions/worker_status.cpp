// worker_status(): what each purge worker is doing, and why one is not.
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "glue/shared_memory.hpp"
#include "worker/launcher.hpp"
#include "worker/worker_registry.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

constexpr int kColumns = 10;

struct StatusRow {
  Datum values[kColumns] = {};
  bool nulls[kColumns] = {};
};

// database, running, pid, state, last_run_started, last_run_finished,
// last_run_deleted, total_deleted, last_error, next_run
StatusRow not_running_row(const char* database, const char* reason) {
  StatusRow row;
  for (bool& is_null : row.nulls) is_null = true;
  row.values[0] =
      call_pg([&]() noexcept { return DirectFunctionCall1(namein, CStringGetDatum(database)); });
  row.nulls[0] = false;
  row.values[1] = BoolGetDatum(false);
  row.nulls[1] = false;
  row.values[3] = text_datum(reason);
  row.nulls[3] = false;
  return row;
}

void set_time(StatusRow& row, int column, TimestampTz value) {
  row.values[column] = TimestampTzGetDatum(value);
  row.nulls[column] = value == 0;
}

StatusRow slot_row(const PurgeWorkerSlot& slot, bool launcher_running) {
  bool running = slot.pid != 0;
  const char* state = purge_worker_state_name(slot.state);
  if (!running && !launcher_running) state = "waiting for the launcher to start";
  if (!running && RecoveryInProgress())
    state = "server is in recovery: purging starts after promotion";
  const char* database = slot.database;
  if (database[0] == '\0' && OidIsValid(slot.database_oid)) {
    // Listed without preloading; the launcher has not named it yet.
    Oid oid = slot.database_oid;
    const char* name = call_pg([oid]() noexcept { return get_database_name(oid); });
    database = name == nullptr ? "" : name;
  }
  StatusRow row = not_running_row(database, state);
  row.values[1] = BoolGetDatum(running);
  row.values[2] = Int32GetDatum(slot.pid);
  row.nulls[2] = !running;
  set_time(row, 4, slot.last_run_started);
  set_time(row, 5, slot.last_run_finished);
  row.values[6] = Int64GetDatum(slot.last_run_deleted);
  row.nulls[6] = slot.last_run_started == 0;
  row.values[7] = Int64GetDatum(slot.total_deleted);
  row.nulls[7] = false;
  if (slot.last_error[0] != '\0') {
    row.values[8] = text_datum(slot.last_error);
    row.nulls[8] = false;
  }
  set_time(row, 9, slot.next_run);
  return row;
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_worker_status) {
  begin_result_rows(fcinfo, kColumns);
  const char* here = call_pg([]() noexcept { return get_database_name(MyDatabaseId); });
  if (!worker_registry_available()) {
    StatusRow row = not_running_row(
        here, "not loaded: add idempotency to shared_preload_libraries and restart the server");
    add_result_row(fcinfo, row.values, row.nulls);
    return static_cast<Datum>(0);
  }
  // Without preloading, this call (like the first use of the extension in
  // each backend) lists the database and starts the launcher if it is gone.
  call_pg([]() noexcept { worker::ensure_purging_of_this_database(); });
  bool listed_here = false;
  bool launcher_running = running_launcher_pid() != 0;
  for (int index = 0; index < worker_registry_slot_count(); ++index) {
    PurgeWorkerSlot slot = read_worker_slot(index);
    listed_here =
        listed_here || slot.database_oid == MyDatabaseId || strcmp(slot.database, here) == 0;
    StatusRow row = slot_row(slot, launcher_running);
    add_result_row(fcinfo, row.values, row.nulls);
  }
  if (!listed_here) {
    StatusRow row = not_running_row(
        here, shared_memory_is_dynamic()
                  ? "no worker: every purge slot is taken by other databases (not preloaded)"
                  : "no worker: this database is not listed in idempotency.databases");
    add_result_row(fcinfo, row.values, row.nulls);
  }
  return static_cast<Datum>(0);
}
