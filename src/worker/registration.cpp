#include "worker/registration.hpp"

namespace idempotency::worker {
namespace {

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

}  // namespace

void register_launcher() {
  BackgroundWorker worker = describe("idempotency_launcher_main", "idempotency launcher");
  strlcpy(worker.bgw_name, "idempotency launcher", BGW_MAXLEN);
  worker.bgw_restart_time = 10;
  RegisterBackgroundWorker(&worker);
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

}  // namespace idempotency::worker
