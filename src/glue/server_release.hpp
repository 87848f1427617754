// The running server's release against the one this library was built for:
// PG_MODULE_MAGIC refuses another major, but not a minor whose structs are
// laid out differently (core/server_layout.hpp).
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// For _PG_init: compares server_version_num with PG_VERSION_NUM and, when
// they straddle a change of ResultRelInfo's layout, logs a WARNING naming
// both releases and the fix. Never raises.
void check_server_release() noexcept;

// False after check_server_release() found such a straddle: then claims
// insert through SQL, never through the executor state the direct path
// allocates (guards/guard_table.cpp).
bool server_lays_out_executor_state_as_built();

}  // namespace idempotency::pg
