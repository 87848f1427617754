// Deleting expired guards and re-dating a scope's guards, a batch at a time.
// Both run inside a guard store session (as the table owner, SPI connected).
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// Where a run of purge batches has got to: each batch starts at the expiry
// the previous one reached, so its index scan does not walk again over the
// entries of the guards already deleted (they stay in the index until vacuum,
// and re-walking them made every batch slower than the one before).
// Once Citus distributed the guards, the batches go through this node's
// shards in turn: shard_position is the shard being purged.
struct PurgeProgress {
  TimestampTz resume_from = DT_NOBEGIN;
  uint64 shard_position = 0;
};

// Deletes up to `batch_size` guards that expired at or before `now`, oldest
// first from `progress`, and advances it. Rows locked by a concurrent claim
// are skipped, never waited for, so a purge never holds up a claim of a key
// that is being taken over. Once Citus distributed the guards, it deletes
// from the shard placements on this node only. Returns the number deleted.
uint64 purge_expired_batch(TimestampTz now, int batch_size, PurgeProgress& progress);

// Whether Citus has distributed idempotency.guards (idempotency.distribute()).
// Needs SPI connected; raises an ERROR (call inside call_pg).
bool guards_distributed();

// Sets expires_at = claimed_at + ttl on up to `batch_size` live guards of
// `scope` claimed at or before `cutoff` (when the policy was set) that do not
// have that expiry yet; later claims already follow the policy, or their own
// explicit ttl, and are never touched. Returns the number changed; 0 means
// the scope is done. Once Citus distributed the guards, re-dates every shard
// in one call (each shard's change committed on its own) and returns 0.
uint64 redate_scope_batch(text* scope, Interval* ttl, TimestampTz cutoff, TimestampTz now,
                          int batch_size);

}  // namespace idempotency::pg
