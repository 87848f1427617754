#include "core/guard_error.hpp"
#include "pg/guard_store.hpp"
#include "pg/arguments.hpp"
#include "pg/error_boundary.hpp"
#include "pg/prepared_statement.hpp"

namespace idempotency::pg {
namespace {

#define SAME_GUARD "g.scope OPERATOR(pg_catalog.=) $1 AND g.key OPERATOR(pg_catalog.=) $2"

// The claim statements store the times the C++ side computed: no sub-query
// for the scope's policy (cached per backend), which also keeps the INSERT
// a plain single-shard statement for a distributed table.
PreparedStatement insert_statement{
    "INSERT INTO idempotency.guards"
    " (scope, key, status, fingerprint, claim_token, claimed_at, expires_at, lease_expires_at)"
    " VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7) ON CONFLICT (scope, key) DO NOTHING",
    7,
    {TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID}};

PreparedStatement read_statement{
    "SELECT g.status, g.fingerprint, g.claim_token, g.expires_at, g.lease_expires_at,"
    " g.claimed_at, g.completed_at, g.outcome"
    " FROM idempotency.guards AS g WHERE " SAME_GUARD,
    2,
    {TEXTOID, TEXTOID}};

PreparedStatement take_over_statement{
    "UPDATE idempotency.guards AS g SET status = 'pending', fingerprint = $3, outcome = NULL,"
    " claim_token = $4, claimed_at = $5, completed_at = NULL, expires_at = $6,"
    " lease_expires_at = $7"
    " WHERE " SAME_GUARD
    " AND g.claim_token OPERATOR(pg_catalog.=) $8"
    " AND g.status OPERATOR(pg_catalog.=) $9 AND g.expires_at OPERATOR(pg_catalog.=) $10",
    10,
    {TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID,
     TEXTOID, TIMESTAMPTZOID}};

PreparedStatement complete_statement{
    "UPDATE idempotency.guards AS g SET status = $3, outcome = $4, completed_at = $5"
    " WHERE " SAME_GUARD
    " AND g.status OPERATOR(pg_catalog.=) 'pending'"
    " AND g.expires_at OPERATOR(pg_catalog.>) $5"
    " AND ($6 IS NULL OR g.claim_token OPERATOR(pg_catalog.=) $6)",
    6,
    {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, INT8OID}};

PreparedStatement delete_pending_statement{
    "DELETE FROM idempotency.guards AS g"
    " WHERE " SAME_GUARD
    " AND g.status OPERATOR(pg_catalog.=) 'pending'"
    " AND g.expires_at OPERATOR(pg_catalog.>) $3"
    " AND ($4 IS NULL OR g.claim_token OPERATOR(pg_catalog.=) $4)",
    4,
    {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}};

#undef SAME_GUARD

// Column numbers of the read statement.
enum ReadColumn {
  kStatusColumn = 1,
  kFingerprintColumn,
  kClaimTokenColumn,
  kExpiresAtColumn,
  kLeaseExpiresAtColumn,
  kClaimedAtColumn,
  kCompletedAtColumn,
  kOutcomeColumn,
};

Datum nullable(const void* pointer) { return PointerGetDatum(pointer); }
char null_flag(const void* pointer) { return pointer == nullptr ? 'n' : ' '; }

Oid guard_table_owner() {
  Oid namespace_oid = get_namespace_oid("idempotency", true);
  Oid relation =
      OidIsValid(namespace_oid) ? get_relname_relid("guards", namespace_oid) : InvalidOid;
  HeapTuple tuple =
      OidIsValid(relation) ? SearchSysCache1(RELOID, ObjectIdGetDatum(relation)) : nullptr;
  if (!HeapTupleIsValid(tuple)) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("the table idempotency.guards does not exist"),
                    errhint("Run CREATE EXTENSION idempotency in this database.")));
  }
  Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
  ReleaseSysCache(tuple);
  return owner;
}

void bind_claim(const ClaimWrite& write, Datum* values, char* nulls) {
  values[0] = PointerGetDatum(write.scope);
  values[1] = PointerGetDatum(write.key);
  values[2] = nullable(write.fingerprint);
  nulls[2] = null_flag(write.fingerprint);
  values[3] = Int64GetDatum(write.claim_token);
  values[4] = TimestampTzGetDatum(write.now);
  values[5] = TimestampTzGetDatum(write.expires_at);
  values[6] = TimestampTzGetDatum(write.lease_expires_at.value_or(0));
  nulls[6] = write.lease_expires_at ? ' ' : 'n';
}

}  // namespace

GuardStoreSession open_guard_store() {
  GuardStoreSession session;
  session.caller_context = CurrentMemoryContext;
  GetUserIdAndSecContext(&session.saved_user, &session.saved_security_context);
  Oid owner = call_pg([] { return guard_table_owner(); });
  SetUserIdAndSecContext(owner, session.saved_security_context | SECURITY_LOCAL_USERID_CHANGE |
                                    SECURITY_RESTRICTED_OPERATION);
  call_pg([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "idempotency: SPI_connect failed");
  });
  return session;
}

void close_guard_store(const GuardStoreSession& session) {
  call_pg([] { SPI_finish(); });
  SetUserIdAndSecContext(session.saved_user, session.saved_security_context);
}

GuardRow read_guard(const GuardStoreSession& session, text* scope, text* key,
                    OutcomeColumn outcome) {
  GuardRow row = call_pg([&] {
    GuardRow read;
    Datum values[2] = {PointerGetDatum(scope), PointerGetDatum(key)};
    if (execute_prepared(read_statement, values, "  ") == 0) return read;
    read.found = true;
    bool is_null = false;
    // Copies go to the caller's context: SPI's memory ends at SPI_finish.
    MemoryContext spi_context = MemoryContextSwitchTo(session.caller_context);
    text* status = DatumGetTextPP(first_row_column(kStatusColumn, &is_null));
    std::optional<core::GuardStatus> parsed = core::parse_status(*text_view(status));
    if (!parsed) elog(ERROR, "idempotency: guard has an unknown status");
    read.guard.status = *parsed;
    Datum fingerprint = first_row_column(kFingerprintColumn, &is_null);
    if (!is_null) {
      read.fingerprint = DatumGetTextPCopy(fingerprint);
      read.guard.fingerprint = text_view(read.fingerprint);
    }
    read.guard.claim_token = DatumGetInt64(first_row_column(kClaimTokenColumn, &is_null));
    read.guard.expires_at = DatumGetTimestampTz(first_row_column(kExpiresAtColumn, &is_null));
    Datum lease = first_row_column(kLeaseExpiresAtColumn, &is_null);
    if (!is_null) read.guard.lease_expires_at = DatumGetTimestampTz(lease);
    read.claimed_at = DatumGetTimestampTz(first_row_column(kClaimedAtColumn, &is_null));
    Datum completed_at = first_row_column(kCompletedAtColumn, &is_null);
    if (!is_null) read.completed_at = DatumGetTimestampTz(completed_at);
    if (outcome == OutcomeColumn::kCopy) {
      Datum stored = first_row_column(kOutcomeColumn, &is_null);
      if (!is_null) read.outcome = DatumGetJsonbPCopy(stored);
    }
    MemoryContextSwitchTo(spi_context);
    return read;
  });
  return row;
}

bool insert_guard(const ClaimWrite& write) {
  return call_pg([&] {
    Datum values[7];
    char nulls[8] = "       ";
    bind_claim(write, values, nulls);
    return execute_prepared(insert_statement, values, nulls) == 1;
  });
}

bool take_over_guard(const ClaimWrite& write, const core::StoredGuard& seen) {
  return call_pg([&] {
    Datum values[10];
    char nulls[11] = "          ";
    bind_claim(write, values, nulls);
    values[7] = Int64GetDatum(seen.claim_token);
    std::string_view status = core::status_name(seen.status);
    values[8] = PointerGetDatum(cstring_to_text_with_len(status.data(), status.size()));
    values[9] = TimestampTzGetDatum(seen.expires_at);
    return execute_prepared(take_over_statement, values, nulls) == 1;
  });
}

bool complete_guard(text* scope, text* key, core::GuardStatus status, Jsonb* outcome,
                    std::optional<std::int64_t> claim_token, TimestampTz now) {
  std::string_view status_text = core::status_name(status);
  return call_pg([&] {
    Datum values[6] = {
        PointerGetDatum(scope),
        PointerGetDatum(key),
        PointerGetDatum(cstring_to_text_with_len(status_text.data(), status_text.size())),
        nullable(outcome),
        TimestampTzGetDatum(now),
        Int64GetDatum(claim_token.value_or(0))};
    char nulls[7] = "      ";
    nulls[3] = null_flag(outcome);
    if (!claim_token) nulls[5] = 'n';
    return execute_prepared(complete_statement, values, nulls) == 1;
  });
}

bool delete_pending_guard(text* scope, text* key, std::optional<std::int64_t> claim_token,
                          TimestampTz now) {
  return call_pg([&] {
    Datum values[4] = {PointerGetDatum(scope), PointerGetDatum(key), TimestampTzGetDatum(now),
                       Int64GetDatum(claim_token.value_or(0))};
    char nulls[5] = "    ";
    if (!claim_token) nulls[3] = 'n';
    return execute_prepared(delete_pending_statement, values, nulls) == 1;
  });
}

}  // namespace idempotency::pg
