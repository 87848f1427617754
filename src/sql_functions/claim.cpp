// claim_guard() and claim_or_lookup(): the atomic claim of a (scope, key).
//
// The claim first tries a plain insert (ON CONFLICT DO NOTHING waits for an
// uncommitted competitor, as unique checks do). When a guard is already there
// it is read, the core rules decide, and a takeover is applied only if the
// guard is still exactly what was read; otherwise the loop reads again.
#include "core/guard_conflicts.hpp"
#include "core/guard_rules.hpp"
#include "core/input_validation.hpp"
#include "pg/arguments.hpp"
#include "pg/error_boundary.hpp"
#include "pg/guard_key.hpp"
#include "pg/guard_store.hpp"
#include "pg/result_rows.hpp"
#include "pg/retention_cache.hpp"
#include "pg/scope_access.hpp"
#include "pg/scope_table.hpp"
#include "pg/server_state.hpp"
#include "pg/settings.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

struct ClaimResult {
  bool claimed = false;
  std::int64_t claim_token = 0;
  TimestampTz claimed_at = 0;
  TimestampTz expires_at = 0;
  GuardRow existing;  // the live guard that was in the way, when not claimed
};

// How long a claim's guard lives and how long its lease runs.
struct ClaimDurations {
  Interval ttl{};
  std::optional<Interval> lease;
};

// Arguments: scope, key, ttl, fingerprint, lease. The explicit ttl and lease
// are checked against the clock here; the resolved ttl comes later.
struct ClaimArguments {
  Interval* ttl = nullptr;
  text* fingerprint = nullptr;
  Interval* lease = nullptr;
};

ClaimArguments claim_arguments(FunctionCallInfo fcinfo) {
  ClaimArguments arguments;
  arguments.ttl = interval_argument(fcinfo, 2);
  arguments.fingerprint = text_argument(fcinfo, 3);
  arguments.lease = interval_argument(fcinfo, 4);
  core::require_fingerprint(text_view(arguments.fingerprint));
  TimestampTz now = current_instant();
  if (arguments.ttl != nullptr) {
    core::require_positive_duration("ttl", now, add_interval(now, arguments.ttl));
  }
  if (arguments.lease != nullptr) {
    core::require_positive_duration("lease", now, add_interval(now, arguments.lease));
  }
  return arguments;
}

// Explicit ttl > the scope's retention policy > idempotency.default_ttl.
ClaimDurations resolve_durations(const ClaimArguments& arguments, std::string_view scope) {
  ClaimDurations durations;
  if (arguments.ttl != nullptr) {
    durations.ttl = *arguments.ttl;
  } else if (std::optional<Interval> policy = retention_policy_ttl(scope)) {
    durations.ttl = *policy;
  } else {
    durations.ttl = default_ttl_interval();
  }
  if (arguments.lease != nullptr) durations.lease = *arguments.lease;
  return durations;
}

// Sets the claim's times as of `now`.
void stamp(ClaimWrite& write, ClaimDurations& durations, TimestampTz now) {
  write.now = now;
  write.expires_at = add_interval(now, &durations.ttl);
  write.lease_expires_at.reset();
  if (durations.lease) write.lease_expires_at = add_interval(now, &*durations.lease);
}

// A claim that waited (for a competitor's transaction, or a row lock) longer
// than this has its times stamped again from the moment it won the guard.
constexpr TimestampTz kRestampAfterMicroseconds = 1000;

// The insert or takeover may have waited for a competitor that then rolled
// back. The guard's ttl and lease run from when it was won, not from when the
// call began, or the wait would eat into them and a second claimer could take
// over a lease that has barely started.
void stamp_when_won(GuardStoreSession& session, ClaimWrite& write, ClaimDurations& durations) {
  TimestampTz won_at = current_instant();
  if (won_at - write.now <= kRestampAfterMicroseconds) return;
  core::StoredGuard ours;
  ours.status = core::GuardStatus::kPending;
  ours.claim_token = write.claim_token;
  ours.expires_at = write.expires_at;
  stamp(write, durations, won_at);
  // Our own uncommitted row: nobody else can have changed it.
  if (!take_over_guard(session, write, ours)) {
    throw std::logic_error("could not stamp a guard this claim holds");
  }
}

// A claim refused by a live guard: a retry absorbed when it is completed
// (and replayed when claim_or_lookup returns its outcome), else in progress.
void count_refusal(std::string_view scope, const GuardRow& existing, OutcomeColumn outcome) {
  if (existing.guard.status == core::GuardStatus::kPending) {
    count_event(scope, core::GuardEvent::kRefusedPending);
    return;
  }
  count_event(scope, core::GuardEvent::kRefusedCompleted);
  if (outcome == OutcomeColumn::kCopy) count_event(scope, core::GuardEvent::kReplayed);
}

ClaimResult claim(FunctionCallInfo fcinfo, OutcomeColumn outcome) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  ClaimArguments arguments = claim_arguments(fcinfo);
  require_writable("claim a guard");
  ClaimWrite write;
  write.scope = guard_key.scope;
  write.key = guard_key.key;
  write.fingerprint = arguments.fingerprint;
  write.claim_token = new_claim_token();

  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand, RowExclusiveLock);
  require_scope_access(session, guard_key.scope_view);
  ClaimDurations durations = resolve_durations(arguments, guard_key.scope_view);
  stamp(write, durations, current_instant());
  for (int attempt = 0; attempt < core::kMaxWriteAttempts; ++attempt) {
    ItemPointerData conflict;
    bool won = insert_guard(session, write, &conflict);
    if (won) {
      count_event(guard_key.scope_view, core::GuardEvent::kClaimedNew);
    } else {
      GuardRow existing = read_guard(session, write.scope, write.key, outcome, &conflict);
      if (!existing.found) continue;               // deleted since the insert saw it
      stamp(write, durations, current_instant());  // the insert may have waited
      switch (core::decide_claim(existing.guard, text_view(write.fingerprint), write.now)) {
        case core::ClaimDecision::kAlreadyClaimed: {
          count_refusal(guard_key.scope_view, existing, outcome);
          close_guard_store(session);
          ClaimResult result;
          result.existing = existing;
          return result;
        }
        case core::ClaimDecision::kKeyReused:
          count_event(guard_key.scope_view, core::GuardEvent::kKeyReused);
          throw core::key_reused_error(guard_key.scope_view, guard_key.key_view);
        case core::ClaimDecision::kTakeOver:
          won = take_over_guard(session, write, existing.guard);
          if (won) {
            count_event(guard_key.scope_view, core::is_live(existing.guard, write.now)
                                                  ? core::GuardEvent::kClaimedAfterLease
                                                  : core::GuardEvent::kClaimedAfterExpiry);
          }
          break;
      }
    }
    if (won) {
      stamp_when_won(session, write, durations);
      close_guard_store(session);
      ClaimResult result;
      result.claimed = true;
      result.claim_token = write.claim_token;
      result.claimed_at = write.now;
      result.expires_at = write.expires_at;
      return result;
    }
  }
  throw core::write_retries_exhausted_error(guard_key.scope_view, guard_key.key_view);
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_guard) {
  return BoolGetDatum(claim(fcinfo, OutcomeColumn::kSkip).claimed);
}

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_or_lookup) {
  ClaimResult result = claim(fcinfo, OutcomeColumn::kCopy);
  // claimed, claim_token, status, outcome, claimed_at, completed_at, expires_at
  constexpr int kColumns = 7;
  Datum values[kColumns] = {};
  bool nulls[kColumns] = {};
  values[0] = BoolGetDatum(result.claimed);
  if (result.claimed) {
    values[1] = Int64GetDatum(result.claim_token);
    values[2] = text_datum(core::status_name(core::GuardStatus::kPending));
    nulls[3] = true;
    values[4] = TimestampTzGetDatum(result.claimed_at);
    nulls[5] = true;
    values[6] = TimestampTzGetDatum(result.expires_at);
  } else {
    const GuardRow& existing = result.existing;
    nulls[1] = true;
    values[2] = text_datum(core::status_name(existing.guard.status));
    values[3] = PointerGetDatum(existing.outcome);
    nulls[3] = existing.outcome == nullptr;
    values[4] = TimestampTzGetDatum(existing.claimed_at);
    values[5] = TimestampTzGetDatum(existing.completed_at.value_or(0));
    nulls[5] = !existing.completed_at;
    values[6] = TimestampTzGetDatum(existing.guard.expires_at);
  }
  begin_result_rows(fcinfo, kColumns);
  add_result_row(fcinfo, values, nulls);
  return static_cast<Datum>(0);
}
