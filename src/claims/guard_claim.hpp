// The claim of one (scope, key) in an open guard store, and its answer as a
// row of idempotency.claim_state: shared by claim_guard(), claim_or_lookup()
// and claim_guards().
//
// The claim first tries a plain insert (ON CONFLICT DO NOTHING waits for an
// uncommitted competitor, as unique checks do; on a table claims write
// directly, the insert's check for a guard in the way runs first and reads the
// guard it finds). When a guard is already there it is read, the core rules decide, and a takeover
// is applied only if the guard is still exactly what was read; otherwise the loop reads again.
#pragma once
#include "guards/guard_store.hpp"

namespace idempotency::pg {

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

// The digest a claim stores for the caller's attempt id (nullptr for none):
// its sha256, so the table never holds the id itself, which would let a
// reader of the table recover another caller's claim. Checks the id (22023).
bytea* attempt_digest(text* attempt);

// An explicit ttl and lease (nullptr: not given) must end after now: 22023.
void require_claim_durations(Interval* ttl, Interval* lease);

// Explicit ttl > the scope's retention policy > idempotency.default_ttl. The
// explicit ttl and lease must already be checked positive.
ClaimDurations resolve_durations(Interval* ttl, Interval* lease, std::string_view scope);

// Claims write.scope/write.key (the other fields of `write` but the times set
// by the caller) in `session`, opened with RowExclusiveLock. Raises IK001
// when a live guard has another fingerprint. A pending guard claimed with
// write.attempt_digest is this attempt's own: it is answered as claimed, with
// its token, and its lease (when `durations` has one) restarts from now.
// Counts the claims it wins and its errors (idempotency.counters), but not a
// refusal: a caller that claims again (a wait) counts only its final answer,
// with count_refusal().
ClaimResult claim_key(GuardStoreSession& session, ClaimWrite& write, ClaimDurations& durations,
                      OutcomeColumn outcome);

// Counts a claim refused by a live guard: a retry absorbed when the guard is
// completed (and replayed when `outcome` copied its outcome), else in progress.
void count_refusal(std::string_view scope, const ClaimResult& result, OutcomeColumn outcome);

// The columns of idempotency.claim_state: claimed, claim_token, status,
// outcome, claimed_at, completed_at, expires_at.
constexpr int kClaimStateColumns = 7;

// Fills the kClaimStateColumns entries of `values` and `nulls` with a claim's
// answer.
void fill_claim_state(const ClaimResult& result, Datum* values, bool* nulls);

}  // namespace idempotency::pg
