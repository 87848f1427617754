#include "claims/wait_slots.hpp"

#include "core/claim_wait.hpp"

#include "glue/error_boundary.hpp"
#include "glue/shared_memory.hpp"

extern "C" {
#include "storage/condition_variable.h"
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

Size slots_offset() { return MAXALIGN(sizeof(WaitSlotsHeader)); }

Size slots_size() {
  return add_size(slots_offset(), mul_size(static_cast<Size>(wait_slot_count),
                                           sizeof(ConditionVariableMinimallyPadded)));
}

ConditionVariableMinimallyPadded* slots_of(void* memory) {
  return reinterpret_cast<ConditionVariableMinimallyPadded*>(static_cast<char*>(memory) +
                                                             slots_offset());
}

void initialize_wait_slots(void* memory, LWLock* /*unused*/) {
  auto* header = static_cast<WaitSlotsHeader*>(memory);
  // Without a strong random source the slots still work, only with
  // collisions that are easier to compute.
  if (!pg_strong_random(&header->seed, sizeof header->seed)) header->seed = 0;
  ConditionVariableMinimallyPadded* fresh = slots_of(memory);
  for (int index = 0; index < wait_slot_count; ++index) ConditionVariableInit(&fresh[index].cv);
}

void attach_wait_slots(void* memory, LWLock* /*unused*/) {
  slot_seed = static_cast<WaitSlotsHeader*>(memory)->seed;
  attached_slot_count = static_cast<std::uint32_t>(wait_slot_count);
  slots = slots_of(memory);
}

const SharedStructure kWaitSlotsMemory{kShmemName, slots_size, initialize_wait_slots,
                                       attach_wait_slots};

}  // namespace

void define_wait_settings() {
  // A postmaster setting defined after startup is FATAL; without preloading
  // the slots have the default number.
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomIntVariable(
      "idempotency.wait_slots",
      "Number of wake-up slots shared by retries waiting for a pending guard (wait => ...).",
      "Each slot costs 16 bytes of shared memory; keys that share a slot only cause spurious "
      "re-checks. Requires shared_preload_libraries.",
      &wait_slot_count, 1024, 1, kMaxWaitSlots, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

const SharedStructure& wait_slots_memory() { return kWaitSlotsMemory; }

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
