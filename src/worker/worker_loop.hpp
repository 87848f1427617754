// What every background worker loop of the extension does between units of
// work, and the settings its transactions must not inherit.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::worker {

// Exits on SIGTERM or postmaster death (CHECK_FOR_INTERRUPTS), reloads the
// configuration after SIGHUP, and absorbs a query cancel: a worker runs no
// client query, and a cancel (pg_cancel_backend, a late statement timeout)
// must not turn into an ERROR that ends the process.
void handle_worker_interrupts();

// Read-write READ COMMITTED transactions whatever the server's defaults
// (default_transaction_read_only = on would make every purge fail).
void pin_worker_transaction_settings();

}  // namespace idempotency::worker
