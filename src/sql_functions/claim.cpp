// claim_guard() and claim_or_lookup(): the atomic claim of a (scope, key)
// (claims/guard_claim.hpp), and claim_or_lookup's wait for a pending guard's
// answer (claims/wait_slots.hpp).
#include "core/claim_wait.hpp"
#include "core/input_validation.hpp"

#include "claims/cross_node_wait.hpp"
#include "claims/guard_claim.hpp"
#include "claims/wait_slots.hpp"
#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/result_rows.hpp"
#include "glue/schema_versions.hpp"
#include "glue/server_state.hpp"
#include "policies/scope_access.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// Arguments 0 to 5 (scope, key, ttl, fingerprint, lease, and attempt if the
// declaration passes it: glue/schema_versions.hpp), checked.
struct ClaimRequest {
  GuardKey guard_key;
  Interval* ttl = nullptr;
  Interval* lease = nullptr;
  ClaimWrite write;
};

ClaimRequest claim_request(FunctionCallInfo fcinfo, schema_versions::ClaimArguments declared) {
  ClaimRequest request;
  request.guard_key = guard_key_arguments(fcinfo);
  request.ttl = interval_argument(fcinfo, 2);
  text* fingerprint = text_argument(fcinfo, 3);
  request.lease = interval_argument(fcinfo, 4);
  text* attempt = declared.attempt ? text_argument(fcinfo, 5) : nullptr;
  core::require_fingerprint(text_view(fingerprint));
  require_claim_durations(request.ttl, request.lease);
  bytea* attempt_digest = pg::attempt_digest(attempt);
  require_writable("claim a guard");
  request.write.scope = request.guard_key.scope;
  request.write.key = request.guard_key.key;
  request.write.fingerprint = fingerprint;
  request.write.attempt_digest = attempt_digest;
  request.write.claim_token = new_claim_token();
  return request;
}

// One claim, as of now, with a snapshot of its own (under READ COMMITTED).
ClaimResult claim_once(ClaimRequest& request, OutcomeColumn outcome) {
  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand, RowExclusiveLock);
  require_scope_access(session, request.guard_key.scope_view);
  ClaimDurations durations =
      resolve_durations(request.ttl, request.lease, request.guard_key.scope_view);
  ClaimResult result = claim_key(session, request.write, durations, outcome);
  close_guard_store(session);
  return result;
}

bool blocked_by_pending(const ClaimResult& result) {
  return !result.claimed && result.existing.guard.status == core::GuardStatus::kPending;
}

// Argument 6 of claim_or_lookup: how long to wait (0: not at all, or not
// declared).
std::int64_t wait_argument(FunctionCallInfo fcinfo, schema_versions::ClaimArguments declared) {
  constexpr int kWaitArgument = 6;
  if (!declared.wait) return 0;
  Interval* wait = interval_argument(fcinfo, kWaitArgument);
  if (wait == nullptr) return 0;
  TimestampTz now = current_instant();
  std::int64_t microseconds = core::require_wait(now, add_interval(now, wait));
  if (microseconds == 0) return 0;
  if (!wait_slots_available()) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "claim_or_lookup cannot wait: idempotency is not preloaded",
                           "Waiting needs the shared memory of shared_preload_libraries.",
                           "Add idempotency to shared_preload_libraries and restart, or pass no "
                           "wait.");
  }
  // A transaction snapshot would never see the first attempt's answer.
  if (IsolationUsesXactSnapshot()) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "claim_or_lookup cannot wait under REPEATABLE READ or SERIALIZABLE",
                           "The transaction's snapshot cannot see an outcome recorded after it "
                           "began.",
                           "Call it in a READ COMMITTED transaction (or autocommit), or pass no "
                           "wait.");
  }
  return microseconds;
}

// claim_once() in `context`, emptied first: a wait may re-check many times
// (every commit on a key that shares the slot wakes it), and only the last
// answer is kept.
ClaimResult claim_again_in(MemoryContext context, ClaimRequest& request) {
  MemoryContextReset(context);
  MemoryContext caller_context = MemoryContextSwitchTo(context);
  try {
    ClaimResult result = claim_once(request, OutcomeColumn::kCopy);
    MemoryContextSwitchTo(caller_context);
    return result;
  } catch (...) {
    MemoryContextSwitchTo(caller_context);
    throw;
  }
}

// While the guard in the way is pending: sleeps until its owner's
// transaction commits an outcome or a release (the commit wakes the key's
// slot), its lease or ttl runs out, or `deadline` passes, and claims again.
// On a Citus node the owner's commit may be on another node, which wakes
// nobody here: there it also claims again every 100 ms (core/claim_wait.hpp).
// The answer is what a call at that moment gets; it lives in a child of the
// caller's memory context.
ClaimResult wait_for_answer(ClaimRequest& request, TimestampTz deadline) {
  MemoryContext recheck_context = call_pg([]() noexcept {
    return AllocSetContextCreate(CurrentMemoryContext, "idempotency claim wait",
                                 ALLOCSET_SMALL_SIZES);
  });
  bool other_nodes_commit = other_nodes_may_commit();
  SlotWait slot_wait(wait_slot_index(request.guard_key.scope_view, request.guard_key.key_view));
  // Again now that wake-ups are caught: a commit just before would be missed.
  ClaimResult result = claim_again_in(recheck_context, request);
  while (blocked_by_pending(result) && current_instant() < deadline) {
    slot_wait.sleep_until(
        core::cross_node_wake_up(core::next_wake_up(result.existing.guard, deadline),
                                 current_instant(), other_nodes_commit));
    result = claim_again_in(recheck_context, request);
  }
  return result;
}

Datum claim_guard(FunctionCallInfo fcinfo, schema_versions::ClaimArguments declared) {
  ClaimRequest request = claim_request(fcinfo, declared);
  ClaimResult result = claim_once(request, OutcomeColumn::kSkip);
  if (!result.claimed) count_refusal(request.guard_key.scope_view, result, OutcomeColumn::kSkip);
  return BoolGetDatum(result.claimed);
}

Datum claim_or_lookup(FunctionCallInfo fcinfo, schema_versions::ClaimArguments declared) {
  ClaimRequest request = claim_request(fcinfo, declared);
  std::int64_t wait = wait_argument(fcinfo, declared);
  TimestampTz deadline = current_instant() + wait;
  ClaimResult result = claim_once(request, OutcomeColumn::kCopy);
  if (wait > 0 && blocked_by_pending(result)) {
    count_event(request.guard_key.scope_view, core::GuardEvent::kWaited);
    result = wait_for_answer(request, deadline);
  }
  // Once, for the answer given: a wait claims again each time it wakes.
  if (!result.claimed) count_refusal(request.guard_key.scope_view, result, OutcomeColumn::kCopy);
  Datum values[kClaimStateColumns] = {};
  bool nulls[kClaimStateColumns] = {};
  fill_claim_state(result, values, nulls);
  begin_result_rows(fcinfo, kClaimStateColumns);
  add_result_row(fcinfo, values, nulls);
  return static_cast<Datum>(0);
}

}  // namespace

// Arguments: scope, key, ttl, fingerprint, lease, attempt.
IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_guard_1_3) {
  return claim_guard(fcinfo, schema_versions::kClaimGuard_1_3);
}

// Arguments: scope, key, ttl, fingerprint, lease, attempt, wait.
IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_or_lookup_1_3) {
  return claim_or_lookup(fcinfo, schema_versions::kClaimOrLookup_1_3);
}

// The symbols of the 1.0 to 1.2 declarations, for databases not updated yet.
IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_guard) {
  return claim_guard(fcinfo, schema_versions::legacy_claim_guard_arguments(fcinfo));
}

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_or_lookup) {
  return claim_or_lookup(fcinfo, schema_versions::legacy_claim_or_lookup_arguments(fcinfo));
}
