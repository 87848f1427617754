#include "guards/purge.hpp"
#include "glue/error_boundary.hpp"
#include "guards/guard_heap.hpp"
#include "guards/guard_table.hpp"
#include "glue/prepared_statement.hpp"

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
    return deleted;
  });
}

uint64 redate_scope_batch(text* scope, Interval* ttl, TimestampTz cutoff, TimestampTz now,
                          int batch_size) {
  return call_pg([&]() noexcept {
    Datum values[5] = {PointerGetDatum(scope), IntervalPGetDatum(ttl), TimestampTzGetDatum(now),
                       Int32GetDatum(batch_size), TimestampTzGetDatum(cutoff)};
    return execute_prepared(redate_statement, values, "     ");
  });
}

}  // namespace idempotency::pg
