// record_outcomes(): the outcomes of many guards of one scope in one call,
// all or nothing, answering for each key what record_outcome() would if it
// were called once per key, in input order, in the same transaction.
//
// The keys are recorded in sorted order, whatever the input order, so two
// batches racing on overlapping keys wait for each other's row locks in the
// same order and never deadlock. A key given twice is recorded by its first
// occurrence; a later one with the same status and outcome answers false (a
// retry), one with a different outcome raises IK003.
#include <vector>

#include "core/guard_events.hpp"
#include "core/input_validation.hpp"

#include "claims/commit_wakeups.hpp"
#include "claims/outcome_record.hpp"
#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/batch_arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "glue/server_state.hpp"
#include "glue/settings.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// Arguments: scope, keys, status, outcomes, claim_tokens.
struct BatchArguments {
  BatchKeys batch;
  core::GuardStatus status = core::GuardStatus::kSucceeded;
  std::vector<Jsonb*> outcomes;                           // one per key (nullptr: NULL)
  std::vector<std::optional<std::int64_t>> claim_tokens;  // one per key (nullopt: none)
};

// Every check before anything is written, so bad input records nothing.
BatchArguments batch_arguments(FunctionCallInfo fcinfo) {
  BatchArguments arguments;
  arguments.batch = batch_key_arguments(fcinfo);
  arguments.status = core::require_outcome_status(text_view(text_argument(fcinfo, 2)));
  std::size_t count = arguments.batch.keys.size();
  arguments.outcomes =
      per_key_values(jsonb_array_argument(fcinfo, 3, "outcomes"), "outcomes", count, nullptr);
  for (Jsonb* outcome : arguments.outcomes) {
    if (outcome == nullptr) continue;
    core::require_outcome_size(VARSIZE(outcome), static_cast<std::size_t>(max_outcome_size_bytes));
  }
  arguments.claim_tokens = per_key_values(bigint_array_argument(fcinfo, 4, "claim_tokens"),
                                          "claim_tokens", count, std::optional<std::int64_t>());
  return arguments;
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_record_outcomes) {
  BatchArguments arguments = batch_arguments(fcinfo);
  const BatchKeys& batch = arguments.batch;
  std::string_view scope = batch.scope_view;
  begin_result_rows(fcinfo, 3);
  if (batch.keys.empty()) return static_cast<Datum>(0);
  require_writable("record an outcome");

  GuardStoreSession session = open_guard_store();
  require_scope_access(session, scope);
  OutcomeWrite write;
  write.scope = batch.scope;
  write.status = arguments.status;
  write.now = current_instant();
  std::vector<bool> recorded(batch.keys.size(), false);
  for (std::size_t position : sorted_key_order(batch.keys)) {
    write.key = batch.keys[position];
    write.outcome = arguments.outcomes[position];
    write.claim_token = arguments.claim_tokens[position];
    recorded[position] = record_guard_outcome(session, write);
  }
  close_guard_store(session);

  // Only now that every key is recorded: an error above recorded nothing
  // (the statement aborts), so it counts only its own refusal.
  std::uint64_t recorded_count = 0;
  for (std::size_t position = 0; position < recorded.size(); ++position) {
    if (!recorded[position]) continue;
    ++recorded_count;
    wake_waiters_at_commit(scope, *text_view(batch.keys[position]));
  }
  if (recorded_count > 0) {
    count_event(scope,
                arguments.status == core::GuardStatus::kSucceeded ? core::GuardEvent::kSucceeded
                                                                  : core::GuardEvent::kFailed,
                recorded_count);
  }

  // ord, key, recorded.
  for (std::size_t position = 0; position < recorded.size(); ++position) {
    Datum values[3] = {Int32GetDatum(static_cast<int32>(position + 1)),
                       PointerGetDatum(batch.keys[position]), BoolGetDatum(recorded[position])};
    bool nulls[3] = {};
    add_result_row(fcinfo, values, nulls);
  }
  return static_cast<Datum>(0);
}
