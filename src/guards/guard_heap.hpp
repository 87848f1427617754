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

// What a claim session's inserts share, set up once and reused by every
// insert: the executor state, the table's result relation with its indexes
// open, the slot. Keeps the table open and locked (RowExclusiveLock) until
// end_guard_inserts(). Requires table.direct_writes.
struct GuardInserter;

// Allocated in `context` (which must outlive it). Its first insert skips the
// check for a guard in the way: call it when find_guard_in_the_way() found none.
GuardInserter* begin_guard_inserts(const GuardTable& table, MemoryContext context);

// Whether the next claim should search for a guard in the way
// (find_guard_in_the_way) before inserting: for a session's first claim
// (`inserter` null) and after an insert that found a guard in the way; not
// while keys keep turning out new (a batch of fresh keys), when the insert's
// own conflict detection stands in for the search.
bool checks_before_insert(const GuardInserter* inserter);

// The caller just found no guard in the way: the next insert skips its
// check (its speculative insertion still detects a guard inserted since).
void skip_check_before_insert(GuardInserter* inserter);

// The check a claim's insert makes first (the arbiter check of INSERT ... ON
// CONFLICT DO NOTHING, waiting for an uncommitted competitor as it does, and
// 40001 under REPEATABLE READ for a guard the snapshot cannot see), made
// without setting up an insert: true when a guard is in the way, read into
// `row` as fetch_guard() reads it (`row->found` false if it is gone by then).
// A replay (the guard is there) costs one primary key search and one fetch.
// Requires table.direct_writes.
bool find_guard_in_the_way(const GuardTable& table, text* scope, text* key, OutcomeColumn outcome,
                           MemoryContext target, GuardRow* row);

// Inserts `write` as a new guard with a speculative insertion, waiting for an
// uncommitted competitor as a unique check does. Returns false, with the
// location of the guard in the way in `conflict`, when one exists. What it
// inserts is seen by the next insert's check at once, and by snapshots taken
// after the next CommandCounterIncrement() (end_guard_inserts(), or any read
// or statement of the guard store).
bool insert_guard_tuple(GuardInserter* inserter, const ClaimWrite& write, ItemPointer conflict);

// Makes what was inserted visible to what follows, as after a statement, and
// frees the set-up.
void end_guard_inserts(GuardInserter* inserter);

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
