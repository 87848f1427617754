#include "worker/background_worker.hpp"

#include "core/guard_error.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "utils/timeout.h"
}

namespace idempotency::worker {
namespace {

char failure_message[512];

BackgroundWorker describe(const char* function, const char* type) {
  BackgroundWorker worker;
  memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  strlcpy(worker.bgw_library_name, "idempotency", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
  strlcpy(worker.bgw_type, type, BGW_MAXLEN);
  return worker;
}

BackgroundWorker describe_launcher() {
  BackgroundWorker worker = describe("idempotency_launcher_main", "idempotency launcher");
  strlcpy(worker.bgw_name, "idempotency launcher", BGW_MAXLEN);
  worker.bgw_restart_time = 10;
  return worker;
}

}  // namespace

void register_launcher() {
  BackgroundWorker worker = describe_launcher();
  RegisterBackgroundWorker(&worker);
}

bool start_dynamic_launcher() {
  BackgroundWorker worker = describe_launcher();
  return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

bool start_purge_worker(int index, const char* database, BackgroundWorkerHandle** handle) {
  BackgroundWorker worker = describe("idempotency_purge_worker_main", "idempotency purge worker");
  snprintf(worker.bgw_name, BGW_MAXLEN, "idempotency purge worker for database %s", database);
  // The launcher restarts it (with a delay that grows while it keeps failing).
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  worker.bgw_main_arg = Int32GetDatum(index);
  worker.bgw_notify_pid = MyProcPid;
  return RegisterDynamicBackgroundWorker(&worker, handle);
}

void handle_worker_interrupts() {
  QueryCancelPending = false;
  CHECK_FOR_INTERRUPTS();
  if (ConfigReloadPending) {
    ConfigReloadPending = false;
    ProcessConfigFile(PGC_SIGHUP);
  }
}

void pin_worker_transaction_settings() {
  SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

const char* last_failure_message() { return failure_message; }

void remember_current_exception() noexcept {
  try {
    throw;
  } catch (const pg::PgError& error) {
    pg::copy_clipped(failure_message, sizeof failure_message, error.what());
  } catch (const std::exception& error) {
    pg::copy_clipped(failure_message, sizeof failure_message, error.what());
  } catch (...) {
    pg::copy_clipped(failure_message, sizeof failure_message, "unknown error");
  }
}

void abort_failed_transaction(MemoryContext caller_context) {
  HOLD_INTERRUPTS();
  // A statement timeout armed for the failed work must not fire later.
  disable_timeout(STATEMENT_TIMEOUT, false);
  AbortCurrentTransaction();
  RESUME_INTERRUPTS();
  MemoryContextSwitchTo(caller_context);
}

}  // namespace idempotency::worker
