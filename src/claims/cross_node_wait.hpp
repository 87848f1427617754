// Whether the answer a waiter waits for may be committed on another node
// (core/claim_wait.hpp): on a node of a Citus cluster, where the
// guard's owner may be connected to any node.
#pragma once
#include "glue/postgres.hpp"

namespace idempotency::pg {

// True where the citus extension is installed in this database.
bool other_nodes_may_commit();

}  // namespace idempotency::pg
