// The SQLSTATEs the extension raises. The README's error table is the
// user-facing list; keep the two in step.
#pragma once
#include "core/pure_cpp.hpp"

namespace idempotency::core {

enum class SqlState {
  kNullValueNotAllowed,           // 22004
  kInvalidParameterValue,         // 22023
  kProgramLimitExceeded,          // 54000
  kConfigurationLimitExceeded,    // 53400
  kReadOnlyTransaction,           // 25006
  kSerializationFailure,          // 40001
  kObjectNotInPrerequisiteState,  // 55000
  kInsufficientPrivilege,         // 42501
  kKeyReused,                     // IK001
  kNoLiveGuard,                   // IK002
  kOutcomeAlreadyRecorded,        // IK003
  kStaleClaimToken,               // IK004
  kScopeLimitReached,             // IK005
};

// The five-character code, e.g. "22023".
constexpr const char* sqlstate_code(SqlState state) {
  switch (state) {
    case SqlState::kNullValueNotAllowed:
      return "22004";
    case SqlState::kInvalidParameterValue:
      return "22023";
    case SqlState::kProgramLimitExceeded:
      return "54000";
    case SqlState::kConfigurationLimitExceeded:
      return "53400";
    case SqlState::kReadOnlyTransaction:
      return "25006";
    case SqlState::kSerializationFailure:
      return "40001";
    case SqlState::kObjectNotInPrerequisiteState:
      return "55000";
    case SqlState::kInsufficientPrivilege:
      return "42501";
    case SqlState::kKeyReused:
      return "IK001";
    case SqlState::kNoLiveGuard:
      return "IK002";
    case SqlState::kOutcomeAlreadyRecorded:
      return "IK003";
    case SqlState::kStaleClaimToken:
      return "IK004";
    case SqlState::kScopeLimitReached:
      return "IK005";
  }
  return "XX000";
}

}  // namespace idempotency::core
