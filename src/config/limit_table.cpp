#include "config/limit_table.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
}

namespace idempotency::pg {

int max_limits = 100;

namespace {

struct LimitTableHeader {
  LWLock* lock;  // exclusive to take a free slot
  LimitSlot slots[FLEXIBLE_ARRAY_MEMBER];
};

LimitTableHeader* header = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;
constexpr const char* kTrancheName = "idempotency limits";

Size limit_table_size() {
  return add_size(offsetof(LimitTableHeader, slots),
                  mul_size(static_cast<Size>(max_limits), sizeof(LimitSlot)));
}

void request_limit_table_memory() {
  if (previous_request_hook != nullptr) previous_request_hook();
  RequestAddinShmemSpace(limit_table_size());
  RequestNamedLWLockTranche(kTrancheName, 1);
}

void attach_limit_table() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  header = static_cast<LimitTableHeader*>(
      ShmemInitStruct("idempotency limit table", limit_table_size(), &found));
  if (!found) {
    header->lock = &(GetNamedLWLockTranche(kTrancheName))->lock;
    for (int index = 0; index < max_limits; ++index) {
      LimitSlot& slot = header->slots[index];
      slot.database = InvalidOid;
      memset(slot.pattern, 0, sizeof slot.pattern);
      pg_atomic_init_u64(&slot.live, 0);
      pg_atomic_init_u64(&slot.pending, 0);
      pg_atomic_init_u64(&slot.counted_at, 0);
      pg_atomic_init_flag(&slot.recounting);
    }
  }
  LWLockRelease(AddinShmemInitLock);
}

bool is_slot_of(const LimitSlot& slot, std::string_view pattern) {
  return slot.database == MyDatabaseId && strlen(slot.pattern) == pattern.size() &&
         memcmp(slot.pattern, pattern.data(), pattern.size()) == 0;
}

pg_atomic_uint64* counter(LimitSlot* slot, core::LimitKind kind) {
  return kind == core::LimitKind::kLive ? &slot->live : &slot->pending;
}

}  // namespace

void define_limit_table_settings() {
  // A postmaster setting defined after startup is FATAL; without preloading
  // there are no slots to size.
  if (!process_shared_preload_libraries_in_progress) return;
  DefineCustomIntVariable("idempotency.max_limits",
                          "How many scope limits (set_limits patterns) the server can enforce.",
                          "Across all databases; a limit set past it makes its claims fail.",
                          &max_limits, 100, 1, 100000, PGC_POSTMASTER, 0, nullptr, nullptr,
                          nullptr);
}

void install_limit_table_hooks() {
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = request_limit_table_memory;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = attach_limit_table;
}

bool limit_table_available() noexcept { return header != nullptr; }

LimitSlot* find_limit_slot(std::string_view pattern) noexcept {
  if (header == nullptr || pattern.size() > core::kMaxIdentifierBytes) return nullptr;
  LWLockAcquire(header->lock, LW_EXCLUSIVE);
  LimitSlot* found = nullptr;
  LimitSlot* free_slot = nullptr;
  for (int index = 0; index < max_limits && found == nullptr; ++index) {
    LimitSlot& slot = header->slots[index];
    if (is_slot_of(slot, pattern)) found = &slot;
    if (slot.database == InvalidOid && free_slot == nullptr) free_slot = &slot;
  }
  if (found == nullptr && free_slot != nullptr) {
    free_slot->database = MyDatabaseId;
    memcpy(free_slot->pattern, pattern.data(), pattern.size());
    free_slot->pattern[pattern.size()] = '\0';
    pg_atomic_write_u64(&free_slot->live, 0);
    pg_atomic_write_u64(&free_slot->pending, 0);
    pg_atomic_write_u64(&free_slot->counted_at, 0);
    found = free_slot;
  }
  LWLockRelease(header->lock);
  return found;
}

std::int64_t slot_count(LimitSlot* slot, core::LimitKind kind) noexcept {
  return static_cast<std::int64_t>(pg_atomic_read_u64(counter(slot, kind)));
}

std::int64_t add_to_slot(LimitSlot* slot, core::LimitKind kind, std::int64_t delta) noexcept {
  return static_cast<std::int64_t>(pg_atomic_add_fetch_u64(counter(slot, kind), delta));
}

}  // namespace idempotency::pg
