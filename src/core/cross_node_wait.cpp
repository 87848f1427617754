#include "core/cross_node_wait.hpp"

#include <algorithm>

namespace idempotency::core {

Instant cross_node_wake_up(Instant wake_up, Instant now, bool other_nodes_commit) {
  if (!other_nodes_commit) return wake_up;
  return std::min(wake_up, now + kCrossNodeRecheckMicroseconds);
}

}  // namespace idempotency::core
