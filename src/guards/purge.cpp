#include "guards/purge.hpp"

#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"
#include "guards/guard_heap.hpp"
#include "guards/guard_table.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace idempotency::pg {
namespace {

// For tables a DBA has changed (guard_table.hpp); otherwise the purge deletes
// from the heap directly (delete_expired_tuples), which is what this
// statement does without its row-locking pass and executor start-up.
// The expiry test is repeated outside the sub-select: the rows it picked are
// locked, but the outer DELETE must not trust anything it did not check.
// A row skipped because it was locked may fall behind the resume point ($3):
// the next run, which starts from the beginning again, deletes it.
PreparedStatement purge_statement{
    "WITH deleted AS ("
    " DELETE FROM idempotency.guards AS g"
    "  WHERE g.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
    "    SELECT e.ctid FROM idempotency.guards AS e"
    "     WHERE e.expires_at OPERATOR(pg_catalog.<=) $1"
    "       AND e.expires_at OPERATOR(pg_catalog.>=) $3"
    "     ORDER BY e.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
    "  AND g.expires_at OPERATOR(pg_catalog.<=) $1"
    "  RETURNING g.expires_at)"
    " SELECT pg_catalog.count(*), pg_catalog.max(d.expires_at) FROM deleted AS d",
    3,
    {TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID}};

// Once Citus has distributed idempotency.guards (idempotency.distribute()),
// its rows are in shards, and each node's purge removes the expired guards of
// the shard placements on that node: the ones pg_dist_placement lists for
// this node's group. A placement moved away but not yet dropped (deferred
// cleanup) is no longer listed, and one being moved in is listed once the
// move completes. These statements are prepared only where citus is installed.
PreparedStatement distributed_statement{
    "SELECT FROM pg_catalog.pg_dist_partition AS d"
    " WHERE d.logicalrelid OPERATOR(pg_catalog.=) 'idempotency.guards'::pg_catalog.regclass",
    0,
    {}};

PreparedStatement local_shards_statement{
    "SELECT pg_catalog.to_regclass(pg_catalog.format('idempotency.%I',"
    "         'guards_' OPERATOR(pg_catalog.||) s.shardid))::pg_catalog.oid"
    "  FROM pg_catalog.pg_dist_shard AS s"
    "  JOIN pg_catalog.pg_dist_placement AS p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
    " WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'idempotency.guards'::pg_catalog.regclass"
    "   AND p.groupid OPERATOR(pg_catalog.=)"
    "       (SELECT l.groupid FROM pg_catalog.pg_dist_local_group AS l)"
    " ORDER BY s.shardid",
    0,
    {}};

PreparedStatement redate_shards_statement{
    "SELECT idempotency.redate_shards($1, $2, $3)", 3, {TEXTOID, INTERVALOID, TIMESTAMPTZOID}};

}  // namespace

// The purge runs batch after batch in one SPI connection, which keeps every
// result until it ends: each result is freed once read.
bool guards_distributed() {
  if (!OidIsValid(get_extension_oid("citus", true))) return false;
  bool distributed = execute_prepared(distributed_statement, nullptr, "") > 0;
  SPI_freetuptable(SPI_tuptable);
  return distributed;
}

namespace {

// Deletes up to `limit` expired guards from this node's shard placements,
// one shard after the other from `progress`. A shard list that changes
// between batches (a shard moved) may make a batch skip a shard: the next
// run starts from the first shard again.
uint64 purge_local_shards(TimestampTz now, uint64 limit, PurgeProgress& progress) {
  uint64 shard_count = execute_prepared(local_shards_statement, nullptr, "");
  Oid* shards = static_cast<Oid*>(palloc(std::max<uint64>(shard_count, 1) * sizeof(Oid)));
  for (uint64 row = 0; row < shard_count; ++row) {
    bool is_null = false;
    Datum shard = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &is_null);
    shards[row] = is_null ? InvalidOid : DatumGetObjectId(shard);
  }
  SPI_freetuptable(SPI_tuptable);
  uint64 deleted = 0;
  while (progress.shard_position < shard_count && deleted < limit) {
    Oid shard = shards[progress.shard_position];
    GuardTable shard_table;
    if (OidIsValid(shard)) {
      if (!describe_guard_shard(shard, &shard_table)) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("idempotency: cannot purge the shard %s of idempotency.guards",
                               get_rel_name(shard)),
                        errdetail("The purge of distributed guards deletes from each shard "
                                  "directly, which needs the table as the extension created "
                                  "it (no added columns, triggers, rules or defaults, and the "
                                  "index on expires_at).")));
      }
      deleted += delete_expired_tuples(shard_table, now, limit - deleted, &progress.resume_from);
      if (deleted >= limit) break;  // this shard may have more
    }
    ++progress.shard_position;
    progress.resume_from = DT_NOBEGIN;
  }
  pfree(shards);
  return deleted;
}

#define REDATED_EXPIRY "(r.claimed_at OPERATOR(pg_catalog.+) $2)"

PreparedStatement redate_statement{
    "UPDATE idempotency.guards AS g SET expires_at = g.claimed_at OPERATOR(pg_catalog.+) $2"
    " WHERE g.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
    "   SELECT r.ctid FROM idempotency.guards AS r"
    "    WHERE r.scope OPERATOR(pg_catalog.=) $1 AND r.expires_at OPERATOR(pg_catalog.>) $3"
    "      AND r.expires_at OPERATOR(pg_catalog.<>) " REDATED_EXPIRY
    "      AND r.claimed_at OPERATOR(pg_catalog.<=) $5"
    "    LIMIT $4 FOR UPDATE))"
    " AND g.scope OPERATOR(pg_catalog.=) $1 AND g.expires_at OPERATOR(pg_catalog.>) $3"
    " AND g.claimed_at OPERATOR(pg_catalog.<=) $5",
    5,
    {TEXTOID, INTERVALOID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID}};

#undef REDATED_EXPIRY

}  // namespace

uint64 purge_expired_batch(TimestampTz now, int batch_size, PurgeProgress& progress) {
  return call_pg([&]() noexcept {
    const GuardTable& table = guard_table(RowExclusiveLock);
    if (guards_distributed()) {
      return purge_local_shards(now, static_cast<uint64>(batch_size), progress);
    }
    if (table.direct_writes && OidIsValid(table.expiry_index)) {
      return delete_expired_tuples(table, now, static_cast<uint64>(batch_size),
                                   &progress.resume_from);
    }
    Datum values[3] = {TimestampTzGetDatum(now), Int32GetDatum(batch_size),
                       TimestampTzGetDatum(progress.resume_from)};
    execute_prepared(purge_statement, values, "   ");
    bool is_null = false;
    auto deleted = static_cast<uint64>(DatumGetInt64(first_row_column(1, &is_null)));
    Datum reached = first_row_column(2, &is_null);
    if (!is_null) progress.resume_from = DatumGetTimestampTz(reached);
    SPI_freetuptable(SPI_tuptable);
    return deleted;
  });
}

uint64 redate_scope_batch(text* scope, Interval* ttl, TimestampTz cutoff, TimestampTz now,
                          int batch_size) {
  return call_pg([&]() noexcept -> uint64 {
    if (guards_distributed()) {
      // Every shard at once (idempotency.redate_shards): the scope is done.
      Datum values[3] = {PointerGetDatum(scope), IntervalPGetDatum(ttl),
                         TimestampTzGetDatum(cutoff)};
      execute_prepared(redate_shards_statement, values, "   ");
      return 0;
    }
    Datum values[5] = {PointerGetDatum(scope), IntervalPGetDatum(ttl), TimestampTzGetDatum(now),
                       Int32GetDatum(batch_size), TimestampTzGetDatum(cutoff)};
    return execute_prepared(redate_statement, values, "     ");
  });
}

}  // namespace idempotency::pg
