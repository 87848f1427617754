// claim_guards(): many claims of one scope in one call, answering for each
// key what claim_or_lookup() would in the same transaction.
//
// The keys are claimed in sorted order, whatever the input order, so two
// batches racing on overlapping keys wait for each other's row locks in the
// same order and never deadlock. A key given twice is claimed once: its later
// occurrences meet the guard this call just wrote and answer as a retry does.
#include "core/input_validation.hpp"
#include "glue/arguments.hpp"
#include "claims/claim_state_row.hpp"
#include "glue/error_boundary.hpp"
#include "claims/guard_claim.hpp"
#include "glue/result_rows.hpp"
#include "config/scope_access.hpp"
#include "glue/server_state.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
}

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// A text[] argument's entries (nullptr for a NULL entry); nullopt for NULL.
std::optional<std::vector<text*>> text_array_argument(FunctionCallInfo fcinfo, int index,
                                                      std::string_view name) {
  if (PG_ARGISNULL(index)) return std::nullopt;
  ArrayType* array = call_pg([&]() noexcept { return PG_GETARG_ARRAYTYPE_P(index); });
  if (ARR_NDIM(array) > 1) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue,
                           std::string(name) + " must be a one-dimensional array");
  }
  auto [values, nulls, count] = text_array_elements(array);
  std::vector<text*> entries(count, nullptr);
  for (int entry = 0; entry < count; ++entry) {
    if (nulls[entry]) continue;
    Datum value = values[entry];
    entries[entry] = call_pg([&]() noexcept { return DatumGetTextPP(value); });
  }
  return entries;
}

// Arguments: scope, keys, ttl, fingerprints, lease, attempt.
struct BatchArguments {
  text* scope = nullptr;
  std::vector<text*> keys;
  std::vector<text*> fingerprints;  // one per key (nullptr: none)
  Interval* ttl = nullptr;
  Interval* lease = nullptr;
  bytea* attempt_digest = nullptr;  // one attempt for the whole batch (nullptr: none)
};

// Every check before anything is written, so bad input claims nothing.
BatchArguments batch_arguments(FunctionCallInfo fcinfo) {
  BatchArguments arguments;
  arguments.scope = text_argument(fcinfo, 0);
  core::require_identifier("scope", text_view(arguments.scope));
  std::optional<std::vector<text*>> keys = text_array_argument(fcinfo, 1, "keys");
  core::require_not_null("keys", !keys);
  arguments.keys = std::move(*keys);
  core::require_batch_size(arguments.keys.size());
  for (text* key : arguments.keys) core::require_identifier("key", text_view(key));
  arguments.ttl = interval_argument(fcinfo, 2);
  std::optional<std::vector<text*>> fingerprints = text_array_argument(fcinfo, 3, "fingerprints");
  if (fingerprints) {
    core::require_batch_length("fingerprints", fingerprints->size(), arguments.keys.size());
    for (text* fingerprint : *fingerprints) core::require_fingerprint(text_view(fingerprint));
    arguments.fingerprints = std::move(*fingerprints);
  } else {
    arguments.fingerprints.assign(arguments.keys.size(), nullptr);
  }
  arguments.lease = interval_argument(fcinfo, 4);
  require_claim_durations(arguments.ttl, arguments.lease);
  arguments.attempt_digest = attempt_digest(text_argument(fcinfo, 5));
  return arguments;
}

// Positions of `keys` in the order they are claimed: by key bytes (the same
// order in every backend), the first occurrence of a key first.
std::vector<std::size_t> claim_order(const std::vector<text*>& keys) {
  std::vector<std::size_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) {
    return *text_view(keys[left]) < *text_view(keys[right]);
  });
  return order;
}

}  // namespace

IDEMPOTENCY_SQL_FUNCTION(idempotency_claim_guards) {
  BatchArguments arguments = batch_arguments(fcinfo);
  std::string_view scope = *text_view(arguments.scope);
  begin_result_rows(fcinfo, 2 + kClaimStateColumns);
  if (arguments.keys.empty()) return static_cast<Datum>(0);
  require_writable("claim a guard");

  GuardStoreSession session = open_guard_store(Statements::kConnectOnDemand, RowExclusiveLock);
  require_scope_access(session, scope);
  ClaimDurations durations = resolve_durations(arguments.ttl, arguments.lease, scope);
  std::vector<ClaimResult> results(arguments.keys.size());
  text* previous_key = nullptr;
  for (std::size_t position : claim_order(arguments.keys)) {
    ClaimWrite write;
    write.scope = arguments.scope;
    write.key = arguments.keys[position];
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
    values[1] = PointerGetDatum(arguments.keys[position]);
    fill_claim_state(results[position], values + 2, nulls + 2);
    add_result_row(fcinfo, values, nulls);
  }
  return static_cast<Datum>(0);
}
