#include "claims/cross_node_wait.hpp"

#include "glue/error_boundary.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace idempotency::pg {

bool other_nodes_may_commit() {
  return call_pg([]() noexcept { return OidIsValid(get_extension_oid("citus", true)); });
}

}  // namespace idempotency::pg
