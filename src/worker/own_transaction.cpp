#include "worker/own_transaction.hpp"

#include "core/guard_error.hpp"

extern "C" {
#include "utils/timeout.h"
}

namespace idempotency::worker {
namespace {

char failure_message[512];

}  // namespace

const char* last_failure_message() { return failure_message; }

void remember_current_exception() noexcept {
  try {
    throw;
  } catch (const pg::PgError& error) {
    pg::copy_clipped(failure_message, sizeof failure_message, error.what());
  } catch (const std::exception& error) {
    pg::copy_clipped(failure_message, sizeof failure_message, error.what());
  } catch (...) {
    pg::copy_clipped(failure_message, sizeof failure_message, "unknown error");
  }
}

void abort_failed_transaction(MemoryContext caller_context) {
  HOLD_INTERRUPTS();
  // A statement timeout armed for the failed work must not fire later.
  disable_timeout(STATEMENT_TIMEOUT, false);
  AbortCurrentTransaction();
  RESUME_INTERRUPTS();
  MemoryContextSwitchTo(caller_context);
}

}  // namespace idempotency::worker
