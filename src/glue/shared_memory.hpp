// The extension's structures in shared memory, created once per server start
// in one of two ways:
// - preloaded (shared_preload_libraries, any version): reserved by the one
//   shmem_request_hook and created by the one shmem_startup_hook, in the
//   postmaster, sized by the postmaster settings;
// - not preloaded, on PostgreSQL 17 and later: created by the first backend
//   that loads the library, in a segment of the dynamic shared memory
//   registry (GetNamedDSMSegment), sized by the settings' defaults, and
//   attached by every later backend as it loads the library.
// On 15 and 16 without preloading there is no shared memory: each owner's
// accessor then says it is unavailable and its feature fails with 55000.
#pragma once
#include "glue/postgres.hpp"

extern "C" {
#include "storage/lwlock.h"
}

namespace idempotency::pg {

// One structure. Its functions run with no exception escaping them.
struct SharedStructure {
  const char* name;  // its shared memory name, and its LWLock tranche's
  Size (*size)();    // bytes, from the (postmaster) settings
  // Initializes fresh memory, once per server start. `lock` is the
  // structure's own LWLock, already initialized.
  void (*initialize)(void* memory, LWLock* lock);
  // Records where the memory and the lock are in this process (and when
  // preloaded, runs in the postmaster after initialize).
  void (*attach)(void* memory, LWLock* lock);
};

// From _PG_init, in the order of attachment. At most kMaxSharedStructures.
void add_shared_structure(const SharedStructure& structure);
constexpr int kMaxSharedStructures = 8;

// Preloaded: installs the request and startup hooks for every structure.
void install_shared_memory_hooks();

// Whether this server can create the structures without preloading (17+).
bool dynamic_shared_memory_supported();

// Not preloaded, 17+: creates or attaches every structure in this process.
// Raises on failure (out of memory, no dynamic shared memory).
void attach_dynamic_shared_memory();

// True once the structures are attached in this process, either way.
bool shared_memory_attached();

// True when they were attached without preloading.
bool shared_memory_is_dynamic();

}  // namespace idempotency::pg
