// The PostgreSQL calls whose signatures differ between the supported major
// versions (15, 16, 17, 18), one shim each with the upstream change named.
// This is the only file that tests PG_VERSION_NUM. Each shim passes what that
// version's own ExecInsert() / index scans pass, so the direct paths do on
// every version what INSERT ... ON CONFLICT DO NOTHING does there.
#pragma once
#include "glue/postgres.hpp"

extern "C" {
#include "access/genam.h"
#include "executor/executor.h"
#include "utils/relcache.h"
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "idempotency supports PostgreSQL 15 to 18"
#endif

namespace idempotency::pg::compat {

// PostgreSQL 18 added an IndexScanInstrumentation argument to
// index_beginscan(), for EXPLAIN ANALYZE's index search counts; callers
// outside EXPLAIN pass NULL.
inline IndexScanDesc begin_index_scan(Relation heap, Relation index, Snapshot snapshot,
                                      int key_count) {
#if PG_VERSION_NUM >= 180000
  return index_beginscan(heap, index, snapshot, nullptr, key_count, 0);
#else
  return index_beginscan(heap, index, snapshot, key_count, 0);
#endif
}

// PostgreSQL 18 added `tupleid` to ExecCheckIndexConstraints(), a tuple the
// check ignores (for WITHOUT OVERLAPS constraints); ExecInsert() passes an
// invalid one, as this does.
inline bool check_index_constraints(ResultRelInfo* result_relation, TupleTableSlot* slot,
                                    EState* estate, ItemPointer conflict, List* arbiters) {
#if PG_VERSION_NUM >= 180000
  ItemPointerData no_tuple_to_ignore;
  ItemPointerSetInvalid(&no_tuple_to_ignore);
  return ExecCheckIndexConstraints(result_relation, slot, estate, conflict, &no_tuple_to_ignore,
                                   arbiters);
#else
  return ExecCheckIndexConstraints(result_relation, slot, estate, conflict, arbiters);
#endif
}

// PostgreSQL 16 added `onlySummarizing` to ExecInsertIndexTuples(), for HOT
// updates that touch only summarizing (BRIN) indexes; an insert passes false.
// Inserts a new tuple's index entries as ExecInsert() does for ON CONFLICT:
// no duplicate error, a speculative conflict reported instead.
inline List* insert_index_tuples_speculatively(ResultRelInfo* result_relation, TupleTableSlot* slot,
                                               EState* estate, bool* speculative_conflict,
                                               List* arbiters) {
#if PG_VERSION_NUM >= 160000
  return ExecInsertIndexTuples(result_relation, slot, estate, false, true, speculative_conflict,
                               arbiters, false);
#else
  return ExecInsertIndexTuples(result_relation, slot, estate, false, true, speculative_conflict,
                               arbiters);
#endif
}

// PostgreSQL 18 records a DEFERRABLE primary key in the relcache too, and
// added `deferrable_ok` to RelationGetPrimaryKeyIndex(); earlier versions
// never return one. A deferrable key cannot arbitrate ON CONFLICT, so this
// asks for an immediate one on every version.
inline Oid immediate_primary_key(Relation relation) {
#if PG_VERSION_NUM >= 180000
  return RelationGetPrimaryKeyIndex(relation, false);
#else
  return RelationGetPrimaryKeyIndex(relation);
#endif
}

}  // namespace idempotency::pg::compat
