// The per-scope table in shared memory: one entry per (database, scope) the
// clients have used, up to idempotency.max_tracked_scopes, plus one overflow
// entry for the whole server that takes the events of every scope past that
// cap (so totals are never lost). Each database also has an "unscoped" entry
// (scope "") for events that belong to no one scope, such as purges.
//
// Entries are created on a scope's first event. So that one tenant cannot
// take the table from the others:
// - a database holds at most idempotency.max_tracked_scopes_per_database
//   entries (its unscoped one included);
// - when a new scope finds its database's share (or the table) full, the
//   entry of that database (or of any database) that has gone longest
//   without an event takes the new scope, if it has had none for
//   idempotency.counters_evict_after; its counts move to the overflow entry,
//   so totals are never lost. Entries reloaded at start count as having had
//   an event at start, so a flood saved at shutdown ages out like any other.
//   Unscoped entries are never evicted.
// Otherwise the new scope's events go to the overflow entry, and a backend
// that found it so keeps counting that scope there until its cache of
// entries starts over (kMaxCachedScopes), rather than scan for room at each
// event.
// An evicted entry's memory is reused, so each backend caches the pointer
// per scope with the entry's generation and looks again when it changed; an
// event counted at the instant of an eviction may land in the new scope's row.
//
// Other per-scope bookkeeping belongs in ScopeEntry too: add fields at the
// end (a new entry is zeroed), update them with atomics or under `mutex`, and
// reach them through find_scope_entry(). reset_counters() clears `counts`
// (and restarts `counting_since`) only. In shared memory when preloaded (the
// counts then survive a clean restart), or (17+) created on first use
// (glue/shared_memory.hpp); on 15 and 16 without preloading
// find_scope_entry() returns nullptr and nothing is counted.
#pragma once
#include <vector>

#include "core/guard_events.hpp"

#include "glue/postgres.hpp"
#include "glue/shared_memory.hpp"

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
  pg_atomic_uint64 last_event_at;   // TimestampTz: creation, load at start, or last event
  pg_atomic_uint64 generation;      // new for each (database, scope) the entry holds
};

void define_scope_table_settings();

// The table's shared memory; preloaded, it is loaded from the file saved at
// the last clean shutdown, and saved at the next.
const SharedStructure& scope_table_memory();

// The entry of `scope`, created on first use; the overflow entry when there
// is no room for it; nullptr when the table is not in shared memory. Valid
// until the entry is evicted (its generation changes). Throws std::bad_alloc
// if the backend-local cache cannot grow; raises no ERROR.
ScopeEntry* find_scope_entry(std::string_view scope);

// Adds `count` to the event's counter of `scope` (a no-op when
// idempotency.track_counters is off or the table is absent). Never throws.
void count_event(std::string_view scope, core::GuardEvent event, std::uint64_t count = 1) noexcept;

// Events of this database not attributed to a scope (the purge deletes
// across scopes).
void count_unscoped_event(core::GuardEvent event, std::uint64_t count) noexcept;

// Every entry: the overflow entry and each tracked (database, scope), the
// unscoped ones included. An entry may be evicted while the caller reads it.
std::vector<ScopeEntry*> scope_entries();

// Zeroes the counts of one scope of this database (false if it has no
// entry), or of all entries of this database, and for a superuser the
// overflow entry too (it holds every database's events).
bool reset_scope_counts(std::optional<std::string_view> scope);

// Which entry an entry pointer is, for the view.
enum class ScopeEntryKind { kScope, kOverflow, kUnscoped };
ScopeEntryKind scope_entry_kind(const ScopeEntry* entry);

}  // namespace idempotency::pg
