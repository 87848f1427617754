// The shared memory of claim_or_lookup(..., wait => ...): a fixed array of
// condition variables. A retry waiting for a pending guard sleeps on the slot
// of its (database, scope, key); the guard's owner wakes that slot when the transaction
// that recorded the outcome or released the guard commits
// (claims/commit_wakeups.hpp). Keys that share a slot only cause a spurious
// re-check. Waiters are linked through their PGPROC, so the cost is the
// array alone: idempotency.wait_slots * sizeof(ConditionVariable), whatever
// the number of waiters or keys.
#pragma once
#include "glue/postgres.hpp"
#include "glue/shared_memory.hpp"

namespace idempotency::pg {

// idempotency.wait_slots (postmaster): the number of slots; its default
// without preloading.
extern int wait_slot_count;

// For _PG_init: the GUC (when preloading), and the shared memory.
void define_wait_settings();
const SharedStructure& wait_slots_memory();

// False when there is no shared memory (15 and 16 without preloading): no
// waiting.
bool wait_slots_available();

// The slot of (this database, scope, key). Requires wait_slots_available().
std::uint32_t wait_slot_index(std::string_view scope, std::string_view key);

// Wakes every backend sleeping on `slot`. Never raises.
void wake_wait_slot(std::uint32_t slot) noexcept;

// A sleep on one slot, from its construction (after which no wake-up of the
// slot is missed) to its destruction. Never raises but from sleep_until().
class SlotWait {
 public:
  explicit SlotWait(std::uint32_t slot) noexcept;
  ~SlotWait();
  SlotWait(const SlotWait&) = delete;
  SlotWait& operator=(const SlotWait&) = delete;

  // Sleeps until the slot is woken or `until` passes (either may come
  // early: re-check). Cancels, statement_timeout and the like raise their
  // ERROR (as PgError); postmaster death ends the backend.
  void sleep_until(TimestampTz until);

 private:
  ConditionVariable* variable_;
};

}  // namespace idempotency::pg
