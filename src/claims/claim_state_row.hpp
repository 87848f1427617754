// A claim's answer as a row of idempotency.claim_state: claimed,
// claim_token, status, outcome, claimed_at, completed_at, expires_at.
#pragma once
#include "claims/guard_claim.hpp"

namespace idempotency::pg {

constexpr int kClaimStateColumns = 7;

// Fills the kClaimStateColumns entries of `values` and `nulls`.
void fill_claim_state(const ClaimResult& result, Datum* values, bool* nulls);

}  // namespace idempotency::pg
