// libFuzzer target for the pure core: arbitrary bytes drive every validator
// and decision rule. Beyond "no crash, no sanitizer report", it checks the
// rules' invariants, so a wrong decision is a finding too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "../unit/string_text.hpp"
#include "core/canonical_number.hpp"
#include "core/database_list.hpp"
#include "core/guard_error.hpp"
#include "core/guard_rules.hpp"
#include "core/input_validation.hpp"
#include "core/purge_schedule.hpp"
#include "core/scope_patterns.hpp"

namespace core = idempotency::core;

namespace {

// Reads fixed-size values and length-prefixed strings from the input.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  template <typename T>
  T take() {
    T value{};
    std::size_t n = size_ < sizeof value ? size_ : sizeof value;
    std::memcpy(&value, data_, n);
    data_ += n;
    size_ -= n;
    return value;
  }

  std::string_view take_text() {
    std::size_t length = take<std::uint16_t>() % 1100;
    if (length > size_) length = size_;
    std::string_view text(reinterpret_cast<const char*>(data_), length);
    data_ += length;
    size_ -= length;
    return text;
  }

  std::optional<std::string_view> take_optional_text() {
    if (take<std::uint8_t>() % 4 == 0) return std::nullopt;
    return take_text();
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

void require(bool condition) {
  if (!condition) std::abort();
}

// Runs a validator: only GuardError may escape it.
template <typename Validate>
bool accepted(Validate&& validate) {
  try {
    validate();
    return true;
  } catch (const core::GuardError&) {
    return false;
  }
}

core::StoredGuard take_guard(Input& input, std::optional<std::string_view> fingerprint) {
  core::StoredGuard guard;
  guard.status = static_cast<core::GuardStatus>(input.take<std::uint8_t>() % 3);
  guard.fingerprint = fingerprint;
  guard.claim_token = input.take<std::int64_t>();
  guard.expires_at = input.take<std::int64_t>();
  if (input.take<std::uint8_t>() % 2) guard.lease_expires_at = input.take<std::int64_t>();
  return guard;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input input(data, size);

  std::optional<std::string_view> identifier = input.take_optional_text();
  bool identifier_ok = accepted([&] { core::require_identifier("key", identifier); });
  require(identifier_ok ==
          (identifier && !identifier->empty() && identifier->size() <= core::kMaxIdentifierBytes));

  std::optional<std::string_view> fingerprint = input.take_optional_text();
  bool fingerprint_ok = accepted([&] { core::require_fingerprint(fingerprint); });
  require(fingerprint_ok == (!fingerprint || (!fingerprint->empty() &&
                                              fingerprint->size() <= core::kMaxFingerprintBytes)));

  std::optional<std::string_view> status = input.take_optional_text();
  bool status_ok = accepted([&] { core::require_outcome_status(status); });
  require(status_ok == (status && (*status == "succeeded" || *status == "failed")));

  std::string_view list = input.take_text();
  accepted([&] {
    for (const std::string& name : core::parse_database_list(list)) {
      require(!name.empty() && name.size() <= core::kMaxDatabaseNameBytes);
    }
  });

  std::optional<std::string_view> pattern = input.take_optional_text();
  std::string_view scope = input.take_text();
  if (accepted([&] { core::require_scope_pattern(pattern); })) {
    bool matches = core::scope_matches(*pattern, scope);
    if (pattern->back() != '*') require(matches == (*pattern == scope));
    if (matches) require(scope.size() >= pattern->size() - (pattern->back() == '*' ? 1 : 0));
  }

  auto now = input.take<std::int64_t>();
  core::StoredGuard guard = take_guard(input, input.take_optional_text());
  std::optional<std::string_view> request = input.take_optional_text();
  core::ClaimDecision claim = core::decide_claim(guard, request, now);
  if (!core::is_live(guard, now)) require(claim == core::ClaimDecision::kTakeOver);
  if (claim == core::ClaimDecision::kKeyReused) {
    require(request && guard.fingerprint && *request != *guard.fingerprint);
  }
  if (claim == core::ClaimDecision::kTakeOver && core::is_live(guard, now)) {
    require(guard.status == core::GuardStatus::kPending && guard.lease_expires_at &&
            now >= *guard.lease_expires_at);
  }

  std::optional<std::int64_t> token;
  if (input.take<std::uint8_t>() % 2) token = input.take<std::int64_t>();
  std::optional<core::StoredGuard> existing;
  if (input.take<std::uint8_t>() % 3) existing = guard;
  auto requested = static_cast<core::GuardStatus>(1 + input.take<std::uint8_t>() % 2);
  bool same = input.take<std::uint8_t>() % 2;
  core::RecordDecision record = core::decide_record(existing, token, requested, same, now);
  if (!existing || !core::is_live(*existing, now)) {
    require(record == core::RecordDecision::kNoLiveGuard);
  }
  if (record == core::RecordDecision::kAlreadyRecorded) {
    require(same && existing->status == requested);
  }
  core::OwnerDecision release = core::decide_owner_write(existing, token, now);
  if (release == core::OwnerDecision::kRetry) {
    require(existing->status == core::GuardStatus::kPending);
  }

  require(core::claim_token_from_random(input.take<std::uint64_t>()) > 0);

  auto interval = static_cast<std::int64_t>(input.take<std::uint32_t>() % 100000000) + 1;
  int failures = input.take<std::uint8_t>();
  std::int64_t delay = core::next_run_delay_ms(interval, failures);
  require(delay >= interval || delay == core::kMaxFailureBackoffMs);
  require(delay <= std::max(interval, core::kMaxFailureBackoffMs));

  // A stored numeric's bytes: its canonical text is a JSON number, plain up
  // to 100 characters, else the exponent form of its significant digits, and
  // never longer than its stored digits allow.
  std::string_view stored = input.take_text();
  core::StoredNumeric number;
  if (accepted([&] {
        try {
          number = core::decode_stored_numeric(stored);
        } catch (const std::logic_error&) {
          throw core::GuardError(core::SqlState::kInvalidParameterValue, "malformed");
        }
      })) {
    core::StringText text;
    core::write_canonical_number(text, number);
    std::string_view canonical = text.view();
    std::size_t exponent = canonical.find('e');
    std::string_view mantissa = canonical.substr(0, exponent);
    if (!mantissa.empty() && mantissa.front() == '-') mantissa.remove_prefix(1);
    require(!mantissa.empty() &&
            mantissa.find_first_not_of("0123456789.") == std::string_view::npos);
    if (mantissa.find('.') != std::string_view::npos) require(mantissa.back() != '0');
    if (exponent == std::string_view::npos) {
      require(canonical.size() <= core::kMaxPlainNumberChars);
      require(canonical != "-0" &&
              (mantissa.size() == 1 || mantissa.front() != '0' || mantissa[1] == '.'));
    } else {
      require(mantissa.front() != '0' && (mantissa.size() == 1 || mantissa[1] == '.'));
      require(mantissa.size() <= 2 * number.digits.size() + 1);
      require(canonical.size() - exponent <= 8);
    }
  }
  return 0;
}
