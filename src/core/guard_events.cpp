#include "core/guard_events.hpp"

namespace idempotency::core {

const char* guard_event_name(GuardEvent event) {
  switch (event) {
    case GuardEvent::kClaimedNew:
      return "claimed_new";
    case GuardEvent::kClaimedAfterExpiry:
      return "claimed_after_expiry";
    case GuardEvent::kClaimedAfterLease:
      return "claimed_after_lease";
    case GuardEvent::kRefusedPending:
      return "refused_pending";
    case GuardEvent::kRefusedCompleted:
      return "refused_completed";
    case GuardEvent::kReplayed:
      return "replayed";
    case GuardEvent::kKeyReused:
      return "key_reused";
    case GuardEvent::kNoLiveGuard:
      return "no_live_guard";
    case GuardEvent::kOutcomeAlreadyRecorded:
      return "outcome_already_recorded";
    case GuardEvent::kStaleOwnerFenced:
      return "stale_owner_fenced";
    case GuardEvent::kSucceeded:
      return "succeeded";
    case GuardEvent::kFailed:
      return "failed";
    case GuardEvent::kReleased:
      return "released";
    case GuardEvent::kPurgedByWorker:
      return "purged_by_worker";
    case GuardEvent::kPurgedByHand:
      return "purged_by_hand";
    case GuardEvent::kLimitReached:
      return "limit_reached";
    case GuardEvent::kWaited:
      return "waited";
    case GuardEvent::kCount:
      break;
  }
  return "unknown";
}

}  // namespace idempotency::core
