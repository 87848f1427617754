// claim_guard() and claim_or_lookup(): the atomic claim of a (scope, key)
// (pg/guard_claim.hpp).
#include "core/input_validation.hpp"
#include "pg/arguments.hpp"
#include "pg/claim_state_row.hpp"
#include "pg/error_boundary.hpp"
#include "pg/guard_claim.hpp"
#include "pg/guard_key.hpp"
#include "pg/result_rows.hpp"
#include "pg/scope_access.hpp"
#include "pg/server_state.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// Arguments: scope, key, ttl, fingerprint, lease, and from 1.2 attempt (the
// 1.0 and 1.1 declarations, before ALTER EXTENSION UPDATE, pass five).
ClaimResult claim(FunctionCallInfo fcinfo, OutcomeColumn outcome) {
  GuardKey guard_key = guard_key_arguments(fcinfo);
  Interval* ttl = interval_argument(fcinfo, 2);
  text* fingerprint = text_argument(fcinfo, 3);
  Interval* lease = interval_argument(fcinfo, 4);
  text* attempt = PG_NARGS() > 5 ? text_argument(fcinfo, 5) : nullptr;
  core::require_fingerprint(text_view(fingerprint));
  require_claim_durations(ttl, lease);
  bytea* attempt_digest = pg::attempt_digest(attempt);
  require_writable("claim a guard");
  ClaimWrite write;
  write.scope = guard_key.scope;
  write.key = guard_key.key;
  write.fingerprint = fingerprint;
  write.attempt_digest = attempt_digest;
  write.claim_token = new_claim_token();

  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand, RowExclusiveLock);
  require_scope_access(session, guard_key.scope_view);
  ClaimDurations durations = resolve_durations(ttl, lease, guard_key.scope_view);
  ClaimResult result = claim_key(session, write, durations, outcome);
  close_guard_store(session);
  return result;
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_guard) {
  return BoolGetDatum(claim(fcinfo, OutcomeColumn::kSkip).claimed);
}

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_or_lookup) {
  ClaimResult result = claim(fcinfo, OutcomeColumn::kCopy);
  Datum values[kClaimStateColumns] = {};
  bool nulls[kClaimStateColumns] = {};
  fill_claim_state(result, values, nulls);
  begin_result_rows(fcinfo, kClaimStateColumns);
  add_result_row(fcinfo, values, nulls);
  return static_cast<Datum>(0);
}
