// The per-scope table in shared memory: one entry per (database, scope) the
// clients have used, up to idempotency.max_tracked_scopes, plus one overflow
// entry for the whole server that takes the events of every scope past that
// cap (so totals are never lost). Each database also has an "unscoped" entry
// (scope "") for events that belong to no one scope, such as purges.
//
// Entries are created on a scope's first event and are never removed until
// the server restarts, so a ScopeEntry* stays valid for the life of the
// backend: each backend caches the pointer per scope and finds its entry
// without taking the table's lock after the first call.
//
// Other per-scope bookkeeping belongs in ScopeEntry too: add fields at the
// end (a new entry is zeroed), update them with atomics or under `mutex`, and
// reach them through find_scope_entry(). reset_counters() clears `counts`
// (and restarts `counting_since`) only. Requires shared_preload_libraries;
// without it find_scope_entry() returns nullptr and nothing is counted.
#pragma once
#include "core/guard_events.hpp"
#include "glue/postgres.hpp"

#include <vector>

extern "C" {
#include "port/atomics.h"
#include "storage/spin.h"
}

namespace idempotency::pg {

// Room for the longest scope (core::kMaxIdentifierBytes) and its NUL.
constexpr std::size_t kScopeNameBytes = core::kMaxIdentifierBytes + 1;

struct ScopeKey {
  Oid database;
  char scope[kScopeNameBytes];  // zero-padded; "" for the unscoped entry
};

struct ScopeEntry {
  ScopeKey key;  // the hash key; zero for the overflow entry
  pg_atomic_uint64 counts[core::kGuardEventCount];
  pg_atomic_uint64 counting_since;  // TimestampTz of creation or last reset
  slock_t mutex;                    // for fields that need more than one atomic
};

void define_scope_table_settings();

// Registers the shared memory, its start-up and the save at clean shutdown.
// Called once from _PG_init while preloading.
void install_scope_table_hooks();

// The entry of `scope`, created on first use; the overflow entry when the
// table is full; nullptr when the table is not in shared memory. Throws
// std::bad_alloc if the backend-local cache cannot grow; raises no ERROR.
ScopeEntry* find_scope_entry(std::string_view scope);

// Adds `count` to the event's counter of `scope` (a no-op when
// idempotency.track_counters is off or the table is absent). Never throws.
void count_event(std::string_view scope, core::GuardEvent event, std::uint64_t count = 1) noexcept;

// Events of this database not attributed to a scope (the purge deletes
// across scopes).
void count_unscoped_event(core::GuardEvent event, std::uint64_t count) noexcept;

// Every entry: the overflow entry and each tracked (database, scope), the
// unscoped ones included. The pointers stay valid (entries are never removed).
std::vector<ScopeEntry*> scope_entries();

// Zeroes the counts of one scope of this database (false if it has no
// entry), or of all entries of this database and the overflow entry.
bool reset_scope_counts(std::optional<std::string_view> scope);

// Which entry an entry pointer is, for the view.
enum class ScopeEntryKind { kScope, kOverflow, kUnscoped };
ScopeEntryKind scope_entry_kind(const ScopeEntry* entry);

}  // namespace idempotency::pg
