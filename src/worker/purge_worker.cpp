// The purge worker: one per database in idempotency.databases, started by the
// launcher. Every purge_interval it deletes expired guards in batches, each
// batch its own short transaction, then re-dates the guards of retention
// policies set with apply_to_existing. Errors are logged, the run backs off,
// and the worker carries on; it idles quietly where the extension is absent.
#include <algorithm>
#include <cerrno>
#include <sys/resource.h>

#include "core/purge_schedule.hpp"

#include "counters/scope_table.hpp"
#include "glue/error_boundary.hpp"
#include "guards/guard_store.hpp"
#include "guards/purge.hpp"
#include "policies/retention_policies.hpp"
#include "worker/background_worker.hpp"
#include "worker/worker_registry.hpp"
#include "worker/worker_settings.hpp"

extern "C" {
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/timeout.h"
#include "utils/wait_event.h"

PGDLLEXPORT void idempotency_purge_worker_main(Datum slot_argument);
}

using namespace idempotency;
using namespace idempotency::pg;

namespace {

int slot_index = -1;

void clear_slot_pid(int /*code*/, Datum /*argument*/) { set_worker_pid(slot_index, 0); }

bool extension_installed() {
  return call_pg([]() noexcept { return OidIsValid(get_extension_oid("idempotency", true)); });
}

// lock_timeout for this transaction only; statement timeout armed by hand,
// because SPI statements are not client statements and do not arm it.
void arm_batch_timeouts() {
  call_pg([]() noexcept {
    char value[32];
    snprintf(value, sizeof value, "%d", purge_lock_timeout_ms);
    set_config_option("lock_timeout", value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
                      false);
    if (purge_statement_timeout_ms > 0) {
      enable_timeout_after(STATEMENT_TIMEOUT, purge_statement_timeout_ms);
    }
  });
}

void disarm_batch_timeouts() {
  call_pg([]() noexcept { disable_timeout(STATEMENT_TIMEOUT, false); });
}

enum class RunResult { kDone, kNoExtension, kFailed };

// Deletes expired guards until a batch comes back short.
RunResult purge_expired_guards(int64* deleted_this_run) {
  PurgeProgress progress;
  for (;;) {
    bool missing = false;
    uint64 deleted = 0;
    int batch_size = purge_batch_size;
    bool ok = worker::run_in_own_transaction([&] {
      if (!extension_installed()) {
        missing = true;
        return;
      }
      arm_batch_timeouts();
      GuardStoreSession session = open_guard_store();
      deleted = purge_expired_batch(GetCurrentTimestamp(), batch_size, progress);
      close_guard_store(session);
      disarm_batch_timeouts();
    });
    if (!ok) return RunResult::kFailed;
    if (missing) return RunResult::kNoExtension;
    count_unscoped_event(core::GuardEvent::kPurgedByWorker, deleted);
    *deleted_this_run += static_cast<int64>(deleted);
    set_worker_progress(slot_index, *deleted_this_run, static_cast<int64>(deleted));
    if (deleted < static_cast<uint64>(batch_size)) return RunResult::kDone;
    worker::handle_worker_interrupts();
  }
}

// Re-dates the guards of every policy set with apply_to_existing, a batch
// per transaction, then marks the policy done.
RunResult apply_pending_redates() {
  MemoryContext run_context = CurrentMemoryContext;
  text* after_scope = nullptr;
  for (;;) {
    PendingRedate pending;
    bool ok = worker::run_in_own_transaction([&] {
      GuardStoreSession session = open_guard_store();
      pending = next_pending_redate(after_scope, run_context);
      close_guard_store(session);
    });
    if (!ok) return RunResult::kFailed;
    if (pending.scope == nullptr) return RunResult::kDone;
    uint64 changed = 0;
    do {
      int batch_size = purge_batch_size;
      ok = worker::run_in_own_transaction([&] {
        arm_batch_timeouts();
        GuardStoreSession session = open_guard_store();
        changed = redate_scope_batch(pending.scope, pending.ttl, pending.set_at,
                                     GetCurrentTimestamp(), batch_size);
        if (changed == 0) clear_redate_pending(pending);
        close_guard_store(session);
        disarm_batch_timeouts();
      });
      if (!ok) return RunResult::kFailed;
      worker::handle_worker_interrupts();
    } while (changed > 0);
    after_scope = pending.scope;
  }
}

RunResult run_once(const char* database) {
  set_worker_run_started(slot_index, GetCurrentTimestamp());
  pgstat_report_activity(STATE_RUNNING, "purging expired guards");
  int64 deleted_this_run = 0;
  RunResult result = purge_expired_guards(&deleted_this_run);
  if (result != RunResult::kDone) return result;
  pgstat_report_activity(STATE_RUNNING, "re-dating guards for retention policies");
  if (apply_pending_redates() == RunResult::kFailed) {
    // A scope whose guards stay locked (say, an open transaction recording an
    // outcome) is retried at the next run; it must not hold up purging.
    ereport(WARNING, (errmsg("idempotency: re-dating guards in database \"%s\" failed: %s",
                             database, worker::last_failure_message()),
                      errhint("Retried at the next run; see redate_pending in "
                              "idempotency.retention_policies.")));
  }
  return RunResult::kDone;
}

void report_failure(const char* database, TimestampTz next_run, int64 delay_ms) {
  const char* message = worker::last_failure_message();
  set_worker_run_failed(slot_index, message, next_run);
  ereport(WARNING, (errmsg("idempotency: purge in database \"%s\" failed: %s", database, message),
                    errhint("Retrying in %lld s; see idempotency.worker_status().",
                            static_cast<long long>((delay_ms + 999) / 1000))));
}

// Purging is never urgent: a lower CPU priority lets claims run first when
// the CPUs are busy, while an idle server still purges at full speed.
void lower_cpu_priority() {
  if (purge_nice == 0) return;
  errno = 0;
  int current = getpriority(PRIO_PROCESS, 0);
  if (errno == 0 && setpriority(PRIO_PROCESS, 0, std::min(current + purge_nice, 19)) == 0) return;
  ereport(LOG, (errmsg("idempotency: could not lower the purge worker's CPU priority: %m")));
}

void purge_worker_main(Datum slot_argument) {
  slot_index = DatumGetInt32(slot_argument);
  PurgeWorkerSlot slot = read_worker_slot(slot_index);

  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(
      slot.database, purge_role != nullptr && purge_role[0] ? purge_role : nullptr, 0);
  pgstat_report_appname("idempotency purge worker");
  lower_cpu_priority();
  worker::pin_worker_transaction_settings();
  // The autoprewarm rule: a worker that finds another registered for its
  // database (started by an earlier launcher) leaves it be and exits. A
  // registered PID is always a live worker: each clears it on exit, and a
  // crash resets the registry.
  if (!claim_worker_slot(slot_index, MyProcPid)) {
    ereport(LOG, (errmsg("idempotency: the purge worker of \"%s\" already runs (PID %d)",
                         slot.database, static_cast<int>(read_worker_slot(slot_index).pid))));
    proc_exit(0);
  }
  before_shmem_exit(clear_slot_pid, 0);

  MemoryContext run_context =
      AllocSetContextCreate(TopMemoryContext, "idempotency purge run", ALLOCSET_DEFAULT_SIZES);
  TimestampTz last_run_ended = 0;  // 0: run at once
  int failures = 0;
  for (;;) {
    worker::handle_worker_interrupts();
    MemoryContextReset(run_context);
    MemoryContextSwitchTo(run_context);

    TimestampTz now = GetCurrentTimestamp();
    int64 wait_ms = 60 * 1000;  // while paused, a reload sets the latch sooner
    if (purge_interval_ms == 0) {
      set_worker_state(slot_index, PurgeWorkerState::kPaused);
      set_worker_next_run(slot_index, 0);
    } else {
      int64 delay_ms = core::next_run_delay_ms(purge_interval_ms, failures);
      TimestampTz next_run = TimestampTzPlusMilliseconds(last_run_ended, delay_ms);
      if (last_run_ended == 0 || now >= next_run) {
        RunResult result = run_once(slot.database);
        last_run_ended = GetCurrentTimestamp();
        failures = result == RunResult::kFailed ? failures + 1 : 0;
        delay_ms = core::next_run_delay_ms(purge_interval_ms, failures);
        next_run = TimestampTzPlusMilliseconds(last_run_ended, delay_ms);
        if (result == RunResult::kFailed) {
          report_failure(slot.database, next_run, delay_ms);
        } else {
          set_worker_run_finished(slot_index, last_run_ended, next_run);
          if (result == RunResult::kNoExtension) {
            set_worker_state(slot_index, PurgeWorkerState::kWaitingForExtension);
          }
        }
        pgstat_report_activity(STATE_IDLE, "waiting for the next purge run");
        continue;
      }
      PurgeWorkerSlot current = read_worker_slot(slot_index);
      if (current.state == PurgeWorkerState::kPaused) {
        set_worker_state(slot_index, PurgeWorkerState::kIdle);
      }
      set_worker_next_run(slot_index, next_run);
      wait_ms = (next_run - now + 999) / 1000;
    }
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}

}  // namespace

void idempotency_purge_worker_main(Datum slot_argument) {
  run_worker_main(purge_worker_main, slot_argument);
}
