#include "worker/worker_registry.hpp"

#include "glue/error_boundary.hpp"
#include "worker/worker_settings.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace idempotency::pg {
namespace {

struct Registry {
  LWLock* lock;
  int slot_count;
  PurgeWorkerSlot slots[core::kMaxPurgeDatabases];
};

Registry* registry = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;
constexpr const char* kTrancheName = "idempotency";

void request_registry_memory() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Registry)));
  RequestNamedLWLockTranche(kTrancheName, 1);
}

// Runs in the postmaster (and again after a crash restart): the database
// names are copied in here, so workers never parse the setting themselves.
void attach_registry() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  registry = static_cast<Registry*>(
      ShmemInitStruct("idempotency worker registry", sizeof(Registry), &found));
  if (!found) {
    memset(registry, 0, sizeof(Registry));
    registry->lock = &(GetNamedLWLockTranche(kTrancheName))->lock;
    int index = 0;
    try {
      for (const std::string& database : configured_purge_databases()) {
        strlcpy(registry->slots[index].database, database.c_str(), NAMEDATALEN);
        registry->slots[index].state = PurgeWorkerState::kStarting;
        ++index;
      }
    } catch (...) {
      index = 0;  // the check hook already rejected a bad list at startup
    }
    registry->slot_count = index;
  }
  LWLockRelease(AddinShmemInitLock);
}

// Runs `change` on a slot under the exclusive lock. `change` must not raise.
template <typename Change>
void update_slot(int index, Change&& change) {
  if (registry == nullptr || index < 0 || index >= registry->slot_count) return;
  LWLockAcquire(registry->lock, LW_EXCLUSIVE);
  change(registry->slots[index]);
  LWLockRelease(registry->lock);
}

}  // namespace

const char* purge_worker_state_name(PurgeWorkerState state) {
  switch (state) {
    case PurgeWorkerState::kStarting:
      return "starting";
    case PurgeWorkerState::kIdle:
      return "idle";
    case PurgeWorkerState::kPurging:
      return "purging";
    case PurgeWorkerState::kPaused:
      return "paused (idempotency.purge_interval = 0)";
    case PurgeWorkerState::kWaitingForExtension:
      return "waiting for CREATE EXTENSION idempotency";
    case PurgeWorkerState::kDatabaseMissing:
      return "database does not exist";
    case PurgeWorkerState::kBackingOff:
      return "backing off after an error";
    case PurgeWorkerState::kStopped:
      return "stopped (the launcher restarts it)";
  }
  return "unknown";
}

void install_worker_registry_hooks() {
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = request_registry_memory;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = attach_registry;
}

bool worker_registry_available() { return registry != nullptr; }

int worker_registry_slot_count() { return registry == nullptr ? 0 : registry->slot_count; }

PurgeWorkerSlot read_worker_slot(int index) {
  PurgeWorkerSlot copy{};
  if (registry == nullptr || index < 0 || index >= registry->slot_count) return copy;
  LWLockAcquire(registry->lock, LW_SHARED);
  copy = registry->slots[index];
  LWLockRelease(registry->lock);
  return copy;
}

int find_worker_slot(const char* database) {
  for (int index = 0; index < worker_registry_slot_count(); ++index) {
    if (strcmp(registry->slots[index].database, database) == 0) return index;
  }
  return -1;
}

void set_worker_launched(int index, TimestampTz now) {
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    slot.launched_at = now;
    slot.state = PurgeWorkerState::kStarting;
  });
}

void set_worker_pid(int index, pid_t pid) {
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    slot.pid = pid;
    if (pid == 0 && slot.state != PurgeWorkerState::kDatabaseMissing) {
      slot.state = PurgeWorkerState::kStopped;
    }
  });
}

bool claim_worker_slot(int index, pid_t pid) {
  bool claimed = false;
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    claimed = slot.pid == 0 || slot.pid == pid;
    if (claimed) slot.pid = pid;
  });
  return claimed;
}

void set_worker_state(int index, PurgeWorkerState state) {
  update_slot(index, [&](PurgeWorkerSlot& slot) { slot.state = state; });
}

void set_worker_run_started(int index, TimestampTz now) {
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    slot.last_run_started = now;
    slot.last_run_deleted = 0;
    slot.state = PurgeWorkerState::kPurging;
  });
}

void set_worker_progress(int index, int64 deleted_this_run, int64 deleted_now) {
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    slot.last_run_deleted = deleted_this_run;
    slot.total_deleted += deleted_now;
  });
}

void set_worker_run_finished(int index, TimestampTz now, TimestampTz next_run) {
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    slot.last_run_finished = now;
    slot.next_run = next_run;
    slot.consecutive_failures = 0;
    if (slot.state == PurgeWorkerState::kPurging) slot.state = PurgeWorkerState::kIdle;
  });
}

void set_worker_run_failed(int index, const char* message, TimestampTz next_run) {
  update_slot(index, [&](PurgeWorkerSlot& slot) {
    copy_clipped(slot.last_error, sizeof slot.last_error,
                 message == nullptr ? "unknown error" : message);
    slot.next_run = next_run;
    slot.consecutive_failures += 1;
    slot.state = PurgeWorkerState::kBackingOff;
  });
}

void set_worker_next_run(int index, TimestampTz next_run) {
  update_slot(index, [&](PurgeWorkerSlot& slot) { slot.next_run = next_run; });
}

}  // namespace idempotency::pg
