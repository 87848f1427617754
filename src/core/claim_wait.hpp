// The rules of claim_or_lookup(..., wait => ...): how long a retry may wait
// for the first attempt's answer, which wake-up slot a key sleeps on, and
// until when one sleep may last.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/guard_rules.hpp"

namespace idempotency::core {

// The longest wait a call may ask for: long enough for a slow first attempt,
// short enough that a forgotten wait does not hold a connection for long.
constexpr std::int64_t kMaxWaitMicroseconds = 5LL * 60 * 1000 * 1000;  // 5 minutes

// A wait given as the instant it ends (`now + wait`): its length in
// microseconds. Negative: 22023; longer than kMaxWaitMicroseconds: 22023.
// Zero is allowed and means "do not wait".
std::int64_t require_wait(std::int64_t now, std::int64_t ends_at);

// The wake-up slot of (database, scope, key) among `slot_count` (> 0):
// FNV-1a over the server's random `seed`, the database, scope, a NUL byte
// and key, so ("ab", "c") and ("a", "bc") differ and commits in one
// database do not wake waiters of another. Different keys may share a slot;
// that only costs a spurious re-check. The seed makes colliding keys hard to
// compute in advance (FNV-1a is no keyed MAC: it raises the cost, nothing
// more; a collision still only costs wake-ups).
std::uint32_t wait_slot_of(std::uint64_t seed, std::uint32_t database, std::string_view scope,
                           std::string_view key, std::uint32_t slot_count);

// When a waiter blocked by the pending guard `guard` must look again even if
// nobody wakes it: at `deadline`, or earlier when the guard's lease runs out
// or the guard expires (either lets the waiter take it over).
Instant next_wake_up(const StoredGuard& guard, Instant deadline);

// Waits from any node of a Citus cluster. A waiter is woken at once by a
// commit on its own node (claims/commit_wakeups.hpp), but the owner of the
// guard may be connected to another node, whose commit wakes nobody here. So
// on a node where Citus is installed a waiter also looks again at least every
// kCrossNodeRecheckMicroseconds: it answers within that delay plus one
// claim's round trip to the guard's shard after the owner's commit, wherever
// the owner was. Only waiting calls re-check: no cost when nobody waits.
constexpr std::int64_t kCrossNodeRecheckMicroseconds = 100 * 1000;  // 100 ms

// When a waiter that would sleep until `wake_up` must look again: then, or,
// when other nodes may commit the answer (`other_nodes_commit`), no later
// than kCrossNodeRecheckMicroseconds after `now`.
Instant cross_node_wake_up(Instant wake_up, Instant now, bool other_nodes_commit);

}  // namespace idempotency::core
