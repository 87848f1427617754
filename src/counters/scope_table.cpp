#include "counters/scope_table.hpp"

#include <string>
#include <unordered_map>

#include "glue/error_boundary.hpp"

extern "C" {
#include "common/hashfn.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

namespace idempotency::pg {

namespace {

// idempotency.max_tracked_scopes (PGC_POSTMASTER).
int max_tracked_scopes = 1000;
// idempotency.max_tracked_scopes_per_database (PGC_SIGHUP).
int max_tracked_scopes_per_database = 500;
// idempotency.counters_evict_after (PGC_SIGHUP, seconds; 0: never evict).
int counters_evict_after = 3600;
// idempotency.track_counters (PGC_SUSET): false stops counting.
bool track_counters = true;

// The table is laid out by hand, indexes instead of pointers, so that it
// works alike in the main shared memory and in a dynamic segment (mapped at
// a different address in each backend): the header, then the entries (an
// entry never moves, so a backend may keep its address), then an
// open-addressing hash of entry indexes (linear probing, at most half full),
// then the stack of free entries.
struct ScopeTableHeader {
  std::uint64_t next_generation;  // under the lock
  std::uint32_t capacity;         // entries: max_tracked_scopes
  std::uint32_t bucket_mask;      // buckets - 1, a power of two minus one
  std::uint32_t used;             // entries handed out at least once
  std::uint32_t free_count;       // entries on the free stack
  ScopeEntry overflow;
};
constexpr std::int32_t kEmptyBucket = -1;

ScopeTableHeader* header = nullptr;
ScopeEntry* entries = nullptr;         // header->capacity of them
std::int32_t* buckets = nullptr;       // header->bucket_mask + 1 of them
std::int32_t* free_entries = nullptr;  // header->free_count of them in use
LWLock* lock = nullptr;                // shared to find, exclusive to add or evict an entry
// Written at clean shutdown, read and removed at start (so a crash resets).
constexpr const char* kCountersFile = PGSTAT_STAT_PERMANENT_DIRECTORY "/idempotency_counters.stat";
constexpr std::uint32_t kCountersFileMagic = 0x49444b43;  // "IDKC"

// Backend-local: the entry of each scope this backend has used, up to
// kMaxCachedScopes, with the generation it had.
constexpr std::size_t kMaxCachedScopes = 4096;
struct CachedEntry {
  ScopeEntry* entry;
  std::uint64_t generation;
};
std::unordered_map<std::string, CachedEntry>* cached_entries = nullptr;

std::uint32_t bucket_count_for(std::uint32_t capacity) {
  std::uint32_t count = 2;
  while (count < 2 * capacity) count *= 2;
  return count;
}

// Where each part starts, from the start of the table.
struct Offsets {
  Size entries;
  Size buckets;
  Size free_entries;
  Size end;
};

Offsets offsets_for(std::uint32_t capacity) {
  Offsets at{};
  at.entries = MAXALIGN(sizeof(ScopeTableHeader));
  at.buckets = add_size(at.entries, MAXALIGN(mul_size(capacity, sizeof(ScopeEntry))));
  at.free_entries =
      add_size(at.buckets, mul_size(bucket_count_for(capacity), sizeof(std::int32_t)));
  at.end = add_size(at.free_entries, mul_size(capacity, sizeof(std::int32_t)));
  return at;
}

struct Layout {
  ScopeTableHeader* header;
  ScopeEntry* entries;
  std::int32_t* buckets;
  std::int32_t* free_entries;
};

Layout layout_of(void* memory, std::uint32_t capacity) {
  char* base = static_cast<char*>(memory);
  Offsets at = offsets_for(capacity);
  return {reinterpret_cast<ScopeTableHeader*>(base),
          reinterpret_cast<ScopeEntry*>(base + at.entries),
          reinterpret_cast<std::int32_t*>(base + at.buckets),
          reinterpret_cast<std::int32_t*>(base + at.free_entries)};
}

Size scope_table_size() { return offsets_for(static_cast<std::uint32_t>(max_tracked_scopes)).end; }

std::uint32_t home_bucket(const ScopeKey& key) {
  return hash_bytes(reinterpret_cast<const unsigned char*>(&key), sizeof key) & header->bucket_mask;
}

// The caller holds the lock (either mode).
ScopeEntry* table_find(const ScopeKey& key) {
  for (std::uint32_t bucket = home_bucket(key); buckets[bucket] != kEmptyBucket;
       bucket = (bucket + 1) & header->bucket_mask) {
    ScopeEntry* entry = &entries[buckets[bucket]];
    if (memcmp(&entry->key, &key, sizeof key) == 0) return entry;
  }
  return nullptr;
}

// A free entry holding `key` (not in the table yet), or nullptr when all are
// taken. The caller holds the lock exclusively.
ScopeEntry* table_enter(const ScopeKey& key) {
  std::int32_t index;
  if (header->free_count > 0) {
    index = free_entries[--header->free_count];
  } else if (header->used < header->capacity) {
    index = static_cast<std::int32_t>(header->used++);
  } else {
    return nullptr;
  }
  std::uint32_t bucket = home_bucket(key);
  while (buckets[bucket] != kEmptyBucket) bucket = (bucket + 1) & header->bucket_mask;
  buckets[bucket] = index;
  entries[index].key = key;
  return &entries[index];
}

// Removes an entry, shifting back the entries probed past its bucket so that
// no search stops early. The caller holds the lock exclusively.
void table_remove(ScopeEntry* entry) {
  auto index = static_cast<std::int32_t>(entry - entries);
  std::uint32_t hole = home_bucket(entry->key);
  while (buckets[hole] != index) hole = (hole + 1) & header->bucket_mask;
  for (std::uint32_t next = (hole + 1) & header->bucket_mask; buckets[next] != kEmptyBucket;
       next = (next + 1) & header->bucket_mask) {
    std::uint32_t home = home_bucket(entries[buckets[next]].key);
    // The entry at `next` may fill the hole unless its home lies cyclically
    // in (hole, next].
    bool home_after_hole =
        hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (home_after_hole) continue;
    buckets[hole] = buckets[next];
    hole = next;
  }
  buckets[hole] = kEmptyBucket;
  entry->key.database = InvalidOid;  // marks the entry free for scans
  free_entries[header->free_count++] = index;
}

std::uint32_t table_entry_count() { return header->used - header->free_count; }

// Calls `visit` on every entry in the table. The caller holds the lock.
template <typename Visit>
void for_each_entry(Visit&& visit) {
  for (std::uint32_t index = 0; index < header->used; ++index) {
    if (entries[index].key.database != InvalidOid) visit(&entries[index]);
  }
}

void initialize_entry(ScopeEntry* entry, TimestampTz now) {
  for (pg_atomic_uint64& count : entry->counts) pg_atomic_init_u64(&count, 0);
  pg_atomic_init_u64(&entry->counting_since, static_cast<uint64>(now));
  pg_atomic_init_u64(&entry->last_event_at, static_cast<uint64>(now));
  pg_atomic_init_u64(&entry->generation, 0);
  SpinLockInit(&entry->mutex);
}

bool is_unscoped(const ScopeEntry& entry) { return entry.key.scope[0] == '\0'; }

// The entry to evict for a new scope of `database`: the one that has gone
// longest without an event, among the database's entries when it holds its
// share (else among all, when the table is full), if it has been idle for
// counters_evict_after. nullptr: no room. The caller holds the lock
// exclusively; the scan is O(max_tracked_scopes) and runs only when the
// table holds at least a share's worth of entries.
ScopeEntry* entry_to_evict(Oid database, TimestampTz now, bool* no_room) {
  std::uint32_t count = table_entry_count();
  bool table_full = count >= header->capacity;
  *no_room = table_full;
  if (!table_full && count < static_cast<std::uint32_t>(max_tracked_scopes_per_database)) {
    return nullptr;
  }
  int held_here = 0;
  ScopeEntry* oldest_here = nullptr;
  ScopeEntry* oldest_anywhere = nullptr;
  auto older = [](ScopeEntry* candidate, ScopeEntry* than) {
    return than == nullptr ||
           pg_atomic_read_u64(&candidate->last_event_at) < pg_atomic_read_u64(&than->last_event_at);
  };
  for_each_entry([&](ScopeEntry* entry) {
    if (entry->key.database == database) ++held_here;
    if (is_unscoped(*entry)) return;
    if (entry->key.database == database && older(entry, oldest_here)) oldest_here = entry;
    if (older(entry, oldest_anywhere)) oldest_anywhere = entry;
  });
  ScopeEntry* victim = nullptr;
  if (held_here >= max_tracked_scopes_per_database) {
    *no_room = true;
    victim = oldest_here;
  } else if (table_full) {
    victim = oldest_anywhere;
  }
  if (victim == nullptr || counters_evict_after <= 0) return nullptr;
  auto idle_since = static_cast<TimestampTz>(pg_atomic_read_u64(&victim->last_event_at));
  if (now - idle_since < static_cast<TimestampTz>(counters_evict_after) * USECS_PER_SEC) {
    return nullptr;
  }
  return victim;
}

// Moves an entry's counts to the overflow entry and removes it; its new
// generation tells the backends that cached it. The caller holds the lock
// exclusively.
void evict(ScopeEntry* entry) {
  for (int event = 0; event < core::kGuardEventCount; ++event) {
    pg_atomic_fetch_add_u64(&header->overflow.counts[event],
                            pg_atomic_read_u64(&entry->counts[event]));
  }
  pg_atomic_write_u64(&entry->generation, ++header->next_generation);
  table_remove(entry);
}

ScopeKey scope_key(Oid database, std::string_view scope) {
  ScopeKey key;
  memset(&key, 0, sizeof key);  // the key is hashed and compared as bytes
  key.database = database;
  memcpy(key.scope, scope.data(), std::min(scope.size(), sizeof key.scope - 1));
  return key;
}

// The caller holds the lock exclusively (or is the postmaster at start-up).
ScopeEntry* enter_scope(const ScopeKey& name, TimestampTz now) {
  ScopeEntry* entry = table_find(name);
  if (entry != nullptr) return entry;
  bool no_room = false;
  ScopeEntry* victim = entry_to_evict(name.database, now, &no_room);
  if (victim != nullptr) {
    evict(victim);
  } else if (no_room) {
    return &header->overflow;
  }
  entry = table_enter(name);
  if (entry == nullptr) return &header->overflow;
  // table_enter set the key; everything after it is ours to zero.
  memset(reinterpret_cast<char*>(entry) + sizeof(ScopeKey), 0,
         sizeof(ScopeEntry) - sizeof(ScopeKey));
  initialize_entry(entry, now);
  pg_atomic_write_u64(&entry->generation, ++header->next_generation);
  return entry;
}

// The entry and its generation, read under the lock: an entry evicted right
// after is then seen as changed.
CachedEntry find_shared_entry(std::string_view scope) {
  ScopeKey name = scope_key(MyDatabaseId, scope);
  LWLockAcquire(lock, LW_SHARED);
  ScopeEntry* entry = table_find(name);
  if (entry == nullptr) {
    LWLockRelease(lock);
    LWLockAcquire(lock, LW_EXCLUSIVE);
    entry = enter_scope(name, GetCurrentTimestamp());
  }
  CachedEntry result{entry, pg_atomic_read_u64(&entry->generation)};
  LWLockRelease(lock);
  return result;
}

// The overflow entry and the tracked ones; the caller holds the lock or is
// alone. The vector is sized first: nothing throws during the scan.
std::vector<ScopeEntry*> collect_entries() {
  std::vector<ScopeEntry*> collected;
  collected.reserve(static_cast<std::size_t>(table_entry_count()) + 1);
  collected.push_back(&header->overflow);
  for_each_entry([&](ScopeEntry* entry) {
    if (collected.size() < collected.capacity()) collected.push_back(entry);
  });
  return collected;
}

// The file: magic, version, event count, entry count, then per entry its
// overflow flag, key, counting_since and one count per event.
struct FileHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t event_count;
  std::uint32_t entry_count;
};

struct FileEntry {
  std::int32_t overflow;
  ScopeKey key;
  std::int64_t counting_since;
  std::uint64_t counts[core::kGuardEventCount];
};

FileEntry file_entry(const ScopeEntry* entry) {
  FileEntry record{};
  record.overflow = entry == &header->overflow ? 1 : 0;
  record.key = entry->key;
  record.counting_since = static_cast<std::int64_t>(
      pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&entry->counting_since)));
  for (int event = 0; event < core::kGuardEventCount; ++event) {
    record.counts[event] = pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&entry->counts[event]));
  }
  return record;
}

void load_file_entry(const FileEntry& record) {
  ScopeEntry* entry = &header->overflow;
  if (record.overflow == 0) {
    ScopeKey key = record.key;
    key.scope[kScopeNameBytes - 1] = '\0';
    // Created with an event at start: a reloaded entry ages from now on.
    entry = enter_scope(scope_key(key.database, key.scope), GetCurrentTimestamp());
  }
  // A scope that no longer fits (a lower max_tracked_scopes) adds to the
  // overflow entry, so the totals stay whole.
  for (int event = 0; event < core::kGuardEventCount; ++event) {
    pg_atomic_fetch_add_u64(&entry->counts[event], record.counts[event]);
  }
  if ((entry == &header->overflow) == (record.overflow != 0)) {
    pg_atomic_write_u64(&entry->counting_since, static_cast<uint64>(record.counting_since));
  }
}

// Runs in the postmaster before any backend exists. A file that is missing,
// short or of another version is ignored: counting starts afresh.
void load_counters_file() {
  FILE* file = AllocateFile(kCountersFile, PG_BINARY_R);
  if (file == nullptr) {
    // Said once per start, so an operator can tell a reset from a quiet day.
    ereport(LOG, (errmsg("idempotency: counters start from zero"),
                  errdetail("No counters were saved: the first start, or the server did not "
                            "shut down cleanly.")));
    return;
  }
  FileHeader file_header{};
  bool ok = fread(&file_header, sizeof file_header, 1, file) == 1 &&
            file_header.magic == kCountersFileMagic &&
            file_header.version == core::kCountersFileVersion &&
            file_header.event_count == static_cast<std::uint32_t>(core::kGuardEventCount);
  for (std::uint32_t index = 0; ok && index < file_header.entry_count; ++index) {
    FileEntry record{};
    ok = fread(&record, sizeof record, 1, file) == 1;
    if (ok) load_file_entry(record);
  }
  if (!ok) {
    ereport(LOG, (errmsg("idempotency: ignoring unreadable counters file \"%s\"", kCountersFile)));
  }
  FreeFile(file);
  // Removed once read: after a crash there is no file, and the counters reset.
  unlink(kCountersFile);
}

// on_shmem_exit in the postmaster: saves the counters at a clean shutdown
// only (code 0), as pg_stat_statements does.
void save_counters_file(int code, Datum) {
  if (code != 0 || header == nullptr) return;
  std::string temporary = std::string(kCountersFile) + ".tmp";
  FILE* file = AllocateFile(temporary.c_str(), PG_BINARY_W);
  if (file == nullptr) {
    ereport(LOG, (errcode_for_file_access(),
                  errmsg("idempotency: could not write \"%s\": %m", temporary.c_str())));
    return;
  }
  FileHeader file_header{kCountersFileMagic, core::kCountersFileVersion,
                         static_cast<std::uint32_t>(core::kGuardEventCount), 0};
  // No lock: the postmaster holds none, and no other process is left.
  std::vector<ScopeEntry*> entries = collect_entries();
  file_header.entry_count = static_cast<std::uint32_t>(entries.size());
  bool ok = fwrite(&file_header, sizeof file_header, 1, file) == 1;
  for (const ScopeEntry* entry : entries) {
    FileEntry record = file_entry(entry);
    ok = ok && fwrite(&record, sizeof record, 1, file) == 1;
  }
  ok = FreeFile(file) == 0 && ok;
  if (ok) {
    durable_rename(temporary.c_str(), kCountersFile, LOG);
  } else {
    ereport(LOG, (errmsg("idempotency: could not write \"%s\"", temporary.c_str())));
    unlink(temporary.c_str());
  }
}

void initialize_scope_table(void* memory, LWLock* /*lock*/) {
  auto capacity = static_cast<std::uint32_t>(max_tracked_scopes);
  Layout fresh = layout_of(memory, capacity);
  fresh.header->next_generation = 0;
  fresh.header->capacity = capacity;
  fresh.header->bucket_mask = bucket_count_for(capacity) - 1;
  fresh.header->used = 0;
  fresh.header->free_count = 0;
  for (std::uint32_t bucket = 0; bucket <= fresh.header->bucket_mask; ++bucket) {
    fresh.buckets[bucket] = kEmptyBucket;
  }
  memset(&fresh.header->overflow, 0, sizeof fresh.header->overflow);
  initialize_entry(&fresh.header->overflow, GetCurrentTimestamp());
}

void attach_scope_table(void* memory, LWLock* table_lock) {
  Layout layout = layout_of(memory, static_cast<std::uint32_t>(max_tracked_scopes));
  header = layout.header;
  entries = layout.entries;
  buckets = layout.buckets;
  free_entries = layout.free_entries;
  lock = table_lock;
  // Preloaded, in the postmaster: the counters saved at the last clean
  // shutdown come back, and are saved again at the next. (Without
  // preloading, counting starts from zero at each server start.)
  if (!IsUnderPostmaster) {
    // No lock needed: no backend exists yet.
    load_counters_file();
    on_shmem_exit(save_counters_file, 0);
  }
}

const SharedStructure kScopeTableMemory{"idempotency scope table", scope_table_size,
                                        initialize_scope_table, attach_scope_table};

}  // namespace

void define_scope_table_settings() {
  DefineCustomBoolVariable("idempotency.track_counters",
                           "Counts the guards' events in idempotency.counters.", nullptr,
                           &track_counters, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "idempotency.max_tracked_scopes_per_database",
      "How many of the idempotency.max_tracked_scopes entries one database may hold.",
      "So that one database's scopes cannot take the rows of the others.",
      &max_tracked_scopes_per_database, 500, 1, 1000000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "idempotency.counters_evict_after",
      "How long a scope's counters row must go without an event before a new scope may take it.",
      "Its counts move to the overflow row; 0 never evicts.", &counters_evict_after, 3600, 0,
      INT_MAX / 2, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
  // A postmaster setting defined after startup is FATAL; without preloading
  // the table has the default size.
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomIntVariable(
      "idempotency.max_tracked_scopes", "How many scopes idempotency.counters tracks one by one.",
      "Events of scopes past this number are counted in the overflow row.", &max_tracked_scopes,
      1000, 1, 1000000, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

const SharedStructure& scope_table_memory() { return kScopeTableMemory; }

ScopeEntry* find_scope_entry(std::string_view scope) {
  if (header == nullptr) return nullptr;
  static std::string last_scope;
  static CachedEntry last{nullptr, 0};
  auto current = [](const CachedEntry& cached) {
    return pg_atomic_read_u64(&cached.entry->generation) == cached.generation;
  };
  if (last.entry != nullptr && last_scope == scope && current(last)) return last.entry;
  if (cached_entries == nullptr) cached_entries = new std::unordered_map<std::string, CachedEntry>;
  std::string name(scope.substr(0, kScopeNameBytes - 1));
  auto cached = cached_entries->find(name);
  CachedEntry found{nullptr, 0};
  if (cached != cached_entries->end() && current(cached->second)) {
    found = cached->second;
  } else {
    found = find_shared_entry(name);
    // A client may use any number of scopes: the cache starts over rather
    // than grow without bound (the entries stay in shared memory).
    if (cached_entries->size() >= kMaxCachedScopes) cached_entries->clear();
    (*cached_entries)[name] = found;
  }
  last_scope = std::move(name);
  last = found;
  return found.entry;
}

ScopeEntryKind scope_entry_kind(const ScopeEntry* entry) {
  if (header != nullptr && entry == &header->overflow) return ScopeEntryKind::kOverflow;
  if (entry->key.scope[0] == '\0') return ScopeEntryKind::kUnscoped;
  return ScopeEntryKind::kScope;
}

void count_event(std::string_view scope, core::GuardEvent event, std::uint64_t count) noexcept {
  if (!track_counters || header == nullptr) return;
  try {
    ScopeEntry* entry = find_scope_entry(scope);
    if (entry != nullptr) {
      pg_atomic_fetch_add_u64(&entry->counts[static_cast<int>(event)], count);
      pg_atomic_write_u64(&entry->last_event_at, static_cast<uint64>(GetCurrentTimestamp()));
    }
  } catch (...) {
    // Out of memory for the cache: this event goes uncounted, the call succeeds.
  }
}

void count_unscoped_event(core::GuardEvent event, std::uint64_t count) noexcept {
  count_event(std::string_view(), event, count);
}

std::vector<ScopeEntry*> scope_entries() {
  if (header == nullptr) return {};
  LWLockAcquire(lock, LW_SHARED);
  std::vector<ScopeEntry*> entries = collect_entries();
  LWLockRelease(lock);
  return entries;
}

bool reset_scope_counts(std::optional<std::string_view> scope) {
  if (header == nullptr) return false;
  TimestampTz now = GetCurrentTimestamp();
  auto reset = [now](ScopeEntry* entry) {
    for (pg_atomic_uint64& count : entry->counts) pg_atomic_write_u64(&count, 0);
    pg_atomic_write_u64(&entry->counting_since, static_cast<uint64>(now));
  };
  if (!scope) {
    // The overflow entry holds every database's events: only a superuser
    // (who may reset any database) zeroes it.
    bool may_reset_overflow = superuser();
    for (ScopeEntry* entry : scope_entries()) {
      if (entry == &header->overflow ? may_reset_overflow : entry->key.database == MyDatabaseId) {
        reset(entry);
      }
    }
    return true;
  }
  ScopeKey name = scope_key(MyDatabaseId, *scope);
  LWLockAcquire(lock, LW_SHARED);
  ScopeEntry* entry = table_find(name);
  LWLockRelease(lock);
  if (entry == nullptr) return false;
  reset(entry);
  return true;
}

}  // namespace idempotency::pg
