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

}  // namespace idempotency::core
