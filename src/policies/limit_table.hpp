// The shared-memory side of scope limits: one slot per (database, limit
// pattern), holding how many guards and pending guards the pattern's scopes
// store, as counted by the last recount plus the claims made since.
// idempotency.max_limits caps the slots of the server, and
// idempotency.max_limits_per_database those one database may hold, so that
// one database cannot take every slot. In shared memory when preloaded, or
// (17+) created on first use (glue/shared_memory.hpp).
//
// Life of a slot (the rule that keeps every limit row backed by a slot,
// scope_limits.cpp applies it):
// - set_limits takes the pattern's slot (or fails with 53400), holding a
//   lock that makes the set_limits and drop_limits of one database run one
//   at a time; if its transaction aborts, a slot it took is freed again.
// - drop_limits frees the slot when its transaction commits.
// - A set_limits that finds no slot first frees the slots of databases that
//   no longer exist, and this database's slots whose pattern has no row
//   (left by a stale cache or a prepared transaction); under that lock no
//   other transaction of this database can hold a row it cannot see.
// - A claim whose limit has no slot (after a restart) takes one on first
//   use, within the same caps; if there is none it fails safe with 55000.
// A freed slot changes generation, so a backend still holding its address
// notices and looks the pattern up again.
#pragma once
#include <string>
#include <vector>

#include "core/input_validation.hpp"
#include "core/limit_rules.hpp"

#include "glue/postgres.hpp"
#include "glue/shared_memory.hpp"

extern "C" {
#include "port/atomics.h"
}

namespace idempotency::pg {

struct LimitSlot {
  Oid database;  // InvalidOid: free
  char pattern[core::kMaxIdentifierBytes + 1];
  pg_atomic_uint64 generation;  // bumped when the slot is taken or freed
  pg_atomic_uint64 live;        // stored guards (pending or completed, until purged)
  pg_atomic_uint64 pending;     // stored pending guards
  pg_atomic_uint64 counted_at;  // TimestampTz of the last recount; 0: never counted
  pg_atomic_flag recounting;    // held by the one backend recounting
};

// A slot as found: valid while the slot's generation is unchanged.
struct LimitSlotRef {
  LimitSlot* slot = nullptr;
  std::uint64_t generation = 0;
  bool taken_now = false;  // this search took a free slot for the pattern
};

// Why no slot was found.
enum class LimitSlotShortage { kNone, kNotPreloaded, kDatabaseShare, kServerFull };

// idempotency.max_limits (PGC_POSTMASTER), max_limits_per_database (PGC_SIGHUP).
extern int max_limits;
extern int max_limits_per_database;

void define_limit_table_settings();
const SharedStructure& limit_table_memory();

// False when there is no shared memory (15 and 16 without preloading).
bool limit_table_available() noexcept;

// The slot of `pattern` in this database; with `take`, a free slot is taken
// for it if it has none (within both caps). No slot: `shortage` says why.
// Never raises.
LimitSlotRef find_limit_slot(std::string_view pattern, bool take,
                             LimitSlotShortage* shortage = nullptr) noexcept;

// Whether `ref` still designates the slot it was found as.
bool slot_is_current(const LimitSlotRef& ref) noexcept;

// Frees the slot of `pattern` in this database, if any. Never raises.
void free_limit_slot(std::string_view pattern) noexcept;
// Frees the slot `ref` designates, unless it changed hands since.
void free_limit_slot(const LimitSlotRef& ref) noexcept;

// The other databases that hold slots.
std::vector<Oid> databases_holding_limit_slots();
// Frees the slots of `databases` (which no longer exist).
void free_limit_slots_of(const std::vector<Oid>& databases) noexcept;
// Frees this database's slots whose pattern is not in `backed`.
void free_unbacked_limit_slots(const std::vector<std::string>& backed) noexcept;

// The count of a kind, as a signed number (a revert may briefly go below 0).
std::int64_t slot_count(LimitSlot* slot, core::LimitKind kind) noexcept;
// Adds `delta` to a kind's count and returns the new count.
std::int64_t add_to_slot(LimitSlot* slot, core::LimitKind kind, std::int64_t delta) noexcept;

}  // namespace idempotency::pg
