// Wakes the retries waiting for a guard (claim_or_lookup's wait) when the
// transaction that recorded its outcome or released it commits: only then can
// a new snapshot see the change. The slots touched are remembered in backend
// memory; a subtransaction that aborts forgets its own, a transaction that
// aborts wakes nobody.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// For _PG_init when preloading: the transaction callbacks.
void install_commit_wakeup_callbacks();

// Wake the waiters of (scope, key) when this transaction commits. Does
// nothing when the library was not preloaded (nobody can wait then).
void wake_waiters_at_commit(std::string_view scope, std::string_view key);

}  // namespace idempotency::pg
