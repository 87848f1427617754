#include "guards/guard_heap.hpp"

#include "glue/arguments.hpp"
#include "glue/compat.hpp"

extern "C" {
#include "access/genam.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace idempotency::pg {

struct GuardInserter {
  Relation relation;
  AttrNumber attempt_column;
  EState* estate;
  ResultRelInfo* result_relation;
  TupleTableSlot* slot;
  TupleTableSlot* conflict_slot;  // made on the first conflict (require_visible_conflict)
  List* arbiters;
  Datum pending_status;
  bool inserted;  // any guard
  // The last insert, or the caller's search (find_guard_in_the_way), found no
  // guard in the way: the next key is probably new (a batch of fresh keys),
  // and is inserted without checking first.
  bool expect_new_key;
};

namespace {

void store_claim(TupleTableSlot* slot, const ClaimWrite& write, Datum pending_status,
                 AttrNumber attempt_column) {
  ExecClearTuple(slot);
  Datum* values = slot->tts_values;
  bool* nulls = slot->tts_isnull;
  // Every column NULL first, dropped ones (after the extension's) included.
  for (int index = 0; index < slot->tts_tupleDescriptor->natts; ++index) nulls[index] = true;
  auto set = [&](AttrNumber column, Datum value) {
    values[column - 1] = value;
    nulls[column - 1] = false;
  };
  set(kScopeColumn, PointerGetDatum(write.scope));
  set(kKeyColumn, PointerGetDatum(write.key));
  set(kStatusColumn, pending_status);
  if (write.fingerprint != nullptr) set(kFingerprintColumn, PointerGetDatum(write.fingerprint));
  set(kClaimTokenColumn, Int64GetDatum(write.claim_token));
  set(kClaimedAtColumn, TimestampTzGetDatum(write.now));
  set(kExpiresAtColumn, TimestampTzGetDatum(write.expires_at));
  if (write.lease_expires_at) {
    set(kLeaseExpiresAtColumn, TimestampTzGetDatum(*write.lease_expires_at));
  }
  if (write.attempt_digest != nullptr) set(attempt_column, PointerGetDatum(write.attempt_digest));
  ExecStoreVirtualTuple(slot);
}

// As ExecCheckTIDVisible() does for ON CONFLICT: under REPEATABLE READ or
// SERIALIZABLE, a guard in the way (in `slot`) that this transaction's
// snapshot cannot see was committed concurrently, and the claim fails as the
// INSERT would.
void require_visible(Relation relation, TupleTableSlot* slot) {
  bool visible = table_tuple_satisfies_snapshot(relation, slot, GetTransactionSnapshot());
  bool is_null = false;
  TransactionId inserting_transaction =
      DatumGetTransactionId(slot_getsysattr(slot, MinTransactionIdAttributeNumber, &is_null));
  if (!visible && !TransactionIdIsCurrentTransactionId(inserting_transaction)) {
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("could not serialize access due to concurrent update"),
                    errdetail("Another transaction claimed this guard after this one started."),
                    errhint("Retry the transaction.")));
  }
}

void require_visible_conflict(GuardInserter* inserter, ItemPointer conflict) {
  if (!IsolationUsesXactSnapshot()) return;
  Relation relation = inserter->relation;
  if (inserter->conflict_slot == nullptr) {
    inserter->conflict_slot = ExecInitExtraTupleSlot(inserter->estate, RelationGetDescr(relation),
                                                     table_slot_callbacks(relation));
  }
  TupleTableSlot* slot = inserter->conflict_slot;
  if (!table_tuple_fetch_row_version(relation, conflict, SnapshotAny, slot)) {
    elog(ERROR, "idempotency: failed to fetch the conflicting guard");
  }
  require_visible(relation, slot);
  ExecClearTuple(slot);
}

// Whether `slot` holds the guard of (scope, key): a location found earlier may
// have been vacuumed and reused since.
bool holds_guard(TupleTableSlot* slot, text* scope, text* key) {
  bool is_null = false;
  return text_view(DatumGetTextPP(slot_getattr(slot, kScopeColumn, &is_null))) ==
             text_view(scope) &&
         text_view(DatumGetTextPP(slot_getattr(slot, kKeyColumn, &is_null))) == text_view(key);
}

// The primary key's scan keys for (scope, key), with the index's own
// collation so the scan compares as the index is sorted.
void init_key_scan(Relation index, text* scope, text* key, ScanKeyData* keys) {
  ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
                         index->rd_indcollation[0], F_TEXTEQ, PointerGetDatum(scope));
  ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
                         index->rd_indcollation[1], F_TEXTEQ, PointerGetDatum(key));
}

// The index scan of the primary key for (scope, key).
bool fetch_by_key(Relation relation, Oid primary_key, Snapshot snapshot, text* scope, text* key,
                  TupleTableSlot* slot) {
  Relation index = index_open(primary_key, AccessShareLock);
  ScanKeyData keys[2];
  init_key_scan(index, scope, key, keys);
  IndexScanDesc scan = compat::begin_index_scan(relation, index, snapshot, 2);
  index_rescan(scan, keys, 2, nullptr, 0);
  bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
  index_endscan(scan);
  index_close(index, NoLock);
  return found;
}

// The arbiter check of INSERT ... ON CONFLICT on the primary key, as
// ExecCheckIndexConstraints() runs it (check_exclusion_or_unique_constraint()
// in CEOUC_WAIT mode): the index searched with a dirty snapshot, which also
// sees uncommitted guards; a guard whose insert or delete is still in
// progress is waited for (its speculative insertion, or its transaction) and
// the search starts over. Leaves the guard in the way, committed, in `slot`.
bool search_for_conflict(Relation relation, Oid primary_key, text* scope, text* key,
                         TupleTableSlot* slot) {
  Relation index = index_open(primary_key, AccessShareLock);
  ScanKeyData keys[2];
  init_key_scan(index, scope, key, keys);
  SnapshotData dirty_snapshot;
  InitDirtySnapshot(dirty_snapshot);
  bool found = false;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    IndexScanDesc scan = compat::begin_index_scan(relation, index, &dirty_snapshot, 2);
    index_rescan(scan, keys, 2, nullptr, 0);
    found = index_getnext_slot(scan, ForwardScanDirection, slot);
    index_endscan(scan);
    if (!found) break;
    TransactionId in_progress =
        TransactionIdIsValid(dirty_snapshot.xmin) ? dirty_snapshot.xmin : dirty_snapshot.xmax;
    if (!TransactionIdIsValid(in_progress)) break;
    if (dirty_snapshot.speculativeToken != 0) {
      SpeculativeInsertionWait(dirty_snapshot.xmin, dirty_snapshot.speculativeToken);
    } else {
      XactLockTableWait(in_progress, relation, &slot->tts_tid, XLTW_InsertIndex);
    }
  }
  index_close(index, NoLock);
  return found;
}

// fetch_guard() on an open relation, with `slot` to read into.
void fetch_guard_into(const GuardTable& table, Relation relation, TupleTableSlot* slot, text* scope,
                      text* key, ItemPointer location, OutcomeColumn outcome, MemoryContext target,
                      GuardRow* row) {
  // The snapshot a statement would use: a new one per call in READ
  // COMMITTED, the transaction's in REPEATABLE READ and SERIALIZABLE, seeing
  // this transaction's own earlier writes either way.
  CommandCounterIncrement();
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  bool found = location != nullptr && ItemPointerIsValid(location) &&
               table_tuple_fetch_row_version(relation, location, snapshot, slot) &&
               holds_guard(slot, scope, key);
  if (!found) found = fetch_by_key(relation, table.primary_key, snapshot, scope, key, slot);
  *row = GuardRow{};
  if (found) {
    slot_getallattrs(slot);
    copy_guard_columns(slot->tts_values, slot->tts_isnull, table.attempt_column, outcome, target,
                       row);
  }
  UnregisterSnapshot(snapshot);
}

}  // namespace

void copy_guard_columns(const Datum* values, const bool* nulls, AttrNumber attempt_column,
                        OutcomeColumn outcome, MemoryContext target, GuardRow* row) {
  auto column = [&](AttrNumber number) { return values[number - 1]; };
  auto is_null = [&](AttrNumber number) { return nulls[number - 1]; };

  std::optional<core::GuardStatus> status =
      core::parse_status(*text_view(DatumGetTextPP(column(kStatusColumn))));
  if (!status) elog(ERROR, "idempotency: guard has an unknown status");
  MemoryContext previous = MemoryContextSwitchTo(target);
  row->found = true;
  row->guard.status = *status;
  if (!is_null(kFingerprintColumn)) {
    row->fingerprint = DatumGetTextPCopy(column(kFingerprintColumn));
    row->guard.fingerprint = text_view(row->fingerprint);
  }
  row->guard.claim_token = DatumGetInt64(column(kClaimTokenColumn));
  row->guard.expires_at = DatumGetTimestampTz(column(kExpiresAtColumn));
  if (!is_null(kLeaseExpiresAtColumn)) {
    row->guard.lease_expires_at = DatumGetTimestampTz(column(kLeaseExpiresAtColumn));
  }
  row->claimed_at = DatumGetTimestampTz(column(kClaimedAtColumn));
  if (!is_null(kCompletedAtColumn)) {
    row->completed_at = DatumGetTimestampTz(column(kCompletedAtColumn));
  }
  if (outcome == OutcomeColumn::kCopy && !is_null(kOutcomeColumn)) {
    row->outcome = DatumGetJsonbPCopy(column(kOutcomeColumn));
  }
  if (attempt_column != InvalidAttrNumber && !is_null(attempt_column)) {
    row->attempt_digest = DatumGetByteaPCopy(column(attempt_column));
    row->guard.attempt =
        std::string_view(VARDATA(row->attempt_digest), VARSIZE(row->attempt_digest) - VARHDRSZ);
  }
  MemoryContextSwitchTo(previous);
}

GuardInserter* begin_guard_inserts(const GuardTable& table, MemoryContext context) {
  MemoryContext caller_context = MemoryContextSwitchTo(context);
  // The EState's memory is a child of `context`: everything below is freed with it.
  EState* estate = CreateExecutorState();
  MemoryContextSwitchTo(estate->es_query_cxt);
  auto* inserter = static_cast<GuardInserter*>(palloc0(sizeof(GuardInserter)));
  inserter->relation = table_open(table.relation, RowExclusiveLock);
  inserter->attempt_column = table.attempt_column;
  inserter->estate = estate;
  inserter->result_relation = makeNode(ResultRelInfo);
  InitResultRelInfo(inserter->result_relation, inserter->relation, 1, nullptr, 0);
  ExecOpenIndices(inserter->result_relation, true);
  inserter->slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(inserter->relation),
                                          table_slot_callbacks(inserter->relation));
  inserter->arbiters = list_make1_oid(table.primary_key);
  // A session's first insert follows the caller's own search for a guard in
  // the way (find_guard_in_the_way), which found none.
  inserter->expect_new_key = true;
  std::string_view pending = core::status_name(core::GuardStatus::kPending);
  inserter->pending_status =
      PointerGetDatum(cstring_to_text_with_len(pending.data(), pending.size()));
  MemoryContextSwitchTo(caller_context);
  return inserter;
}

bool insert_guard_tuple(GuardInserter* inserter, const ClaimWrite& write, ItemPointer conflict) {
  EState* estate = inserter->estate;
  Relation relation = inserter->relation;
  ResultRelInfo* result_relation = inserter->result_relation;
  TupleTableSlot* slot = inserter->slot;
  // What the checks and index insertions allocate lives until the next insert.
  ResetPerTupleExprContext(estate);
  MemoryContext caller_context = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
  store_claim(slot, write, inserter->pending_status, inserter->attempt_column);

  // As ExecInsert() does for ON CONFLICT: check first (waiting for an
  // uncommitted competitor), then insert speculatively, and start over if a
  // competitor inserted the same key in between. Re-read for PostgreSQL 19
  // (19~rc1): its ExecInsert() still runs, for ON CONFLICT DO NOTHING,
  // ExecCheckIndexConstraints() on the arbiter with an invalid tuple to
  // ignore, ExecCheckTIDVisible() (40001 under REPEATABLE READ) and no insert
  // on a conflict; else SpeculativeInsertionLockAcquire(),
  // table_tuple_insert_speculative(options 0, no bulk state),
  // ExecInsertIndexTuples(EIIT_NO_DUPE_ERROR, the arbiter),
  // table_tuple_complete_speculative(!conflict),
  // SpeculativeInsertionLockRelease(), and back to the check on a conflict:
  // the sequence below, with compat.hpp passing 19's flags.
  // test/isolation/specs/direct_claim_as_insert.spec runs this path and the
  // statement side by side (the wait, the rollback, 40001) on every version. The check costs an
  // index search (a quarter of a new key's insert): while keys keep turning out new, it is skipped
  // and the speculative insertion's own conflict detection stands in for it. A key that was there
  // after all is then a speculative insertion that lost, undone and retried with the check, which
  // waits for an uncommitted competitor as before.
  bool inserted = false;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (!inserter->expect_new_key &&
        !compat::check_index_constraints(result_relation, slot, estate, conflict,
                                         inserter->arbiters)) {
      require_visible_conflict(inserter, conflict);
      break;
    }
    TransactionId xid = GetCurrentTransactionId();
    uint32 token = SpeculativeInsertionLockAcquire(xid);
    table_tuple_insert_speculative(relation, slot, GetCurrentCommandId(true), 0, nullptr, token);
    bool speculative_conflict = false;
    (void)compat::insert_index_tuples_speculatively(result_relation, slot, estate,
                                                    &speculative_conflict, inserter->arbiters);
    table_tuple_complete_speculative(relation, slot, token, !speculative_conflict);
    SpeculativeInsertionLockRelease(xid);
    inserter->expect_new_key = !speculative_conflict;
    if (!speculative_conflict) {
      inserted = true;
      break;
    }
  }
  MemoryContextSwitchTo(caller_context);
  inserter->inserted = inserter->inserted || inserted;
  return inserted;
}

void end_guard_inserts(GuardInserter* inserter) {
  // As after any statement: what the inserts wrote is visible to what follows.
  if (inserter->inserted) CommandCounterIncrement();
  EState* estate = inserter->estate;
  ExecResetTupleTable(estate->es_tupleTable, false);
  ExecCloseIndices(inserter->result_relation);
  table_close(inserter->relation, NoLock);
  FreeExecutorState(estate);
}

void fetch_guard(const GuardTable& table, text* scope, text* key, ItemPointer location,
                 OutcomeColumn outcome, MemoryContext target, GuardRow* row) {
  Relation relation = table_open(table.relation, AccessShareLock);
  TupleTableSlot* slot = table_slot_create(relation, nullptr);
  fetch_guard_into(table, relation, slot, scope, key, location, outcome, target, row);
  ExecDropSingleTupleTableSlot(slot);
  table_close(relation, NoLock);
}

bool find_guard_in_the_way(const GuardTable& table, text* scope, text* key, OutcomeColumn outcome,
                           MemoryContext target, GuardRow* row) {
  // The claim's session holds its lock on the table (guard_table) until the
  // transaction ends.
  Relation relation = table_open(table.relation, NoLock);
  TupleTableSlot* slot = table_slot_create(relation, nullptr);
  bool in_the_way = search_for_conflict(relation, table.primary_key, scope, key, slot);
  *row = GuardRow{};
  if (in_the_way) {
    if (IsolationUsesXactSnapshot()) require_visible(relation, slot);
    ItemPointerData location = slot->tts_tid;
    fetch_guard_into(table, relation, slot, scope, key, &location, outcome, target, row);
  }
  ExecDropSingleTupleTableSlot(slot);
  table_close(relation, NoLock);
  return in_the_way;
}

bool checks_before_insert(const GuardInserter* inserter) {
  return inserter == nullptr || !inserter->expect_new_key;
}

void skip_check_before_insert(GuardInserter* inserter) { inserter->expect_new_key = true; }

uint64 delete_expired_tuples(const GuardTable& table, TimestampTz now, uint64 limit,
                             TimestampTz* resume_from) {
  CommandCounterIncrement();
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  Relation relation = table_open(table.relation, RowExclusiveLock);
  // As for a DELETE statement: a publication that needs a replica identity
  // the table lacks is an error, not a delete that replication drops.
  CheckCmdReplicaIdentity(relation, CMD_DELETE);
  Relation index = index_open(table.expiry_index, AccessShareLock);
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
              TimestampTzGetDatum(*resume_from));
  ScanKeyInit(&keys[1], 1, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now));
  IndexScanDesc scan = compat::begin_index_scan(relation, index, snapshot, 2);
  index_rescan(scan, keys, 2, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(relation, nullptr);
  CommandId command = GetCurrentCommandId(true);
  uint64 deleted = 0;
  while (deleted < limit && index_getnext_slot(scan, ForwardScanDirection, slot)) {
    CHECK_FOR_INTERRUPTS();
    bool is_null = false;
    TimestampTz expires_at = DatumGetTimestampTz(slot_getattr(slot, kExpiresAtColumn, &is_null));
    if (expires_at > now) break;
    // wait = false: a row a claim is taking over (or anyone else holds) is
    // skipped; the next run, which starts from the beginning, gets it.
    TM_FailureData failure;
    if (compat::delete_tuple(relation, &slot->tts_tid, command, snapshot, false, &failure) ==
        TM_Ok) {
      ++deleted;
      *resume_from = expires_at;
    }
  }
  index_endscan(scan);
  ExecDropSingleTupleTableSlot(slot);
  index_close(index, NoLock);
  table_close(relation, NoLock);
  UnregisterSnapshot(snapshot);
  if (deleted > 0) CommandCounterIncrement();
  return deleted;
}

}  // namespace idempotency::pg
