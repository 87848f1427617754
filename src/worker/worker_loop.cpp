#include "worker/worker_loop.hpp"

extern "C" {
#include "postmaster/interrupt.h"
}

namespace idempotency::worker {

void handle_worker_interrupts() {
  QueryCancelPending = false;
  CHECK_FOR_INTERRUPTS();
  if (ConfigReloadPending) {
    ConfigReloadPending = false;
    ProcessConfigFile(PGC_SIGHUP);
  }
}

void pin_worker_transaction_settings() {
  SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

}  // namespace idempotency::worker
