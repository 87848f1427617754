// Returning rows from a set-returning C function (RETURNS TABLE).
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// Sets up a materialized result of rows of `columns` columns (an ERROR if
// the function's row type no longer has that many); call once, before
// adding rows.
void begin_result_rows(FunctionCallInfo fcinfo, int columns);
void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls);

}  // namespace idempotency::pg
