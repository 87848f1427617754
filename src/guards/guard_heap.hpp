// The hot paths of idempotency.guards without SQL: a claim's insert and the
// read of a guard by (scope, key) go straight to the heap and the primary
// key, the way the executor runs INSERT ... ON CONFLICT DO NOTHING and an
// index scan, but without planning or starting an executor for each call
// (bench/README.md, "Where the time goes").
//
// Every function here may raise an ERROR: call them inside call_pg.
#pragma once
#include "guards/guard_store.hpp"
#include "guards/guard_table.hpp"

namespace idempotency::pg {

// Copies a guard's columns (in table order, and the attempt's digest at
// `attempt_column` unless that is InvalidAttrNumber) into `row`, allocated in
// `target`.
void copy_guard_columns(const Datum* values, const bool* nulls, AttrNumber attempt_column,
                        OutcomeColumn outcome, MemoryContext target, GuardRow* row);

// Inserts `write` as a new guard with a speculative insertion, waiting for an
// uncommitted competitor as a unique check does. Returns false, with the
// location of the guard in the way in `conflict`, when one exists. Requires
// table.direct_writes.
bool insert_guard_tuple(const GuardTable& table, const ClaimWrite& write, ItemPointer conflict);

// Requires table.direct_reads. Reads the guard at `location` if this transaction's snapshot sees
// that version, else the guard with (scope, key) that the snapshot sees, into `row` (allocated in
// `target`). `location` may be null or invalid.
void fetch_guard(const GuardTable& table, text* scope, text* key, ItemPointer location,
                 OutcomeColumn outcome, MemoryContext target, GuardRow* row);

// Deletes up to `limit` guards that expired at or before `now`, oldest first
// from `*resume_from` (a valid expiry index required), and moves
// `*resume_from` to the last expiry deleted. A guard that a concurrent
// transaction has locked, updated or deleted is skipped, never waited for.
// Requires table.direct_writes. Returns the number deleted.
uint64 delete_expired_tuples(const GuardTable& table, TimestampTz now, uint64 limit,
                             TimestampTz* resume_from);

}  // namespace idempotency::pg
