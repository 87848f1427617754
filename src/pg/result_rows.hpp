// Returning rows from a set-returning C function (RETURNS TABLE).
#pragma once
#include "pg/postgres.hpp"

namespace idempotency::pg {

// Sets up a materialized result; call once, before adding rows.
void begin_result_rows(FunctionCallInfo fcinfo);
void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls);

}  // namespace idempotency::pg
