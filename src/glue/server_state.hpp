// Facts about the server a function depends on.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// Raises 25006 with a clear message on a hot standby or in a read-only
// transaction, where guards can be looked up but not written. `action`
// completes "cannot ...", e.g. "claim a guard".
void require_writable(const char* action);

// A fresh claim token from the operating system's strong random source.
std::int64_t new_claim_token();

// The current time, read once per call: expiry is decided against the clock,
// not the transaction start, so a long transaction sees expiry on time.
TimestampTz current_instant();

}  // namespace idempotency::pg
