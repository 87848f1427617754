#include "glue/shared_memory.hpp"

#include "glue/compat.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace idempotency::pg {
namespace {

const SharedStructure* structures[kMaxSharedStructures];
int structure_count = 0;
bool attached = false;
bool dynamic = false;

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// A dynamic segment starts with the structure's LWLock and its tranche: the
// lock must live in the segment, and on 17 and 18 each process names the
// tranche itself.
struct SegmentHeader {
  int tranche;
  LWLock lock;
};
Size structure_offset() { return MAXALIGN(sizeof(SegmentHeader)); }

void request_all() {
  if (previous_request_hook != nullptr) previous_request_hook();
  for (int index = 0; index < structure_count; ++index) {
    RequestAddinShmemSpace(MAXALIGN(structures[index]->size()));
    RequestNamedLWLockTranche(structures[index]->name, 1);
  }
}

// In the postmaster (again after a crash restart), before any backend.
void start_all() {
  if (previous_startup_hook != nullptr) previous_startup_hook();
  for (int index = 0; index < structure_count; ++index) {
    const SharedStructure& structure = *structures[index];
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    void* memory = ShmemInitStruct(structure.name, structure.size(), &found);
    LWLock* lock = &GetNamedLWLockTranche(structure.name)->lock;
    if (!found) structure.initialize(memory, lock);
    LWLockRelease(AddinShmemInitLock);
    structure.attach(memory, lock);
  }
  attached = true;
}

// The init callback of GetNamedDSMSegment, run under the registry's lock by
// the backend that creates the segment.
void initialize_segment(void* segment, void* argument) {
  const auto& structure = *static_cast<const SharedStructure*>(argument);
  auto* header = static_cast<SegmentHeader*>(segment);
  memset(segment, 0, structure_offset() + structure.size());
  header->tranche = compat::new_lwlock_tranche(structure.name);
  LWLockInitialize(&header->lock, header->tranche);
  structure.initialize(static_cast<char*>(segment) + structure_offset(), &header->lock);
}

}  // namespace

void add_shared_structure(const SharedStructure& structure) {
  if (structure_count == kMaxSharedStructures) {
    elog(ERROR, "idempotency: too many shared structures");
  }
  structures[structure_count++] = &structure;
}

void install_shared_memory_hooks() {
  previous_request_hook = shmem_request_hook;
  shmem_request_hook = request_all;
  previous_startup_hook = shmem_startup_hook;
  shmem_startup_hook = start_all;
}

bool dynamic_shared_memory_supported() { return compat::kHasNamedDsmSegments; }

void attach_dynamic_shared_memory() {
  if (attached || !compat::kHasNamedDsmSegments) return;
  for (int index = 0; index < structure_count; ++index) {
    const SharedStructure& structure = *structures[index];
    bool found = false;
    auto* header = static_cast<SegmentHeader*>(compat::named_dsm_segment(
        structure.name, structure_offset() + structure.size(), initialize_segment,
        const_cast<SharedStructure*>(&structure), &found));
    if (found) compat::name_lwlock_tranche(header->tranche, structure.name);
    structure.attach(reinterpret_cast<char*>(header) + structure_offset(), &header->lock);
  }
  attached = true;
  dynamic = true;
}

bool shared_memory_attached() { return attached; }

bool shared_memory_is_dynamic() { return dynamic; }

}  // namespace idempotency::pg
