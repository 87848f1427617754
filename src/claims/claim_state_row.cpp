#include "claims/claim_state_row.hpp"

#include "glue/arguments.hpp"

namespace idempotency::pg {

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
