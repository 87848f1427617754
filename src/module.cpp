// The library's entry: module magic, settings, the shared memory of the
// purge workers' registry, the counters, the limits and the wake-up slots of
// claim_or_lookup's wait, and the purge launcher. Preloaded, the postmaster
// creates the shared memory and starts the launcher; otherwise (17+) the
// first backend that loads the library creates it, and each backend that
// uses the extension in a database starts the launcher if it is not running.
#include "claims/commit_wakeups.hpp"
#include "claims/wait_slots.hpp"
#include "counters/scope_table.hpp"
#include "glue/postgres.hpp"
#include "glue/server_release.hpp"
#include "glue/settings.hpp"
#include "glue/shared_memory.hpp"
#include "policies/limit_table.hpp"
#include "policies/scope_limits.hpp"
#include "worker/background_worker.hpp"
#include "worker/launcher.hpp"
#include "worker/worker_registry.hpp"
#include "worker/worker_settings.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {
  idempotency::pg::check_server_release();
  idempotency::pg::define_client_settings();
  idempotency::pg::define_worker_settings();
  idempotency::pg::define_scope_table_settings();
  idempotency::pg::define_limit_table_settings();
  idempotency::pg::define_wait_settings();
  MarkGUCPrefixReserved("idempotency");
  // pg_upgrade must not start workers. On 15 and 16 without preloading the
  // functions work, but automatic purging is absent (worker_status() says
  // so) and waits, limits and counters are refused or off (55000).
  if (IsBinaryUpgrade) return;
  bool preloading = process_shared_preload_libraries_in_progress;
  if (!preloading && !idempotency::pg::dynamic_shared_memory_supported()) return;
  idempotency::pg::add_shared_structure(idempotency::pg::worker_registry_memory());
  idempotency::pg::add_shared_structure(idempotency::pg::scope_table_memory());
  idempotency::pg::add_shared_structure(idempotency::pg::limit_table_memory());
  idempotency::pg::add_shared_structure(idempotency::pg::wait_slots_memory());
  idempotency::pg::install_commit_wakeup_callbacks();
  idempotency::pg::install_scope_limit_callbacks();
  if (preloading) {
    idempotency::pg::install_shared_memory_hooks();
    idempotency::worker::register_launcher();
  } else {
    idempotency::pg::attach_dynamic_shared_memory();
    if (MyBackendType == B_BACKEND) idempotency::worker::ensure_purging_of_this_database();
  }
}
