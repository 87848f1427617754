// What the extension's SQL declarations (versions 1.0 to 1.3) pass to the
// library's entry points, by version: the one file that knows old schema
// versions' declarations (compat.hpp knows PostgreSQL's versions).
//
// From 1.3 on, each SQL API version whose C behaviour differs binds its own
// symbol (idempotency_claim_guard_1_3, ...), as pg_stat_statements does, so
// the symbol alone says which declaration called it. The symbols of 1.0 to
// 1.2 stay for databases not updated yet (ALTER EXTENSION ... UPDATE), as
// thin wrappers over the same code.
//
// What differs in the tables is found from the catalog, never from a
// version number, so it is not decided here; the differences are:
// - 1.2 added idempotency.guards.attempt_digest (bytea): found by name
//   (guards/guard_table.cpp); without it claims use the statements without
//   the column (guards/guard_store.cpp) and an attempt is refused with 55000
//   (claims/guard_claim.cpp);
// - 1.2 added idempotency.scope_limits: without it there are no limits
//   (config/scope_limits.cpp).
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg::schema_versions {

// The arguments of a claim beyond (scope, key, ttl, fingerprint, lease).
struct ClaimArguments {
  bool attempt = false;  // argument 5, from 1.2 on
  bool wait = false;     // argument 6, claim_or_lookup from 1.2 on
};

// idempotency_claim_guard_1_3: claim_guard(scope, key, ttl, fingerprint, lease, attempt).
inline constexpr ClaimArguments kClaimGuard_1_3{true, false};
// idempotency_claim_or_lookup_1_3: claim_or_lookup(..., lease, attempt, wait).
inline constexpr ClaimArguments kClaimOrLookup_1_3{true, true};

namespace detail {
// The legacy symbols idempotency_claim_guard and idempotency_claim_or_lookup
// are named by the 1.0 and 1.1 declarations (five arguments) and by the 1.2
// ones (with attempt, and for claim_or_lookup wait): the symbol cannot tell
// them apart, the argument count can. This is the one version check by
// PG_NARGS() in the library, and it exists only because 1.2 reused the 1.1
// symbols; 1.3 and later bind symbols of their own.
inline bool declared_before_1_2(FunctionCallInfo fcinfo) { return PG_NARGS() == 5; }
}  // namespace detail

// What a 1.0, 1.1 or 1.2 declaration of claim_guard passes (1.2's are 1.3's).
inline ClaimArguments legacy_claim_guard_arguments(FunctionCallInfo fcinfo) {
  if (detail::declared_before_1_2(fcinfo)) return {};
  return kClaimGuard_1_3;
}

// What a 1.0, 1.1 or 1.2 declaration of claim_or_lookup passes (1.2's are 1.3's).
inline ClaimArguments legacy_claim_or_lookup_arguments(FunctionCallInfo fcinfo) {
  if (detail::declared_before_1_2(fcinfo)) return {};
  return kClaimOrLookup_1_3;
}

}  // namespace idempotency::pg::schema_versions
