// The launcher of the purge workers (launcher.cpp), and how a backend starts
// it when the library was not preloaded.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::worker {

// Without preloading (17+), in a backend connected to a database: lists the
// database for purging and starts the launcher as a dynamic background
// worker unless it runs (or was just asked for). So the first use of the
// extension in a database after a server start, with or without a restart
// in between, starts its purging. Preloaded (or on 15 and 16): does nothing.
// Warns, and carries on, when no background worker slot or registry slot is
// free.
void ensure_purging_of_this_database() noexcept;

}  // namespace idempotency::worker
