// record_outcome(): the write-once result of a claimed guard.
#include "core/guard_rules.hpp"
#include "core/input_validation.hpp"

#include "claims/commit_wakeups.hpp"
#include "claims/outcome_record.hpp"
#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "glue/settings.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

// Arguments: scope, key, status, outcome, claim_token.
IDEMPOTENCY_SQL_FUNCTION(idempotency_record_outcome) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  OutcomeWrite write;
  write.scope = guard_key.scope;
  write.key = guard_key.key;
  write.status = core::require_outcome_status(text_view(text_argument(fcinfo, 2)));
  write.outcome = jsonb_argument(fcinfo, 3);
  if (write.outcome != nullptr) {
    core::require_outcome_size(VARSIZE(write.outcome),
                               static_cast<std::size_t>(max_outcome_size_bytes));
  }
  write.claim_token = bigint_argument(fcinfo, 4);
  require_writable("record an outcome");
  write.now = current_instant();

  GuardStoreSession session = open_guard_store();
  require_scope_access(session, guard_key.scope_view);
  bool recorded = record_guard_outcome(session, write);
  if (recorded) {
    count_event(guard_key.scope_view, write.status == core::GuardStatus::kSucceeded
                                          ? core::GuardEvent::kSucceeded
                                          : core::GuardEvent::kFailed);
    wake_waiters_at_commit(guard_key.scope_view, guard_key.key_view);
  }
  close_guard_store(session);
  return BoolGetDatum(recorded);
}
