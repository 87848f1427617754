// Checks on arguments, made before anything is read or written, so bad input
// is rejected with a documented SQLSTATE and never half-applied.
#pragma once
#include "core/pure_cpp.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/guard_status.hpp"

namespace idempotency::core {

// Scopes and keys are 1 to 255 bytes: long enough for a UUID, a hash or a
// composite business key, short enough to keep the primary key index compact.
constexpr std::size_t kMaxIdentifierBytes = 255;
// A request fingerprint is a digest (a SHA-256 in hex is 64 bytes); the limit
// only stops whole request bodies from being stored by mistake.
constexpr std::size_t kMaxFingerprintBytes = 1024;

// An attempt id (claims retried after a lost answer) is 16 to 255 bytes:
// shorter ones (a counter, a thread number) are too easily shared between two
// attempts, which would both get the claim. A UUID is 36 bytes.
constexpr std::size_t kMinAttemptBytes = 16;

// claim_guards() takes at most this many keys a call: enough to amortise
// the round trip (bench: 100 a call), small enough that one call's row locks
// and result stay modest.
constexpr std::size_t kMaxBatchKeys = 1000;

// `argument` names the SQL argument in the message, e.g. "scope".
void require_identifier(std::string_view argument, std::optional<std::string_view> value);

void require_fingerprint(std::optional<std::string_view> fingerprint);

// NULL (no attempt) or kMinAttemptBytes to kMaxIdentifierBytes bytes (22023).
void require_attempt(std::optional<std::string_view> attempt);

// A duration given as the instant it ends: `now + duration` must lie after `now`
// (zero, negative and mixed-sign intervals that come out non-positive fail).
void require_positive_duration(std::string_view argument, std::int64_t now, std::int64_t ends_at);

// The status passed to record_outcome: exactly 'succeeded' or 'failed'.
GuardStatus require_outcome_status(std::optional<std::string_view> status);

// `size_bytes` is the stored size of the outcome; `limit_bytes` the setting.
void require_outcome_size(std::size_t size_bytes, std::size_t limit_bytes);

// A batch of `count` keys: at most kMaxBatchKeys (54000).
void require_batch_size(std::size_t count);

// `argument` (e.g. "fingerprints") must have one entry per key (22023).
void require_batch_length(std::string_view argument, std::size_t length, std::size_t keys);

// For arguments that have no meaning as NULL (e.g. apply_to_existing).
void require_not_null(std::string_view argument, bool is_null);

}  // namespace idempotency::core
