// What a call needs to know about idempotency.guards (its OID, owner and
// primary key, and whether it is still exactly as the extension created it),
// looked up once per backend and again only after a relcache invalidation of
// the table: ALTER TABLE, CREATE TRIGGER, DROP and CREATE EXTENSION, ...
#pragma once
#include "pg/postgres.hpp"

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

struct GuardTable {
  Oid relation = InvalidOid;
  Oid owner = InvalidOid;
  Oid primary_key = InvalidOid;
  // True while the table has exactly the extension's columns and no
  // triggers, rules, CHECK constraints or forced row security: then a claim
  // may insert into the heap and indexes directly. Otherwise claims run the
  // SQL INSERT, so whatever a DBA added still applies.
  bool plain = false;
};

// Raises an ERROR (55000) when the table does not exist: call inside call_pg.
const GuardTable& guard_table();

}  // namespace idempotency::pg
