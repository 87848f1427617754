#include "policies/limit_table.hpp"

#include <algorithm>

extern "C" {
#include "utils/guc.h"
}

namespace idempotency::pg {

int max_limits = 100;
int max_limits_per_database = 50;

namespace {

LimitSlot* slots = nullptr;
LWLock* lock = nullptr;  // exclusive to take a free slot

Size limit_table_size() { return mul_size(static_cast<Size>(max_limits), sizeof(LimitSlot)); }

void initialize_limit_table(void* memory, LWLock* /*lock*/) {
  auto* fresh = static_cast<LimitSlot*>(memory);
  for (int index = 0; index < max_limits; ++index) {
    LimitSlot& slot = fresh[index];
    slot.database = InvalidOid;
    memset(slot.pattern, 0, sizeof slot.pattern);
    pg_atomic_init_u64(&slot.generation, 0);
    pg_atomic_init_u64(&slot.live, 0);
    pg_atomic_init_u64(&slot.pending, 0);
    pg_atomic_init_u64(&slot.counted_at, 0);
    pg_atomic_init_flag(&slot.recounting);
  }
}

void attach_limit_table(void* memory, LWLock* table_lock) {
  slots = static_cast<LimitSlot*>(memory);
  lock = table_lock;
}

const SharedStructure kLimitTableMemory{"idempotency limit table", limit_table_size,
                                        initialize_limit_table, attach_limit_table};

bool is_slot_of(const LimitSlot& slot, std::string_view pattern) {
  return slot.database == MyDatabaseId && strlen(slot.pattern) == pattern.size() &&
         memcmp(slot.pattern, pattern.data(), pattern.size()) == 0;
}

LimitSlotRef ref_of(LimitSlot& slot) { return {&slot, pg_atomic_read_u64(&slot.generation)}; }

// The caller holds the lock exclusively.
void free_slot(LimitSlot& slot) {
  slot.database = InvalidOid;
  memset(slot.pattern, 0, sizeof slot.pattern);
  pg_atomic_fetch_add_u64(&slot.generation, 1);
}

// The caller holds the lock exclusively.
LimitSlotRef take_slot(LimitSlot& slot, std::string_view pattern) {
  slot.database = MyDatabaseId;
  memcpy(slot.pattern, pattern.data(), pattern.size());
  slot.pattern[pattern.size()] = '\0';
  pg_atomic_write_u64(&slot.live, 0);
  pg_atomic_write_u64(&slot.pending, 0);
  pg_atomic_write_u64(&slot.counted_at, 0);
  pg_atomic_fetch_add_u64(&slot.generation, 1);
  LimitSlotRef ref = ref_of(slot);
  ref.taken_now = true;
  return ref;
}

pg_atomic_uint64* counter(LimitSlot* slot, core::LimitKind kind) {
  return kind == core::LimitKind::kLive ? &slot->live : &slot->pending;
}

}  // namespace

void define_limit_table_settings() {
  DefineCustomIntVariable(
      "idempotency.max_limits_per_database",
      "How many of the idempotency.max_limits slots one database may hold.",
      "So that one database cannot take every slot; set_limits past it fails with 53400.",
      &max_limits_per_database, 50, 1, 100000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  // A postmaster setting defined after startup is FATAL; without preloading
  // the table has the default number of slots.
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomIntVariable("idempotency.max_limits",
                          "How many scope limits (set_limits patterns) the server can enforce.",
                          "Across all databases; set_limits past it fails with 53400.", &max_limits,
                          100, 1, 100000, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

const SharedStructure& limit_table_memory() { return kLimitTableMemory; }

bool limit_table_available() noexcept { return slots != nullptr; }

LimitSlotRef find_limit_slot(std::string_view pattern, bool take,
                             LimitSlotShortage* shortage) noexcept {
  LimitSlotShortage reason = LimitSlotShortage::kNotPreloaded;
  LimitSlotRef found;
  if (slots != nullptr && pattern.size() <= core::kMaxIdentifierBytes) {
    LWLockAcquire(lock, LW_EXCLUSIVE);
    LimitSlot* free_slot = nullptr;
    int held_here = 0;
    for (int index = 0; index < max_limits && found.slot == nullptr; ++index) {
      LimitSlot& slot = slots[index];
      if (is_slot_of(slot, pattern)) found = ref_of(slot);
      if (slot.database == MyDatabaseId) ++held_here;
      if (slot.database == InvalidOid && free_slot == nullptr) free_slot = &slot;
    }
    if (found.slot == nullptr && take) {
      if (held_here >= max_limits_per_database) {
        reason = LimitSlotShortage::kDatabaseShare;
      } else if (free_slot == nullptr) {
        reason = LimitSlotShortage::kServerFull;
      } else {
        found = take_slot(*free_slot, pattern);
      }
    }
    LWLockRelease(lock);
  }
  if (found.slot != nullptr) reason = LimitSlotShortage::kNone;
  if (shortage != nullptr) *shortage = reason;
  return found;
}

bool slot_is_current(const LimitSlotRef& ref) noexcept {
  return ref.slot != nullptr && pg_atomic_read_u64(&ref.slot->generation) == ref.generation;
}

void free_limit_slot(std::string_view pattern) noexcept {
  if (slots == nullptr) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  for (int index = 0; index < max_limits; ++index) {
    if (is_slot_of(slots[index], pattern)) free_slot(slots[index]);
  }
  LWLockRelease(lock);
}

void free_limit_slot(const LimitSlotRef& ref) noexcept {
  if (slots == nullptr || ref.slot == nullptr) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  if (slot_is_current(ref)) free_slot(*ref.slot);
  LWLockRelease(lock);
}

std::vector<Oid> databases_holding_limit_slots() {
  std::vector<Oid> databases;
  if (slots == nullptr) return databases;
  databases.reserve(static_cast<std::size_t>(max_limits));  // no throw under the lock
  LWLockAcquire(lock, LW_SHARED);
  for (int index = 0; index < max_limits; ++index) {
    Oid database = slots[index].database;
    if (database != InvalidOid && database != MyDatabaseId &&
        std::find(databases.begin(), databases.end(), database) == databases.end()) {
      databases.push_back(database);
    }
  }
  LWLockRelease(lock);
  return databases;
}

void free_limit_slots_of(const std::vector<Oid>& databases) noexcept {
  if (slots == nullptr || databases.empty()) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  for (int index = 0; index < max_limits; ++index) {
    LimitSlot& slot = slots[index];
    if (std::find(databases.begin(), databases.end(), slot.database) != databases.end()) {
      free_slot(slot);
    }
  }
  LWLockRelease(lock);
}

void free_unbacked_limit_slots(const std::vector<std::string>& backed) noexcept {
  if (slots == nullptr) return;
  LWLockAcquire(lock, LW_EXCLUSIVE);
  for (int index = 0; index < max_limits; ++index) {
    LimitSlot& slot = slots[index];
    if (slot.database == MyDatabaseId &&
        std::find(backed.begin(), backed.end(), std::string_view(slot.pattern)) == backed.end()) {
      free_slot(slot);
    }
  }
  LWLockRelease(lock);
}

std::int64_t slot_count(LimitSlot* slot, core::LimitKind kind) noexcept {
  return static_cast<std::int64_t>(pg_atomic_read_u64(counter(slot, kind)));
}

std::int64_t add_to_slot(LimitSlot* slot, core::LimitKind kind, std::int64_t delta) noexcept {
  return static_cast<std::int64_t>(pg_atomic_add_fetch_u64(counter(slot, kind), delta));
}

}  // namespace idempotency::pg
