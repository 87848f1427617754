// Shared memory where each purge worker reports what it is doing, for
// idempotency.worker_status(), and where the one launcher registers. One slot
// per database in idempotency.databases when preloaded; without preloading
// (17+), one per database the extension was used in since the server started,
// up to core::kMaxPurgeDatabases.
#pragma once
#include "core/database_list.hpp"

#include "glue/postgres.hpp"
#include "glue/shared_memory.hpp"

extern "C" {
#include "storage/latch.h"
}

namespace idempotency::pg {

enum class PurgeWorkerState : int {
  kStarting,             // listed, not (yet) running
  kIdle,                 // waiting for its next run
  kPurging,              // deleting expired guards
  kPaused,               // idempotency.purge_interval = 0
  kWaitingForExtension,  // the database has no idempotency extension (yet)
  kDatabaseMissing,      // the database does not exist
  kBackingOff,           // the last run failed; retrying later
  kStopped,              // exited; the launcher restarts it
};

const char* purge_worker_state_name(PurgeWorkerState state);

// A copy of one slot. Trivially copyable: it lives in shared memory.
struct PurgeWorkerSlot {
  char database[NAMEDATALEN];  // without preloading, set by the launcher
  Oid database_oid;            // without preloading; InvalidOid when preloaded
  pid_t pid;
  PurgeWorkerState state;
  TimestampTz launched_at;
  TimestampTz last_run_started;
  TimestampTz last_run_finished;
  TimestampTz next_run;
  int64 last_run_deleted;
  int64 total_deleted;
  int consecutive_failures;
  char last_error[256];
};

const SharedStructure& worker_registry_memory();

// False when there is no shared memory (15 and 16 without preloading).
bool worker_registry_available();
int worker_registry_slot_count();
PurgeWorkerSlot read_worker_slot(int index);
// The slot of a database, or -1.
int find_worker_slot(const char* database);

// Without preloading: lists `database` for purging (a no-op if listed).
// False when every slot is taken.
bool add_worker_database(Oid database);

// Without preloading: true (once, for the caller to start it) when no
// launcher runs and none was asked for in the last `retry_after_ms`.
bool launcher_wanted(TimestampTz now, int64 retry_after_ms);
// The launcher could not be started after all: the next call may try again.
void forget_launcher_request();
// The launcher registers itself: false when another one already runs.
bool claim_launcher(pid_t pid, Latch* latch);
void release_launcher(pid_t pid);
// The running launcher's PID, 0 if none.
pid_t running_launcher_pid();

// Updates, each under the registry lock; they never raise.
void set_worker_database_name(int index, const char* name);
void set_worker_launched(int index, TimestampTz now);
void set_worker_pid(int index, pid_t pid);
// Registers `pid` as the slot's worker unless another one is registered:
// false then (a worker of an earlier launcher still runs).
bool claim_worker_slot(int index, pid_t pid);
void set_worker_state(int index, PurgeWorkerState state);
void set_worker_run_started(int index, TimestampTz now);
void set_worker_progress(int index, int64 deleted_this_run, int64 deleted_now);
void set_worker_run_finished(int index, TimestampTz now, TimestampTz next_run);
void set_worker_run_failed(int index, const char* message, TimestampTz next_run);
void set_worker_next_run(int index, TimestampTz next_run);

}  // namespace idempotency::pg
