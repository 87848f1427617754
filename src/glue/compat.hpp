// The PostgreSQL calls whose signatures differ between the supported major
// versions (15, 16, 17, 18, 19), one shim each with the upstream change named.
// This is the only file that tests PG_VERSION_NUM. Each shim passes what that
// version's own ExecInsert() / index scans pass, so the direct paths do on
// every version what INSERT ... ON CONFLICT DO NOTHING does there.
#pragma once
#include "glue/postgres.hpp"

extern "C" {
#include "access/genam.h"
#include "access/tableam.h"
#include "executor/executor.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/inval.h"
#include "utils/relcache.h"
#if PG_VERSION_NUM >= 170000
#include "storage/dsm_registry.h"
#endif
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 200000
#error "idempotency supports PostgreSQL 15 to 19"
#endif

namespace idempotency::pg::compat {

// PostgreSQL 18 added an IndexScanInstrumentation argument to
// index_beginscan(), for EXPLAIN ANALYZE's index search counts; callers
// outside EXPLAIN pass NULL. PostgreSQL 19 added a trailing ScanOptions
// `flags` argument, through which the executor passes SO_HINT_REL_READ_ONLY
// for a relation the query does not modify (19's on-access setting of the
// visibility map by read-only scans). Claims write the guards table in the
// same transaction, and the purge deletes through its scan: SO_NONE.
inline IndexScanDesc begin_index_scan(Relation heap, Relation index, Snapshot snapshot,
                                      int key_count) {
#if PG_VERSION_NUM >= 190000
  return index_beginscan(heap, index, snapshot, nullptr, key_count, 0, SO_NONE);
#elif PG_VERSION_NUM >= 180000
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
// PostgreSQL 19 folded its three booleans (update, noDupErr,
// onlySummarizing) into a `flags` bitmask (EIIT_IS_UPDATE,
// EIIT_NO_DUPE_ERROR, EIIT_ONLY_SUMMARIZING) and moved the slot after it;
// 19's ExecInsert() passes EIIT_NO_DUPE_ERROR alone for ON CONFLICT.
// Inserts a new tuple's index entries as ExecInsert() does for ON CONFLICT:
// no duplicate error, a speculative conflict reported instead.
inline List* insert_index_tuples_speculatively(ResultRelInfo* result_relation, TupleTableSlot* slot,
                                               EState* estate, bool* speculative_conflict,
                                               List* arbiters) {
#if PG_VERSION_NUM >= 190000
  return ExecInsertIndexTuples(result_relation, estate, EIIT_NO_DUPE_ERROR, slot, arbiters,
                               speculative_conflict);
#elif PG_VERSION_NUM >= 160000
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

// PostgreSQL 19 replaced table_tuple_delete()'s trailing `changingPart`
// boolean with an `options` bitmask (TABLE_DELETE_CHANGING_PARTITION,
// TABLE_DELETE_NO_LOGICAL) in front of the snapshots; 19's ExecDeleteAct()
// passes 0 for a delete that is not a cross-partition UPDATE, as the purge's
// deletes are not.
inline TM_Result delete_tuple(Relation relation, ItemPointer tid, CommandId command,
                              Snapshot snapshot, bool wait, TM_FailureData* failure) {
#if PG_VERSION_NUM >= 190000
  return table_tuple_delete(relation, tid, command, 0, snapshot, InvalidSnapshot, wait, failure);
#else
  return table_tuple_delete(relation, tid, command, snapshot, InvalidSnapshot, wait, failure,
                            false);
#endif
}

// PostgreSQL 19 typed the cache identifier a syscache invalidation callback
// receives as the enum SysCacheIdentifier (it was an int).
#if PG_VERSION_NUM >= 190000
using SyscacheId = SysCacheIdentifier;
#else
using SyscacheId = int;
#endif

// PostgreSQL 17 added the dynamic shared memory registry: a segment created
// by name on first use, by any backend. PostgreSQL 19 passes a caller's
// `arg` through to the init callback; on 17 and 18 the callback gets the
// segment alone, so the argument waits in a static for the one call.
constexpr bool kHasNamedDsmSegments = PG_VERSION_NUM >= 170000;
using SegmentInit = void (*)(void* segment, void* argument);
#if PG_VERSION_NUM >= 190000
inline void* named_dsm_segment(const char* name, Size size, SegmentInit init, void* argument,
                               bool* found) {
  return GetNamedDSMSegment(name, size, init, found, argument);
}
#elif PG_VERSION_NUM >= 170000
inline SegmentInit pending_segment_init = nullptr;
inline void* pending_segment_argument = nullptr;
inline void* named_dsm_segment(const char* name, Size size, SegmentInit init, void* argument,
                               bool* found) {
  pending_segment_init = init;
  pending_segment_argument = argument;
  return GetNamedDSMSegment(
      name, size, [](void* segment) { pending_segment_init(segment, pending_segment_argument); },
      found);
}
#else
inline void* named_dsm_segment(const char*, Size, SegmentInit, void*, bool*) { return nullptr; }
#endif

// PostgreSQL 19 names a tranche when it allocates its id, for every process;
// before, each process that uses the tranche registers the name itself.
inline int new_lwlock_tranche(const char* name) {
#if PG_VERSION_NUM >= 190000
  return LWLockNewTrancheId(name);
#else
  int tranche = LWLockNewTrancheId();
  LWLockRegisterTranche(tranche, name);
  return tranche;
#endif
}

inline void name_lwlock_tranche([[maybe_unused]] int tranche, [[maybe_unused]] const char* name) {
#if PG_VERSION_NUM < 190000
  LWLockRegisterTranche(tranche, name);
#endif
}

}  // namespace idempotency::pg::compat
