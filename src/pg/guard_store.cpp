#include "core/guard_error.hpp"
#include "pg/guard_store.hpp"
#include "pg/arguments.hpp"
#include "pg/error_boundary.hpp"

namespace idempotency::pg {
namespace {

enum Statement { kInsert, kRead, kTakeOver, kComplete, kDeletePending, kStatementCount };

// The expiry of a claim: explicit ttl ($6), else the scope's policy, else the
// default ($7). Shared by the insert and the takeover so they cannot disagree.
#define CLAIM_EXPIRY                                           \
  "$5 OPERATOR(pg_catalog.+) COALESCE($6, (SELECT p.ttl FROM " \
  "idempotency.retention_policies AS p WHERE p.scope OPERATOR(pg_catalog.=) $1), $7)"

#define SAME_GUARD "g.scope OPERATOR(pg_catalog.=) $1 AND g.key OPERATOR(pg_catalog.=) $2"

struct StatementSpec {
  const char* sql;
  int argument_count;
  Oid argument_types[11];
};

const StatementSpec kStatements[kStatementCount] = {
    {"INSERT INTO idempotency.guards AS g"
     " (scope, key, status, fingerprint, claim_token, claimed_at, expires_at, lease_expires_at)"
     " VALUES ($1, $2, 'pending', $3, $4, $5, " CLAIM_EXPIRY ", $5 OPERATOR(pg_catalog.+) $8)"
     " ON CONFLICT (scope, key) DO NOTHING RETURNING g.expires_at",
     8,
     {TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, INTERVALOID, INTERVALOID, INTERVALOID}},
    {"SELECT g.status, g.fingerprint, g.claim_token, g.expires_at, g.lease_expires_at,"
     " g.claimed_at, g.completed_at, g.outcome"
     " FROM idempotency.guards AS g WHERE " SAME_GUARD,
     2,
     {TEXTOID, TEXTOID}},
    {"UPDATE idempotency.guards AS g SET status = 'pending', fingerprint = $3, outcome = NULL,"
     " claim_token = $4, claimed_at = $5, completed_at = NULL, expires_at = " CLAIM_EXPIRY ","
     " lease_expires_at = $5 OPERATOR(pg_catalog.+) $8"
     " WHERE " SAME_GUARD " AND g.claim_token OPERATOR(pg_catalog.=) $9"
     " AND g.status OPERATOR(pg_catalog.=) $10 AND g.expires_at OPERATOR(pg_catalog.=) $11"
     " RETURNING g.expires_at",
     11,
     {TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, INTERVALOID, INTERVALOID, INTERVALOID,
      INT8OID, TEXTOID, TIMESTAMPTZOID}},
    {"UPDATE idempotency.guards AS g SET status = $3, outcome = $4, completed_at = $5"
     " WHERE " SAME_GUARD " AND g.status OPERATOR(pg_catalog.=) 'pending'"
     " AND g.expires_at OPERATOR(pg_catalog.>) $5"
     " AND ($6 IS NULL OR g.claim_token OPERATOR(pg_catalog.=) $6)",
     6,
     {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, INT8OID}},
    {"DELETE FROM idempotency.guards AS g"
     " WHERE " SAME_GUARD " AND g.status OPERATOR(pg_catalog.=) 'pending'"
     " AND g.expires_at OPERATOR(pg_catalog.>) $3"
     " AND ($4 IS NULL OR g.claim_token OPERATOR(pg_catalog.=) $4)",
     4,
     {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}},
};

#undef CLAIM_EXPIRY
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

// Plans live for the backend's lifetime; the plan cache re-plans them after
// DDL on the tables (including a DROP and re-CREATE of the extension).
SPIPlanPtr prepared_plan(Statement statement) {
  static SPIPlanPtr plans[kStatementCount];
  if (plans[statement] == nullptr) {
    const StatementSpec& spec = kStatements[statement];
    // Always the generic plan: the statements are single-row key lookups, so
    // per-call custom planning would only cost time.
    SPIPlanPtr plan =
        SPI_prepare_cursor(spec.sql, spec.argument_count, const_cast<Oid*>(spec.argument_types),
                           CURSOR_OPT_GENERIC_PLAN);
    if (plan == nullptr) {
      elog(ERROR, "idempotency: could not prepare statement: %s",
           SPI_result_code_string(SPI_result));
    }
    SPI_keepplan(plan);
    plans[statement] = plan;
  }
  return plans[statement];
}

// Runs a statement; inside call_pg only. Returns the number of rows processed.
uint64 execute(Statement statement, Datum* values, const char* nulls) {
  int result = SPI_execute_plan(prepared_plan(statement), values, nulls, false, 0);
  if (result < 0) {
    elog(ERROR, "idempotency: statement failed: %s", SPI_result_code_string(result));
  }
  return SPI_processed;
}

Datum nullable(const void* pointer) { return PointerGetDatum(pointer); }
char null_flag(const void* pointer) { return pointer == nullptr ? 'n' : ' '; }

Datum column(int number, bool* is_null) {
  return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, number, is_null);
}

// The first row's timestamptz column, as returned by RETURNING.
std::optional<TimestampTz> returned_timestamp(uint64 processed) {
  if (processed == 0) return std::nullopt;
  bool is_null = false;
  return DatumGetTimestampTz(column(1, &is_null));
}

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
  values[5] = nullable(write.ttl);
  nulls[5] = null_flag(write.ttl);
  values[6] = IntervalPGetDatum(&write.default_ttl);
  values[7] = nullable(write.lease);
  nulls[7] = null_flag(write.lease);
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
    if (execute(kRead, values, "  ") == 0) return read;
    read.found = true;
    bool is_null = false;
    // Copies go to the caller's context: SPI's memory ends at SPI_finish.
    MemoryContext spi_context = MemoryContextSwitchTo(session.caller_context);
    text* status = DatumGetTextPP(column(kStatusColumn, &is_null));
    std::optional<core::GuardStatus> parsed = core::parse_status(*text_view(status));
    if (!parsed) elog(ERROR, "idempotency: guard has an unknown status");
    read.guard.status = *parsed;
    Datum fingerprint = column(kFingerprintColumn, &is_null);
    if (!is_null) {
      read.fingerprint = DatumGetTextPCopy(fingerprint);
      read.guard.fingerprint = text_view(read.fingerprint);
    }
    read.guard.claim_token = DatumGetInt64(column(kClaimTokenColumn, &is_null));
    read.guard.expires_at = DatumGetTimestampTz(column(kExpiresAtColumn, &is_null));
    Datum lease = column(kLeaseExpiresAtColumn, &is_null);
    if (!is_null) read.guard.lease_expires_at = DatumGetTimestampTz(lease);
    read.claimed_at = DatumGetTimestampTz(column(kClaimedAtColumn, &is_null));
    Datum completed_at = column(kCompletedAtColumn, &is_null);
    if (!is_null) read.completed_at = DatumGetTimestampTz(completed_at);
    if (outcome == OutcomeColumn::kCopy) {
      Datum stored = column(kOutcomeColumn, &is_null);
      if (!is_null) read.outcome = DatumGetJsonbPCopy(stored);
    }
    MemoryContextSwitchTo(spi_context);
    return read;
  });
  return row;
}

std::optional<TimestampTz> insert_guard(const ClaimWrite& write) {
  return call_pg([&] {
    Datum values[8];
    char nulls[9] = "        ";
    bind_claim(write, values, nulls);
    return returned_timestamp(execute(kInsert, values, nulls));
  });
}

std::optional<TimestampTz> take_over_guard(const ClaimWrite& write, const core::StoredGuard& seen) {
  return call_pg([&] {
    Datum values[11];
    char nulls[12] = "           ";
    bind_claim(write, values, nulls);
    values[8] = Int64GetDatum(seen.claim_token);
    std::string_view status = core::status_name(seen.status);
    values[9] = PointerGetDatum(cstring_to_text_with_len(status.data(), status.size()));
    values[10] = TimestampTzGetDatum(seen.expires_at);
    return returned_timestamp(execute(kTakeOver, values, nulls));
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
    return execute(kComplete, values, nulls) == 1;
  });
}

bool delete_pending_guard(text* scope, text* key, std::optional<std::int64_t> claim_token,
                          TimestampTz now) {
  return call_pg([&] {
    Datum values[4] = {PointerGetDatum(scope), PointerGetDatum(key), TimestampTzGetDatum(now),
                       Int64GetDatum(claim_token.value_or(0))};
    char nulls[5] = "    ";
    if (!claim_token) nulls[3] = 'n';
    return execute(kDeletePending, values, nulls) == 1;
  });
}

}  // namespace idempotency::pg
