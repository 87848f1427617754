#include "claims/wait_slots.hpp"

#include "core/claim_wait.hpp"

#include "glue/error_boundary.hpp"

extern "C" {
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"
}

namespace idempotency::pg {

// 1024 slots are 16 KiB; with 100 keys waited on at once, a given key shares
// its slot with another waited-on key about 10% of the time.
int wait_slot_count = 1024;

namespace {

constexpr int kMaxWaitSlots = 1 << 20;
constexpr const char* kShmemName = "idempotency wait slots";

// The random seed of the slot hash, drawn at server start.
struct WaitSlotsHeader {
  std::uint64_t seed;
};

// Padded so that neighbouring slots do not share their spinlock's cache line
// more than PostgreSQL's own condition variables do.
ConditionVariableMinimallyPadded* slots = nullptr;
std::uint32_t attached_slot_count = 0;
std::uint64_t slot_seed = 0;

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

Size slots_offset() { return MAXALIGN(sizeof(WaitSlotsHeader)); }

Size slots_size() {
  return add_size(slots_offset(), mul_size(static_cast<Size>(wait_slot_count),
                                           sizeof(ConditionVariableMinimallyPadded)));
}

void request_wait_slots() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(MAXALIGN(slots_size()));
}

void attach_wait_slots() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  auto* header = static_cast<WaitSlotsHeader*>(ShmemInitStruct(kShmemName, slots_size(), &found));
  slots = reinterpret_cast<ConditionVariableMinimallyPadded*>(reinterpret_cast<char*>(header) +
                                                              slots_offset());
  if (!found) {
    // Without a strong random source the slots still work, only with
    // collisions that are easier to compute.
    if (!pg_strong_random(&header->seed, sizeof header->seed)) header->seed = 0;
    for (int index = 0; index < wait_slot_count; ++index) ConditionVariableInit(&slots[index].cv);
  }
  slot_seed = header->seed;
  attached_slot_count = static_cast<std::uint32_t>(wait_slot_count);
  LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void define_wait_settings() {
  // A postmaster setting defined after startup is FATAL; without preloading
  // there are no slots to size.
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomIntVariable(
      "idempotency.wait_slots",
      "Number of wake-up slots shared by retries waiting for a pending guard (wait => ...).",
      "Each slot costs 16 bytes of shared memory; keys that share a slot only cause spurious "
      "re-checks. Requires shared_preload_libraries.",
      &wait_slot_count, 1024, 1, kMaxWaitSlots, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

void install_wait_slot_hooks() {
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = request_wait_slots;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = attach_wait_slots;
}

bool wait_slots_available() { return slots != nullptr; }

std::uint32_t wait_slot_index(std::string_view scope, std::string_view key) {
  return core::wait_slot_of(slot_seed, MyDatabaseId, scope, key, attached_slot_count);
}

void wake_wait_slot(std::uint32_t slot) noexcept {
  if (slots != nullptr && slot < attached_slot_count) ConditionVariableBroadcast(&slots[slot].cv);
}

SlotWait::SlotWait(std::uint32_t slot) noexcept : variable_(&slots[slot].cv) {
  ConditionVariablePrepareToSleep(variable_);
}

SlotWait::~SlotWait() { ConditionVariableCancelSleep(); }

void SlotWait::sleep_until(TimestampTz until) {
  TimestampTz now = GetCurrentTimestamp();
  // Rounded up: waking a little late is harmless, waking early only loops.
  long timeout_ms = until > now ? static_cast<long>((until - now + 999) / 1000) : 0;
  ConditionVariable* variable = variable_;
  call_pg([variable, timeout_ms]() noexcept {
    // Checks for interrupts (cancel, statement_timeout) before each wait,
    // and exits the backend if the postmaster dies.
    ConditionVariableTimedSleep(variable, timeout_ms, PG_WAIT_EXTENSION);
  });
}

}  // namespace idempotency::pg
