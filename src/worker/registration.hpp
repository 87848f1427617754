// Registering the background workers with the postmaster.
#pragma once
#include "glue/postgres.hpp"

extern "C" {
#include "postmaster/bgworker.h"
}

namespace idempotency::worker {

// From _PG_init (shared_preload_libraries): the launcher, restarted by the
// postmaster 10 s after it exits abnormally.
void register_launcher();

// From the launcher: the purge worker of registry slot `index`. False when no
// background worker slot is free.
bool start_purge_worker(int index, const char* database, BackgroundWorkerHandle** handle);

}  // namespace idempotency::worker
