// All reads and writes of idempotency.guards. Claims and reads go straight to
// the heap and primary key (guard_heap.hpp); the other writes are statements
// prepared once per backend and kept, every object and operator in them
// schema-qualified, so the caller's search_path cannot change what they do.
//
// The functions here run as the owner of idempotency.guards (see
// open_guard_store): client roles get no privileges on the table itself.
#pragma once
#include "core/pure_cpp.hpp"

#include "core/guard_rules.hpp"

#include "glue/postgres.hpp"
#include "guards/guard_table.hpp"

namespace idempotency::pg {

struct GuardInserter;

// Between open_guard_store() and close_guard_store(): the table is locked
// (until the transaction ends) and what is known of it is in `table`, the
// current user is the table owner, and SPI is connected for the prepared
// statements (at once, or on first use: a claim or lookup that needs no
// statement never pays for it). Settings changed while running as the owner
// (a SET in a trigger, say) are undone by close_guard_store(), as amcheck
// does: none outlives the call. On an ERROR the transaction (or
// subtransaction) abort undoes the user switch and SPI, so there is nothing
// to clean up by hand; the inserts' set-up (guard_heap.hpp) is freed and its
// relations closed by the abort too.
struct GuardStoreSession {
  Oid saved_user = InvalidOid;
  int saved_security_context = 0;
  int guc_nest_level = 0;  // NewGUCNestLevel() at open_guard_store()
  MemoryContext caller_context = nullptr;
  bool statements_connected = false;
  const GuardTable* table = nullptr;
  // Set up by the first direct insert, shared by the session's others.
  GuardInserter* inserter = nullptr;
};

enum class Statements { kConnectNow, kConnectOnDemand };

// `lock`: RowExclusiveLock for a session that inserts guards (insert_guard),
// which keeps anything that would change how claims may write (a trigger, a
// column) from being added while it runs.
GuardStoreSession open_guard_store(Statements statements = Statements::kConnectNow,
                                   LOCKMODE lock = AccessShareLock);
void close_guard_store(const GuardStoreSession& session);

// Connects SPI for the prepared statements, unless the session already has.
void use_statements(GuardStoreSession& session);

// A guard as read from the table, copied into the caller's memory context.
struct GuardRow {
  bool found = false;
  core::StoredGuard guard;
  text* fingerprint = nullptr;      // nullptr: NULL
  Jsonb* outcome = nullptr;         // nullptr: NULL, or not requested
  bytea* attempt_digest = nullptr;  // nullptr: NULL, or a table before 1.2
  TimestampTz claimed_at = 0;
  std::optional<TimestampTz> completed_at;
};

enum class OutcomeColumn { kSkip, kCopy };

// The guard with (scope, key) as a statement would see it now. `location`,
// where a claim's insert found that guard, saves the index search when valid.
GuardRow read_guard(GuardStoreSession& session, text* scope, text* key, OutcomeColumn outcome,
                    ItemPointer location = nullptr);

// What a claim writes: a pending guard claimed at `now`.
struct ClaimWrite {
  text* scope = nullptr;
  text* key = nullptr;
  text* fingerprint = nullptr;      // nullptr: NULL
  bytea* attempt_digest = nullptr;  // nullptr: NULL (requires table->attempt_column)
  std::int64_t claim_token = 0;
  TimestampTz now = 0;
  TimestampTz expires_at = 0;
  std::optional<TimestampTz> lease_expires_at;  // nullopt: no lease
};

// Requires a session opened with RowExclusiveLock. Inserts a new pending guard; false when a guard
// with that scope and key exists (after waiting for an uncommitted one, as unique checks do), with
// where it is in `conflict` when known (else invalid). What it inserts is visible to the
// session's later reads and statements, and to what follows close_guard_store().
bool insert_guard(GuardStoreSession& session, const ClaimWrite& write, ItemPointer conflict);

// Replaces the guard `seen` with this claim, but only if it is still exactly
// the guard that was seen (same token, status and expiry).
bool take_over_guard(GuardStoreSession& session, const ClaimWrite& write,
                     const core::StoredGuard& seen);

// Records the outcome of a live pending guard (matching `claim_token` if one
// is given). False when no such guard exists.
bool complete_guard(text* scope, text* key, core::GuardStatus status, Jsonb* outcome,
                    std::optional<std::int64_t> claim_token, TimestampTz now);

// Deletes a live pending guard (matching `claim_token` if one is given).
bool delete_pending_guard(text* scope, text* key, std::optional<std::int64_t> claim_token,
                          TimestampTz now);

// Sets the lease of the live pending guard claimed with `claim_token` to
// expire at `lease_expires_at`. False when no such guard exists.
bool extend_pending_lease(text* scope, text* key, std::int64_t claim_token, TimestampTz now,
                          TimestampTz lease_expires_at);

}  // namespace idempotency::pg
