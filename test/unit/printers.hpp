// GoogleTest printers for the core's enums, so a failed expectation shows
// "kTakeOver" instead of raw bytes. Found by argument-dependent lookup, so they
// live in the enums' own namespace; inline because every test file includes them.
#pragma once

#include <ostream>

#include "core/guard_rules.hpp"
#include "core/guard_status.hpp"
#include "core/sql_state.hpp"

namespace idempotency::core {

inline void PrintTo(GuardStatus status, std::ostream* os) {
  switch (status) {
    case GuardStatus::kPending:
      *os << "GuardStatus::kPending";
      return;
    case GuardStatus::kSucceeded:
      *os << "GuardStatus::kSucceeded";
      return;
    case GuardStatus::kFailed:
      *os << "GuardStatus::kFailed";
      return;
  }
  *os << "GuardStatus(" << static_cast<int>(status) << ")";
}

inline void PrintTo(ClaimDecision decision, std::ostream* os) {
  switch (decision) {
    case ClaimDecision::kTakeOver:
      *os << "ClaimDecision::kTakeOver";
      return;
    case ClaimDecision::kAlreadyClaimed:
      *os << "ClaimDecision::kAlreadyClaimed";
      return;
    case ClaimDecision::kKeyReused:
      *os << "ClaimDecision::kKeyReused";
      return;
    case ClaimDecision::kOwnClaim:
      *os << "ClaimDecision::kOwnClaim";
      return;
  }
  *os << "ClaimDecision(" << static_cast<int>(decision) << ")";
}

inline void PrintTo(RecordDecision decision, std::ostream* os) {
  switch (decision) {
    case RecordDecision::kNoLiveGuard:
      *os << "RecordDecision::kNoLiveGuard";
      return;
    case RecordDecision::kStaleClaimToken:
      *os << "RecordDecision::kStaleClaimToken";
      return;
    case RecordDecision::kAlreadyRecorded:
      *os << "RecordDecision::kAlreadyRecorded";
      return;
    case RecordDecision::kConflictingOutcome:
      *os << "RecordDecision::kConflictingOutcome";
      return;
    case RecordDecision::kRetry:
      *os << "RecordDecision::kRetry";
      return;
  }
  *os << "RecordDecision(" << static_cast<int>(decision) << ")";
}

inline void PrintTo(OwnerDecision decision, std::ostream* os) {
  switch (decision) {
    case OwnerDecision::kNoLiveGuard:
      *os << "OwnerDecision::kNoLiveGuard";
      return;
    case OwnerDecision::kStaleClaimToken:
      *os << "OwnerDecision::kStaleClaimToken";
      return;
    case OwnerDecision::kOutcomeRecorded:
      *os << "OwnerDecision::kOutcomeRecorded";
      return;
    case OwnerDecision::kRetry:
      *os << "OwnerDecision::kRetry";
      return;
  }
  *os << "OwnerDecision(" << static_cast<int>(decision) << ")";
}

inline void PrintTo(SqlState state, std::ostream* os) {
  *os << "SqlState(" << sqlstate_code(state) << ")";
}

}  // namespace idempotency::core
