// The launcher: a static background worker, started once recovery is over
// (so nothing runs on a hot standby until it is promoted). It starts one purge
// worker per database in idempotency.databases, restarts a worker that exits
// (with a growing delay if it keeps failing), and waits quietly for databases
// that do not exist yet instead of letting their workers crash in a loop.
#include "worker/launcher.hpp"

#include "core/database_list.hpp"
#include "core/purge_schedule.hpp"

#include "glue/error_boundary.hpp"
#include "glue/shared_memory.hpp"
#include "worker/background_worker.hpp"
#include "worker/worker_registry.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/wait_event.h"

PGDLLEXPORT void idempotency_launcher_main(Datum unused);
}

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// First restart of a failed worker after 5 s, doubling up to 10 minutes.
constexpr int64 kRestartDelayMs = 5 * 1000;
// How often a missing database is looked for again.
constexpr int64 kMissingDatabaseRecheckMs = 10 * 1000;
// How often a restarted launcher looks whether an earlier launcher's worker
// has gone.
constexpr int64 kLeftoverWorkerRecheckMs = 1000;

struct WorkerTracking {
  BackgroundWorkerHandle* handle = nullptr;
  TimestampTz retry_at = 0;
  int failed_starts = 0;
  bool reported_missing = false;
  bool reported_no_slot = false;
};

// How long a requested launcher may take to register before another
// backend asks for one again.
constexpr int64 kLauncherStartMs = 60 * 1000;

// Whether the slot's database exists (by OID when listed without preloading,
// else by name), and its current name. The launcher has no database of its
// own, so it cannot use pg_database's indexes (they need pg_class): it scans
// the shared catalog, as the autovacuum launcher does.
bool find_database(const PurgeWorkerSlot& slot, char (&name)[NAMEDATALEN]) {
  return call_pg([&]() noexcept {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    (void)GetTransactionSnapshot();
    Relation catalog = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(catalog, 0, nullptr);
    bool exists = false;
    HeapTuple tuple;
    while (!exists && (tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      auto* row = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
      exists = OidIsValid(slot.database_oid) ? row->oid == slot.database_oid
                                             : strcmp(NameStr(row->datname), slot.database) == 0;
      if (exists) strlcpy(name, NameStr(row->datname), NAMEDATALEN);
    }
    table_endscan(scan);
    table_close(catalog, AccessShareLock);
    CommitTransactionCommand();
    return exists;
  });
}

// Notes a worker that stopped, and when to start it again.
void note_stopped(int index, WorkerTracking& tracking, TimestampTz now) {
  pfree(tracking.handle);
  tracking.handle = nullptr;
  PurgeWorkerSlot slot = read_worker_slot(index);
  bool completed_a_run = slot.last_run_finished > slot.launched_at;
  tracking.failed_starts = completed_a_run ? 0 : tracking.failed_starts + 1;
  tracking.retry_at = TimestampTzPlusMilliseconds(
      now, core::next_run_delay_ms(kRestartDelayMs, tracking.failed_starts));
  set_worker_pid(index, 0);
}

// Starts or restarts the worker of slot `index` when due. Returns how long the
// launcher may sleep as far as this slot is concerned.
int64 tend_worker(int index, WorkerTracking& tracking, TimestampTz now) {
  if (tracking.handle != nullptr) {
    pid_t pid = 0;
    if (GetBackgroundWorkerPid(tracking.handle, &pid) != BGWH_STOPPED) return 60 * 1000;
    note_stopped(index, tracking, now);
  }
  if (now < tracking.retry_at) return (tracking.retry_at - now + 999) / 1000;

  PurgeWorkerSlot slot = read_worker_slot(index);
  // A launcher that restarted (after an ERROR, or a pg_terminate_backend)
  // finds its predecessor's workers still running: the postmaster does not
  // stop dynamic workers with their launcher. It signals nobody (a PID read
  // from shared memory could be recycled by then); it starts the database's
  // worker once the old one has gone, which it is not told about, so it looks.
  if (slot.pid != 0) return kLeftoverWorkerRecheckMs;
  char name[NAMEDATALEN];
  if (!find_database(slot, name)) {
    set_worker_state(index, PurgeWorkerState::kDatabaseMissing);
    if (!tracking.reported_missing) {
      ereport(LOG, (errmsg("idempotency: database \"%s\" in idempotency.databases does not exist",
                           slot.database),
                    errhint("Its purge worker starts once the database is created.")));
      tracking.reported_missing = true;
    }
    tracking.retry_at = TimestampTzPlusMilliseconds(now, kMissingDatabaseRecheckMs);
    return kMissingDatabaseRecheckMs;
  }
  tracking.reported_missing = false;
  if (OidIsValid(slot.database_oid)) set_worker_database_name(index, name);
  set_worker_launched(index, now);
  if (!worker::start_purge_worker(index, name, &tracking.handle)) {
    if (!tracking.reported_no_slot) {
      ereport(WARNING,
              (errmsg("idempotency: no background worker slot for the purge worker of \"%s\"",
                      slot.database),
               errhint("Raise max_worker_processes.")));
      tracking.reported_no_slot = true;
    }
    tracking.retry_at = TimestampTzPlusMilliseconds(now, kRestartDelayMs);
    return kRestartDelayMs;
  }
  tracking.reported_no_slot = false;
  return 60 * 1000;
}

void release_launcher_at_exit(int /*code*/, Datum /*argument*/) { release_launcher(MyProcPid); }

void launcher_main(Datum /*unused*/) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  pgstat_report_appname("idempotency launcher");
  // Without preloading, two backends may each have started one (the second
  // after the first's request timed out): the later one leaves, with exit
  // code 0 so the postmaster does not restart it.
  if (!claim_launcher(MyProcPid, MyLatch)) {
    ereport(LOG, (errmsg("idempotency: the launcher already runs (PID %d)",
                         static_cast<int>(running_launcher_pid()))));
    proc_exit(0);
  }
  before_shmem_exit(release_launcher_at_exit, 0);

  WorkerTracking tracking[core::kMaxPurgeDatabases];
  for (;;) {
    worker::handle_worker_interrupts();
    TimestampTz now = GetCurrentTimestamp();
    int64 wait_ms = 60 * 1000;
    for (int index = 0; index < worker_registry_slot_count(); ++index) {
      wait_ms = std::min(wait_ms, tend_worker(index, tracking[index], now));
    }
    pgstat_report_activity(STATE_IDLE, nullptr);
    // A worker starting or stopping sets the latch (bgw_notify_pid).
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                    std::max<int64>(wait_ms, 100), PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}

}  // namespace

void idempotency_launcher_main(Datum unused) { run_worker_main(launcher_main, unused); }

namespace idempotency::worker {

void ensure_purging_of_this_database() noexcept {
  if (!shared_memory_is_dynamic() || !OidIsValid(MyDatabaseId) || RecoveryInProgress()) return;
  if (!add_worker_database(MyDatabaseId)) {
    static bool reported = false;
    if (!reported) {
      ereport(WARNING,
              (errmsg("idempotency: expired guards of this database are not purged automatically"),
               errdetail("Without shared_preload_libraries, the first %d databases that use the "
                         "extension after a server start are purged.",
                         static_cast<int>(core::kMaxPurgeDatabases)),
               errhint("Call idempotency.purge_expired() on a schedule, or preload the library.")));
      reported = true;
    }
  }
  if (!launcher_wanted(GetCurrentTimestamp(), kLauncherStartMs)) return;
  if (!start_dynamic_launcher()) {
    forget_launcher_request();
    ereport(WARNING, (errmsg("idempotency: no background worker slot for the purge launcher"),
                      errhint("Raise max_worker_processes; the next call tries again.")));
  }
}

}  // namespace idempotency::worker
