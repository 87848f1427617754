// What a call needs to know about idempotency.guards (its OID, owner and
// primary key, and whether it is still exactly as the extension created it),
// looked up once per backend and again only after a relcache invalidation of
// the table: ALTER TABLE, CREATE TRIGGER, DROP and CREATE EXTENSION, ...
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// The columns of idempotency.guards, in table order.
enum GuardColumn : AttrNumber {
  kScopeColumn = 1,
  kKeyColumn,
  kStatusColumn,
  kFingerprintColumn,
  kOutcomeColumn,
  kClaimTokenColumn,
  kClaimedAtColumn,
  kCompletedAtColumn,
  kExpiresAtColumn,
  kLeaseExpiresAtColumn,
  kGuardColumnCount = kLeaseExpiresAtColumn,
};

// 1.2 adds a column, attempt_digest bytea: the sha256 of the attempt id a
// guard was claimed with. ALTER TABLE puts it after any column a DBA added,
// and a 1.0 or 1.1 table (before ALTER EXTENSION UPDATE) has none, so it is
// found by name (GuardTable::attempt_column).
constexpr const char* kAttemptDigestColumnName = "attempt_digest";

struct GuardTable {
  Oid relation = InvalidOid;
  Oid owner = InvalidOid;
  Oid primary_key = InvalidOid;
  Oid expiry_index = InvalidOid;  // the btree on (expires_at), if it is there
  // The number of the attempt_digest column; InvalidAttrNumber before 1.2.
  AttrNumber attempt_column = InvalidAttrNumber;
  // True unless rows must be read through SQL: the table is not a heap
  // table, its primary key is not the btree on (scope, key) with collation
  // "C" the extension created, row security is forced on an owner without
  // BYPASSRLS, or the citus extension is installed (a distributed table's
  // rows are in its shards, not in the local heap).
  // CREATE EXTENSION citus sends no invalidation: sessions older than it
  // keep this until the table's next one (docs/scaling.md).
  bool direct_reads = false;
  // True while, besides, the table has exactly the extension's columns (and
  // dropped ones) and no defaults, triggers, rules or CHECK constraints: then
  // claims insert into the heap and indexes, and the purge deletes from the
  // heap, directly. Otherwise they run SQL statements, so whatever a DBA
  // added still applies.
  bool direct_writes = false;
};

// Locks the table in `lock` mode (held until the transaction ends; take the
// mode the caller's access needs) and returns what is cached about it,
// reloaded if the table changed. Raises an ERROR (55000) when the table does
// not exist: call inside call_pg.
const GuardTable& guard_table(LOCKMODE lock);

// Describes `shard`, a local shard placement of idempotency.guards once Citus
// distributed it, locking it in RowExclusiveLock mode; never cached (shards
// move between nodes). Returns true when its rows may be deleted directly:
// the same conditions as direct_writes, and the (expires_at) index is there.
// Raises an ERROR (call inside call_pg).
bool describe_guard_shard(Oid shard, GuardTable* description);

}  // namespace idempotency::pg
