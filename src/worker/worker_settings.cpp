#include "worker/worker_settings.hpp"

#include "core/database_list.hpp"
#include "core/guard_error.hpp"

namespace idempotency::pg {

char* purge_databases = nullptr;
char* purge_role = nullptr;
int purge_interval_ms = 60 * 1000;
int purge_batch_size = 10000;
int purge_lock_timeout_ms = 1000;
int purge_statement_timeout_ms = 60 * 1000;
int purge_nice = 10;

namespace {

// Rejects a malformed list when the server starts, with the reason.
bool check_database_list(char** value, void** /*extra*/, GucSource /*source*/) {
  try {
    core::parse_database_list(*value == nullptr ? "" : *value);
    return true;
  } catch (const core::GuardError& error) {
    GUC_check_errdetail("%s", error.what());
  } catch (...) {
    GUC_check_errdetail("could not parse the database list");
  }
  return false;
}

}  // namespace

void define_worker_settings() {
  DefineCustomIntVariable("idempotency.purge_interval",
                          "Time between purge runs; 0 pauses purging.", nullptr, &purge_interval_ms,
                          60 * 1000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable(
      "idempotency.purge_batch_size", "Expired guards deleted per purge transaction.", nullptr,
      &purge_batch_size, 10000, 1, 1000000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("idempotency.purge_lock_timeout",
                          "lock_timeout of each purge batch; 0 waits without limit.", nullptr,
                          &purge_lock_timeout_ms, 1000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("idempotency.purge_statement_timeout",
                          "statement_timeout of each purge batch; 0 means none.", nullptr,
                          &purge_statement_timeout_ms, 60 * 1000, 0, INT_MAX, PGC_SIGHUP,
                          GUC_UNIT_MS, nullptr, nullptr, nullptr);
  // PostgreSQL ends the session (FATAL) if a library loaded after startup
  // defines a postmaster setting: without preloading there are no workers
  // for these to configure, and they are left undefined.
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomStringVariable(
      "idempotency.databases", "Comma-separated databases whose expired guards are purged.",
      "One background worker per database; requires shared_preload_libraries.", &purge_databases,
      "postgres", PGC_POSTMASTER, 0, check_database_list, nullptr, nullptr);
  DefineCustomStringVariable("idempotency.purge_role",
                             "Role the purge workers connect as (empty: the bootstrap superuser).",
                             nullptr, &purge_role, "", PGC_POSTMASTER, 0, nullptr, nullptr,
                             nullptr);
  DefineCustomIntVariable(
      "idempotency.purge_nice",
      "How much lower than the server's the purge workers' CPU priority is (Unix nice).",
      "On a busy server the purge yields the CPU to claims; on an idle one it runs at full speed.",
      &purge_nice, 10, 0, 19, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

std::vector<std::string> configured_purge_databases() {
  return core::parse_database_list(purge_databases == nullptr ? "" : purge_databases);
}

}  // namespace idempotency::pg
