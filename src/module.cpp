// The library's entry: module magic, settings, and (when preloaded) the
// shared memory and background workers of the purge, and the wake-up slots
// of claim_or_lookup's wait.
#include "claims/commit_wakeups.hpp"
#include "claims/wait_slots.hpp"
#include "config/limit_table.hpp"
#include "counters/scope_table.hpp"
#include "glue/postgres.hpp"
#include "glue/server_release.hpp"
#include "glue/settings.hpp"
#include "policies/scope_limits.hpp"
#include "worker/registration.hpp"
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
  // Without preloading, the functions work but automatic purging is absent
  // (worker_status() says so) and claim_or_lookup cannot wait (55000).
  // pg_upgrade must not start workers.
  if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade) return;
  idempotency::pg::install_worker_registry_hooks();
  idempotency::pg::install_scope_table_hooks();
  idempotency::pg::install_limit_table_hooks();
  idempotency::pg::install_wait_slot_hooks();
  idempotency::pg::install_commit_wakeup_callbacks();
  idempotency::pg::install_scope_limit_callbacks();
  idempotency::worker::register_launcher();
}
