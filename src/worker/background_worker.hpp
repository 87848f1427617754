// What every background worker of the extension shares: its registration
// with the postmaster, what its loop does between units of work, and how it
// runs a unit of work in a transaction of its own (on any error the
// transaction is rolled back, the message is kept, and the worker carries on).
#pragma once
#include "glue/error_boundary.hpp"
#include "glue/postgres.hpp"

extern "C" {
#include "postmaster/bgworker.h"
}

namespace idempotency::worker {

// From _PG_init (shared_preload_libraries): the launcher, restarted by the
// postmaster 10 s after it exits abnormally.
void register_launcher();

// Without preloading (17+): the launcher as a dynamic background worker,
// restarted likewise. False when no background worker slot is free.
bool start_dynamic_launcher();

// From the launcher: the purge worker of registry slot `index`. False when no
// background worker slot is free.
bool start_purge_worker(int index, const char* database, BackgroundWorkerHandle** handle);

// Exits on SIGTERM or postmaster death (CHECK_FOR_INTERRUPTS), reloads the
// configuration after SIGHUP, and absorbs a query cancel: a worker runs no
// client query, and a cancel (pg_cancel_backend, a late statement timeout)
// must not turn into an ERROR that ends the process.
void handle_worker_interrupts();

// Read-write READ COMMITTED transactions whatever the server's defaults
// (default_transaction_read_only = on would make every purge fail).
void pin_worker_transaction_settings();

// The message of the last failed unit of work (static storage: it survives
// the abort that frees the error's own memory).
const char* last_failure_message();

// Records the exception in flight as the last failure. Call inside catch.
void remember_current_exception() noexcept;

// Rolls back the failed transaction and restores `caller_context`. Never
// called from inside a catch block, so no exception is alive if it raises.
void abort_failed_transaction(MemoryContext caller_context);

// Runs `work` between StartTransactionCommand and CommitTransactionCommand,
// with a snapshot. Returns false (and keeps the message) if anything raised;
// the transaction is then rolled back.
template <typename Work>
bool run_in_own_transaction(Work&& work) {
  MemoryContext caller_context = CurrentMemoryContext;
  bool failed = false;
  try {
    pg::call_pg([]() noexcept {
      SetCurrentStatementStartTimestamp();
      StartTransactionCommand();
      PushActiveSnapshot(GetTransactionSnapshot());
    });
    work();
    pg::call_pg([]() noexcept {
      PopActiveSnapshot();
      CommitTransactionCommand();
      // A background worker's table statistics are otherwise only sent at
      // exit, and autovacuum would never learn of the rows it deleted.
      pgstat_report_stat(false);
    });
  } catch (...) {
    remember_current_exception();
    failed = true;
  }
  if (failed) {
    abort_failed_transaction(caller_context);
    return false;
  }
  MemoryContextSwitchTo(caller_context);
  return true;
}

}  // namespace idempotency::worker
