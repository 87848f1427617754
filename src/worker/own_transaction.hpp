// Running a unit of work in a transaction of its own, from a background
// worker: on any error the transaction is rolled back, the message is kept,
// and the worker carries on.
#pragma once
#include "glue/error_boundary.hpp"
#include "glue/postgres.hpp"

namespace idempotency::worker {

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
