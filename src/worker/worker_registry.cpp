#include "worker/worker_registry.hpp"

#include "glue/error_boundary.hpp"
#include "worker/worker_settings.hpp"

extern "C" {
#include "storage/latch.h"
}

namespace idempotency::pg {
namespace {

struct Registry {
  int slot_count;
  pid_t launcher_pid;                 // 0: no launcher runs
  Latch* launcher_latch;              // the running launcher's (main shared memory)
  TimestampTz launcher_requested_at;  // a dynamic launcher was asked for; 0: not
  PurgeWorkerSlot slots[core::kMaxPurgeDatabases];
};

Registry* registry = nullptr;
LWLock* lock = nullptr;

Size registry_size() { return sizeof(Registry); }

// Preloaded, in the postmaster (and again after a crash restart): the
// database names are copied in here, so workers never parse the setting
// themselves. Without preloading the list starts empty and each database is
// added as the extension is used in it.
void initialize_registry(void* memory, LWLock* /*lock*/) {
  auto* fresh = static_cast<Registry*>(memory);
  memset(fresh, 0, sizeof(Registry));
  if (IsUnderPostmaster) return;
  int index = 0;
  try {
    for (const std::string& database : configured_purge_databases()) {
      strlcpy(fresh->slots[index].database, database.c_str(), NAMEDATALEN);
      fresh->slots[index].state = PurgeWorkerState::kStarting;
      ++index;
    }
  } catch (...) {
    index = 0;  // the check hook already rejected a bad list at startup
  }
  fresh->slot_count = index;
}

void attach_registry(void* memory, LWLock* registry_lock) {
  registry = static_cast<Registry*>(memory);
  lock = registry_lock;
}

const SharedStructure kRegistryMemory{"idempotency worker registry", registry_size,
                                      initialize_registry, attach_registry};

// Runs `change` on a slot under the exclusive lock. `change` must not raise.
template <typename Change>
void update_slot(int index, Change&& change) {
  if (registry == nullptr || index < 0 || index >= registry->slot_count) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  change(registry->slots[index]);
  LWLockRelease(lock);
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

const SharedStructure& worker_registry_memory() { return kRegistryMemory; }

bool worker_registry_available() { return registry != nullptr; }

int worker_registry_slot_count() { return registry == nullptr ? 0 : registry->slot_count; }

PurgeWorkerSlot read_worker_slot(int index) {
  PurgeWorkerSlot copy{};
  if (registry == nullptr || index < 0 || index >= registry->slot_count) return copy;
  LWLockAcquire(lock, LW_SHARED);
  copy = registry->slots[index];
  LWLockRelease(lock);
  return copy;
}

int find_worker_slot(const char* database) {
  for (int index = 0; index < worker_registry_slot_count(); ++index) {
    if (strcmp(read_worker_slot(index).database, database) == 0) return index;
  }
  return -1;
}

bool add_worker_database(Oid database) {
  if (registry == nullptr) return false;
  bool listed = false;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  for (int index = 0; index < registry->slot_count && !listed; ++index) {
    listed = registry->slots[index].database_oid == database;
  }
  if (!listed && registry->slot_count < static_cast<int>(core::kMaxPurgeDatabases)) {
    PurgeWorkerSlot& slot = registry->slots[registry->slot_count];
    memset(&slot, 0, sizeof slot);
    slot.database_oid = database;
    slot.state = PurgeWorkerState::kStarting;
    registry->slot_count += 1;
    listed = true;
    if (registry->launcher_latch != nullptr) SetLatch(registry->launcher_latch);
  }
  LWLockRelease(lock);
  return listed;
}

bool launcher_wanted(TimestampTz now, int64 retry_after_ms) {
  if (registry == nullptr) return false;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  bool wanted =
      registry->launcher_pid == 0 &&
      (registry->launcher_requested_at == 0 ||
       now >= TimestampTzPlusMilliseconds(registry->launcher_requested_at, retry_after_ms));
  if (wanted) registry->launcher_requested_at = now;
  LWLockRelease(lock);
  return wanted;
}

void forget_launcher_request() {
  if (registry == nullptr) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  registry->launcher_requested_at = 0;
  LWLockRelease(lock);
}

bool claim_launcher(pid_t pid, Latch* latch) {
  if (registry == nullptr) return true;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  bool claimed = registry->launcher_pid == 0 || registry->launcher_pid == pid;
  if (claimed) {
    registry->launcher_pid = pid;
    registry->launcher_latch = latch;
  }
  LWLockRelease(lock);
  return claimed;
}

void release_launcher(pid_t pid) {
  if (registry == nullptr) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  if (registry->launcher_pid == pid) {
    registry->launcher_pid = 0;
    registry->launcher_latch = nullptr;
    registry->launcher_requested_at = 0;
  }
  LWLockRelease(lock);
}

pid_t running_launcher_pid() {
  if (registry == nullptr) return 0;
  LWLockAcquire(lock, LW_SHARED);
  pid_t pid = registry->launcher_pid;
  LWLockRelease(lock);
  return pid;
}

void set_worker_database_name(int index, const char* name) {
  update_slot(index, [&](PurgeWorkerSlot& slot) { strlcpy(slot.database, name, NAMEDATALEN); });
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
