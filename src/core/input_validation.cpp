#include "core/input_validation.hpp"

#include <string>

#include "core/guard_error.hpp"

namespace idempotency::core {
namespace {

[[noreturn]] void throw_null(std::string_view argument) {
  throw GuardError(SqlState::kNullValueNotAllowed, std::string(argument) + " must not be NULL");
}

}  // namespace

void require_not_null(std::string_view argument, bool is_null) {
  if (is_null) throw_null(argument);
}

void require_identifier(std::string_view argument, std::optional<std::string_view> value) {
  if (!value) throw_null(argument);
  if (value->empty()) {
    throw GuardError(SqlState::kInvalidParameterValue, std::string(argument) + " must not be empty",
                     {},
                     "A " + std::string(argument) + " is 1 to " +
                         std::to_string(kMaxIdentifierBytes) + " bytes of text.");
  }
  if (value->size() > kMaxIdentifierBytes) {
    throw GuardError(SqlState::kInvalidParameterValue,
                     std::string(argument) + " is too long: " + std::to_string(value->size()) +
                         " bytes, the limit is " + std::to_string(kMaxIdentifierBytes) + " bytes",
                     {}, "Hash long business keys (e.g. with sha256) before using them as keys.");
  }
}

void require_fingerprint(std::optional<std::string_view> fingerprint) {
  if (!fingerprint) return;  // NULL means "no fingerprint": nothing to compare
  if (fingerprint->empty()) {
    throw GuardError(SqlState::kInvalidParameterValue, "fingerprint must not be empty", {},
                     "Pass NULL when the request has no fingerprint.");
  }
  if (fingerprint->size() > kMaxFingerprintBytes) {
    throw GuardError(SqlState::kInvalidParameterValue,
                     "fingerprint is too long: " + std::to_string(fingerprint->size()) +
                         " bytes, the limit is " + std::to_string(kMaxFingerprintBytes) + " bytes",
                     {}, "Pass a digest of the request (e.g. its sha256), not the request itself.");
  }
}

void require_attempt(std::optional<std::string_view> attempt) {
  if (!attempt) return;  // NULL: a claim that is not retried by attempt
  if (attempt->size() < kMinAttemptBytes || attempt->size() > kMaxIdentifierBytes) {
    throw GuardError(SqlState::kInvalidParameterValue,
                     "attempt must be " + std::to_string(kMinAttemptBytes) + " to " +
                         std::to_string(kMaxIdentifierBytes) + " bytes, not " +
                         std::to_string(attempt->size()),
                     {},
                     "Make one unique id (e.g. a UUID) per attempt before its first try, and "
                     "send it again only when retrying that attempt's claim.");
  }
}

void require_positive_duration(std::string_view argument, std::int64_t now, std::int64_t ends_at) {
  if (ends_at <= now) {
    throw GuardError(SqlState::kInvalidParameterValue, std::string(argument) + " must be positive",
                     {}, "Pass an interval such as '10 minutes', or NULL for the default.");
  }
}

GuardStatus require_outcome_status(std::optional<std::string_view> status) {
  if (!status) throw_null("status");
  std::optional<GuardStatus> parsed = parse_status(*status);
  if (!parsed || *parsed == GuardStatus::kPending) {
    throw GuardError(SqlState::kInvalidParameterValue,
                     "status must be 'succeeded' or 'failed', not '" + std::string(*status) + "'");
  }
  return *parsed;
}

void require_outcome_size(std::size_t size_bytes, std::size_t limit_bytes) {
  if (size_bytes > limit_bytes) {
    throw GuardError(SqlState::kProgramLimitExceeded,
                     "outcome is too large: " + std::to_string(size_bytes) +
                         " bytes, the limit is " + std::to_string(limit_bytes) + " bytes",
                     {},
                     "Store a reference to a large result, or raise idempotency.max_outcome_size.");
  }
}

void require_batch_size(std::size_t count) {
  if (count > kMaxBatchKeys) {
    throw GuardError(
        SqlState::kProgramLimitExceeded,
        "too many keys: " + std::to_string(count) + ", the limit is " +
            std::to_string(kMaxBatchKeys) + " a call",
        {}, "Split the batch into calls of at most " + std::to_string(kMaxBatchKeys) + " keys.");
  }
}

void require_batch_length(std::string_view argument, std::size_t length, std::size_t keys) {
  if (length != keys) {
    throw GuardError(SqlState::kInvalidParameterValue,
                     std::string(argument) + " has " + std::to_string(length) + " entries for " +
                         std::to_string(keys) + " keys",
                     {}, "Give one entry per key, in the same order (NULL for none).");
  }
}

}  // namespace idempotency::core
