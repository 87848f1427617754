#include "guards/guard_table.hpp"

#include "glue/compat.hpp"
#include "glue/server_release.hpp"
#include "glue/settings.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opfamily.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
}

namespace idempotency::pg {
namespace {

GuardTable cached;
bool cache_valid = false;
// idempotency.direct_access as it was at the load: the choice of path is cached.
bool loaded_with_direct_access = true;
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
void invalidate_roles(Datum /*argument*/, compat::SyscacheId /*cache*/, uint32 /*hash*/) {
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

// The attempt_digest column (bytea) of 1.2, or InvalidAttrNumber.
AttrNumber find_attempt_column(TupleDesc descriptor) {
  for (int index = kGuardColumnCount; index < descriptor->natts; ++index) {
    Form_pg_attribute column = TupleDescAttr(descriptor, index);
    if (!column->attisdropped && column->atttypid == BYTEAOID &&
        strcmp(NameStr(column->attname), kAttemptDigestColumnName) == 0) {
      return column->attnum;
    }
  }
  return InvalidAttrNumber;
}

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

// The direct paths arbitrate and scan with the primary key the extension
// created: a btree on exactly (scope, key), in that order, with collation "C"
// and the default text operator class, and nothing else.
bool is_created_primary_key(Oid primary_key) {
  Relation index = index_open(primary_key, AccessShareLock);
  Form_pg_index form = index->rd_index;
  bool created = index->rd_rel->relam == BTREE_AM_OID && form->indnatts == 2 &&
                 form->indnkeyatts == 2 && form->indkey.values[0] == kScopeColumn &&
                 form->indkey.values[1] == kKeyColumn;
  for (int column = 0; created && column < 2; ++column) {
    created = index->rd_indcollation[column] == C_COLLATION_OID &&
              index->rd_opfamily[column] == TEXT_BTREE_FAM_OID;
  }
  created = created && RelationGetIndexExpressions(index) == NIL &&
            RelationGetIndexPredicate(index) == NIL;
  index_close(index, AccessShareLock);
  return created;
}

// Why rows must be read through SQL, or nullptr when they may be read
// straight from the heap and primary key.
const char* reason_for_sql_reads(Relation relation, Oid primary_key, bool citus_shard) {
  if (!direct_access) return "idempotency.direct_access is off";
  if (relation->rd_rel->relkind != RELKIND_RELATION) return "it is not a plain table";
  if (relation->rd_rel->relam != HEAP_TABLE_AM_OID) return "its access method is not heap";
  if (!OidIsValid(primary_key)) return "it has no immediate primary key";
  if (!is_created_primary_key(primary_key)) {
    return "its primary key is not the btree on (scope, key) with collation \"C\"";
  }
  if (relation->rd_rel->relforcerowsecurity &&
      !has_bypassrls_privilege(relation->rd_rel->relowner)) {
    return "row security is forced on its owner";
  }
  if (!citus_shard && OidIsValid(get_extension_oid("citus", true))) {
    return "the citus extension is installed";
  }
  return nullptr;
}

// Why claims must run the INSERT statement, or nullptr when they may build
// the row themselves: no column beyond the extension's but dropped ones
// (written as NULL) and 1.2's attempt_digest, no defaults, NOT NULL, CHECK, generated columns,
// triggers or rules the statement would apply.
const char* reason_for_sql_writes(Relation relation, AttrNumber attempt_column) {
  // The direct insert allocates a ResultRelInfo with the build's layout.
  if (!server_lays_out_executor_state_as_built()) {
    return "the server's minor release lays out ResultRelInfo unlike the build's";
  }
  TupleDesc descriptor = RelationGetDescr(relation);
  for (int index = 0; index < descriptor->natts; ++index) {
    Form_pg_attribute column = TupleDescAttr(descriptor, index);
    bool attempt = column->attnum == attempt_column;
    if (index >= kGuardColumnCount && !attempt && !column->attisdropped) {
      return "it has columns of its own";
    }
    if (column->attnotnull &&
        (attempt || (index < kGuardColumnCount && kExpectedColumns[index].may_be_null))) {
      return "a column the extension leaves NULL is NOT NULL";
    }
  }
  if (relation->trigdesc != nullptr) return "it has triggers";
  if (relation->rd_rules != nullptr) return "it has rules";
  TupleConstr* constraints = descriptor->constr;
  if (constraints != nullptr && (constraints->num_check != 0 || constraints->num_defval != 0 ||
                                 constraints->has_generated_stored)) {
    return "it has CHECK constraints, defaults or generated columns";
  }
  return nullptr;
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

// What is known of an open guards table, or of one of its Citus shard
// placements, with why its rows must be read (`sql_reads`) or written
// (`sql_writes`) through SQL, nullptr when they need not.
GuardTable describe(Relation relation, bool citus_shard, const char** sql_reads,
                    const char** sql_writes) {
  GuardTable description;
  description.relation = RelationGetRelid(relation);
  require_created_columns(RelationGetDescr(relation));
  description.attempt_column = find_attempt_column(RelationGetDescr(relation));
  description.owner = relation->rd_rel->relowner;
  description.primary_key = compat::immediate_primary_key(relation);
  *sql_reads = reason_for_sql_reads(relation, description.primary_key, citus_shard);
  *sql_writes = *sql_reads != nullptr ? *sql_reads
                                      : reason_for_sql_writes(relation, description.attempt_column);
  description.direct_reads = *sql_reads == nullptr;
  description.direct_writes = *sql_writes == nullptr;
  description.expiry_index = find_expiry_index(relation);
  return description;
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
  const char* sql_reads = nullptr;
  const char* sql_writes = nullptr;
  cached = describe(relation, false, &sql_reads, &sql_writes);
  // For a DBA asking why claims became slower (SET client_min_messages).
  if (sql_reads != nullptr) {
    ereport(DEBUG1, (errmsg("idempotency: claims and reads of idempotency.guards run SQL "
                            "statements: %s",
                            sql_reads)));
  } else if (sql_writes != nullptr) {
    ereport(DEBUG1, (errmsg("idempotency: claims of idempotency.guards run SQL statements: %s",
                            sql_writes)));
  }
  loaded_with_direct_access = direct_access;
  table_close(relation, NoLock);
  cache_valid = invalidations == invalidations_before;
}

}  // namespace

bool describe_guard_shard(Oid shard, GuardTable* description) {
  Relation relation = table_open(shard, RowExclusiveLock);
  const char* sql_reads = nullptr;
  const char* sql_writes = nullptr;
  *description = describe(relation, true, &sql_reads, &sql_writes);
  table_close(relation, NoLock);
  return description->direct_writes && OidIsValid(description->expiry_index);
}

const GuardTable& guard_table(LOCKMODE lock) {
  // Lock first: acquiring the lock takes the invalidations of every change
  // committed before it, and the lock keeps the table from changing in ways
  // that matter to the caller (new triggers, dropped indexes, ...) until the
  // transaction ends.
  if (loaded_with_direct_access != direct_access) cache_valid = false;
  if (cache_valid) LockRelationOid(cached.relation, lock);
  if (!cache_valid) load(lock);
  return cached;
}

}  // namespace idempotency::pg
