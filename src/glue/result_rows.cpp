#include "glue/result_rows.hpp"

#include "glue/error_boundary.hpp"

namespace idempotency::pg {

void begin_result_rows(FunctionCallInfo fcinfo, int columns) {
  call_pg([&]() noexcept {
    // The executor's expected row type, when it gives one, saves building
    // the type from the function's OUT parameters on every call.
    auto* result_info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    bool expected = result_info != nullptr && IsA(result_info, ReturnSetInfo) &&
                    result_info->expectedDesc != nullptr;
    InitMaterializedSRF(fcinfo, expected ? MAT_SRF_USE_EXPECTED_DESC : 0);
    // The row types are the extension's, but ALTER TYPE ... ADD ATTRIBUTE
    // could change them.
    if (result_info->setDesc->natts != columns) {
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("the result type of %s no longer has %d columns",
                             get_func_name(fcinfo->flinfo->fn_oid), columns),
                      errhint("ALTER EXTENSION idempotency UPDATE, or recreate the extension.")));
    }
  });
}

void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
  call_pg([&]() noexcept {
    auto* result_info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    tuplestore_putvalues(result_info->setResult, result_info->setDesc, values, nulls);
  });
}

}  // namespace idempotency::pg
