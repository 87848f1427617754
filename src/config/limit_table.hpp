// The shared-memory side of scope limits: one slot per (database, limit
// pattern), holding how many guards and pending guards the pattern's scopes
// store, as counted by the last recount plus the claims made since. A slot
// is made on a pattern's first use and kept until the server stops (a
// dropped and re-set limit reuses it); idempotency.max_limits caps them.
// Requires shared_preload_libraries.
#pragma once
#include "core/input_validation.hpp"
#include "core/scope_limits.hpp"
#include "glue/postgres.hpp"

extern "C" {
#include "port/atomics.h"
}

namespace idempotency::pg {

struct LimitSlot {
  Oid database;  // InvalidOid: free
  char pattern[core::kMaxIdentifierBytes + 1];
  pg_atomic_uint64 live;        // stored guards (pending or completed, until purged)
  pg_atomic_uint64 pending;     // stored pending guards
  pg_atomic_uint64 counted_at;  // TimestampTz of the last recount; 0: never counted
  pg_atomic_flag recounting;    // held by the one backend recounting
};

// idempotency.max_limits (PGC_POSTMASTER).
extern int max_limits;

void define_limit_table_settings();
// Registers the shared memory. Called once from _PG_init while preloading.
void install_limit_table_hooks();

// False when the library was not preloaded (no shared memory).
bool limit_table_available() noexcept;

// The slot of `pattern` in this database, made on first use; nullptr when
// the library is not preloaded or every slot is taken. Never raises.
LimitSlot* find_limit_slot(std::string_view pattern) noexcept;

// The count of a kind, as a signed number (a revert may briefly go below 0).
std::int64_t slot_count(LimitSlot* slot, core::LimitKind kind) noexcept;
// Adds `delta` to a kind's count and returns the new count.
std::int64_t add_to_slot(LimitSlot* slot, core::LimitKind kind, std::int64_t delta) noexcept;

}  // namespace idempotency::pg
