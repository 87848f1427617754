// claim_guards(): many claims of one scope in one call, answering for each
// key what claim_or_lookup() would in the same transaction.
//
// The keys are claimed in sorted order, whatever the input order, so two
// batches racing on overlapping keys wait for each other's row locks in the
// same order and never deadlock. A key given twice is claimed once: its later
// occurrences meet the guard this call just wrote and answer as a retry does.
#include <vector>

#include "core/input_validation.hpp"

#include "claims/guard_claim.hpp"
#include "glue/arguments.hpp"
#include "glue/batch_arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "glue/server_state.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// Arguments: scope, keys, ttl, fingerprints, lease, attempt.
struct BatchArguments {
  BatchKeys batch;
  std::vector<text*> fingerprints;  // one per key (nullptr: none)
  Interval* ttl = nullptr;
  Interval* lease = nullptr;
  bytea* attempt_digest = nullptr;  // one attempt for the whole batch (nullptr: none)
};

// Every check before anything is written, so bad input claims nothing.
BatchArguments batch_arguments(FunctionCallInfo fcinfo) {
  BatchArguments arguments;
  arguments.batch = batch_key_arguments(fcinfo);
  arguments.ttl = interval_argument(fcinfo, 2);
  arguments.fingerprints = per_key_values(text_array_argument(fcinfo, 3, "fingerprints"),
                                          "fingerprints", arguments.batch.keys.size(), nullptr);
  for (text* fingerprint : arguments.fingerprints)
    core::require_fingerprint(text_view(fingerprint));
  arguments.lease = interval_argument(fcinfo, 4);
  require_claim_durations(arguments.ttl, arguments.lease);
  arguments.attempt_digest = attempt_digest(text_argument(fcinfo, 5));
  return arguments;
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_guards) {
  BatchArguments arguments = batch_arguments(fcinfo);
  const BatchKeys& batch = arguments.batch;
  std::string_view scope = batch.scope_view;
  begin_result_rows(fcinfo, 2 + kClaimStateColumns);
  if (batch.keys.empty()) return static_cast<Datum>(0);
  require_writable("claim a guard");

  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand, RowExclusiveLock);
  require_scope_access(session, scope);
  ClaimDurations durations = resolve_durations(arguments.ttl, arguments.lease, scope);
  std::vector<ClaimResult> results(batch.keys.size());
  text* previous_key = nullptr;
  for (std::size_t position : sorted_key_order(batch.keys)) {
    ClaimWrite write;
    write.scope = batch.scope;
    write.key = batch.keys[position];
    write.fingerprint = arguments.fingerprints[position];
    // A later occurrence of a key claims without the attempt, or it would
    // take the first occurrence's claim for its own and run the work twice.
    bool repeated = previous_key != nullptr && *text_view(previous_key) == *text_view(write.key);
    write.attempt_digest = repeated ? nullptr : arguments.attempt_digest;
    previous_key = write.key;
    write.claim_token = new_claim_token();
    results[position] = claim_key(session, write, durations, OutcomeColumn::kCopy);
    if (!results[position].claimed) count_refusal(scope, results[position], OutcomeColumn::kCopy);
  }
  close_guard_store(session);

  // ord, key, then the claim_state columns.
  for (std::size_t position = 0; position < results.size(); ++position) {
    Datum values[2 + kClaimStateColumns] = {};
    bool nulls[2 + kClaimStateColumns] = {};
    values[0] = Int32GetDatum(static_cast<int32>(position + 1));
    values[1] = PointerGetDatum(batch.keys[position]);
    fill_claim_state(results[position], values + 2, nulls + 2);
    add_result_row(fcinfo, values, nulls);
  }
  return static_cast<Datum>(0);
}
