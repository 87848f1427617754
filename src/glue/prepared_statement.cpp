#include "glue/prepared_statement.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace idempotency::pg {

namespace {

SPIPlanPtr prepared_plan(PreparedStatement& statement) {
  if (statement.plan == nullptr) {
    // Always the generic plan: these are key or index-range statements whose
    // plan does not depend on the values, so custom planning only costs time.
    // Except with Citus, which cannot plan a statement over several shards
    // with unbound parameters: there the plan cache chooses, as for any client.
    bool citus = OidIsValid(get_extension_oid("citus", true));
    SPIPlanPtr plan =
        SPI_prepare_cursor(statement.sql, statement.argument_count, statement.argument_types,
                           citus ? 0 : CURSOR_OPT_GENERIC_PLAN);
    if (plan == nullptr) {
      elog(ERROR, "idempotency: could not prepare statement: %s",
           SPI_result_code_string(SPI_result));
    }
    SPI_keepplan(plan);
    statement.plan = plan;
  }
  return statement.plan;
}

uint64 checked(int result) {
  if (result < 0) {
    elog(ERROR, "idempotency: statement failed: %s", SPI_result_code_string(result));
  }
  return SPI_processed;
}

}  // namespace

void connect_spi() {
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "idempotency: SPI_connect failed");
}

uint64 execute_prepared(PreparedStatement& statement, Datum* values, const char* nulls) {
  return checked(SPI_execute_plan(prepared_plan(statement), values, nulls, false, 0));
}

uint64 execute_prepared_latest(PreparedStatement& statement, Datum* values, const char* nulls) {
  return checked(SPI_execute_snapshot(prepared_plan(statement), values, nulls, GetLatestSnapshot(),
                                      InvalidSnapshot, true, false, 0));
}

Datum first_row_column(int number, bool* is_null) {
  return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, number, is_null);
}

}  // namespace idempotency::pg
