#include "core/claim_wait.hpp"

#include <algorithm>
#include <string>

#include "core/guard_error.hpp"
#include "core/sql_state.hpp"

namespace idempotency::core {

std::int64_t require_wait(std::int64_t now, std::int64_t ends_at) {
  if (ends_at < now) {
    throw GuardError(SqlState::kInvalidParameterValue, "wait must not be negative", {},
                     "Pass an interval such as '1 second', or NULL not to wait.");
  }
  if (ends_at - now > kMaxWaitMicroseconds) {
    throw GuardError(SqlState::kInvalidParameterValue, "wait must be at most 5 minutes", {},
                     "Wait in shorter steps, or poll with lookup().");
  }
  return ends_at - now;
}

std::uint32_t wait_slot_of(std::uint64_t seed, std::uint32_t database, std::string_view scope,
                           std::string_view key, std::uint32_t slot_count) {
  constexpr std::uint64_t kOffsetBasis = 14695981039346656037ULL;
  constexpr std::uint64_t kPrime = 1099511628211ULL;
  std::uint64_t hash = kOffsetBasis;
  auto mix = [&hash](unsigned char byte) {
    hash ^= byte;
    hash *= kPrime;
  };
  for (int shift = 0; shift < 64; shift += 8) mix(static_cast<unsigned char>(seed >> shift));
  for (int shift = 0; shift < 32; shift += 8) mix(static_cast<unsigned char>(database >> shift));
  for (char c : scope) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : key) mix(static_cast<unsigned char>(c));
  return static_cast<std::uint32_t>(hash % slot_count);
}

Instant next_wake_up(const StoredGuard& guard, Instant deadline) {
  Instant wake_up = std::min(deadline, guard.expires_at);
  if (guard.lease_expires_at) wake_up = std::min(wake_up, *guard.lease_expires_at);
  return wake_up;
}

Instant cross_node_wake_up(Instant wake_up, Instant now, bool other_nodes_commit) {
  if (!other_nodes_commit) return wake_up;
  return std::min(wake_up, now + kCrossNodeRecheckMicroseconds);
}

}  // namespace idempotency::core
