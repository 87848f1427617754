#include "claims/guard_claim.hpp"

#include "core/guard_conflicts.hpp"
#include "core/guard_error.hpp"
#include "core/input_validation.hpp"

#include "counters/scope_table.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/server_state.hpp"
#include "glue/settings.hpp"
#include "guards/guard_heap.hpp"
#include "policies/retention_policies.hpp"
#include "policies/scope_limits.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace idempotency::pg {
namespace {

// Sets the claim's times as of `now`.
void stamp(ClaimWrite& write, ClaimDurations& durations, TimestampTz now) {
  write.now = now;
  write.expires_at = add_interval(now, &durations.ttl);
  write.lease_expires_at.reset();
  if (durations.lease) write.lease_expires_at = add_interval(now, &*durations.lease);
}

// A claim that waited (for a competitor's transaction, or a row lock) longer
// than this has its times stamped again from the moment it won the guard.
// Shorter delays (a busy CPU, not a wait) cost the lease less than the
// re-stamping UPDATE would cost the claim.
constexpr TimestampTz kRestampAfterMicroseconds = 50 * 1000;

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

// A retried claim of this attempt's pending guard: the guard is the caller's,
// with its token and times. With a lease, the lease restarts from now, as the
// owner's extend_lease() would: the retry shows the owner is alive. False
// when the guard changed since it was read (the caller reads again).
bool answer_own_claim(GuardStoreSession& session, const ClaimWrite& write,
                      ClaimDurations& durations, const GuardRow& existing, ClaimResult* result) {
  if (durations.lease) {
    use_statements(session);
    TimestampTz lease_expires_at = add_interval(write.now, &*durations.lease);
    if (!extend_pending_lease(write.scope, write.key, existing.guard.claim_token, write.now,
                              lease_expires_at)) {
      return false;
    }
  }
  result->claimed = true;
  result->claim_token = existing.guard.claim_token;
  result->claimed_at = existing.claimed_at;
  result->expires_at = existing.guard.expires_at;
  return true;
}

// Inserts `write` as a new guard (true), or reads the guard in the way into
// `existing` (false). On a table claims write directly, the insert's check
// for a guard in the way comes first, as a read that keeps what it found: a
// retry or replay then sets up no insert and reads its guard at the location
// the check found, with no second search.
bool insert_or_read(GuardStoreSession& session, const ClaimWrite& write, OutcomeColumn outcome,
                    GuardRow* existing) {
  const GuardTable& table = *session.table;
  if (table.direct_writes) {
    bool in_the_way = call_pg([&]() noexcept {
      if (!checks_before_insert(session.inserter)) return false;
      if (find_guard_in_the_way(table, write.scope, write.key, outcome, session.caller_context,
                                existing)) {
        return true;
      }
      if (session.inserter != nullptr) skip_check_before_insert(session.inserter);
      return false;
    });
    if (in_the_way) return false;
  }
  ItemPointerData conflict;
  if (insert_guard(session, write, &conflict)) return true;
  *existing = read_guard(session, write.scope, write.key, outcome, &conflict);
  return false;
}

std::optional<std::string_view> digest_view(const bytea* digest) {
  if (digest == nullptr) return std::nullopt;
  return std::string_view(VARDATA_ANY(digest), VARSIZE_ANY_EXHDR(digest));
}

}  // namespace

bytea* attempt_digest(text* attempt) {
  core::require_attempt(text_view(attempt));
  if (attempt == nullptr) return nullptr;
  return call_pg([&]() noexcept {
    return DatumGetByteaPP(DirectFunctionCall1(sha256_bytea, PointerGetDatum(attempt)));
  });
}

void require_claim_durations(Interval* ttl, Interval* lease) {
  TimestampTz now = current_instant();
  if (ttl != nullptr) core::require_positive_duration("ttl", now, add_interval(now, ttl));
  if (lease != nullptr) core::require_positive_duration("lease", now, add_interval(now, lease));
}

ClaimDurations resolve_durations(Interval* ttl, Interval* lease, std::string_view scope) {
  ClaimDurations durations;
  if (ttl != nullptr) {
    durations.ttl = *ttl;
  } else if (std::optional<Interval> policy = retention_policy_ttl(scope)) {
    durations.ttl = *policy;
  } else {
    durations.ttl = default_ttl_interval();
  }
  if (lease != nullptr) durations.lease = *lease;
  return durations;
}

ClaimResult claim_key(GuardStoreSession& session, ClaimWrite& write, ClaimDurations& durations,
                      OutcomeColumn outcome) {
  std::string_view scope = *text_view(write.scope);
  std::string_view key = *text_view(write.key);
  if (write.attempt_digest != nullptr && session.table->attempt_column == InvalidAttrNumber) {
    throw core::GuardError(core::SqlState::kObjectNotInPrerequisiteState,
                           "the table idempotency.guards has no attempt_digest column", {},
                           "Run ALTER EXTENSION idempotency UPDATE; if the column was dropped, "
                           "add it back: ALTER TABLE idempotency.guards ADD COLUMN "
                           "attempt_digest bytea.");
  }
  stamp(write, durations, current_instant());
  for (int attempt = 0; attempt < core::kMaxWriteAttempts; ++attempt) {
    GuardRow existing;
    bool won = insert_or_read(session, write, outcome, &existing);
    if (won) {
      charge_claim(scope, true, false);
      count_event(scope, core::GuardEvent::kClaimedNew);
    } else {
      if (!existing.found) continue;               // deleted since the insert saw it
      stamp(write, durations, current_instant());  // the insert may have waited
      switch (core::decide_claim(existing.guard, text_view(write.fingerprint), write.now,
                                 digest_view(write.attempt_digest))) {
        case core::ClaimDecision::kAlreadyClaimed: {
          ClaimResult result;
          result.existing = existing;
          return result;
        }
        case core::ClaimDecision::kKeyReused:
          count_event(scope, core::GuardEvent::kKeyReused);
          throw core::key_reused_error(scope, key, timestamp_text(existing.claimed_at),
                                       existing.guard.status);
        case core::ClaimDecision::kTakeOver:
          won = take_over_guard(session, write, existing.guard);
          if (won) {
            charge_claim(scope, false, existing.guard.status != core::GuardStatus::kPending);
            count_event(scope, core::is_live(existing.guard, write.now)
                                   ? core::GuardEvent::kClaimedAfterLease
                                   : core::GuardEvent::kClaimedAfterExpiry);
          }
          break;
        case core::ClaimDecision::kOwnClaim: {
          ClaimResult result;
          if (answer_own_claim(session, write, durations, existing, &result)) return result;
          continue;
        }
      }
    }
    if (won) {
      stamp_when_won(session, write, durations);
      ClaimResult result;
      result.claimed = true;
      result.claim_token = write.claim_token;
      result.claimed_at = write.now;
      result.expires_at = write.expires_at;
      return result;
    }
  }
  throw core::write_retries_exhausted_error(scope, key);
}

// A claim refused by a live guard: a retry absorbed when it is completed
// (and replayed when the call returns its outcome), else in progress.
void count_refusal(std::string_view scope, const ClaimResult& result, OutcomeColumn outcome) {
  const GuardRow& existing = result.existing;
  if (existing.guard.status == core::GuardStatus::kPending) {
    count_event(scope, core::GuardEvent::kRefusedPending);
    return;
  }
  count_event(scope, core::GuardEvent::kRefusedCompleted);
  if (outcome == OutcomeColumn::kCopy) count_event(scope, core::GuardEvent::kReplayed);
}

void fill_claim_state(const ClaimResult& result, Datum* values, bool* nulls) {
  for (int index = 0; index < kClaimStateColumns; ++index) nulls[index] = false;
  values[0] = BoolGetDatum(result.claimed);
  if (result.claimed) {
    values[1] = Int64GetDatum(result.claim_token);
    values[2] = text_datum(core::status_name(core::GuardStatus::kPending));
    nulls[3] = true;
    values[4] = TimestampTzGetDatum(result.claimed_at);
    nulls[5] = true;
    values[6] = TimestampTzGetDatum(result.expires_at);
    return;
  }
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

}  // namespace idempotency::pg
