#include "claims/commit_wakeups.hpp"

#include "core/subtransaction_list.hpp"

#include "claims/wait_slots.hpp"
#include "glue/error_boundary.hpp"

namespace idempotency::pg {
namespace {

// The wake-up slots this transaction touched, one entry per touch: as many
// as it recorded or released guards. A slot touched twice is woken twice,
// which costs a spinlock when nobody waits on it.
core::SubtransactionList<std::uint32_t> touched;

void on_transaction_end(XactEvent event, void* /*argument*/) {
  if (touched.empty()) return;
  // XACT_EVENT_COMMIT comes after the commit is visible to new snapshots.
  // A prepared transaction commits later, maybe elsewhere: its waiters find
  // out when their wait or the guard's lease runs out.
  if (event == XACT_EVENT_COMMIT) {
    touched.for_each(wake_wait_slot);
    touched.clear();
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
             event == XACT_EVENT_PARALLEL_ABORT) {
    touched.clear();
  }
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId mine, SubTransactionId parent,
                           void* /*argument*/) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    touched.abort_subtransaction(mine, [](std::uint32_t) noexcept {});
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    touched.commit_subtransaction(mine, parent);
  }
}

}  // namespace

void install_commit_wakeup_callbacks() {
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
}

void wake_waiters_at_commit(std::string_view scope, std::string_view key) {
  if (!wait_slots_available()) return;
  touched.add(wait_slot_index(scope, key), GetCurrentSubTransactionId());
}

}  // namespace idempotency::pg
