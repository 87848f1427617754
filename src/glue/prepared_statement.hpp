// A SQL statement prepared once per backend and kept for its lifetime. The
// plan cache re-plans it after DDL on the tables it uses (including a DROP and
// re-CREATE of the extension), so the plan never goes stale.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

struct PreparedStatement {
  const char* sql;
  int argument_count;
  Oid argument_types[12];
  SPIPlanPtr plan = nullptr;  // prepared on first use
};

// SPI_connect(), raising an ERROR if it fails (call inside call_pg). Until
// SPI_finish(), palloc allocates in SPI's memory, which SPI_finish() frees.
void connect_spi();

// Runs the statement with SPI (which must be connected) and returns the number
// of rows processed. Raises a PostgreSQL ERROR on failure: call it inside
// call_pg. `nulls` has 'n' for a NULL argument and ' ' otherwise.
uint64 execute_prepared(PreparedStatement& statement, Datum* values, const char* nulls);

// The same, but reading from the latest committed snapshot instead of the
// transaction's (read-only statements): for state that must be current even
// inside a REPEATABLE READ transaction, such as the scope restrictions.
uint64 execute_prepared_latest(PreparedStatement& statement, Datum* values, const char* nulls);

// Column `number` (from 1) of the first result row.
Datum first_row_column(int number, bool* is_null);

}  // namespace idempotency::pg
