#include "claims/commit_wakeups.hpp"
#include "glue/error_boundary.hpp"
#include "claims/wait_slots.hpp"

namespace idempotency::pg {
namespace {

// Per slot: 0 when not remembered, else the lowest (sub)transaction nesting
// level that touched it. A subtransaction at level L that aborts forgets the
// slots whose level is >= L: a touch at a lower level survives it. One that
// commits hands its slots to its parent (level L - 1).
int* touched_level = nullptr;
// The remembered slots, touched_count of them, so that commit and abort cost
// what was touched and not the whole array.
std::uint32_t* touched = nullptr;
std::uint32_t touched_count = 0;

void forget_all() {
  for (std::uint32_t index = 0; index < touched_count; ++index) touched_level[touched[index]] = 0;
  touched_count = 0;
}

void on_transaction_end(XactEvent event, void* /*argument*/) {
  if (touched_count == 0) return;
  // XACT_EVENT_COMMIT comes after the commit is visible to new snapshots.
  // A prepared transaction commits later, maybe elsewhere: its waiters find
  // out when their wait or the guard's lease runs out.
  if (event == XACT_EVENT_COMMIT) {
    for (std::uint32_t index = 0; index < touched_count; ++index) wake_wait_slot(touched[index]);
    forget_all();
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
             event == XACT_EVENT_PARALLEL_ABORT) {
    forget_all();
  }
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId /*mine*/,
                           SubTransactionId /*parent*/, void* /*argument*/) {
  if (touched_count == 0) return;
  int level = GetCurrentTransactionNestLevel();
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    std::uint32_t kept = 0;
    for (std::uint32_t index = 0; index < touched_count; ++index) {
      std::uint32_t slot = touched[index];
      if (touched_level[slot] >= level) {
        touched_level[slot] = 0;
      } else {
        touched[kept++] = slot;
      }
    }
    touched_count = kept;
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (std::uint32_t index = 0; index < touched_count; ++index) {
      int& slot_level = touched_level[touched[index]];
      if (slot_level >= level) slot_level = level - 1;
    }
  }
}

}  // namespace

void install_commit_wakeup_callbacks() {
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

void wake_waiters_at_commit(std::string_view scope, std::string_view key) {
  if (!wait_slots_available()) return;
  if (touched == nullptr) {
    Size slot_count = static_cast<Size>(wait_slot_count);
    call_pg([slot_count]() noexcept {
      touched_level = static_cast<int*>(
          MemoryContextAllocZero(TopMemoryContext, mul_size(slot_count, sizeof(int))));
      touched = static_cast<std::uint32_t*>(
          MemoryContextAlloc(TopMemoryContext, mul_size(slot_count, sizeof(std::uint32_t))));
    });
  }
  std::uint32_t slot = wait_slot_index(scope, key);
  int level = GetCurrentTransactionNestLevel();
  if (touched_level[slot] == 0) {
    touched[touched_count++] = slot;
    touched_level[slot] = level;
  } else if (level < touched_level[slot]) {
    touched_level[slot] = level;
  }
}

}  // namespace idempotency::pg
