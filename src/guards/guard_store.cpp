#include "guards/guard_store.hpp"

#include "core/guard_error.hpp"

#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"
#include "glue/prepared_statement.hpp"
#include "guards/guard_heap.hpp"
#include "guards/guard_table.hpp"

namespace idempotency::pg {
namespace {

#define SAME_GUARD "g.scope OPERATOR(pg_catalog.=) $1 AND g.key OPERATOR(pg_catalog.=) $2"

// The claim statements store the times the C++ side computed: no sub-query
// for the scope's policy (cached per backend), which also keeps the INSERT
// a plain single-shard statement for a distributed table.
//
// Each claim statement comes in two forms: for a table with the
// attempt_digest column, and for one without it (a 1.0 or 1.1 table not
// updated yet: glue/schema_versions.hpp lists such differences).
#define INSERT_GUARD(attempt_column, attempt_value)                          \
  "INSERT INTO idempotency.guards"                                           \
  " (scope, key, status, fingerprint, claim_token, claimed_at, expires_at, " \
  "lease_expires_at" attempt_column                                          \
  ") VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7" attempt_value            \
  ") ON CONFLICT (scope, key) DO NOTHING"
#define CLAIM_TYPES \
  TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID

PreparedStatement insert_statement{
    INSERT_GUARD(", attempt_digest", ", $8"), 8, {CLAIM_TYPES, BYTEAOID}};
PreparedStatement insert_statement_without_attempt{INSERT_GUARD("", ""), 7, {CLAIM_TYPES}};

// For tables whose rows cannot be read directly (guard_table.hpp): every
// column, in table order, then the attempt's digest.
#define READ_GUARD(attempt_column)                                                          \
  "SELECT g.scope, g.key, g.status, g.fingerprint, g.outcome, g.claim_token, g.claimed_at," \
  " g.completed_at, g.expires_at, g.lease_expires_at" attempt_column                        \
  " FROM idempotency.guards AS g WHERE " SAME_GUARD

PreparedStatement read_statement{READ_GUARD(", g.attempt_digest"), 2, {TEXTOID, TEXTOID}};
PreparedStatement read_statement_without_attempt{READ_GUARD(""), 2, {TEXTOID, TEXTOID}};

#define TAKE_OVER_GUARD(attempt_column)                                                      \
  "UPDATE idempotency.guards AS g SET status = 'pending', fingerprint = $3, outcome = NULL," \
  " claim_token = $4, claimed_at = $5, completed_at = NULL, expires_at = $6,"                \
  " lease_expires_at = $7" attempt_column " WHERE " SAME_GUARD                               \
  " AND g.claim_token OPERATOR(pg_catalog.=) $8"                                             \
  " AND g.status OPERATOR(pg_catalog.=) $9 AND g.expires_at OPERATOR(pg_catalog.=) $10"
#define SEEN_TYPES INT8OID, TEXTOID, TIMESTAMPTZOID

PreparedStatement take_over_statement{
    TAKE_OVER_GUARD(", attempt_digest = $11"), 11, {CLAIM_TYPES, SEEN_TYPES, BYTEAOID}};
PreparedStatement take_over_statement_without_attempt{
    TAKE_OVER_GUARD(""), 10, {CLAIM_TYPES, SEEN_TYPES}};

#undef INSERT_GUARD
#undef READ_GUARD
#undef TAKE_OVER_GUARD
#undef CLAIM_TYPES
#undef SEEN_TYPES

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

PreparedStatement extend_lease_statement{
    "UPDATE idempotency.guards AS g SET lease_expires_at = $5"
    " WHERE " SAME_GUARD
    " AND g.status OPERATOR(pg_catalog.=) 'pending'"
    " AND g.expires_at OPERATOR(pg_catalog.>) $4"
    " AND g.claim_token OPERATOR(pg_catalog.=) $3",
    5,
    {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}};

#undef SAME_GUARD

Datum nullable(const void* pointer) { return PointerGetDatum(pointer); }
char null_flag(const void* pointer) { return pointer == nullptr ? 'n' : ' '; }

// The first seven arguments of a claim statement.
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

// The attempt's digest as argument `index` of a statement, if the table has the column.
void bind_attempt(const ClaimWrite& write, int index, Datum* values, char* nulls) {
  values[index] = nullable(write.attempt_digest);
  nulls[index] = null_flag(write.attempt_digest);
}

}  // namespace

void use_statements(GuardStoreSession& session) {
  if (session.statements_connected) return;
  call_pg([]() noexcept { connect_spi(); });
  session.statements_connected = true;
}

GuardStoreSession open_guard_store(Statements statements, LOCKMODE lock) {
  GuardStoreSession session;
  session.caller_context = CurrentMemoryContext;
  GetUserIdAndSecContext(&session.saved_user, &session.saved_security_context);
  session.table = call_pg([&]() noexcept { return &guard_table(lock); });
  session.guc_nest_level = NewGUCNestLevel();
  SetUserIdAndSecContext(session.table->owner, session.saved_security_context |
                                                   SECURITY_LOCAL_USERID_CHANGE |
                                                   SECURITY_RESTRICTED_OPERATION);
  if (statements == Statements::kConnectNow) use_statements(session);
  return session;
}

void close_guard_store(const GuardStoreSession& session) {
  if (session.inserter != nullptr) call_pg([&]() noexcept { end_guard_inserts(session.inserter); });
  if (session.statements_connected) call_pg([]() noexcept { SPI_finish(); });
  // As if aborted: what the owner's code SET goes, the caller's settings stay.
  call_pg([&]() noexcept { AtEOXact_GUC(false, session.guc_nest_level); });
  SetUserIdAndSecContext(session.saved_user, session.saved_security_context);
}

GuardRow read_guard(GuardStoreSession& session, text* scope, text* key, OutcomeColumn outcome,
                    ItemPointer location) {
  GuardRow row;
  const GuardTable& table = *session.table;
  if (table.direct_reads) {
    call_pg([&]() noexcept {
      fetch_guard(table, scope, key, location, outcome, session.caller_context, &row);
    });
    return row;
  }
  use_statements(session);
  bool attempts = table.attempt_column != InvalidAttrNumber;
  call_pg([&]() noexcept {
    Datum values[2] = {PointerGetDatum(scope), PointerGetDatum(key)};
    PreparedStatement& statement = attempts ? read_statement : read_statement_without_attempt;
    if (execute_prepared(statement, values, "  ") == 0) return;
    Datum columns[kGuardColumnCount + 1];
    bool nulls[kGuardColumnCount + 1];
    heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, columns, nulls);
    copy_guard_columns(columns, nulls, attempts ? kGuardColumnCount + 1 : InvalidAttrNumber,
                       outcome, session.caller_context, &row);
  });
  return row;
}

bool insert_guard(GuardStoreSession& session, const ClaimWrite& write, ItemPointer conflict) {
  ItemPointerSetInvalid(conflict);
  const GuardTable& table = *session.table;
  if (table.direct_writes) {
    return call_pg([&]() noexcept {
      if (session.inserter == nullptr) {
        session.inserter = begin_guard_inserts(table, session.caller_context);
      }
      return insert_guard_tuple(session.inserter, write, conflict);
    });
  }
  use_statements(session);
  bool attempts = table.attempt_column != InvalidAttrNumber;
  return call_pg([&]() noexcept {
    Datum values[8];
    char nulls[9] = "        ";
    bind_claim(write, values, nulls);
    if (!attempts) return execute_prepared(insert_statement_without_attempt, values, nulls) == 1;
    bind_attempt(write, 7, values, nulls);
    return execute_prepared(insert_statement, values, nulls) == 1;
  });
}

bool take_over_guard(GuardStoreSession& session, const ClaimWrite& write,
                     const core::StoredGuard& seen) {
  use_statements(session);
  bool attempts = session.table->attempt_column != InvalidAttrNumber;
  return call_pg([&]() noexcept {
    Datum values[11];
    char nulls[12] = "           ";
    bind_claim(write, values, nulls);
    values[7] = Int64GetDatum(seen.claim_token);
    std::string_view status = core::status_name(seen.status);
    values[8] = PointerGetDatum(cstring_to_text_with_len(status.data(), status.size()));
    values[9] = TimestampTzGetDatum(seen.expires_at);
    if (!attempts) return execute_prepared(take_over_statement_without_attempt, values, nulls) == 1;
    bind_attempt(write, 10, values, nulls);
    return execute_prepared(take_over_statement, values, nulls) == 1;
  });
}

bool complete_guard(text* scope, text* key, core::GuardStatus status, Jsonb* outcome,
                    std::optional<std::int64_t> claim_token, TimestampTz now) {
  std::string_view status_text = core::status_name(status);
  return call_pg([&]() noexcept {
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
  return call_pg([&]() noexcept {
    Datum values[4] = {PointerGetDatum(scope), PointerGetDatum(key), TimestampTzGetDatum(now),
                       Int64GetDatum(claim_token.value_or(0))};
    char nulls[5] = "    ";
    if (!claim_token) nulls[3] = 'n';
    return execute_prepared(delete_pending_statement, values, nulls) == 1;
  });
}

bool extend_pending_lease(text* scope, text* key, std::int64_t claim_token, TimestampTz now,
                          TimestampTz lease_expires_at) {
  return call_pg([&]() noexcept {
    Datum values[5] = {PointerGetDatum(scope), PointerGetDatum(key), Int64GetDatum(claim_token),
                       TimestampTzGetDatum(now), TimestampTzGetDatum(lease_expires_at)};
    return execute_prepared(extend_lease_statement, values, nullptr) == 1;
  });
}

}  // namespace idempotency::pg
