// The events the per-scope counters count (idempotency.counters). The order
// is the order of the view's columns and of the counters file; append new
// events at the end (before kCount) and bump kCountersFileVersion.
#pragma once
#include "core/pure_cpp.hpp"

#include <array>
#include <cstdint>

namespace idempotency::core {

enum class GuardEvent : int {
  kClaimedNew,              // a claim inserted a new guard
  kClaimedAfterExpiry,      // a claim took over an expired guard
  kClaimedAfterLease,       // a claim took over a pending guard whose lease ran out
  kRefusedPending,          // a claim found a live pending guard (in progress)
  kRefusedCompleted,        // a claim found a completed guard: a retry absorbed
  kReplayed,                // claim_or_lookup returned a completed guard's outcome
  kKeyReused,               // IK001
  kNoLiveGuard,             // IK002
  kOutcomeAlreadyRecorded,  // IK003
  kStaleOwnerFenced,        // IK004
  kSucceeded,               // record_outcome stored 'succeeded'
  kFailed,                  // record_outcome stored 'failed'
  kReleased,                // release_guard deleted a pending guard
  kPurgedByWorker,          // guards deleted by the purge worker
  kPurgedByHand,            // guards deleted by purge_expired()
  kLimitReached,            // IK005: a claim refused by a scope limit
  kWaited,                  // claim_or_lookup met a pending guard and waited for its answer
  kCount
};

constexpr int kGuardEventCount = static_cast<int>(GuardEvent::kCount);

// Version of the layout of the counters file (one count per event per scope).
constexpr std::uint32_t kCountersFileVersion = 3;

}  // namespace idempotency::core
