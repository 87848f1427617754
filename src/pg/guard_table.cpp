#include "pg/guard_table.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "commands/extension.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "storage/lmgr.h"
}

namespace idempotency::pg {
namespace {

GuardTable cached;
bool cache_valid = false;
bool callbacks_registered = false;
// Counts invalidations, so a load that one overtakes is not trusted.
uint64 invalidations = 0;

void invalidate_relation(Datum /*argument*/, Oid relation) {
  if (relation == InvalidOid || relation == cached.relation) {
    cache_valid = false;
    ++invalidations;
  }
}

// A role change (say, the owner losing BYPASSRLS) sends no relcache
// invalidation of the table.
void invalidate_roles(Datum /*argument*/, int /*cache*/, uint32 /*hash*/) {
  cache_valid = false;
  ++invalidations;
}

struct ExpectedColumn {
  const char* name;
  Oid type;
  bool may_be_null;  // the extension writes NULL into it
};

constexpr ExpectedColumn kExpectedColumns[kGuardColumnCount] = {
    {"scope", TEXTOID, false},
    {"key", TEXTOID, false},
    {"status", TEXTOID, false},
    {"fingerprint", TEXTOID, true},
    {"outcome", JSONBOID, true},
    {"claim_token", INT8OID, false},
    {"claimed_at", TIMESTAMPTZOID, false},
    {"completed_at", TIMESTAMPTZOID, true},
    {"expires_at", TIMESTAMPTZOID, false},
    {"lease_expires_at", TIMESTAMPTZOID, true},
};

// Reads find every column where the extension created it: nothing else may
// have moved them (columns added at the end are allowed).
void require_created_columns(TupleDesc descriptor) {
  bool in_place = descriptor->natts >= kGuardColumnCount;
  for (int index = 0; in_place && index < kGuardColumnCount; ++index) {
    Form_pg_attribute column = TupleDescAttr(descriptor, index);
    in_place = !column->attisdropped && column->atttypid == kExpectedColumns[index].type &&
               strcmp(NameStr(column->attname), kExpectedColumns[index].name) == 0;
  }
  if (!in_place) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("the table idempotency.guards no longer has the columns the "
                           "extension created"),
                    errhint("Restore them, or dump the guards and recreate the extension.")));
  }
}

bool allows_direct_reads(Relation relation, Oid primary_key) {
  return relation->rd_rel->relkind == RELKIND_RELATION && OidIsValid(primary_key) &&
         !(relation->rd_rel->relforcerowsecurity &&
           !has_bypassrls_privilege(relation->rd_rel->relowner)) &&
         !OidIsValid(get_extension_oid("citus", true));
}

// Claims may build the row themselves: no column beyond the extension's but
// dropped ones (written as NULL), no defaults, NOT NULL, CHECK, generated
// columns, triggers or rules the INSERT statement would apply.
bool allows_direct_writes(Relation relation) {
  TupleDesc descriptor = RelationGetDescr(relation);
  for (int index = 0; index < descriptor->natts; ++index) {
    Form_pg_attribute column = TupleDescAttr(descriptor, index);
    if (index >= kGuardColumnCount ? !column->attisdropped
                                   : column->attnotnull && kExpectedColumns[index].may_be_null) {
      return false;
    }
  }
  TupleConstr* constraints = descriptor->constr;
  return relation->trigdesc == nullptr && relation->rd_rules == nullptr &&
         (constraints == nullptr || (constraints->num_check == 0 && constraints->num_defval == 0 &&
                                     !constraints->has_generated_stored));
}

// The plain btree on (expires_at) the extension created, under any name.
Oid find_expiry_index(Relation relation) {
  List* indexes = RelationGetIndexList(relation);
  Oid found = InvalidOid;
  ListCell* cell;
  foreach (cell, indexes) {
    Relation index = index_open(lfirst_oid(cell), AccessShareLock);
    Form_pg_index form = index->rd_index;
    if (index->rd_rel->relam == BTREE_AM_OID && form->indnatts == 1 &&
        form->indkey.values[0] == kExpiresAtColumn && form->indisvalid &&
        index->rd_indoption[0] == 0 /* ascending */ && RelationGetIndexExpressions(index) == NIL &&
        RelationGetIndexPredicate(index) == NIL) {
      found = RelationGetRelid(index);
    }
    index_close(index, AccessShareLock);
    if (OidIsValid(found)) break;
  }
  list_free(indexes);
  return found;
}

void load(LOCKMODE lock) {
  cache_valid = false;
  if (!callbacks_registered) {
    CacheRegisterRelcacheCallback(invalidate_relation, 0);
    CacheRegisterSyscacheCallback(AUTHOID, invalidate_roles, 0);
    callbacks_registered = true;
  }
  Oid namespace_oid = get_namespace_oid("idempotency", true);
  Oid relation_oid =
      OidIsValid(namespace_oid) ? get_relname_relid("guards", namespace_oid) : InvalidOid;
  if (!OidIsValid(relation_oid)) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("the table idempotency.guards does not exist"),
                    errhint("Run CREATE EXTENSION idempotency in this database.")));
  }
  // table_open() takes pending invalidations first, so what is read below
  // is current; one that arrives while reading makes the next call reload.
  Relation relation = table_open(relation_oid, lock);
  uint64 invalidations_before = invalidations;
  cached = GuardTable{};
  cached.relation = relation_oid;
  require_created_columns(RelationGetDescr(relation));
  cached.owner = relation->rd_rel->relowner;
  cached.primary_key = RelationGetPrimaryKeyIndex(relation);
  cached.direct_reads = allows_direct_reads(relation, cached.primary_key);
  cached.direct_writes = cached.direct_reads && allows_direct_writes(relation);
  cached.expiry_index = find_expiry_index(relation);
  table_close(relation, NoLock);
  cache_valid = invalidations == invalidations_before;
}

}  // namespace

const GuardTable& guard_table(LOCKMODE lock) {
  // Lock first: acquiring the lock takes the invalidations of every change
  // committed before it, and the lock keeps the table from changing in ways
  // that matter to the caller (new triggers, dropped indexes, ...) until the
  // transaction ends.
  if (cache_valid) LockRelationOid(cached.relation, lock);
  if (!cache_valid) load(lock);
  return cached;
}

}  // namespace idempotency::pg
