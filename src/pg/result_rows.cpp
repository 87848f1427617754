#include "pg/result_rows.hpp"
#include "pg/error_boundary.hpp"

namespace idempotency::pg {

void begin_result_rows(FunctionCallInfo fcinfo) {
  call_pg([&] {
    // The executor's expected row type, when it gives one, saves building
    // the type from the function's OUT parameters on every call.
    auto* result_info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    bool expected = result_info != nullptr && IsA(result_info, ReturnSetInfo) &&
                    result_info->expectedDesc != nullptr;
    InitMaterializedSRF(fcinfo, expected ? MAT_SRF_USE_EXPECTED_DESC : 0);
  });
}

void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  call_pg([&] {
    auto* result_info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    tuplestore_putvalues(result_info->setResult, result_info->setDesc, values, nulls);
  });
}

}  // namespace idempotency::pg
