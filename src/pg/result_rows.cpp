#include "pg/result_rows.hpp"
#include "pg/error_boundary.hpp"

namespace idempotency::pg {

void begin_result_rows(FunctionCallInfo fcinfo) {
  call_pg([&] { InitMaterializedSRF(fcinfo, 0); });
}

void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  call_pg([&] {
    auto* result_info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    tuplestore_putvalues(result_info->setResult, result_info->setDesc, values, nulls);
  });
}

}  // namespace idempotency::pg
