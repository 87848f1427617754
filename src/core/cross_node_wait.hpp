// Waits from any node of a Citus cluster. claim_or_lookup(..., wait => ...)
// is woken at once by a commit on its own node (claims/commit_wakeups.hpp),
// but the owner of the guard may be connected to another node, whose commit
// wakes nobody here. So on a node where Citus is installed a waiter also
// looks again at least every kCrossNodeRecheckMicroseconds: it answers within
// that delay plus one claim's round trip to the guard's shard after the
// owner's commit, wherever the owner was. Only waiting calls re-check: no
// cost when nobody waits.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstdint>

#include "core/guard_rules.hpp"

namespace idempotency::core {

constexpr std::int64_t kCrossNodeRecheckMicroseconds = 100 * 1000;  // 100 ms

// When a waiter that would sleep until `wake_up` must look again: then, or,
// when other nodes may commit the answer (`other_nodes_commit`), no later
// than kCrossNodeRecheckMicroseconds after `now`.
Instant cross_node_wake_up(Instant wake_up, Instant now, bool other_nodes_commit);

}  // namespace idempotency::core
