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
namespace {

void store_claim(TupleTableSlot* slot, const ClaimWrite& write, AttrNumber attempt_column) {
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
  set(kStatusColumn, text_datum(core::status_name(core::GuardStatus::kPending)));
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
// SERIALIZABLE, a guard in the way that this transaction's snapshot cannot
// see was committed concurrently, and the claim fails as the INSERT would.
void require_visible_conflict(Relation relation, EState* estate, ItemPointer conflict) {
  if (!IsolationUsesXactSnapshot()) return;
  TupleTableSlot* slot =
      ExecInitExtraTupleSlot(estate, RelationGetDescr(relation), table_slot_callbacks(relation));
  if (!table_tuple_fetch_row_version(relation, conflict, SnapshotAny, slot)) {
    elog(ERROR, "idempotency: failed to fetch the conflicting guard");
  }
  if (table_tuple_satisfies_snapshot(relation, slot, GetTransactionSnapshot())) return;
  bool is_null = false;
  TransactionId inserter =
      DatumGetTransactionId(slot_getsysattr(slot, MinTransactionIdAttributeNumber, &is_null));
  if (!TransactionIdIsCurrentTransactionId(inserter)) {
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("could not serialize access due to concurrent update"),
                    errdetail("Another transaction claimed this guard after this one started."),
                    errhint("Retry the transaction.")));
  }
}

// Whether `slot` holds the guard of (scope, key): a location found earlier may
// have been vacuumed and reused since.
bool holds_guard(TupleTableSlot* slot, text* scope, text* key) {
  bool is_null = false;
  return text_view(DatumGetTextPP(slot_getattr(slot, kScopeColumn, &is_null))) ==
             text_view(scope) &&
         text_view(DatumGetTextPP(slot_getattr(slot, kKeyColumn, &is_null))) == text_view(key);
}

// The index scan of the primary key for (scope, key), with the index's own
// collation so the scan compares as the index is sorted.
bool fetch_by_key(Relation relation, Oid primary_key, Snapshot snapshot, text* scope, text* key,
                  TupleTableSlot* slot) {
  Relation index = index_open(primary_key, AccessShareLock);
  ScanKeyData keys[2];
  ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
                         index->rd_indcollation[0], F_TEXTEQ, PointerGetDatum(scope));
  ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
                         index->rd_indcollation[1], F_TEXTEQ, PointerGetDatum(key));
  IndexScanDesc scan = compat::begin_index_scan(relation, index, snapshot, 2);
  index_rescan(scan, keys, 2, nullptr, 0);
  bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
  index_endscan(scan);
  index_close(index, NoLock);
  return found;
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

bool insert_guard_tuple(const GuardTable& table, const ClaimWrite& write, ItemPointer conflict) {
  Relation relation = table_open(table.relation, RowExclusiveLock);
  EState* estate = CreateExecutorState();
  // Everything below is freed with the EState.
  MemoryContext caller_context = MemoryContextSwitchTo(estate->es_query_cxt);
  ResultRelInfo* result_relation = makeNode(ResultRelInfo);
  InitResultRelInfo(result_relation, relation, 1, nullptr, 0);
  ExecOpenIndices(result_relation, true);
  TupleTableSlot* slot =
      ExecInitExtraTupleSlot(estate, RelationGetDescr(relation), table_slot_callbacks(relation));
  store_claim(slot, write, table.attempt_column);
  List* arbiters = list_make1_oid(table.primary_key);

  // As ExecInsert() does for ON CONFLICT: check first (waiting for an
  // uncommitted competitor), then insert speculatively, and start over if a
  // competitor inserted the same key in between.
  bool inserted = false;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (!compat::check_index_constraints(result_relation, slot, estate, conflict, arbiters)) {
      require_visible_conflict(relation, estate, conflict);
      break;
    }
    TransactionId xid = GetCurrentTransactionId();
    uint32 token = SpeculativeInsertionLockAcquire(xid);
    table_tuple_insert_speculative(relation, slot, GetCurrentCommandId(true), 0, nullptr, token);
    bool speculative_conflict = false;
    list_free(compat::insert_index_tuples_speculatively(result_relation, slot, estate,
                                                        &speculative_conflict, arbiters));
    table_tuple_complete_speculative(relation, slot, token, !speculative_conflict);
    SpeculativeInsertionLockRelease(xid);
    if (!speculative_conflict) {
      inserted = true;
      break;
    }
  }
  ExecResetTupleTable(estate->es_tupleTable, false);
  ExecCloseIndices(result_relation);
  MemoryContextSwitchTo(caller_context);
  FreeExecutorState(estate);
  table_close(relation, NoLock);
  // As after any statement: what this call wrote is visible to what follows.
  if (inserted) CommandCounterIncrement();
  return inserted;
}

void fetch_guard(const GuardTable& table, text* scope, text* key, ItemPointer location,
                 OutcomeColumn outcome, MemoryContext target, GuardRow* row) {
  // The snapshot a statement would use: a new one per call in READ
  // COMMITTED, the transaction's in REPEATABLE READ and SERIALIZABLE, seeing
  // this transaction's own earlier writes either way.
  CommandCounterIncrement();
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  Relation relation = table_open(table.relation, AccessShareLock);
  TupleTableSlot* slot = table_slot_create(relation, nullptr);
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
  ExecDropSingleTupleTableSlot(slot);
  table_close(relation, NoLock);
  UnregisterSnapshot(snapshot);
}

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
    if (table_tuple_delete(relation, &slot->tts_tid, command, snapshot, InvalidSnapshot, false,
                           &failure, false) == TM_Ok) {
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
