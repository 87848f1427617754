// The purge worker's GUCs.
#pragma once
#include "core/pure_cpp.hpp"

#include <string>
#include <vector>

#include "glue/postgres.hpp"

namespace idempotency::pg {

extern char* purge_databases;           // idempotency.databases (postmaster)
extern char* purge_role;                // idempotency.purge_role (postmaster)
extern int purge_interval_ms;           // idempotency.purge_interval (reload)
extern int purge_batch_size;            // idempotency.purge_batch_size (reload)
extern int purge_lock_timeout_ms;       // idempotency.purge_lock_timeout (reload)
extern int purge_statement_timeout_ms;  // idempotency.purge_statement_timeout (reload)
extern int purge_nice;                  // idempotency.purge_nice (postmaster)

void define_worker_settings();

// The databases listed in idempotency.databases (validated by its check hook).
std::vector<std::string> configured_purge_databases();

}  // namespace idempotency::pg
