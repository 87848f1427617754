#include "core/canonical_text.hpp"

#include <algorithm>
#include <string>

#include "core/guard_error.hpp"

namespace idempotency::core {
namespace {

// The first storage: most request bodies fit.
constexpr std::size_t kInitialCapacity = 1024;

}  // namespace

void require_fingerprint_path_count(std::size_t count) {
  if (count > kMaxFingerprintPaths) {
    throw GuardError(SqlState::kProgramLimitExceeded,
                     "too many paths: " + std::to_string(count) + ", the limit is " +
                         std::to_string(kMaxFingerprintPaths) + " a call",
                     {}, "Name each part that identifies the request once.");
  }
}

void CanonicalText::make_room(std::size_t more) {
  if (more > limit_ - size_) {
    throw GuardError(
        SqlState::kProgramLimitExceeded,
        "the canonical text to fingerprint is larger than " + std::to_string(limit_) + " bytes", {},
        "Fingerprint only the parts of the payload that identify the request "
        "(paths).");
  }
  // Doubling keeps appends amortised constant; the limit caps the last step.
  std::size_t capacity = std::max({size_ + more, capacity_ * 2, kInitialCapacity});
  capacity = std::min(capacity, limit_);
  data_ = reallocate(capacity);
  capacity_ = capacity;
}

}  // namespace idempotency::core
