#include "core/guard_error.hpp"
#include "worker/own_transaction.hpp"

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
    strlcpy(failure_message, error.what(), sizeof failure_message);
  } catch (const std::exception& error) {
    strlcpy(failure_message, error.what(), sizeof failure_message);
  } catch (...) {
    strlcpy(failure_message, "unknown error", sizeof failure_message);
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
